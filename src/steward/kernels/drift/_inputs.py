"""The drift kernel's error type, parameter checks and input conversion.

Checks return the cleaned value and raise a :class:`DriftError` naming the parameter
(scikit-learn's ``check_*`` helpers are the model). Arrays become what the tests compute
on: finite ``float64`` values for numeric tests (nulls, NaN and ±inf dropped, as Evidently
drops them before a test) and ``(value, count)`` pairs for tests on categories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels._common import KernelInputError

__all__ = [
    "ArrayLike",
    "DriftError",
    "category_counts",
    "check_int",
    "check_number",
    "check_threshold",
    "finite_values",
]

ArrayLike: TypeAlias = "npt.NDArray[Any] | pa.Array | pa.ChunkedArray | Sequence[Any]"
FloatArray: TypeAlias = npt.NDArray[np.float64]


class DriftError(KernelInputError):
    """Bad input to a drift kernel: an unknown method, a threshold out of range, an
    empty sample, a method that does not apply to the column's kind.

    A ``ValueError`` with structured fields: ``parameter`` (the argument at fault) and,
    when values are at fault, ``rows``.
    """


def check_number(
    name: str, value: object, *, low: float = -math.inf, high: float = math.inf
) -> float:
    """``value`` as a finite float in ``[low, high]``, or a DriftError naming it."""
    out = math.nan
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        out = float(value)
    if not (math.isfinite(out) and low <= out <= high):
        span = f" in [{low:g}, {high:g}]" if math.isfinite(low) or math.isfinite(high) else ""
        raise DriftError(f"{name}: expected a finite number{span}; found {value!r}", parameter=name)
    return out


def check_int(name: str, value: object, *, low: int = 0) -> int:
    """``value`` as an int of at least ``low``, or a DriftError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise DriftError(
            f"{name}: expected an integer of at least {low}; found {value!r}", parameter=name
        )
    return int(value)


def check_threshold(name: str, value: object, *, p_value: bool) -> float:
    """A drift threshold: a significance level in (0, 1) for tests that return a
    p-value, a non-negative distance otherwise."""
    if p_value:
        out = check_number(name, value, low=0.0, high=1.0)
        if out in (0.0, 1.0):
            raise DriftError(
                f"{name}: expected a significance level strictly between 0 and 1; found {out}",
                parameter=name,
            )
        return out
    return check_number(name, value, low=0.0)


def _to_arrow(name: str, values: ArrayLike) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if isinstance(values, pa.Array):
        return values
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim > 1:
        raise DriftError(
            f"{name}: expected a one-dimensional array; found shape {arr.shape}", parameter=name
        )
    try:
        return pa.array(arr, from_pandas=True)  # NaN and None become nulls
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed Python objects: their str() is the category, as in the profiles.
        return pa.array(
            [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in arr],
            pa.string(),
        )


def finite_values(name: str, values: ArrayLike) -> FloatArray:
    """The finite values of a numeric sample as ``float64`` (nulls, NaN, ±inf dropped)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise DriftError(
                f"{name}: expected a one-dimensional array; found shape {values.shape}",
                parameter=name,
            )
        x = np.asarray(values, dtype=np.float64)
    else:
        arr = _to_arrow(name, values)
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        try:
            arr = pc.cast(arr, pa.float64(), safe=False)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
            raise DriftError(
                f"{name}: expected numbers; found values of Arrow type {arr.type}. Use a "
                f"test on categories (chisquare, z, jensenshannon, psi, hellinger with "
                f"kind='categorical') for this column.",
                parameter=name,
            ) from exc
        x = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(x)
    return x if bool(finite.all()) else x[finite]


def category_counts(name: str, values: ArrayLike) -> dict[Any, int]:
    """``{value: count}`` of the non-null values (NaN counts as null; ``-0.0`` as ``0.0``).

    One hash pass in Arrow (``value_counts``); the Python loop is over distinct values.
    """
    arr = _to_arrow(name, values)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_floating(arr.type):
        arr = pc.add(arr, pa.scalar(0.0, arr.type))  # -0.0 → 0.0, as pandas hashes them
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)
    if len(arr) == 0:
        return {}
    vc = pc.value_counts(arr)
    keys, counts = vc.field("values"), vc.field("counts")
    return {
        k: int(c)
        for k, c in zip(keys.to_pylist(), counts.to_pylist(), strict=True)
        if k is not None
    }
