"""Validate a new batch against a registered schema, with counts and first offending rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from steward.datasets.io import PATTERNS, open_source
from steward.datasets.schema import ColumnSchema, logical_type

__all__ = ["CheckResult", "ValidationReport", "validate_file"]

FIRST_ROWS = 5
_TYPES = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_BOOL = ["true", "True", "TRUE", "false", "False", "FALSE", "yes", "no", "Yes", "No"]


class CheckResult(BaseModel):
    column: str | None
    check: str  # missing_column | new_column | type | range | category | nulls
    failed: int
    expected: str
    found: str
    first_rows: list[int] = Field(default_factory=list)


class ValidationReport(BaseModel):
    ref: str
    file: str
    rows: int
    bad_rows: int
    ok: bool
    checks: list[CheckResult]
    quarantined: str | None = None


class _Tally:
    def __init__(self, col: str | None, check: str, expected: str) -> None:
        self.r = CheckResult(column=col, check=check, failed=0, expected=expected, found="")
        self.examples: list[str] = []

    def add(self, mask: np.ndarray, row0: int, values: pa.Array | None = None) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.r.failed += len(idx)
        need = FIRST_ROWS - len(self.r.first_rows)
        for i in idx[:need]:
            self.r.first_rows.append(row0 + int(i) + 1)
            if values is not None:
                self.examples.append(repr(values[int(i)].as_py()))

    def result(self) -> CheckResult:
        if self.examples and not self.r.found:
            self.r.found = ", ".join(self.examples[:3])
        return self.r


def _np(mask: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def validate_file(
    ref: str,
    schema: list[ColumnSchema],
    path: Path,
    *,
    quarantine: Path | None = None,
) -> ValidationReport:
    """Check ``path`` against ``schema``; write the offending rows to ``quarantine``."""
    src = open_source(path, typed=False)
    registered = {c.name: c for c in schema}
    names = src.schema.names
    checks: list[CheckResult] = []
    for c in schema:
        if c.name not in names:
            checks.append(
                CheckResult(
                    column=c.name,
                    check="missing_column",
                    failed=0,
                    expected=f"column {c.name!r} ({c.type})",
                    found="absent",
                )
            )
    for n in names:
        if n not in registered:
            checks.append(
                CheckResult(
                    column=n,
                    check="new_column",
                    failed=0,
                    expected="only the registered columns",
                    found=f"{n!r}",
                )
            )
    tallies: dict[tuple[str, str], _Tally] = {}
    nulls: dict[str, int] = {}
    rows = bad = 0
    writer: pcsv.CSVWriter | pq.ParquetWriter | None = None
    for batch in src.batches:
        bad_mask = np.zeros(batch.num_rows, dtype=bool)
        for n in names:
            col_schema = registered.get(n)
            if col_schema is None:
                continue
            col = batch.column(n)
            nulls[n] = nulls.get(n, 0) + col.null_count
            typed, type_bad = _typed(col, col_schema)
            if type_bad is not None:
                t = tallies.setdefault((n, "type"), _Tally(n, "type", col_schema.type))
                t.add(type_bad, rows, col)
                bad_mask |= type_bad
            if typed is None:
                continue
            if col_schema.type in ("integer", "number") and col_schema.min is not None:
                lo, hi = float(col_schema.min), float(col_schema.max)  # type: ignore[arg-type]
                out = _np(pc.or_(pc.less(typed, lo), pc.greater(typed, hi)))
                t = tallies.setdefault(
                    (n, "range"), _Tally(n, "range", f"between {lo:g} and {hi:g}")
                )
                t.add(out, rows, typed)
                bad_mask |= out
            if col_schema.categories is not None:
                text = pc.cast(typed, pa.string())
                unknown = _np(
                    pc.and_(
                        pc.invert(pc.is_in(text, pa.array(col_schema.categories))),
                        pc.is_valid(text),
                    )
                )
                t = tallies.setdefault(
                    (n, "category"),
                    _Tally(n, "category", "one of " + ", ".join(col_schema.categories)),
                )
                t.add(unknown, rows, text)
                bad_mask |= unknown
            if not col_schema.nullable:
                is_null = _np(pc.is_null(col))
                t = tallies.setdefault((n, "nulls"), _Tally(n, "nulls", "no missing values"))
                t.add(is_null, rows)
                bad_mask |= is_null
        if quarantine is not None and bad_mask.any():
            bad_rows = batch.filter(pa.array(bad_mask))
            if writer is None:
                writer = (
                    pq.ParquetWriter(quarantine, bad_rows.schema)
                    if quarantine.suffix == ".parquet"
                    else pcsv.CSVWriter(quarantine, bad_rows.schema)
                )
            writer.write_batch(bad_rows)
        bad += int(bad_mask.sum())
        rows += batch.num_rows
    if writer is not None:
        writer.close()
    for (_, check), t in tallies.items():
        r = t.result()
        if check == "nulls" and r.failed:
            r.found = f"{r.failed} missing"
        if r.failed:
            checks.append(r)
    for n, count in nulls.items():
        c = registered[n]
        rate = count / rows if rows else 0.0
        if c.nullable and rate > max(c.null_rate * 2, c.null_rate + 0.05):
            checks.append(
                CheckResult(
                    column=n,
                    check="null_rate",
                    failed=count,
                    expected=f"about {c.null_rate:.1%} missing",
                    found=f"{rate:.1%} missing",
                )
            )
    return ValidationReport(
        ref=ref,
        file=str(path),
        rows=rows,
        bad_rows=bad,
        ok=not checks,
        checks=checks,
        quarantined=str(quarantine) if quarantine is not None and writer is not None else None,
    )


def _typed(col: pa.Array, c: ColumnSchema) -> tuple[pa.Array | None, np.ndarray | None]:
    """The column in its registered type (bad values nulled) and the mask of bad values."""
    actual = logical_type(col.type)
    if c.type == "string":
        return (col if actual == "string" else pc.cast(col, pa.string())), None
    if actual == c.type or (actual == "integer" and c.type == "number"):
        return col, None
    if actual != "string":
        return None, _np(pc.is_valid(col))
    if c.type == "boolean":
        ok = pc.is_in(col, pa.array(_BOOL))
        bad = _np(pc.and_(pc.invert(ok), pc.is_valid(col)))
        return pc.is_in(col, pa.array(["true", "True", "TRUE", "yes", "Yes"])), bad
    target = _TYPES.get(c.type)
    if target is None:
        return None, None
    ok = pc.match_substring_regex(col, PATTERNS[target])
    bad = _np(pc.and_(pc.invert(ok), pc.is_valid(col)))
    cleaned = pc.if_else(ok, col, pa.scalar(None, pa.string()))
    if c.type == "timestamp":
        return None, bad
    return pc.cast(cleaned, target), bad
