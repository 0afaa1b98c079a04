"""Input conversion, parameter checks and the one error type of the masking operators.

Every operator accepts an Arrow ``Array``, a ``ChunkedArray`` or a plain Python
sequence, and turns it into one contiguous ``pa.Array`` here, so each returns an array
of the same length as its input. Parameter checks return the cleaned value and raise a
:class:`MaskingError` naming the operator and the parameter (scikit-learn's
``check_*`` helpers are the model); data checks name how many rows failed and the first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ArrayLike",
    "MaskingError",
    "as_array",
    "as_numbers",
    "as_text",
    "check_bool",
    "check_char",
    "check_int",
    "check_number",
    "check_optional_str",
    "check_str",
    "first_bad",
    "is_text_type",
]

ArrayLike: TypeAlias = "pa.Array | pa.ChunkedArray | Sequence[Any]"


class MaskingError(ValueError):
    """A masking operator was given a bad parameter or values it cannot transform.

    A ``ValueError`` (so callers catching that keep working) carrying structured fields:
    ``operator``; ``parameter`` when a parameter is at fault (``None`` for bad data);
    ``rows`` and ``first_row`` when values are at fault (``None`` otherwise).
    """

    def __init__(
        self,
        message: str,
        *,
        operator: str,
        parameter: str | None = None,
        rows: int | None = None,
        first_row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.operator = operator
        self.parameter = parameter
        self.rows = rows
        self.first_row = first_row


def is_text_type(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def as_array(values: ArrayLike, op: str) -> pa.Array:
    """``values`` as one contiguous Arrow array, dictionary columns decoded."""
    if isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    elif isinstance(values, pa.Array):
        arr = values
    else:
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise MaskingError(
                f"{op}: expected an Arrow array or a sequence of values of one type ({exc})",
                operator=op,
                parameter="values",
            ) from None
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def as_text(values: ArrayLike, op: str) -> pa.Array:
    """The values' string form: text as is, numbers and dates as Arrow casts them."""
    arr = as_array(values, op)
    if pa.types.is_string(arr.type):
        return arr
    try:
        return pc.cast(arr, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
        raise MaskingError(
            f"{op}: expected values with a text form; found Arrow type {arr.type} ({exc})",
            operator=op,
            parameter="values",
        ) from None


def first_bad(bad: npt.NDArray[np.bool_] | pa.Array) -> tuple[int, int]:
    """(how many rows are flagged, index of the first) for a boolean mask."""
    mask = bad if isinstance(bad, np.ndarray) else bad.to_numpy(zero_copy_only=False)
    mask = np.asarray(mask, dtype=bool)
    hits = np.flatnonzero(mask)
    return int(hits.size), int(hits[0]) if hits.size else -1


def as_numbers(values: ArrayLike, op: str) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """Numbers as an Arrow float64 or int64 array, and the mask of present values.

    NaN counts as missing (pandas writes missing numbers as NaN); infinities and text
    that is not a number raise a :class:`MaskingError` naming the first offending row.
    """
    arr = as_array(values, op)
    t = arr.type
    if pa.types.is_null(t):
        arr = pa.array([None] * len(arr), pa.float64())
    elif pa.types.is_integer(t):
        # int64 keeps values beyond 2**53 exact (float64 would round them).
        try:
            arr = pc.cast(arr, pa.int64())
        except pa.ArrowInvalid:
            arr = pc.cast(arr, pa.float64())  # uint64 beyond 2**63
    elif pa.types.is_floating(t) or pa.types.is_decimal(t) or is_text_type(t):
        text = None
        if is_text_type(t):
            # Blank text in a number column is a missing number, as in a CSV reader.
            text = pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))
            text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        try:
            arr = pc.cast(text if text is not None else arr, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            assert text is not None  # floats and decimals always cast
            ok = pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
            n, first = first_bad(pc.fill_null(pc.invert(ok), False))
            raise MaskingError(
                f"{op}: expected numbers; found {text[first].as_py()!r} in {n:,} of "
                f"{len(text):,} rows (first at row {first}). Clean the column or choose a "
                "text operator.",
                operator=op,
                rows=n,
                first_row=first,
            ) from None
        finite = pc.is_finite(arr)
        nan = pc.is_nan(arr)
        inf = pc.fill_null(pc.and_(pc.invert(finite), pc.invert(nan)), False)
        if pc.any(inf).as_py():
            n, first = first_bad(inf)
            raise MaskingError(
                f"{op}: expected finite numbers; found {arr[first].as_py()} in {n:,} of "
                f"{len(arr):,} rows (first at row {first})",
                operator=op,
                rows=n,
                first_row=first,
            )
        arr = pc.if_else(pc.fill_null(nan, False), pa.scalar(None, pa.float64()), arr)
    else:
        raise MaskingError(
            f"{op}: expected a numeric column; found Arrow type {t}. Generalise dates with "
            "generalise_date and text with partial_mask or suppress_rare.",
            operator=op,
            parameter="values",
        )
    valid = np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)
    return arr, valid


def _bad_param(op: str, name: str, expected: str, found: object) -> MaskingError:
    return MaskingError(
        f"{op}: parameter {name!r} must be {expected}; found {found!r}",
        operator=op,
        parameter=name,
    )


def check_int(op: str, name: str, value: object, *, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, or a MaskingError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _bad_param(op, name, "an integer", value)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _bad_param(op, name, f"an integer {bounds}", value)
    return int(value)


def check_number(op: str, name: str, value: object, *, positive: bool = True) -> float:
    """``value`` as a finite float (``> 0`` when ``positive``), or a MaskingError."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _bad_param(op, name, "a number", value)
    out = float(value)
    if not math.isfinite(out) or (positive and out <= 0):
        raise _bad_param(op, name, "a finite number > 0" if positive else "finite", value)
    return out


def check_str(op: str, name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _bad_param(op, name, "a string", value)
    return value


def check_optional_str(op: str, name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad_param(op, name, "a string or None", value)
    return value


def check_char(op: str, name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise _bad_param(op, name, "exactly one character", value)
    return value


def check_bool(op: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _bad_param(op, name, "True or False", value)
    return value
