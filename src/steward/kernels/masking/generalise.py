"""Generalising operators: replace a precise value by the band, period or area it falls
in, so that more rows share each quasi-identifier value and k-anonymity rises.

Arrow array in, Arrow text array of the same length out; nulls stay null. Bands are
computed with numpy on the whole column and labelled with Arrow string kernels: there is
no loop over rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels.masking._inputs import (
    ArrayLike,
    MaskingError,
    as_array,
    as_numbers,
    as_text,
    check_int,
    check_number,
    first_bad,
    is_text_type,
)

__all__ = ["generalise_age", "generalise_date", "generalise_numeric", "generalise_postcode"]

_EXACT_FLOAT_INT = 2**53  # beyond this, float64 no longer holds every integer
_ISO = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])([T ].*)?)?)?$"
_ISO_MONTH = r"^\d{4}-(0[1-9]|1[0-2])"


def _lower_bounds(
    arr: pa.Array, valid: npt.NDArray[np.bool_], width: float, op: str
) -> npt.NDArray[np.int64] | npt.NDArray[np.float64]:
    """The lower edge of each value's band ``[k * width, (k + 1) * width)``."""
    if pa.types.is_integer(arr.type) and width.is_integer():
        # Exact integer arithmetic: int64 identifiers beyond 2**53 stay exact.
        x = np.asarray(pc.fill_null(arr, 0).to_numpy(), dtype=np.int64)
        w = int(width)
        return np.asarray(np.floor_divide(x, w) * w, dtype=np.int64)
    x = np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), 0.0).to_numpy(), dtype=np.float64)
    q = x / width
    # 0.3 / 0.1 is 2.9999999999999996 in binary floating point; a quotient this close
    # to an integer is that integer, so 0.3 falls in the band that starts at 0.3.
    near = np.round(q)
    q = np.where(np.abs(q - near) <= 1e-9 * np.maximum(1.0, np.abs(q)), near, np.floor(q))
    low = q * width
    if not width.is_integer():
        return np.asarray(low, dtype=np.float64)
    big = valid & (np.abs(low) >= _EXACT_FLOAT_INT)
    if big.any():
        n, first = first_bad(big)
        raise MaskingError(
            f"{op}: values must be below 2**53 in magnitude to band exactly; found "
            f"{x[first]!r} in {n:,} rows (first at row {first})",
            operator=op,
            rows=n,
            first_row=first,
        )
    return np.asarray(low, dtype=np.int64)


def _text_of(numbers: npt.NDArray[Any], valid: npt.NDArray[np.bool_]) -> pa.Array:
    return pc.cast(pa.array(numbers, mask=~valid), pa.string())


def generalise_numeric(values: ArrayLike, *, width: float) -> pa.Array:
    """Numbers to bands of ``width``, starting at multiples of ``width``.

    With a whole-number width the label names the first and last whole number of the
    band, ``"40000-49999"`` (a value of 49999.5 falls in it too: the band is
    ``[40000, 50000)``); with a fractional width it is the half-open interval
    ``"[1.5, 2)"``. Negative numbers band the same way: -5 with width 10 is
    ``"-10--1"``.

    Examples
    --------
    >>> generalise_numeric(pa.array([43210, 50000, None]), width=10000).to_pylist()
    ['40000-49999', '50000-59999', None]
    >>> generalise_numeric(pa.array([1.7, 0.3]), width=0.5).to_pylist()
    ['[1.5, 2)', '[0, 0.5)']
    """
    op = "generalise_numeric"
    w = check_number(op, "width", width)
    arr, valid = as_numbers(values, op)
    low = _lower_bounds(arr, valid, w, op)
    if w.is_integer():
        high = low + (int(w) - 1)
        return pc.binary_join_element_wise(_text_of(low, valid), _text_of(high, valid), "-")
    # Round edges to the width's decimals (plus slack) so 3 * 0.1 prints as 0.3.
    exponent = Decimal(repr(w)).as_tuple().exponent
    places = (-exponent if isinstance(exponent, int) else 0) + 6
    lo = np.round(low, places) + 0.0  # + 0.0 turns -0.0 into 0.0
    hi = np.round(low + w, places) + 0.0
    inner = pc.binary_join_element_wise(_text_of(lo, valid), _text_of(hi, valid), ", ")
    return pc.binary_join_element_wise(
        pa.scalar("["), inner, pa.scalar(")"), pa.scalar(""), null_handling="emit_null"
    )


def generalise_age(values: ArrayLike, *, width: int = 10, top: int | None = 90) -> pa.Array:
    """Ages to bands of ``width`` years (``"30-39"``); ``top`` and over to ``"90+"``.

    Ages are completed years: 39.9 is in ``"30-39"``. The band below ``top`` stops at
    ``top - 1`` when ``top`` is not a multiple of ``width`` (width 10, top 85:
    ``"80-84"``, then ``"85+"``). Negative ages are an error, not a band.

    Examples
    --------
    >>> generalise_age(pa.array([34, 95, None, 9, 90])).to_pylist()
    ['30-39', '90+', None, '0-9', '90+']
    >>> generalise_age(pa.array([82, 87]), width=10, top=85).to_pylist()
    ['80-84', '85+']

    References
    ----------
    HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(C): ages over 89 are aggregated into a
    single category of 90 or older, hence the default ``top=90``.
    """
    op = "generalise_age"
    w = check_int(op, "width", width, low=1)
    cap = None if top is None else check_int(op, "top", top, low=1)
    arr, valid = as_numbers(values, op)
    negative = pc.fill_null(pc.less(arr, 0), False)
    if pc.any(negative).as_py():
        n, first = first_bad(negative)
        raise MaskingError(
            f"{op}: ages must be 0 or more; found {arr[first].as_py()} in {n:,} of "
            f"{len(arr):,} rows (first at row {first})",
            operator=op,
            rows=n,
            first_row=first,
        )
    low = np.asarray(_lower_bounds(arr, valid, float(w), op), dtype=np.int64)
    high = low + (w - 1)
    if cap is not None:
        high = np.minimum(high, cap - 1)
    band = pc.binary_join_element_wise(_text_of(low, valid), _text_of(high, valid), "-")
    if cap is None:
        return band
    over = pc.fill_null(pc.greater_equal(arr, cap), False)
    return pc.if_else(over, pa.scalar(f"{cap}+"), band)


def generalise_date(values: ArrayLike, *, to: Literal["month", "year"]) -> pa.Array:
    """Dates, timestamps or ISO-8601 text to ``"2021-07"`` (month) or ``"2021"`` (year).

    Timestamps with a time zone are generalised in that zone's local time. Text must
    start with an ISO date (``2021-07-03``, ``2021-07-03T10:00:00Z``, or for years
    ``2021``); anything else is an error naming the first bad row. Empty text stays
    empty.

    Examples
    --------
    >>> import datetime as dt
    >>> generalise_date(pa.array([dt.date(2021, 7, 3), None]), to="month").to_pylist()
    ['2021-07', None]
    >>> generalise_date(pa.array(["2021-07-03T10:00:00Z", ""]), to="year").to_pylist()
    ['2021', '']
    """
    op = "generalise_date"
    if to not in ("month", "year"):
        raise MaskingError(
            f"{op}: parameter 'to' must be 'month' or 'year'; found {to!r}",
            operator=op,
            parameter="to",
        )
    arr = as_array(values, op)
    t = arr.type
    if is_text_type(t) or pa.types.is_null(t):
        return _generalise_iso_text(as_text(arr, op), to, op)
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        year = pc.utf8_lpad(pc.cast(pc.year(arr), pa.string()), width=4, padding="0")
        if to == "year":
            return year
        month = pc.utf8_lpad(pc.cast(pc.month(arr), pa.string()), width=2, padding="0")
        return pc.binary_join_element_wise(year, month, "-")
    raise MaskingError(
        f"{op}: expected dates, timestamps or ISO-8601 text; found Arrow type {t}",
        operator=op,
        parameter="values",
    )


def _generalise_iso_text(text: pa.Array, to: str, op: str) -> pa.Array:
    text = pc.utf8_trim_whitespace(text)
    blank = pc.equal(text, "")
    pattern = _ISO_MONTH if to == "month" else _ISO
    ok = pc.or_(pc.match_substring_regex(text, pattern), blank)
    if to == "month":
        ok = pc.and_(ok, pc.or_(pc.match_substring_regex(text, _ISO), blank))
    bad = pc.fill_null(pc.invert(ok), False)
    if pc.any(bad).as_py():
        n, first = first_bad(bad)
        example = "2021-07-03" if to == "month" else "2021-07-03 or 2021"
        raise MaskingError(
            f"{op}: expected ISO-8601 dates such as {example}; found {text[first].as_py()!r} "
            f"in {n:,} of {len(text):,} rows (first at row {first}). Parse the column as "
            "dates when registering, or fix the values.",
            operator=op,
            rows=n,
            first_row=first,
        )
    return pc.utf8_slice_codeunits(text, 0, 7 if to == "month" else 4)


def generalise_postcode(values: ArrayLike, *, keep: int = 3) -> pa.Array:
    """Keep the first ``keep`` characters of a postcode and pad the rest with ``"*"``.

    White space is removed and letters upper-cased first, so ``"sw1a 1aa"`` and
    ``"SW1A1AA"`` generalise alike: ``"SW1****"``. The output keeps the length of the
    cleaned postcode; a postcode no longer than ``keep`` is kept whole (it is already
    as coarse as the prefix). Empty text stays empty.

    Examples
    --------
    >>> generalise_postcode(pa.array(["SW1A 1AA", "10001", None]), keep=3).to_pylist()
    ['SW1****', '100**', None]
    """
    op = "generalise_postcode"
    n_keep = check_int(op, "keep", keep)
    text = pc.utf8_upper(pc.replace_substring_regex(as_text(values, op), r"\s+", ""))
    n = pc.cast(pc.utf8_length(text), pa.int64())
    head = pc.utf8_slice_codeunits(text, 0, n_keep)
    pad = pc.binary_repeat(pa.scalar("*"), pc.max_element_wise(pc.subtract(n, n_keep), 0))
    return pc.binary_join_element_wise(head, pad, "")
