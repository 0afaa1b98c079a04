"""Parameter checks, the one error type of the robustness kernels, and model-output helpers.

Checks return the cleaned value and raise a :class:`RobustnessError` naming the parameter
(scikit-learn's ``check_*`` helpers are the model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels._common import KernelInputError, none_if_nan

__all__ = [
    "ArrayLike",
    "RobustnessError",
    "as_decisions",
    "check_int",
    "check_number",
    "codes_of",
    "differs",
    "none_if_nan",
]

ArrayLike: TypeAlias = "npt.NDArray[Any] | pa.Array | pa.ChunkedArray | Sequence[Any]"


class RobustnessError(KernelInputError):
    """Bad input to a robustness kernel, or a model that fails where it must not (on the
    unperturbed data).

    A ``ValueError`` with structured fields: ``parameter`` (the argument at fault) and,
    when values are at fault, ``rows`` and ``first_row``.
    """


def check_int(name: str, value: object, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise RobustnessError(
            f"{name}: expected an integer of at least {low}; found {value!r}", parameter=name
        )
    return int(value)


def check_number(name: str, value: object, *, low: float = 0.0, strict: bool = True) -> float:
    """``value`` as a finite float above ``low`` (or at least ``low`` if not ``strict``)."""
    out = math.nan
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        out = float(value)
    if not math.isfinite(out) or out < low or (strict and out == low):
        bound = f"above {low:g}" if strict else f"at least {low:g}"
        raise RobustnessError(
            f"{name}: expected a finite number {bound}; found {value!r}", parameter=name
        )
    return out


def as_decisions(name: str, output: object, rows: int) -> npt.NDArray[Any]:
    """A model's decisions as a 1-D array of ``rows`` values, or a RobustnessError."""
    arr = np.asarray(output)
    if arr.size != rows or (arr.ndim == 2 and arr.shape[1] != 1) or arr.ndim > 2:
        raise RobustnessError(
            f"{name}: expected one decision per row ({rows:,} values); found an output of "
            f"shape {arr.shape}. Return decisions (labels), not a probability matrix.",
            parameter=name,
        )
    return arr.reshape(rows)


def differs(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Where two decision arrays differ; NaN equals NaN (a missing decision that stays
    missing has not flipped)."""
    out = np.asarray(a != b, dtype=bool)
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        out &= ~(np.isnan(a) & np.isnan(b))
    return out


def codes_of(values: ArrayLike) -> tuple[npt.NDArray[np.int64], int, bool]:
    """Dense codes ``0 .. k-1`` of a column's distinct values (missing is one value,
    NaN included), ``k`` and whether any value is missing (its code is then ``k - 1``).
    Arrow's hash-based dictionary encoding, no sort."""
    if isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    elif isinstance(values, pa.Array):
        arr = values
    else:
        flat = np.asarray(values)
        if flat.ndim == 2 and flat.shape[1] == 1:
            flat = flat[:, 0]
        if flat.dtype.kind == "f":
            flat = flat + 0.0  # -0.0 becomes 0.0: the same value to any model
        try:
            arr = pa.array(flat, from_pandas=True)  # NaN and None → null
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array(
                [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in flat],
                pa.string(),
            )
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_floating(arr.type):
        arr = pc.add(arr, pa.scalar(0.0, arr.type))  # -0.0 → 0.0
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)  # NaN from Arrow input
    enc = pc.dictionary_encode(arr)
    k = len(enc.dictionary)
    indices = enc.indices
    missing = indices.null_count > 0
    if missing:
        indices = pc.fill_null(indices, k)
        k += 1
    return np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64), k, missing
