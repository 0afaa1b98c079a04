"""A scan of every cell's format, so that classification rests on the whole column.

The classifier (:mod:`steward.kernels.pii`) judges a column by the *shapes* of its values
(digits written ``9``, ASCII letters ``A``: ``"AB 12 34 56 C"`` → ``"AA 99 99 99 A"``),
then validates values of the right shape by check digit, vocabulary or parser. Shapes are
cheap to count exactly: :func:`shape_keys` maps the UTF-8 bytes of a whole Arrow string
array through a 256-entry table (numpy, no Python loop per cell), and Arrow's hash
aggregation counts the shapes and keeps the first value of each.

:class:`ColumnScan` does this batch by batch during registration, for string and integer
columns (the types identifiers come in). Classification then sees the first
``privacy.sample_rows`` values plus one value of every shape missing from them, each
weighted so that a shape's weights add up to its exact count over the whole column: a
column whose identifiers only start after the first thousand rows, or are a minority
format, is judged on what it holds. Check digits and vocabularies are still tested on at
most a few hundred distinct values (values of one shape pass or fail a checksum alike, up
to the checksum's own error rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels.pii import ColumnClassification, classify_column
from steward.kernels.pii.sample import SHORT

__all__ = [
    "LONG",
    "MAX_SHAPES",
    "ColumnScan",
    "TableScan",
    "key_of",
    "scannable",
    "shape_keys",
]

#: Distinct shapes kept per column; cells of further shapes count as unseen.
MAX_SHAPES = 4096
#: The key of values longer than the kernel's SHORT (text: never a single identifier).
LONG = "\x00long"

_LUT = np.arange(256, dtype=np.uint8)
_LUT[ord("0") : ord("9") + 1] = ord("9")
_LUT[ord("A") : ord("Z") + 1] = ord("A")
_LUT[ord("a") : ord("z") + 1] = ord("A")
_ASCII_SHAPE = {i: int(v) for i, v in enumerate(_LUT[:128]) if i != v}


def scannable(typ: pa.DataType) -> bool:
    """String and integer columns: the types identifiers are stored as."""
    return bool(
        pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_integer(typ)
    )


def key_of(value: object) -> str:
    """The shape key of one value, as :func:`shape_keys` computes it for a cell."""
    text = value if isinstance(value, str) else str(value)
    if len(text.encode("utf-8")) > SHORT:
        return LONG
    return text.translate(_ASCII_SHAPE)


def shape_keys(arr: pa.Array) -> pa.Array:
    """The shape key of every cell of a string array (a null's key is ``""``).

    Only the bytes of ``arr`` itself are mapped, not the whole buffer a slice shares.
    """
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    _validity, offsets, data = arr.buffers()[:3]
    wide = pa.types.is_large_string(arr.type)
    offs = np.frombuffer(offsets, dtype=np.int64 if wide else np.int32)
    offs = offs[arr.offset : arr.offset + len(arr) + 1]
    lo, hi = int(offs[0]), int(offs[-1])
    raw = np.frombuffer(data, dtype=np.uint8)[lo:hi] if data is not None else np.empty(0, np.uint8)
    out = pa.Array.from_buffers(
        arr.type, len(arr), [None, pa.py_buffer(offs - lo), pa.py_buffer(_LUT[raw])]
    )
    long = pc.greater(pc.binary_length(arr), SHORT)
    return pc.if_else(long, pa.scalar(LONG, arr.type), out)


class ColumnScan:
    """Exact shape counts of one column and the first value of each shape."""

    def __init__(self, typ: pa.DataType) -> None:
        self.enabled = scannable(typ)
        self.integer = pa.types.is_integer(typ)
        self.counts: dict[str, int] = {}
        self.first: dict[str, Any] = {}
        self.unseen = 0

    def update(self, col: pa.Array | pa.ChunkedArray) -> None:
        if not self.enabled:
            return
        if isinstance(col, pa.ChunkedArray):
            for chunk in col.chunks:
                self.update(chunk)
            return
        col = col.drop_null()
        if not len(col):
            return
        text = pc.cast(col, pa.string()) if self.integer else col
        grouped = (
            pa.table({"k": shape_keys(text), "v": col})
            .group_by("k", use_threads=False)
            .aggregate([("v", "count"), ("v", "first")])
        )
        keys = grouped.column("k").to_pylist()
        counts = grouped.column("v_count").to_pylist()
        room = MAX_SHAPES - len(self.counts)  # new shapes kept: the most frequent first
        fresh = [j for j, k in enumerate(keys) if k not in self.counts]
        new = sorted(fresh, key=lambda j: -counts[j])[: max(room, 0)]
        firsts = grouped.column("v_first").take(new).to_pylist() if new else []
        added = dict(zip((keys[j] for j in new), firsts, strict=True))
        for k, c in zip(keys, counts, strict=True):
            if k in self.counts:
                self.counts[k] += c
            elif k in added:
                self.counts[k] = c
                self.first[k] = added[k]
            else:
                self.unseen += c

    def weighted(self, head: list[Any]) -> tuple[list[Any], list[int] | None, int]:
        """``head`` plus the first value of every shape it lacks, weighted by exact counts.

        Returns ``(values, weights, unseen)`` for
        :func:`~steward.kernels.pii.classify_column`; ``weights`` is ``None`` when the
        column was not scanned (the head sample is then judged as it is).
        """
        if not self.enabled or not self.counts:
            return head, None, 0
        positions: dict[str, list[int]] = {}
        for i, v in enumerate(head):
            positions.setdefault(key_of(v), []).append(i)
        values = list(head)
        for k, v in self.first.items():
            if k not in positions:
                positions[k] = [len(values)]
                values.append(v)
        weights = [0] * len(values)
        unseen = self.unseen
        for k, where in positions.items():
            total = self.counts.get(k)
            if total is None:  # a head value of a shape beyond MAX_SHAPES: counted unseen
                total = len(where)
                unseen = max(0, unseen - total)
            q, r = divmod(total, len(where))
            for j, p in enumerate(where):
                weights[p] = q + (1 if j < r else 0)
        return values, weights, unseen


class TableScan:
    """What classification looks at, gathered batch by batch during registration: the
    first ``sample_rows`` non-null values of each column and a :class:`ColumnScan`."""

    def __init__(self, schema: pa.Schema, sample_rows: int) -> None:
        self.sample_rows = sample_rows
        self.values: dict[str, list[Any]] = {name: [] for name in schema.names}
        self.scans = {f.name: ColumnScan(f.type) for f in schema}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        for name in batch.schema.names:
            col = batch.column(name)
            self.scans[name].update(col)
            have = self.values[name]
            if len(have) < self.sample_rows:
                have.extend(col.drop_null().slice(0, self.sample_rows - len(have)).to_pylist())

    def classify(self) -> list[ColumnClassification]:
        """One classification per column, in schema order."""
        out = []
        for name, head in self.values.items():
            values, weights, unseen = self.scans[name].weighted(head)
            out.append(classify_column(name, values, weights=weights, unseen=unseen))
        return out
