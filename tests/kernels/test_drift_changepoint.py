"""Change points in window series: golden level shifts and gradual ramps injected at
known points, no alarm on seeded stationary series, the documented false-alarm rates,
restarts after an alarm, missing windows, and parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from steward.kernels.drift import ChangePoint, DriftError, cusum, page_hinkley

CHANGE = 120


def _series(seed: int, n: int = 240, *, shift: float = 0.0, slope: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 2.0, n)  # any level and unit: the detectors standardise
    x[CHANGE:] += 2.0 * (shift + slope * np.arange(n - CHANGE))
    return x


def _after_change(alarms: tuple[ChangePoint, ...]) -> ChangePoint:
    # A false alarm before the change is possible at the documented rate (CUSUM: one in
    # about 465 in-control values); the change is what comes at or after CHANGE.
    assert sum(a.index < CHANGE for a in alarms) <= 1
    later = [a for a in alarms if a.index >= CHANGE]
    assert later, "no alarm after the change"
    return later[0]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_cusum_finds_a_one_sigma_level_shift_where_it_starts(seed: int, direction: float) -> None:
    # The in-control level and scale from the reference: window means of a feature
    # whose reference mean is 10 and standard deviation 2.
    first = _after_change(cusum(_series(seed, shift=direction), target=10.0, scale=2.0).alarms)
    assert first.direction == ("up" if direction > 0 else "down")
    assert first.index <= CHANGE + 30
    assert CHANGE - 8 <= first.start <= first.index


def test_cusum_estimates_the_level_from_the_warm_up() -> None:
    cp = cusum(_series(2, shift=1.0))
    assert cp.target == pytest.approx(10.0, abs=1.0) and cp.scale == pytest.approx(2.0, rel=0.3)
    assert CHANGE <= _after_change(cp.alarms).index <= CHANGE + 30


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_page_hinkley_finds_a_one_sigma_level_shift(seed: int, direction: float) -> None:
    alarms = page_hinkley(_series(seed, shift=direction)).alarms
    assert alarms and alarms[0].direction == ("up" if direction > 0 else "down")
    assert CHANGE <= alarms[0].index <= CHANGE + 40
    assert CHANGE - 10 <= alarms[0].start <= alarms[0].index


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_both_find_a_gradual_ramp_no_single_window_would_flag(seed: int) -> None:
    # 0.02 σ per window: after 40 windows the level has moved by under one σ.
    x = _series(seed, slope=0.02)
    for first in (
        _after_change(cusum(x, target=10.0, scale=2.0).alarms),
        _after_change(page_hinkley(x).alarms),
    ):
        assert first.direction == "up"
        assert first.index <= CHANGE + 80, first


@pytest.mark.parametrize("seed", [12, 13])
def test_a_stationary_seeded_series_raises_no_alarm(seed: int) -> None:
    x = _series(seed, n=300)  # nothing injected
    assert page_hinkley(x).alarms == ()
    assert cusum(x, target=10.0, scale=2.0).alarms == ()


def test_textbook_cusum_reproduces_montgomerys_in_control_run_length() -> None:
    # Montgomery, Table 9.3: k = 1/2, h = 5 runs 465 values between false alarms.
    runs = []
    for seed in range(300):
        x = np.random.default_rng(50_000 + seed).normal(size=1500)
        first = cusum(x, h=5.0, target=0.0, scale=1.0).alarms
        runs.append(first[0].index + 1 if first else 1500)
    assert 400 <= np.mean(runs) <= 530


def test_false_alarm_rates_match_the_documented_figures() -> None:
    # The changepoint module's docstring (and docs/drift.md): 7 % of stationary series
    # of 500 values alarm with CUSUM's defaults and known parameters, 13 % with
    # Page-Hinkley's (parameters from the warm-up). The bounds leave room for 300
    # series' sampling error.
    cusum_alarms = ph_alarms = 0
    for seed in range(300):
        x = np.random.default_rng(60_000 + seed).normal(size=530)
        cusum_alarms += bool(cusum(x[30:], target=0.0, scale=1.0).alarms)
        ph_alarms += bool(page_hinkley(x).alarms)
    assert cusum_alarms / 300 <= 0.12
    assert ph_alarms / 300 <= 0.2


def test_a_known_level_keeps_alarming_while_the_shift_lasts() -> None:
    x = _series(7, shift=1.5)
    given = cusum(x, target=10.0, scale=2.0).alarms
    after = [a for a in given if a.index >= CHANGE]
    assert len(after) >= 5 and all(a.direction == "up" for a in after)
    # Re-estimated after the alarm, the new level is the normal one: one alarm.
    assert len([a for a in page_hinkley(x).alarms if a.index >= CHANGE]) == 1


def test_missing_windows_are_skipped() -> None:
    x = _series(8, shift=1.0)
    gappy = x.copy()
    gappy[[5, 60, CHANGE + 1, CHANGE + 3]] = np.nan
    a = cusum(gappy).alarms[0]
    assert CHANGE <= a.index <= CHANGE + 30
    as_list = [None if np.isnan(v) else float(v) for v in gappy]
    assert cusum(as_list).alarms == cusum(gappy).alarms
    assert page_hinkley(as_list).alarms == page_hinkley(gappy).alarms


def test_a_series_shorter_than_the_warm_up_has_no_alarm_and_no_parameters() -> None:
    cp = cusum([1.0, 2.0, 3.0])
    assert cp.alarms == () and np.isnan(cp.target)
    assert cp.to_dict()["target"] is None


def test_a_constant_warm_up_makes_any_later_change_an_alarm() -> None:
    x = [5.0] * 40 + [5.001] * 5
    assert cusum(x).alarms[0].index == 40
    assert page_hinkley(x).alarms[0].index == 40


def test_results_serialise() -> None:
    cp = page_hinkley(_series(9, shift=1.0))
    d = cp.to_dict()
    assert d["method"] == "page_hinkley" and d["params"]["threshold"] == 8.0
    assert d["alarms"][0]["index"] == cp.indices[0]


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: cusum([1.0, float("inf")]), "series"),
        (lambda: cusum([[1.0, 2.0]]), "series"),
        (lambda: cusum(["a", "b"]), "series"),
        (lambda: cusum([1.0], k=-1), "k"),
        (lambda: cusum([1.0], scale=0.0), "scale"),
        (lambda: cusum([1.0], warmup=1), "warmup"),
        (lambda: page_hinkley([1.0], threshold=float("nan")), "threshold"),
        (lambda: page_hinkley([1.0], target=float("inf")), "target"),
    ],
)
def test_bad_parameters_raise_drift_error(call: object, parameter: str) -> None:
    with pytest.raises(DriftError) as info:
        call()  # type: ignore[operator]
    assert info.value.parameter == parameter
