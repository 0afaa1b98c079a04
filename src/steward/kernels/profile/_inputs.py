"""Input conversion and parameter checks shared by the profile classes.

Every profile accepts numpy arrays, Arrow arrays (chunked or not) and plain Python
sequences; this module turns them into the one representation each profile computes on:
float64 numpy arrays for numbers and times, Arrow string arrays for categories.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels._common import none_if_nan

__all__ = [
    "QUANTILES",
    "ArrayLike",
    "b64decode",
    "b64encode",
    "check_int",
    "check_probabilities",
    "check_state",
    "float_chunks",
    "load_sketch",
    "none_if_nan",
    "string_array",
]

#: the quantiles a summary reports, as (label, probability)
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p1", 0.01),
    ("p5", 0.05),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p95", 0.95),
    ("p99", 0.99),
)

ArrayLike: TypeAlias = "npt.NDArray[Any] | pa.Array | pa.ChunkedArray | Sequence[Any]"
Float64Array: TypeAlias = npt.NDArray[np.float64]

# Seconds per unit of Arrow's timestamp and duration types.
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


T = TypeVar("T")


def load_sketch(deserialize: Callable[[bytes], T], text: str, what: str) -> T:
    """A sketch from base64 of its serialisation, or a ValueError saying which one."""
    try:
        return deserialize(b64decode(text))
    except (ValueError, IndexError, RuntimeError, TypeError, AttributeError) as exc:
        raise ValueError(f"{what}: expected a serialised sketch in base64; {exc}") from exc


def check_int(name: str, value: int, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``, or a ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an integer; found {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected an integer in [{low}, {high}]; found {value}")
    return int(value)


def check_probabilities(
    name: str, values: Sequence[float] | npt.NDArray[np.floating[Any]]
) -> list[float]:
    """``values`` as floats in ``[0, 1]``, or a ValueError naming the parameter."""
    out = [float(v) for v in values]
    bad = [v for v in out if not 0.0 <= v <= 1.0]  # NaN fails the comparison too
    if bad:
        raise ValueError(f"{name}: expected probabilities in [0, 1]; found {bad[0]!r}")
    return out


def check_state(d: dict[str, Any], kind: str, keys: Sequence[str]) -> None:
    """Raise a ValueError unless ``d`` is the ``to_dict`` output of a ``kind`` profile."""
    if not isinstance(d, dict):
        raise ValueError(f"{kind} state: expected a dict; found {type(d).__name__}")
    if d.get("type") != kind:
        raise ValueError(f"{kind} state: expected type {kind!r}; found {d.get('type')!r}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise ValueError(f"{kind} state: missing keys {missing}")


def _arrow_to_float(arr: pa.Array) -> Float64Array:
    """Numbers as float64 (nulls → NaN); times as seconds since the epoch."""
    t = arr.type
    scale = 1.0
    if pa.types.is_timestamp(t) or pa.types.is_duration(t):
        scale = _SECONDS_PER_UNIT[t.unit]
        arr = pc.cast(arr, pa.int64())
    elif pa.types.is_date32(t):
        scale = 86400.0
        arr = pc.cast(arr, pa.int32())
    elif pa.types.is_date64(t):
        scale = 1e-3
        arr = pc.cast(arr, pa.int64())
    elif pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
    elif pa.types.is_null(t):
        return np.full(len(arr), np.nan)
    if not pa.types.is_float64(arr.type):
        try:
            # safe=False: int64 beyond 2**53 rounds to the nearest double, as numpy does.
            arr = pc.cast(arr, pa.float64(), safe=False)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
            raise TypeError(
                f"values: expected numbers, dates or times; found Arrow type {t}"
            ) from exc
    out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return out * scale if scale != 1.0 else out


def float_chunks(values: ArrayLike) -> Iterator[Float64Array]:
    """The values as float64 numpy arrays, one per Arrow chunk, nulls as NaN."""
    if isinstance(values, pa.ChunkedArray):
        # One iteration per chunk (not per row); chunks are converted without copying
        # the whole column into one buffer.
        for chunk in values.chunks:
            yield _arrow_to_float(chunk)
    elif isinstance(values, pa.Array):
        yield _arrow_to_float(values)
    elif isinstance(values, np.ndarray):
        if values.dtype.kind in "fiub":
            yield np.asarray(values, dtype=np.float64).ravel()
        else:  # datetime64, object arrays with None, ...
            yield _arrow_to_float(pa.array(values.ravel(), from_pandas=True))
    else:
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TypeError(f"values: expected a sequence of numbers or None ({exc})") from exc
        yield _arrow_to_float(arr)


def string_array(values: ArrayLike) -> pa.Array | pa.ChunkedArray:
    """The values as an Arrow string array (nulls kept), for counting categories."""
    if isinstance(values, np.ndarray):
        values = values.ravel()
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        try:
            values = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed Python types: their str() is the category.
            values = pa.array([None if v is None else str(v) for v in values], pa.string())
    t = values.type
    if pa.types.is_dictionary(t) and (
        pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    ):
        return values  # counted on the indices; only the distinct values are decoded
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return values
    try:
        return pc.cast(values, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
        raise TypeError(f"values: expected categories; found Arrow type {t}") from exc
