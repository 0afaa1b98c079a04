"""Per-column masking operators: Arrow array in, Arrow array of the same length out;
nulls stay null."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "OPERATORS",
    "generalise_age",
    "generalise_date",
    "generalise_numeric",
    "generalise_postcode",
    "partial_mask",
    "pseudonymise",
    "redact",
    "suppress_rare",
]


def _array(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(values)


def _text(values: Any) -> pa.Array:
    arr = _array(values)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def redact(values: Any, *, token: str = "[REDACTED]") -> pa.Array:
    """Replace every present value with ``token``."""
    arr = _array(values)
    return pc.if_else(pc.is_valid(arr), pa.scalar(token), pa.scalar(None, pa.string()))


def partial_mask(
    values: Any, *, keep_first: int = 0, keep_last: int = 4, char: str = "*"
) -> pa.Array:
    """Keep the first/last characters, mask the rest; values too short are fully masked."""
    if keep_first < 0 or keep_last < 0 or len(char) != 1:
        raise ValueError("partial_mask: keep_first/keep_last must be ≥ 0 and char one character")
    text = _text(values)
    n = pc.cast(pc.utf8_length(text), pa.int64())
    keep = keep_first + keep_last
    head = pc.utf8_slice_codeunits(text, 0, keep_first)
    tail = (
        pc.utf8_slice_codeunits(text, -keep_last)
        if keep_last
        else pc.utf8_slice_codeunits(text, 0, 0)
    )
    stars = pc.binary_repeat(pa.scalar(char), pc.max_element_wise(pc.subtract(n, keep), 0))
    full = pc.binary_repeat(pa.scalar(char), pc.fill_null(n, 0))
    joined = pc.binary_join_element_wise(head, stars, tail, "")
    return pc.if_else(pc.greater(n, keep), joined, pc.if_else(pc.is_valid(text), full, joined))


def pseudonymise(
    values: Any, *, key: bytes, prefix: str = "p_", length: int = 16, casefold: bool = True
) -> pa.Array:
    """Keyed HMAC-SHA256 of the value's text (trimmed, casefolded by default), so equal
    values give equal pseudonyms in every dataset of a home and joins still work."""
    if not key:
        raise ValueError("pseudonymise: a key is required")
    if not 4 <= length <= 64:
        raise ValueError("pseudonymise: length must be 4 to 64 hex characters")
    text = pc.utf8_trim_whitespace(_text(values))
    if casefold:
        text = pc.utf8_lower(text)
    # HMAC is per value; hashing distinct values once keeps repeated values cheap.
    uniq = pc.unique(text.drop_null())
    mac = [
        prefix + hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:length]
        for v in uniq.to_pylist()
    ]
    idx = pc.index_in(text, value_set=uniq)
    return pc.take(pa.array(mac, pa.string()), idx)


def generalise_age(values: Any, *, width: int = 10, top: int | None = 90) -> pa.Array:
    """Ages to bands: 34 → "30-39"; at or above ``top`` → "90+"."""
    if width < 1:
        raise ValueError("generalise_age: width must be ≥ 1")
    arr = pc.cast(_array(values), pa.float64())
    low = pc.multiply(pc.floor(pc.divide(arr, width)), width)
    low_i = pc.cast(low, pa.int64())
    high_i = pc.subtract(pc.add(low_i, width), 1)
    band = pc.binary_join_element_wise(
        pc.cast(low_i, pa.string()), pc.cast(high_i, pa.string()), "-"
    )
    if top is not None:
        band = pc.if_else(pc.greater_equal(arr, top), pa.scalar(f"{top}+"), band)
    return band


def generalise_numeric(values: Any, *, width: float) -> pa.Array:
    """Numbers to bands of ``width``: 43210 with width 10000 → "40000-49999"."""
    if width <= 0:
        raise ValueError("generalise_numeric: width must be > 0")
    arr = pc.cast(_array(values), pa.float64())
    low = pc.multiply(pc.floor(pc.divide(arr, width)), width)
    high = pc.subtract(pc.add(low, width), 1 if float(width).is_integer() else 0)
    fmt = pa.int64() if float(width).is_integer() else pa.float64()
    return pc.binary_join_element_wise(
        pc.cast(pc.cast(low, fmt), pa.string()), pc.cast(pc.cast(high, fmt), pa.string()), "-"
    )


def generalise_date(values: Any, *, to: Literal["month", "year"] = "year") -> pa.Array:
    """Dates or timestamps (or ISO text) to "YYYY-MM" or "YYYY"."""
    if to not in ("month", "year"):
        raise ValueError(f"generalise_date: to must be 'month' or 'year'; found {to!r}")
    arr = _array(values)
    n = 7 if to == "month" else 4
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return pc.utf8_slice_codeunits(arr, 0, n)
    fmt = "%Y-%m" if to == "month" else "%Y"
    if pa.types.is_date(arr.type):
        arr = pc.cast(arr, pa.timestamp("s"))
    return pc.strftime(arr, format=fmt)


def generalise_postcode(values: Any, *, keep: int = 3) -> pa.Array:
    """Keep the first ``keep`` characters of a postcode and replace the rest with '*'."""
    if keep < 0:
        raise ValueError("generalise_postcode: keep must be ≥ 0")
    text = pc.utf8_upper(pc.replace_substring(_text(values), " ", ""))
    n = pc.utf8_length(text)
    head = pc.utf8_slice_codeunits(text, 0, keep)
    stars = pc.binary_repeat(
        pa.scalar("*"), pc.max_element_wise(pc.subtract(pc.cast(n, pa.int64()), keep), 0)
    )
    return pc.binary_join_element_wise(head, stars, "")


def suppress_rare(values: Any, *, min_count: int, replacement: str | None = None) -> pa.Array:
    """Replace values that occur fewer than ``min_count`` times with ``replacement``."""
    if min_count < 1:
        raise ValueError("suppress_rare: min_count must be ≥ 1")
    text = _text(values)
    vc = pc.value_counts(text.drop_null())
    rare = vc.field("values").filter(pc.less(vc.field("counts"), min_count))
    is_rare = pc.is_in(text, value_set=rare)
    return pc.if_else(is_rare, pa.scalar(replacement, pa.string()), text)


def _checked(name: str, fn: Callable[..., pa.Array]) -> Callable[..., pa.Array]:
    def call(values: Any, **params: Any) -> pa.Array:
        try:
            return fn(values, **params)
        except TypeError as exc:
            raise ValueError(f"operator {name}: bad parameters {sorted(params)}: {exc}") from None

    call.__name__ = name
    call.__doc__ = fn.__doc__
    return call


_FUNCTIONS: dict[str, Callable[..., pa.Array]] = {
    "redact": redact,
    "partial_mask": partial_mask,
    "pseudonymise": pseudonymise,
    "generalise_age": generalise_age,
    "generalise_date": generalise_date,
    "generalise_postcode": generalise_postcode,
    "generalise_numeric": generalise_numeric,
    "suppress_rare": suppress_rare,
}
OPERATORS: dict[str, Callable[..., pa.Array]] = {
    name: _checked(name, fn) for name, fn in _FUNCTIONS.items()
}
