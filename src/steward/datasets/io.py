"""Reading tabular input in batches, with errors that name the row or byte.

CSV is read as text and typed by Steward (not by the CSV reader), so that a value that
does not fit its column's type is reported with its column, row and value, in any batch.
Parquet and JSON Lines are read with their own types. Nothing here writes state.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from steward.errors import ValidationFailed

__all__ = ["BATCH_ROWS", "FORMATS", "PATTERNS", "TableSource", "open_source"]

BATCH_ROWS = 65_536
FORMATS = ("csv", "parquet", "jsonl")
NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none", "-"]
_INT = r"^[+-]?\d{1,18}$"
_FLOAT = r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|Inf|-inf)$"
_BOOL_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES"}
_BOOL_FALSE = {"false", "False", "FALSE", "no", "No", "NO"}
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TS = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"


def format_of(path: Path, declared: str | None = None) -> str:
    if declared:
        if declared not in FORMATS:
            raise ValidationFailed(
                f"format: expected one of {', '.join(FORMATS)}; found {declared!r}",
                parameter="format",
            )
        return declared
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    by_suffix = {
        ".csv": "csv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
    }
    if suffix not in by_suffix:
        raise ValidationFailed(
            f"{path.name}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
            "expected .csv, .parquet or .jsonl, or pass --format",
            path=str(path),
        )
    return by_suffix[suffix]


@dataclass
class TableSource:
    """An input opened for reading: its Arrow schema and an iterator of batches."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    format: str
    bytes: int


def open_source(
    source: Path | pa.Table, *, format: str | None = None, typed: bool = True
) -> TableSource:
    """Open a file (CSV, Parquet, JSON Lines) or an in-memory Arrow table."""
    if isinstance(source, pa.Table):
        table = _normalise_table(source)
        return TableSource(table.schema, iter(table.to_batches(BATCH_ROWS)), "arrow", table.nbytes)
    path = Path(source)
    if not path.is_file():
        raise ValidationFailed(f"{path}: no such file", path=str(path))
    size = path.stat().st_size
    if size == 0:
        raise ValidationFailed(f"{path.name}: the file is empty (0 bytes)", path=str(path))
    fmt = format_of(path, format)
    if fmt == "csv":
        return _open_csv(path, size, typed=typed)
    if fmt == "parquet":
        return _open_parquet(path, size)
    return _open_jsonl(path, size)


def _normalise_table(table: pa.Table) -> pa.Table:
    names = [str(n) for n in table.column_names]
    _check_names(names, "table")
    return table.rename_columns(names)


def _check_names(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if not n.strip():
            raise ValidationFailed(f"{where}: column {i + 1} has no name", column=i + 1)
        if n in seen:
            raise ValidationFailed(f"{where}: column name {n!r} appears twice", column=n)
        seen.add(n)


# -- CSV -----------------------------------------------------------------------------------
def _first_bad_utf8(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # The decoder keeps up to 3 pending bytes from the previous chunk.
                pending = len(decoder.getstate()[0])
                return max(0, offset + exc.start - pending)
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def _first_ragged_row(path: Path, expected: int) -> tuple[int, int] | None:
    """(line number, field count) of the first row whose width is not ``expected``."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if row and len(row) != expected:
                return reader.line_num, len(row)
    return None


def _open_csv(path: Path, size: int, *, typed: bool = True) -> TableSource:
    bad = _first_bad_utf8(path)
    if bad is not None:
        raise ValidationFailed(
            f"{path.name}: not valid UTF-8 at byte {bad}; re-encode the file as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8)",
            path=str(path),
            byte=bad,
        )
    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise ValidationFailed(f"{path.name}: no header row", path=str(path))
    _check_names(header, path.name)
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=8 << 20),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in header},
                null_values=NULLS,
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, header, exc) from None
    batches = _typed_csv_batches(path, header, reader, typed=typed)
    first = next(batches, None)
    if first is None:
        raise ValidationFailed(f"{path.name}: a header but no rows", path=str(path))

    def chain() -> Iterator[pa.RecordBatch]:
        yield first
        yield from batches

    return TableSource(first.schema, chain(), "csv", size)


def _csv_error(path: Path, header: list[str], exc: Exception) -> ValidationFailed:
    msg = str(exc)
    if "Expected" in msg and "columns" in msg:
        found = _first_ragged_row(path, len(header))
        if found:
            line, width = found
            return ValidationFailed(
                f"{path.name}: row at line {line} has {width} fields; expected {len(header)} "
                f"like the header. Fix the row (quote values that contain commas)",
                path=str(path),
                line=line,
                expected=len(header),
                found=width,
            )
    return ValidationFailed(f"{path.name}: cannot parse as CSV: {msg}", path=str(path))


def _infer_type(col: pa.Array) -> pa.DataType:
    valid = pc.drop_null(col)
    if len(valid) == 0:
        return pa.string()
    for pattern, typ in ((_INT, pa.int64()), (_FLOAT, pa.float64())):
        if pc.all(pc.match_substring_regex(valid, pattern)).as_py():
            return typ
    values = set(pc.unique(valid).to_pylist()[:64])
    if len(values) <= 2 and values <= (_BOOL_TRUE | _BOOL_FALSE) and len(values) < 64:
        return pa.bool_()
    if pc.all(pc.match_substring_regex(valid, _DATE)).as_py():
        return pa.date32()
    if pc.all(pc.match_substring_regex(valid, _TS)).as_py():
        return pa.timestamp("us", tz="UTC")
    return pa.string()


PATTERNS = _PATTERN = {
    pa.int64(): _INT,
    pa.float64(): _FLOAT,
    pa.date32(): _DATE,
    pa.timestamp("us", tz="UTC"): _TS,
}


def _cast(col: pa.Array, typ: pa.DataType, name: str, row0: int, path: Path) -> pa.Array:
    """Cast a text column; the first value that does not fit is reported with its row."""
    if typ == pa.string():
        return col
    if typ == pa.bool_():
        ok = pc.or_kleene(
            pc.is_in(col, pa.array(sorted(_BOOL_TRUE | _BOOL_FALSE))), pc.is_null(col)
        )
    else:
        ok = pc.or_kleene(pc.match_substring_regex(col, _PATTERN[typ]), pc.is_null(col))
    if not pc.all(ok).as_py():
        idx = pc.index(ok, False).as_py()
        line = row0 + idx + 2  # 1-based, after the header (assumes no embedded newlines before)
        value = col[idx].as_py()
        raise ValidationFailed(
            f"{path.name}: column {name!r} must be {_type_name(typ)} (as in the first rows); "
            f"found {value!r} in data row {row0 + idx + 1} (about line {line}). "
            "Fix the value, or make the column text by quoting a non-numeric value early",
            path=str(path),
            column=name,
            row=row0 + idx + 1,
            expected=_type_name(typ),
            found=value,
        )
    if typ == pa.bool_():
        return pc.is_in(col, pa.array(sorted(_BOOL_TRUE)))
    if typ == pa.timestamp("us", tz="UTC"):
        return _parse_timestamps(col, name, row0, path)
    return pc.cast(col, typ)


def _parse_timestamps(col: pa.Array, name: str, row0: int, path: Path) -> pa.Array:
    text = pc.replace_substring_regex(col, r"Z$", "+00:00")
    text = pc.replace_substring_regex(text, r" ", "T")
    has_tz = pc.match_substring_regex(text, r"[+-]\d{2}:?\d{2}$")
    text = pc.if_else(has_tz, text, pc.binary_join_element_wise(text, "+00:00", ""))
    text = pc.replace_substring_regex(text, r"T(\d{2}:\d{2})([+-])", r"T\1:00\2")
    text = pc.replace_substring_regex(text, r"([+-]\d{2})(\d{2})$", r"\1:\2")
    try:
        return pc.cast(pc.cast(text, pa.timestamp("us", tz="UTC")), pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid as exc:
        raise ValidationFailed(
            f"{path.name}: column {name!r}: cannot read a timestamp near data row "
            f"{row0 + 1}: {exc}",
            column=name,
        ) from None


def _type_name(typ: pa.DataType) -> str:
    return {
        pa.int64(): "an integer",
        pa.float64(): "a number",
        pa.bool_(): "true/false",
        pa.date32(): "a date (YYYY-MM-DD)",
    }.get(typ, "a timestamp" if pa.types.is_timestamp(typ) else str(typ))


def _typed_csv_batches(
    path: Path, header: list[str], reader: Any, *, typed: bool = True
) -> Iterator[pa.RecordBatch]:
    types: list[pa.DataType] | None = None
    schema: pa.Schema | None = None
    row0 = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise _csv_error(path, header, exc) from None
        if not typed:
            yield batch
            continue
        if types is None:
            types = [_infer_type(batch.column(i)) for i in range(batch.num_columns)]
            schema = pa.schema([pa.field(n, t) for n, t in zip(header, types, strict=True)])
        cols = [
            _cast(batch.column(i), types[i], header[i], row0, path)
            for i in range(batch.num_columns)
        ]
        row0 += batch.num_rows
        yield pa.RecordBatch.from_arrays(cols, schema=schema)


# -- Parquet and JSON Lines ----------------------------------------------------------------
def _open_parquet(path: Path, size: int) -> TableSource:
    try:
        pf = pq.ParquetFile(path, pre_buffer=False)  # stream: keep only the batch being read
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationFailed(
            f"{path.name}: not a readable Parquet file ({size} bytes; the footer at its end "
            f"is missing or damaged: {exc})",
            path=str(path),
            byte=size,
        ) from None
    _check_names(pf.schema_arrow.names, path.name)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from pf.iter_batches(batch_size=BATCH_ROWS)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValidationFailed(
                f"{path.name}: Parquet data is damaged or truncated: {exc}", path=str(path)
            ) from None

    return TableSource(pf.schema_arrow, batches(), "parquet", size)


def _open_jsonl(path: Path, size: int) -> TableSource:
    bad = _first_bad_utf8(path)
    if bad is not None:
        raise ValidationFailed(
            f"{path.name}: not valid UTF-8 at byte {bad}", path=str(path), byte=bad
        )
    try:
        reader = pjson.open_json(path, read_options=pjson.ReadOptions(block_size=8 << 20))
    except pa.ArrowInvalid as exc:
        raise _jsonl_error(path, exc) from None

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise _jsonl_error(path, exc) from None

    return TableSource(reader.schema, batches(), "jsonl", size)


def _jsonl_error(path: Path, exc: Exception) -> ValidationFailed:
    import json

    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                return ValidationFailed(
                    f"{path.name}: line {lineno} is not JSON: {e.msg} (column {e.colno})",
                    path=str(path),
                    line=lineno,
                )
            if not isinstance(obj, dict):
                return ValidationFailed(
                    f"{path.name}: line {lineno}: expected a JSON object per line",
                    path=str(path),
                    line=lineno,
                )
    return ValidationFailed(f"{path.name}: cannot read JSON Lines: {exc}", path=str(path))
