"""When a budget would be crossed if the forecast holds.

The caller forecasts the days left in the month (``horizon``) and passes what has been
spent so far; :func:`budget_crossing` accumulates each path — the point forecast and
the interval's two bounds — on top of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from steward.kernels.forecast._inputs import FloatArray, check_number
from steward.kernels.forecast.models import Forecast

__all__ = ["budget_crossing"]

PATHS = ("mean", "lower", "upper")


def _first_above(totals: FloatArray, budget: float) -> int | None:
    above = np.flatnonzero(totals > budget)
    return int(above[0]) + 1 if above.size else None


def budget_crossing(spent: float, forecast: Forecast, budget: float) -> dict[str, Any]:
    """The first day on which ``spent`` plus the forecast spend exceeds ``budget``.

    Parameters
    ----------
    spent
        What has been spent so far in the period (e.g. month to date).
    forecast
        The forecast of the days left in the period (:func:`forecast` with the days
        left as ``horizon``).
    budget
        The period's budget, in the same unit; ``math.inf`` for none (never crossed).

    Returns
    -------
    dict
        ``crossing``: for each path (``mean``, ``lower``, ``upper``) the first step
        (1-based: 1 is the first forecast day) at which ``spent + cumsum(path)``
        exceeds the budget, or None if it does not within the horizon;
        ``projected_total``: ``spent + sum(path)`` for each path; ``exceeded_already``:
        whether ``spent`` alone is over the budget (then every crossing is at step 1,
        or None for an empty horizon); and ``spent``, ``budget``, ``horizon``, ``level``.

    Notes
    -----
    The lower and upper paths add up the per-day bounds: an optimistic and a
    pessimistic scenario in which every day is at its bound. Days' errors are not all
    at their bounds together, so the interval these give for the total is wider than
    a ``level`` interval of the total would be.

    Examples
    --------
    >>> from steward.kernels.forecast import forecast
    >>> f = forecast([10.0] * 20, 5)  # constant: 10 a day, zero-width interval
    >>> out = budget_crossing(70.0, f, 100.0)
    >>> out["crossing"]["mean"], out["projected_total"]["mean"]
    (4, 120.0)
    """
    spent = check_number("spent", spent)
    if not (isinstance(budget, float) and budget == math.inf):
        budget = check_number("budget", budget)
    crossing: dict[str, int | None] = {}
    total: dict[str, float] = {}
    for name in PATHS:
        path: FloatArray = getattr(forecast, name)
        running = spent + np.cumsum(path)
        crossing[name] = _first_above(running, budget)
        total[name] = float(running[-1]) if running.size else spent
    return {
        "spent": spent,
        "budget": budget,
        "horizon": forecast.horizon,
        "level": forecast.level,
        "exceeded_already": spent > budget,
        "crossing": crossing,
        "projected_total": total,
    }
