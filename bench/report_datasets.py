"""The datasets part of docs/benchmarks.md: classification against Presidio, registering."""

from __future__ import annotations

import statistics

from classify import ClassifyResult, RegisterResult
from mdtable import met as _met
from mdtable import table as _table
from mdtable import version_of as _version
from presidio_run import to_steward

__all__ = ["CLASSIFY_AIM_RATIO", "REGISTER_AIM_BYTES", "datasets_aims", "datasets_sections"]

CLASSIFY_AIM_RATIO = 1000.0
REGISTER_AIM_BYTES = 1.5e9


def _mib(x: float) -> str:
    return f"{x:,.0f} MiB ({x * 1048576 / 1e9:.2f} GB)"


def _all_right(types: dict[str, str | None], truth: dict[str, str | None]) -> int:
    return sum(types.get(c) == t for c, t in truth.items())


def _at_least(c: ClassifyResult) -> bool:
    """Steward's precision and recall are at least Presidio's for every type."""
    for t, (p, r) in c.steward_scores.items():
        pp, pr = c.presidio_scores.get(t, (0.0, 0.0))
        if p < pp or r < pr:
            return False
    return True


def datasets_aims(c: ClassifyResult | None, r: RegisterResult | None) -> list[list[str]]:
    rows: list[list[str]] = []
    if r is not None:
        peak_bytes = r.peak_rss_mb * 1048576
        rows.append(
            [
                f"register a {r.rows:,}-row x {r.columns}-column CSV with peak memory under 1.5 GB",
                "SQLite",
                f"peak RSS {_mib(r.peak_rss_mb)} in {r.seconds:.1f} s",
                _met(peak_bytes < REGISTER_AIM_BYTES),
            ]
        )
    if c is not None:
        if c.presidio is None:
            rows.append(
                [
                    f"classification at least {CLASSIFY_AIM_RATIO:,.0f}x Presidio's cells/s",
                    "—",
                    f"Steward {c.steward_rate:,.0f} cells/s; Presidio not measured",
                    "**not measured**",
                ]
            )
        else:
            ratio = c.ratio or 0.0
            rows.append(
                [
                    f"classification at least {CLASSIFY_AIM_RATIO:,.0f}x Presidio's cells/s",
                    "—",
                    f"Steward {c.steward_rate:,.0f} vs Presidio "
                    f"{c.presidio.cells_per_second:,.0f} cells/s: **{ratio:,.0f}x**",
                    _met(ratio >= CLASSIFY_AIM_RATIO),
                ]
            )
            right = _all_right(c.steward_types, c.truth)
            rows.append(
                [
                    "column-level precision and recall at least Presidio's, the right type "
                    "for every column",
                    "—",
                    f"Steward {right}/{len(c.truth)} columns right, Presidio "
                    f"{_all_right(c.presidio_types, c.truth)}/{len(c.truth)}",
                    _met(right == len(c.truth) and _at_least(c)),
                ]
            )
    return rows


def _pr(scores: dict[str, tuple[float, float]], t: str) -> str:
    if t not in scores:
        return "—"
    p, r = scores[t]
    return f"{p:.2f} / {r:.2f}"


def datasets_sections(
    c: ClassifyResult | None, r: RegisterResult | None, number: int, problems: dict[str, str]
) -> list[str]:
    lines: list[str] = []
    lines += ["", f"## {number}. Column classification, against Microsoft Presidio", ""]
    if c is None:
        lines.append(f"NOT MEASURED: {problems.get('classify', 'not run')}")
    else:
        lines += [
            f"A labelled table of {c.rows:,} rows x {c.columns} columns "
            f"({c.cells:,} cells; built in {c.generate_seconds:.0f} s by `bench/pii_table.py`): "
            f"{sum(t is not None for t in c.truth.values())} personal columns of as many "
            "types in several locales, with valid check digits, and "
            f"{sum(t is None for t in c.truth.values())} non-personal columns (amounts, "
            "rates, grades, purposes, terms). Values are drawn from pools of distinct "
            "generated values.",
            "",
            "- **Steward** classifies the whole table as registration does "
            "(`steward.datasets.scan.TableScan` over Arrow batches): the format of every "
            "cell is counted, and the first 1,000 values of each column plus one value of "
            "every format are validated (check digits, vocabularies, parsers). Timed from "
            f"the in-memory Arrow table to the classes; median of {len(c.steward_times)} runs.",
        ]
        if c.presidio is not None:
            p = c.presidio
            lines += [
                f"- **Presidio** (`presidio-analyzer` {_version('presidio-analyzer')}, "
                f"spaCy {_version('spacy')}, `BatchAnalyzerEngine.analyze_dict` in batches of "
                f"{p.batch_size}, spaCy model `{p.model}`) analyses every cell with its "
                "pattern and NER recognizers, restricted to the entity types of the table. "
                "It is timed on "
                f"the first {p.cells // c.columns:,} rows ({p.cells:,} cells): at its rate "
                f"the full table would take {c.cells / p.cells_per_second / 3600:,.1f} "
                "hours. A column's type is the entity found in most of its cells, as "
                "presidio-structured's default `most_common` strategy decides.",
            ]
        else:
            lines.append(f"- **Presidio was NOT measured**: {c.presidio_problem}")
        lines.append("")
        rows = [
            [
                "Steward (full scan)",
                f"{c.cells:,}",
                f"{c.steward_seconds:.2f}",
                f"**{c.steward_rate:,.0f}**",
                f"{_all_right(c.steward_types, c.truth)} / {len(c.truth)}",
            ]
        ]
        if c.presidio is not None:
            p = c.presidio
            rows.append(
                [
                    "Presidio batch analyzer",
                    f"{p.cells:,}",
                    f"{p.seconds:.1f}",
                    f"**{p.cells_per_second:,.0f}**",
                    f"{_all_right(c.presidio_types, c.truth)} / {len(c.truth)}",
                ]
            )
            if p.structured_cells_per_second and p.structured_column_entity is not None:
                st_types = {k: to_steward(e) for k, e in p.structured_column_entity.items()}
                rows.append(
                    [
                        "presidio-structured table builder (all recognizers)",
                        f"{p.cells:,}",
                        f"{p.structured_seconds or 0.0:.1f}",
                        f"**{p.structured_cells_per_second:,.0f}**",
                        f"{_all_right(st_types, c.truth)} / {len(c.truth)}",
                    ]
                )
            elif p.structured_problem:
                lines.append(f"- presidio-structured was not timed: {p.structured_problem}")
        lines += _table(
            ["classifier", "cells examined", "seconds", "cells/s", "columns right"], rows
        )
        if c.ratio is not None:
            lines += ["", f"Ratio of cell throughput, Steward / Presidio: **{c.ratio:,.0f}x**."]
        unhinted = bool(c.opaque_names)
        if unhinted:
            right = _all_right(c.unhinted_steward_types, c.truth)
            lines += [
                "",
                "**Unhinted names.** The same table is classified a second time with its "
                "columns renamed `c01` ... `c20` (names that match no hint of either "
                "classifier, checked against Steward's hint tables), so that only the "
                "values speak: Steward "
                f"{right} / {len(c.truth)} columns right in "
                f"{statistics.median(c.unhinted_steward_times):.2f} s (median of "
                f"{len(c.unhinted_steward_times)} runs)"
                + (
                    f", Presidio {_all_right(c.unhinted_presidio_types, c.truth)} / "
                    f"{len(c.truth)} on the same first {c.presidio.cells // c.columns:,} rows."
                    if c.presidio is not None and c.unhinted_presidio is not None
                    else "."
                ),
            ]
        lines += ["", "Per column (truth, and what each classifier said):", ""]

        def said(types: dict[str, str | None], col: str, t: str | None, shown: str | None) -> str:
            return (shown or "(none)") + (" ✓" if types.get(col) == t else " ✗")

        per_col = []
        for col, t in c.truth.items():
            ent = c.presidio.column_entity.get(col) if c.presidio else None
            row = [
                f"`{col}`" + (f" → `{c.opaque_names[col]}`" if unhinted else ""),
                t or "(not personal)",
                said(c.steward_types, col, t, c.steward_types.get(col)),
            ]
            if unhinted:
                row.append(said(c.unhinted_steward_types, col, t, c.unhinted_steward_types[col]))
            row.append(said(c.presidio_types, col, t, ent) if c.presidio else "—")
            if unhinted:
                u = c.unhinted_presidio
                uent = u.column_entity.get(c.opaque_names[col]) if u else None
                row.append(said(c.unhinted_presidio_types, col, t, uent) if u else "—")
            per_col.append(row)
        heads = (
            [
                "column (→ unhinted name)",
                "truth",
                "Steward",
                "Steward unhinted",
                "Presidio entity",
                "Presidio unhinted",
            ]
            if unhinted
            else ["column", "truth", "Steward", "Presidio entity"]
        )
        lines += _table(heads, per_col)
        lines += ["", "Column-level precision / recall per type:", ""]
        types = sorted({t for t in c.truth.values() if t is not None})
        scored = [c.steward_scores, c.presidio_scores]
        if unhinted:
            scored += [c.unhinted_steward_scores, c.unhinted_presidio_scores]
        extra = sorted(set().union(*scored) - set(types), key=str)
        presidio = c.presidio is not None
        rows = []
        for t in types + extra:
            row = [t, _pr(c.steward_scores, t)]
            if unhinted:
                row.append(_pr(c.unhinted_steward_scores, t))
            row.append(_pr(c.presidio_scores, t) if presidio else "—")
            if unhinted:
                row.append(_pr(c.unhinted_presidio_scores, t) if presidio else "—")
            rows.append(row)
        lines += _table(
            [
                "type",
                "Steward P / R",
                "Steward unhinted P / R",
                "Presidio P / R",
                "Presidio unhinted P / R",
            ]
            if unhinted
            else ["type", "Steward P / R", "Presidio P / R"],
            rows,
        )

    lines += ["", f"## {number + 1}. Registering a large CSV", ""]
    if r is None:
        lines.append(f"NOT MEASURED: {problems.get('register', 'not run')}")
    else:
        lines += [
            "The labelled table written as CSV, registered by `DatasetService.register` in a "
            "child process on a fresh SQLite home (read in batches, typed, profiled, "
            "fingerprinted, classified, written as encrypted Parquet). Peak memory is the "
            "child's `VmHWM`, imports included; the baseline is the same figure after "
            "imports and `Runtime.open`, before registering. Aim: under 1.5 GB.",
            "",
        ]
        lines += _table(
            ["rows", "columns", "CSV size", "seconds", "rows/s", "peak RSS", "baseline RSS"],
            [
                [
                    f"{r.rows:,}",
                    str(r.columns),
                    f"{r.csv_bytes / 1e6:,.0f} MB",
                    f"{r.seconds:.1f}",
                    f"{r.rows / r.seconds:,.0f}",
                    f"**{_mib(r.peak_rss_mb)}**",
                    _mib(r.baseline_rss_mb),
                ]
            ],
        )
    return lines
