"""Anomalous days in a daily cost series, with their impact in money and percent.

Each day ``t`` is compared with a band the days before it predict; the rules, in the
order they apply (measured precision and recall: ``docs/forecasting.md``):

- **Scale.** The detector works on ``z = log(max(cost, 0) + c)``, ``c`` 1 % of the
  median positive cost: cost noise, weekly patterns and shifts are multiplicative
  (a weekend at 70 % of a weekday, +40 % from a new model), additive on this scale.
  Bands are reported back in money and clipped at 0.
- **Forecast band** (from ``min_history`` days on): the one-step forecast of additive
  Holt-Winters without trend on ``z`` (statsmodels ``ExponentialSmoothing``; simple
  exponential smoothing while the window is under 17 days for a weekly season)
  ``± q * sigma``, ``q`` the two-sided ``level`` quantile of Student's t over the fit's
  degrees of freedom, ``sigma`` from the sum of squared one-step errors. statsmodels
  refits the
  model every ``REFIT_EVERY`` (28) days on the last ``FIT_WINDOW`` (112) days of the
  cleaned history; in between the model is updated day by day with its own recursions
  and ``sigma`` with each normal day's error. (A damped trend, as :func:`forecast`
  may choose, made no difference to the measured precision or recall one step ahead
  and costs five times the time.)
- **Robust band** (before ``min_history`` days, from day ``max(5, season)`` on, or when
  no model fits — e.g. a constant history): ``median ± k * 1.4826 * MAD`` of the
  trailing ``z`` (Rousseeuw and Croux 1993); from ``season + 5`` days on, of their
  changes over one season, added to the value one season back, so that weekends are
  not taken for drops; before that, the scale is at least ``IQR / 1.349`` for the same
  reason. ``k`` is ``robust_k`` turned into Student's t quantile of the same tail with
  ``n - 1`` degrees of freedom (a MAD of 7 values is uncertain: ``k = 3.5`` would
  flag 7 % of normal days, this 1 %).
- Both bands' scale (``sigma`` or the robust one) is at least ``SCALE_FLOOR`` (0.01 on
  the log scale: about 1 %), so a constant or very smooth series does not flag tiny
  changes.
- A value above the band is a ``spike``, below it a ``drop``; ``min_impact`` drops
  anomalies smaller than that much money from the report (not from the rules below).

**No poisoning.** An anomaly enters the history later forecasts use at the edge of the
band it crossed (winsorised; the robust-filter form of Gelper, Fried and Croux 2010),
and its error does not enter ``sigma``: a spike neither raises the next days' forecasts
(by more than ``alpha`` times the band's half-width) nor widens the band.

**Level shifts become the new normal** (Chen and Liu 1993 for the adjustment). A run
starts with an anomaly and lasts while the following days stay on the same side of
the forecast, inside the band or not. When it reaches ``max(season, 5)`` days with
more than half of them anomalies, it is a level shift: that day is not reported, the
run's real values return to the history, everything before the run is moved by the
median of the run's errors (a factor, on the cost scale), and so is the model's level.
The run's earlier days stay reported: they are where the shift began.

**So do changed days of the week.** Anomalies in the same direction on the same day
of ``PHASE_RUN`` (3) consecutive seasons — every Saturday now costs 80 % more — are a
new pattern: the third is not reported, their real values return to the history, that
day's earlier values are moved by their median error, and so is the model's seasonal
term for it.

References
----------
C. Chen and L.-M. Liu, "Joint estimation of model parameters and outlier effects in
time series", Journal of the American Statistical Association 88(421), 284-297, 1993.
S. Gelper, R. Fried and C. Croux, "Robust forecasting with exponential and Holt-Winters
smoothing", Journal of Forecasting 29(3), 285-300, 2010.
R. J. Hyndman and G. Athanasopoulos, "Forecasting: Principles and Practice", 2nd ed.,
OTexts, 2018.
P. J. Rousseeuw and C. Croux, "Alternatives to the median absolute deviation", JASA
88(424), 1273-1283, 1993 (1.4826 * MAD as a consistent estimate of sigma).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
from scipy import stats  # type: ignore[import-untyped]

from steward.kernels.forecast._inputs import (
    FloatArray,
    SeriesLike,
    check_int,
    check_level,
    check_number,
    check_series,
)
from steward.kernels.forecast._smoothing import (
    Smoother,
    fit_smoother,
    holt_min,
    hw_min,
    single_threaded,
)
from steward.kernels.forecast.models import quantile

__all__ = [
    "FIT_WINDOW",
    "MIN_VALUES",
    "PHASE_RUN",
    "REFIT_EVERY",
    "SCALE_FLOOR",
    "Anomaly",
    "anomalies",
]

AnomalyMethod: TypeAlias = Literal["forecast_band", "robust"]

MIN_VALUES = 5  # fewest earlier days for any verdict (the robust band's median and MAD)
REFIT_EVERY = 28  # days between statsmodels fits; the model is updated daily in between
FIT_WINDOW = 112  # most recent days a fit sees (16 weeks): bounded cost, recent regime
PHASE_RUN = 3  # same-direction anomalies on one day of 3 seasons in a row: a new pattern
SCALE_FLOOR = 0.01  # least band scale on the log scale: about 1 % of the expected value
OFFSET = 0.01  # log(cost + c) with c = OFFSET * the median positive cost: zeros are finite


@dataclass(frozen=True)
class Anomaly:
    """One anomalous day.

    Attributes
    ----------
    index : the day's position in the series.
    value : what was spent.
    expected : what was forecast (clipped at 0).
    lower, upper : the band the value fell outside.
    impact : ``value - expected``, in money (negative for a drop).
    impact_pct : ``impact / expected``; None when nothing was expected.
    direction : ``spike`` (above the band) or ``drop`` (below).
    method : ``forecast_band`` or ``robust`` (short history).
    """

    index: int
    value: float
    expected: float
    lower: float
    upper: float
    impact: float
    impact_pct: float | None
    direction: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "value": self.value,
            "expected": self.expected,
            "lower": self.lower,
            "upper": self.upper,
            "impact": self.impact,
            "impact_pct": self.impact_pct,
            "direction": self.direction,
            "method": self.method,
        }


@dataclass(frozen=True)
class _Band:
    """A band ``centre ± half`` on the scale ``log(max(cost, 0) + offset)``."""

    centre: float
    half: float
    offset: float
    method: AnomalyMethod

    def log(self, value: float) -> float:
        return math.log(max(value, 0.0) + self.offset)

    def cost(self, z: float) -> float:
        # Below a millionth of the offset is zero (exp(log(c)) - c is rounding noise).
        value = math.exp(z) - self.offset
        return value if value > 1e-6 * self.offset else 0.0

    @property
    def expected(self) -> float:
        return self.cost(self.centre)

    @property
    def lower(self) -> float:
        return self.cost(self.centre - self.half)

    @property
    def upper(self) -> float:
        return self.cost(self.centre + self.half)


@dataclass
class _Model:
    """The fitted smoother on the log scale, updated day by day."""

    smoother: Smoother
    offset: float

    def band(self, level: float) -> _Band:
        fit = self.smoother
        half = quantile(level, fit.dof) * max(float(fit.std(1)[0]), SCALE_FLOOR)
        return _Band(float(fit.mean(1)[0]), half, self.offset, "forecast_band")

    def observe(self, z: float, *, normal: bool) -> None:
        # An anomaly's error does not enter sigma: it would widen the band after it.
        self.smoother = self.smoother.update(z, count_error=normal)

    def shift(self, delta: float) -> None:
        self.smoother = self.smoother.shift_level(delta)

    def shift_next_season(self, delta: float) -> None:
        self.smoother = self.smoother.shift_next_season(delta)


@dataclass
class _Run:
    """Consecutive days on one side of the forecast, starting with an anomaly."""

    start: int
    sign: float
    errors: list[float] = field(default_factory=list)
    flagged: int = 0


@dataclass
class _PhaseRun:
    """Anomalies in the same direction on the same day of consecutive seasons."""

    sign: float
    days: list[int] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)


def _offset(values: FloatArray) -> float:
    positive = values[values > 0]
    return OFFSET * float(np.median(positive)) if positive.size else 1.0


def _logs(values: FloatArray, offset: float) -> FloatArray:
    return np.log(np.maximum(values, 0.0) + offset)


@functools.lru_cache(maxsize=1024)
def _small_sample_k(k: float, n: int) -> float:
    """``k`` normal standard deviations as the Student's t quantile of the same tail
    with ``n - 1`` degrees of freedom: a median and MAD of a few values are uncertain,
    and a band of ``k`` of them would flag 7 % of normal days at ``n = 7`` (1 % this
    way, measured by simulation)."""
    return float(stats.t.isf(stats.norm.sf(k), max(n - 1, 1)))


def _robust_band(window: FloatArray, k: float, season: int) -> _Band:
    """The band for a short history: the median and MAD of the trailing log costs or,
    from ``season + MIN_VALUES`` days on, of their changes over one season (added to
    the value one season back, so that a weekly pattern is not taken for anomalies)."""
    offset = _offset(window)
    z = _logs(window, offset)
    if season > 1 and z.size >= season + MIN_VALUES:
        changes = z[season:] - z[:-season]
        drift = float(np.median(changes))
        centre = float(z[-season]) + drift
        scale = 1.4826 * float(np.median(np.abs(changes - drift)))
        n = changes.size
    else:
        centre = float(np.median(z))
        q1, q3 = np.percentile(z, [25, 75])
        # Under a season and a half, a weekly pattern's few weekend days escape the
        # MAD (at most half the values) but not the interquartile range.
        scale = max(1.4826 * float(np.median(np.abs(z - centre))), float(q3 - q1) / 1.349)
        n = z.size
    half = _small_sample_k(k, n) * max(scale, SCALE_FLOOR)
    return _Band(centre, half, offset, "robust")


def _fit(recent: FloatArray, season: int) -> _Model | None:
    offset = _offset(recent)
    z = _logs(recent, offset)
    if np.ptp(z) == 0:
        return None  # constant: the robust band (with its floor) judges
    seasonal = season > 1 and z.size >= hw_min(season)
    fit = fit_smoother(z, season=season, seasonal=seasonal, brute=False, trends=(False,))
    return None if fit is None else _Model(fit, offset)


def _check(
    season: int, level: float, min_history: int, robust_k: float, min_impact: float
) -> tuple[int, float, int, float, float]:
    season = check_int("season", season, low=1)
    level = check_level("level", level)
    min_history = check_int("min_history", min_history, low=holt_min())
    robust_k = check_number("robust_k", robust_k, low=0.0, high=np.inf, strict=True)
    min_impact = check_number("min_impact", min_impact, low=0.0)
    return season, level, min_history, robust_k, min_impact


def anomalies(
    series: SeriesLike,
    *,
    season: int = 7,
    level: float = 0.99,
    min_history: int = 21,
    robust_k: float = 3.5,
    min_impact: float = 0.0,
) -> list[Anomaly]:
    """Anomalous days of a daily cost series (rules in the module docstring).

    Parameters
    ----------
    series
        Daily values, oldest first; finite (a day without spend is 0).
    season
        Seasonal period in days (7: weekly; 1: none).
    level
        Coverage of the forecast band: a normal day falls outside it with probability
        ``1 - level`` (0.99: about one day in a hundred, split between both sides).
    min_history
        Days needed before a day is judged against a forecast (at least 10); earlier
        days, from day ``max(5, season)`` on, are judged by the robust band.
    robust_k
        Width of the robust band in robust standard deviations (1.4826 * MAD).
    min_impact
        Leave out anomalies whose ``|impact|`` is below this amount of money.

    Returns
    -------
    list of Anomaly
        In day order.

    Raises
    ------
    ForecastError
        A non-finite or empty series, or a parameter out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> costs = 100 + 20 * (np.arange(120) % 7 < 5) + rng.normal(0, 3, 120)
    >>> costs[60] *= 3  # a runaway job
    >>> [(a.index, a.direction) for a in anomalies(costs)]
    [(60, 'spike')]
    """
    y = check_series("series", series)
    season, level, min_history, robust_k, min_impact = _check(
        season, level, min_history, robust_k, min_impact
    )
    with single_threaded():
        return _detect(y, season, level, min_history, robust_k, min_impact)


def _detect(
    y: FloatArray, season: int, level: float, min_history: int, robust_k: float, min_impact: float
) -> list[Anomaly]:
    # The history later forecasts see: real values, anomalies winsorised to the band
    # edge they crossed, and what came before an accepted change moved by it.
    clean = y.copy()
    model: _Model | None = None
    fitted_at = -REFIT_EVERY
    run: _Run | None = None
    phases: dict[int, _PhaseRun] = {}
    shift_run = max(season, 5)
    window = max(FIT_WINDOW, 8 * season)
    found: list[Anomaly] = []
    # One day at a time: each verdict changes the history the next forecast uses.
    for t in range(max(MIN_VALUES, min(season, min_history)), y.size):
        upgrade = (
            model is not None
            and model.smoother.kind == "holt"
            and season > 1
            and t >= hw_min(season)
        )
        if t >= min_history and (t - fitted_at >= REFIT_EVERY or upgrade):
            model = _fit(clean[max(0, t - window) : t], season)
            fitted_at = t
        if model is not None:
            band = model.band(level)
        else:
            band = _robust_band(clean[max(0, t - min_history) : t], robust_k, season)
        value = float(y[t])
        outside = value > band.upper or value < band.lower
        error = band.log(value) - band.centre
        sign = math.copysign(1.0, error) if error else 0.0
        run = _extend(run, t, sign, error, outside)
        if run is not None and len(run.errors) >= shift_run and 2 * run.flagged > len(run.errors):
            # A level shift: the new normal. Move what came before to its level.
            delta = float(np.median(run.errors))
            clean[: run.start] = _moved(clean[: run.start], delta, band.offset)
            clean[run.start : t + 1] = y[run.start : t + 1]
            if model is not None:
                model.shift(delta)
                model.observe(band.log(value), normal=True)
            run, phases = None, {}
            continue
        phase = _extend_phase(phases, t, season, sign, error, outside)
        if phase is not None and len(phase.days) >= PHASE_RUN:
            # This day of the week has changed: its new values are the new normal.
            delta = float(np.median(phase.errors))
            days = np.arange(t % season, phase.days[0], season)
            clean[days] = _moved(clean[days], delta, band.offset)
            clean[phase.days] = y[phase.days]
            if model is not None:
                model.shift_next_season(delta)
                model.observe(band.log(value), normal=True)
            del phases[t % season]
            continue
        if outside:
            clean[t] = min(max(value, band.lower), band.upper)
            if abs(value - band.expected) >= min_impact:
                found.append(_anomaly(t, value, band))
        if model is not None:
            model.observe(band.log(clean[t]), normal=not outside)
    return found


def _extend(run: _Run | None, t: int, sign: float, error: float, outside: bool) -> _Run | None:
    """The level-shift run after day ``t``: started by an anomaly, continued by any day
    on the same side of the forecast, ended by a day on the other side."""
    if run is not None and sign != run.sign:
        run = None
    if run is None and outside:
        run = _Run(start=t, sign=sign)
    if run is not None:
        run.errors.append(error)
        run.flagged += outside
    return run


def _extend_phase(
    phases: dict[int, _PhaseRun], t: int, season: int, sign: float, error: float, outside: bool
) -> _PhaseRun | None:
    """The run of anomalies on ``t``'s day of the season after day ``t``: consecutive
    seasons, same direction; a normal day on that day of the season ends it."""
    if season < 2:
        return None
    phase = t % season
    current = phases.get(phase)
    if not outside:
        phases.pop(phase, None)
        return None
    if current is None or current.sign != sign or current.days[-1] != t - season:
        current = phases[phase] = _PhaseRun(sign)
    current.days.append(t)
    current.errors.append(error)
    return current


def _moved(values: FloatArray, delta: float, offset: float) -> FloatArray:
    """Costs moved by ``delta`` on the log scale (multiplied by ``exp(delta)``)."""
    return (np.maximum(values, 0.0) + offset) * math.exp(delta) - offset


def _anomaly(t: int, value: float, band: _Band) -> Anomaly:
    expected = band.expected
    impact = value - expected
    return Anomaly(
        index=t,
        value=value,
        expected=expected,
        lower=band.lower,
        upper=band.upper,
        impact=impact,
        impact_pct=impact / expected if expected != 0 else None,
        direction="spike" if value > band.upper else "drop",
        method=band.method,
    )
