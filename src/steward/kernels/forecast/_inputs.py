"""The forecast kernel's error type and parameter checks.

Checks return the cleaned value and raise a :class:`ForecastError` naming the
parameter (scikit-learn's ``check_*`` helpers are the model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from steward.kernels._common import KernelInputError

__all__ = [
    "FloatArray",
    "ForecastError",
    "SeriesLike",
    "check_int",
    "check_level",
    "check_number",
    "check_series",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
SeriesLike: TypeAlias = "Sequence[float] | npt.NDArray[Any]"


class ForecastError(KernelInputError):
    """Bad input to the forecast kernel: an empty or non-finite series, a negative
    horizon, a level outside (0, 1), an unknown method, a history too short for the
    method asked for.

    A ``ValueError`` with structured fields: ``parameter`` (the argument at fault) and,
    when values are at fault, ``rows`` (how many) and ``first_row``.
    """


def check_series(name: str, values: SeriesLike) -> FloatArray:
    """``values`` as a non-empty one-dimensional array of finite floats."""
    try:
        x = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ForecastError(
            f"{name}: expected a sequence of numbers; {exc}", parameter=name
        ) from exc
    if x.ndim != 1:
        raise ForecastError(
            f"{name}: expected a one-dimensional series; found shape {x.shape}", parameter=name
        )
    if x.size == 0:
        raise ForecastError(
            f"{name}: expected at least one value; found an empty series", parameter=name
        )
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ForecastError(
            f"{name}: expected finite numbers; found {int(bad.sum())} NaN or infinite "
            f"value(s) of {x.size} (first at position {first}). Fill or drop missing days "
            "before forecasting (a day with no spend is 0).",
            parameter=name,
            rows=int(bad.sum()),
            first_row=first,
        )
    return x


def check_number(
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    strict: bool = False,
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high)`` when ``strict``)."""
    out = math.nan
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        out = float(value)
    inside = low < out < high if strict else low <= out <= high
    if not (math.isfinite(out) and inside):
        left, right = ("(", ")") if strict else ("[", "]")
        span = (
            f" in {left}{low:g}, {high:g}{right}"
            if math.isfinite(low) or math.isfinite(high)
            else ""
        )
        raise ForecastError(
            f"{name}: expected a finite number{span}; found {value!r}", parameter=name
        )
    return out


def check_int(name: str, value: object, *, low: int = 0) -> int:
    """``value`` as an int of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ForecastError(
            f"{name}: expected an integer of at least {low}; found {value!r}", parameter=name
        )
    return int(value)


def check_level(name: str, value: object) -> float:
    """A prediction interval's coverage, strictly between 0 and 1."""
    return check_number(name, value, low=0.0, high=1.0, strict=True)
