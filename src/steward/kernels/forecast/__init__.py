"""Forecasts and anomalies of daily cost series: what the cost service computes with.

Owns the cost kernel (pure computation, no I/O):

- :func:`forecast` → :class:`Forecast`: the next days' spend from a daily series —
  Holt-Winters with a weekly season (statsmodels), Holt's method or the mean for short
  histories, the seasonal naive method on request — with a prediction interval that
  widens with the horizon;
- :func:`budget_crossing`: the first day the month's spend would exceed a budget along
  the forecast and the interval's bounds, and the projected totals;
- :func:`anomalies` → :class:`Anomaly`: days outside the one-step forecast band (or a
  median/MAD band for short histories), with their impact in money and percent, without
  letting an anomaly poison later forecasts, and accepting a lasting level shift as
  the new normal.

Methods, rules, measured precision and recall, and accuracy on a real series are in
``docs/forecasting.md``. Bad inputs raise :class:`ForecastError`, a ``ValueError``.
"""

from steward.kernels.forecast._inputs import ForecastError
from steward.kernels.forecast.budget import budget_crossing
from steward.kernels.forecast.detection import Anomaly, anomalies
from steward.kernels.forecast.models import METHODS, Forecast, Method, forecast

__all__ = [
    "METHODS",
    "Anomaly",
    "Forecast",
    "ForecastError",
    "Method",
    "anomalies",
    "budget_crossing",
    "forecast",
]
