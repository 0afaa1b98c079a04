"""Drift tests between profiles: exactly the raw-value results while the profiles count
values exactly (numeric under their cap, unsketched, categorical under theirs), the
same after merging partial profiles, numeric profiles read as categories, sketches past
the categorical cap, and the small-reference KS from a compacted sketch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.drift import (
    METHODS,
    DriftError,
    distinct_values,
    drift_test,
    ks_2samp_pvalue,
    profile_test,
)
from steward.kernels.profile import CategoricalProfile, ColumnProfile, NumericProfile

TOL = 1e-9
NUMERIC = ("ks", "wasserstein", "jensenshannon", "psi", "hellinger")
CATEGORICAL = ("chisquare", "z", "jensenshannon", "psi", "hellinger")


def _same(a: object, b: object) -> None:
    from steward.kernels.drift import DriftTest

    assert isinstance(a, DriftTest) and isinstance(b, DriftTest)
    assert a.method == b.method
    assert a.statistic == pytest.approx(b.statistic, abs=TOL, rel=1e-12)
    if a.p_value is None:
        assert b.p_value is None
    else:
        assert a.p_value == pytest.approx(b.p_value, abs=TOL)
    assert (a.drifted, a.reference_rows, a.current_rows, a.bins) == (
        b.drifted,
        b.reference_rows,
        b.current_rows,
        b.bins,
    )


@pytest.mark.parametrize("method", NUMERIC)
def test_unsketched_numeric_profiles_give_the_raw_value_results(method: str) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, 150), rng.normal(0.4, 1.1, 180)  # under k = 200: no compaction
    ref, cur = NumericProfile().update(x), NumericProfile().update(y)
    assert ref.distinct is None  # past the cap of exact value counts, but not sketched
    r = profile_test(method, ref, cur)  # type: ignore[arg-type]
    assert (r.basis, r.error) == ("profile", 0.0)
    _same(r, drift_test(method, x, y))  # type: ignore[arg-type]


@pytest.mark.parametrize("method", NUMERIC)
def test_numeric_profiles_with_exact_value_counts_give_the_raw_value_results(
    method: str,
) -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 60, 50_000).astype(float)  # 60 distinct values: under cap 100
    y = rng.integers(3, 62, 40_000).astype(float)
    r = profile_test(method, NumericProfile().update(x), NumericProfile().update(y))  # type: ignore[arg-type]
    assert r.basis == "profile"
    _same(r, drift_test(method, x, y))  # type: ignore[arg-type]


@pytest.mark.parametrize("method", CATEGORICAL)
def test_categorical_profiles_give_the_raw_value_results(method: str) -> None:
    rng = np.random.default_rng(3)
    keys = np.array(["a", "b", "c", "d", "e"])
    two = method == "z"
    x = rng.choice(keys[:2] if two else keys, 4000)
    y = rng.choice(keys[:2] if two else keys, 3000, p=[0.6, 0.4] if two else None)
    ref = ColumnProfile("categorical").update(pa.array(x))
    cur = ColumnProfile("categorical").update(pa.array(y))
    r = profile_test(method, ref, cur)  # type: ignore[arg-type]
    assert r.basis == "profile"
    _same(r, drift_test(method, x, y, kind="categorical"))  # type: ignore[arg-type]


def test_merged_partial_profiles_give_the_single_profile_result() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.integers(0, 40, 20_000).astype(float), rng.integers(0, 45, 9_000).astype(float)
    whole = NumericProfile().update(x)
    parts = [NumericProfile().update(chunk) for chunk in np.array_split(x, 7)]
    merged = parts[3]
    for p in parts[:3] + parts[4:]:
        merged.merge(p)
    cur = NumericProfile().update(y)
    for method in NUMERIC:
        _same(profile_test(method, merged, cur), profile_test(method, whole, cur))  # type: ignore[arg-type]


def test_numeric_profile_read_as_categories_uses_its_exact_counts() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 8, 3000), rng.integers(0, 8, 2500)
    y[:300] = 7
    ref, cur = NumericProfile().update(x), NumericProfile().update(y)
    r = profile_test("chisquare", ref, cur, kind="categorical")
    _same(r, drift_test("chisquare", x.astype(float), y.astype(float), kind="categorical"))
    assert distinct_values(ref, cur) == 8


def test_categorical_profiles_past_their_cap_pool_the_unattributed_tail() -> None:
    rng = np.random.default_rng(6)
    heavy = np.array([f"h{i}" for i in range(10)])
    tail = np.array([f"t{i}" for i in range(5000)])

    def column(p_heavy: float, n: int) -> np.ndarray:
        pick_heavy = rng.random(n) < p_heavy
        return np.where(pick_heavy, rng.choice(heavy, n), rng.choice(tail, n))

    x, y = column(0.8, 60_000), column(0.6, 60_000)
    ref = CategoricalProfile(cap=1000).update(x)
    cur = CategoricalProfile(cap=1000).update(y)
    assert not ref.exact and not cur.exact
    exact = drift_test("jensenshannon", x, y, kind="categorical")
    r = profile_test("jensenshannon", ref, cur)
    assert (r.basis, r.error) == ("sketch", None)
    # Pooling categories can only lower the distance (data-processing inequality).
    assert r.statistic <= exact.statistic + 0.01
    assert r.drifted == exact.drifted
    assert distinct_values(ref, cur) > 1000


def test_small_reference_ks_from_a_compacted_sketch_is_within_its_bound() -> None:
    rng = np.random.default_rng(7)
    x, y = rng.normal(0, 1, 900), rng.normal(0.3, 1, 800)
    ref, cur = NumericProfile().update(x), NumericProfile().update(y)
    exact = drift_test("ks", x, y)
    r = profile_test("ks", ref, cur)
    assert r.basis == "sketch" and r.error is not None
    assert abs(r.statistic - exact.statistic) <= r.error
    # The exact p-value lies between those of D + error and D - error.
    lo = ks_2samp_pvalue(r.statistic + r.error, 900, 800)
    hi = ks_2samp_pvalue(max(r.statistic - r.error, 0.0), 900, 800)
    assert exact.p_value is not None and lo <= exact.p_value <= hi


def test_wasserstein_divides_by_the_profiles_exact_population_std() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(10, 3, 50)
    ref = NumericProfile().update(x)
    r = profile_test("wasserstein", ref, NumericProfile().update(x + 1.5))
    assert r.statistic == pytest.approx(1.5 / np.std(x), rel=1e-12)


def test_profiles_in_a_column_profile_wrapper_and_datetimes_work() -> None:
    days = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")
    ref = ColumnProfile("datetime").update(pa.array(days))
    cur = ColumnProfile("datetime").update(pa.array(days + 20))
    r = profile_test("ks", ref, cur)
    assert r.statistic == pytest.approx(20 / len(days)) and r.drifted


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: profile_test("ks", NumericProfile(), NumericProfile().update([1.0])), "reference"),
        (
            lambda: profile_test(
                "ks", NumericProfile().update([1.0]), NumericProfile().update([None])
            ),
            "current",
        ),
        (
            lambda: profile_test(
                "ks", CategoricalProfile().update(["a"]), CategoricalProfile().update(["b"])
            ),
            "method",
        ),
        (
            lambda: profile_test(
                "chisquare", NumericProfile().update([1.0]), CategoricalProfile().update(["b"])
            ),
            "current",
        ),
        (lambda: profile_test("ks", ColumnProfile("other"), ColumnProfile("other")), "reference"),
        (lambda: profile_test("kl", NumericProfile(), NumericProfile()), "method"),
        (
            lambda: profile_test(
                "z",
                CategoricalProfile().update(["a"]),
                CategoricalProfile().update(["a"]),
                threshold=0,
            ),
            "threshold",
        ),
    ],
)
def test_bad_profile_inputs_raise_drift_error(call: object, parameter: str) -> None:
    with pytest.raises(DriftError) as info:
        call()  # type: ignore[operator]
    assert info.value.parameter == parameter


def test_every_method_runs_on_profiles() -> None:
    rng = np.random.default_rng(9)
    ref = NumericProfile().update(rng.normal(size=5000))
    cur = NumericProfile().update(rng.normal(size=5000))
    for m in METHODS:
        kind = "categorical" if m in ("chisquare", "z") else None
        num = ref if kind is None else NumericProfile().update(rng.integers(0, 2, 500))
        other = cur if kind is None else NumericProfile().update(rng.integers(0, 2, 400))
        r = profile_test(m, num, other, kind=kind)  # type: ignore[arg-type]
        assert r.method == m and r.reference_rows > 0
