"""Input checks and group encoding for the fairness kernel.

Decisions and truth become 0/1 ``int64`` arrays, scores ``float64`` arrays; a sensitive
attribute becomes dense integer codes in the sorted order of its labels (text), missing
values (``None``, NaN, Arrow nulls) forming the group :data:`MISSING`. Encoding goes
through Arrow's hash-based ``dictionary_encode``, which is much faster than sorting a
million strings and treats nulls uniformly whatever the input type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels._common import KernelInputError

__all__ = [
    "MISSING",
    "ArrayLike",
    "FairnessError",
    "check_binary",
    "check_min_group_size",
    "check_scores",
    "encode_groups",
]

ArrayLike: TypeAlias = "npt.NDArray[Any] | pa.Array | pa.ChunkedArray | Sequence[Any]"
IntArray: TypeAlias = npt.NDArray[np.int64]

#: the group of rows whose sensitive attribute is missing
MISSING = "(missing)"


class FairnessError(KernelInputError):
    """Bad input to the fairness kernel.

    A ``ValueError`` with structured fields: ``parameter`` (the argument at fault),
    ``rows`` (how many rows are bad, when values are at fault) and ``first_row``.
    """


def _flat(name: str, values: ArrayLike) -> npt.NDArray[Any]:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_numpy(zero_copy_only=False)
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise FairnessError(
            f"{name}: expected a one-dimensional array; found shape {arr.shape}",
            parameter=name,
        )
    return arr


def _check_length(name: str, got: int, rows: int | None) -> None:
    if rows is not None and got != rows:
        raise FairnessError(
            f"{name}: expected {rows:,} values (one per row of y_true); found {got:,}",
            parameter=name,
        )


def check_binary(name: str, values: ArrayLike, rows: int | None = None) -> IntArray:
    """``values`` as a 0/1 ``int64`` array, or a FairnessError naming the first bad row."""
    arr = _flat(name, values)
    _check_length(name, arr.size, rows)
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise FairnessError(
            f"{name}: expected 0/1 (or booleans); found values of type {arr.dtype} such as "
            f"{arr[0]!r}. Map the labels to 0 and 1 first (1 = the favourable/positive "
            "outcome).",
            parameter=name,
            rows=arr.size,
            first_row=0 if arr.size else None,
        )
    bad = (arr != 0) & (arr != 1)  # NaN is bad too
    if bad.any():
        hits = np.flatnonzero(bad)
        raise FairnessError(
            f"{name}: expected only 0 and 1; found {arr[hits[0]]!r} in {hits.size:,} of "
            f"{arr.size:,} rows (first at row {hits[0]})",
            parameter=name,
            rows=int(hits.size),
            first_row=int(hits[0]),
        )
    return arr.astype(np.int64)


def check_scores(name: str, values: ArrayLike, rows: int) -> npt.NDArray[np.float64]:
    """``values`` as finite ``float64`` scores (any real scale: only their order counts)."""
    arr = _flat(name, values)
    _check_length(name, arr.size, rows)
    if arr.dtype.kind not in "iufb":
        raise FairnessError(
            f"{name}: expected numeric scores; found values of type {arr.dtype}",
            parameter=name,
        )
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        hits = np.flatnonzero(bad)
        raise FairnessError(
            f"{name}: expected finite scores; found {out[hits[0]]!r} in {hits.size:,} of "
            f"{out.size:,} rows (first at row {hits[0]})",
            parameter=name,
            rows=int(hits.size),
            first_row=int(hits[0]),
        )
    return out


def check_min_group_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise FairnessError(
            f"min_group_size: expected an integer of at least 1; found {value!r}",
            parameter="min_group_size",
        )
    return int(value)


def _arrow(name: str, values: ArrayLike) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if isinstance(values, pa.Array):
        return values
    if isinstance(values, np.ndarray) and values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise FairnessError(
            f"{name}: expected a one-dimensional array of group labels; found shape {values.shape}",
            parameter=name,
        )
    try:
        return pa.array(values, from_pandas=True)  # from_pandas: NaN is missing
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed Python types (e.g. 1 and "a"): their text is the label. One pass over
        # the values, taken only for such mixed object arrays.
        items = np.asarray(values, dtype=object).ravel()
        return pa.array(
            [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in items],
            pa.string(),
        )


def encode_groups(name: str, values: ArrayLike, rows: int) -> tuple[IntArray, list[str]]:
    """Dense codes ``0 .. k-1`` for the rows and the ``k`` labels, sorted as text.

    Labels are the values' text (numbers as Arrow formats them, ``true``/``false`` for
    booleans); missing values form the group :data:`MISSING` (a value that is literally
    ``"(missing)"`` joins it).
    """
    arr = _arrow(name, values)
    _check_length(name, len(arr), rows)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        try:
            arr = pc.cast(arr, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise FairnessError(
                f"{name}: expected group labels (text, numbers or booleans); found Arrow "
                f"type {arr.type}",
                parameter=name,
            ) from exc
    enc = pc.dictionary_encode(arr)
    labels: list[str] = enc.dictionary.to_pylist()
    if enc.indices.null_count:
        missing_code = labels.index(MISSING) if MISSING in labels else len(labels)
        if missing_code == len(labels):
            labels.append(MISSING)
        indices = pc.fill_null(enc.indices, missing_code)
    else:
        indices = enc.indices
    codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    order = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels), dtype=np.int64)
    return rank[codes], [labels[i] for i in order]
