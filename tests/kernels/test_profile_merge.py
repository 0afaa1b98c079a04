"""Merging: N partial profiles, in any order and with empty parts, equal one profile over
all the data (exactly for counts and extremes, within rounding for moments, within the
sketches' bounds otherwise); state round-trips through JSON and keeps merging."""

from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    TableProfile,
)

try:
    import scipy.stats as sps
except ImportError:  # scipy is a test-only cross-check
    sps = None

P = TypeVar("P", NumericProfile, CategoricalProfile, TableProfile)
QS = [0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999]


def left_fold(parts: Sequence[P]) -> P:
    return functools.reduce(lambda a, b: a.merge(b), parts[1:], parts[0])


def right_fold(parts: Sequence[P]) -> P:
    return functools.reduce(lambda a, b: b.merge(a), parts[::-1][1:], parts[-1])


def tree(parts: Sequence[P]) -> P:
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return tree(parts[:mid]).merge(tree(parts[mid:]))


def shuffled(parts: Sequence[P]) -> P:
    order = np.random.default_rng(99).permutation(len(parts)).tolist()
    return left_fold([parts[int(i)] for i in order])


ORDERS: dict[str, Callable[[Sequence[Any]], Any]] = {
    "left": left_fold,
    "right": right_fold,
    "tree": tree,
    "shuffled": shuffled,
}


def split_points(n: int, parts: int, seed: int = 0) -> list[int]:
    """Uneven cut points, with some empty parts (repeated cuts, cuts at 0 and at n)."""
    rng = np.random.default_rng(seed)
    cuts = sorted([0, 0, n, n, *rng.integers(0, n, parts - 3).tolist()])
    cuts.insert(len(cuts) // 2, cuts[len(cuts) // 2])
    return cuts


def chunks(x: Any, parts: int = 12) -> list[Any]:
    cuts = split_points(len(x), parts)
    return [x[a:b] for a, b in itertools.pairwise(cuts)]


def assert_rank_close(p: NumericProfile, data: np.ndarray) -> None:
    xs = np.sort(data[np.isfinite(data)])
    eps = p.rank_error
    for q, v in zip(QS, p.quantiles(QS), strict=True):
        lo = np.searchsorted(xs, v, "left") / len(xs)
        hi = np.searchsorted(xs, v, "right") / len(xs)
        assert lo - eps <= q <= hi + eps, (q, v, lo, hi, eps)


def _numeric_data(n: int = 300_000) -> np.ndarray:
    rng = np.random.default_rng(21)
    x = np.concatenate([rng.normal(5, 2, n // 2), rng.lognormal(1, 1, n - n // 2)])
    rng.shuffle(x)
    x[rng.random(n) < 0.03] = np.nan
    return x


# -- numeric ---------------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
def test_numeric_partials_merge_to_the_whole(order: str) -> None:
    x = _numeric_data()
    parts = [NumericProfile().update(c) for c in chunks(x)]
    assert any(p.count == 0 for p in parts)
    merged = ORDERS[order](parts)
    whole = NumericProfile().update(x)
    finite = x[np.isfinite(x)]
    assert (merged.count, merged.nulls, merged.finite) == (whole.count, whole.nulls, len(finite))
    assert (merged.min, merged.max) == (finite.min(), finite.max())
    assert merged.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert merged.variance == pytest.approx(finite.var(ddof=1), rel=1e-10)
    assert_rank_close(merged, x)
    edges, counts = merged.histogram(25)
    ref, _ = np.histogram(finite, bins=np.asarray(edges))
    assert sum(counts) == len(finite)
    assert max(abs(a - b) for a, b in zip(counts, ref, strict=True)) <= merged.pmf_error * len(
        finite
    )


def test_numeric_merge_is_associative() -> None:
    x = _numeric_data(90_000)
    a, b, c = (NumericProfile().update(part) for part in np.array_split(x, 3))
    ab_c = a.copy().merge(b).merge(c)
    a_bc = a.copy().merge(b.copy().merge(c))
    for attr in ("count", "nulls", "finite", "min", "max", "distinct"):
        assert getattr(ab_c, attr) == getattr(a_bc, attr)
    assert ab_c.mean == pytest.approx(a_bc.mean, rel=1e-13)
    assert ab_c.variance == pytest.approx(a_bc.variance, rel=1e-12)
    assert_rank_close(ab_c, x)
    assert_rank_close(a_bc, x)


def test_merging_empty_profiles_changes_nothing() -> None:
    p = NumericProfile().update(np.arange(1000.0))
    before = p.summary()
    p.merge(NumericProfile()).merge(NumericProfile().update([None, None]))
    after = p.summary()
    assert after.pop("nulls") == 2 and after.pop("count") == 1002
    after.pop("null_rate")
    assert {k: v for k, v in before.items() if k not in ("nulls", "count", "null_rate")} == after
    assert NumericProfile().merge(NumericProfile()).summary()["mean"] is None


def test_merge_leaves_the_other_profile_alone() -> None:
    a = NumericProfile().update(np.arange(10.0))
    b = NumericProfile().update(np.arange(5.0))
    state = b.to_dict()
    a.merge(b).update(np.arange(100.0))
    assert b.to_dict() == state
    c = CategoricalProfile(cap=2).update(["x", "y", "z"])
    d = CategoricalProfile(cap=2).update(["x"])
    d_state = json.dumps(d.to_dict())
    c.merge(d).update(["w"])
    assert json.dumps(d.to_dict()) == d_state


def test_merging_a_profile_with_itself_doubles_it() -> None:
    p = NumericProfile().update([1.0, 2.0, None])
    p.merge(p)
    assert (p.count, p.nulls, p.mean) == (6, 2, 1.5)
    c = CategoricalProfile().update(["a", "b", "a"])
    assert c.merge(c).frequencies() == [("a", 4), ("b", 2)]


def test_profiles_with_different_k_merge_at_the_coarser_accuracy() -> None:
    x = _numeric_data(100_000)
    fine = NumericProfile(k=800).update(x[:50_000])
    fine.merge(NumericProfile(k=100).update(x[50_000:]))
    assert fine.rank_error == pytest.approx(NumericProfile(k=100).rank_error)
    assert_rank_close(fine, x)


def test_exact_value_counts_are_exact_after_merges_iff_the_union_fits() -> None:
    x = np.random.default_rng(8).integers(0, 12, 40_000).astype(float)
    fits = [NumericProfile(cap=12).update(c) for c in chunks(x)]
    over = [NumericProfile(cap=11).update(c) for c in chunks(x)]
    expected = sorted(Counter(x.tolist()).items(), key=lambda kv: (-kv[1], kv[0]))
    for merge in ORDERS.values():
        assert merge([p.copy() for p in fits]).frequencies(None) == expected
        assert merge([p.copy() for p in over]).distinct is None


@pytest.mark.skipif(sps is None, reason="scipy is not installed")
def test_drift_statistic_from_merged_profiles_matches_scipy_ks() -> None:
    rng = np.random.default_rng(5)
    reference = rng.normal(0, 1, 200_000)
    live = np.concatenate([rng.normal(0, 1, 100_000), rng.normal(0.4, 1, 100_000)])
    ref = left_fold([NumericProfile().update(c) for c in chunks(reference)])
    cur = tree([NumericProfile().update(c) for c in chunks(live)])
    grid = sorted(set(ref.quantiles(np.linspace(0, 1, 401))) | set(cur.quantiles(QS)))
    d_profiles = max(abs(a - b) for a, b in zip(ref.cdf(grid), cur.cdf(grid), strict=True))
    d_exact = sps.ks_2samp(reference, live).statistic
    assert abs(d_profiles - d_exact) <= ref.rank_error + cur.rank_error + 1 / 400


# -- categorical -----------------------------------------------------------------------
def _category_values(n: int, distinct: int, seed: int = 3) -> list[str | None]:
    rng = np.random.default_rng(seed)
    ids = rng.zipf(1.2, n) % distinct
    out: list[str | None] = [f"v{i}" for i in ids.tolist()]
    for i in rng.choice(n, n // 50, replace=False):
        out[i] = None
    return out


@pytest.mark.parametrize("order", ORDERS)
def test_categorical_partials_merge_to_exact_counts_under_the_cap(order: str) -> None:
    values = _category_values(60_000, 400)
    parts = [CategoricalProfile().update(pa.array(c, pa.string())) for c in chunks(values)]
    merged = ORDERS[order](parts)
    counter = Counter(v for v in values if v is not None)
    assert merged.exact
    assert (merged.count, merged.nulls, merged.distinct) == (60_000, 1200, len(counter))
    assert merged.frequencies(None) == sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


@pytest.mark.parametrize("order", ORDERS)
def test_categorical_partials_past_the_cap_keep_heavy_hitters_and_distinct(order: str) -> None:
    values = _category_values(200_000, 150_000)
    parts = [CategoricalProfile(cap=500).update(pa.array(c, pa.string())) for c in chunks(values)]
    assert any(p.exact and p.count for p in parts[:2]) or any(not p.exact for p in parts)
    merged = ORDERS[order](parts)
    counter = Counter(v for v in values if v is not None)
    assert not merged.exact
    assert (merged.count, merged.nulls) == (200_000, 4_000)
    assert merged.distinct == pytest.approx(len(counter), rel=0.02)
    true_top = [v for v, _ in counter.most_common(5)]
    assert [v for v, _ in merged.frequencies(5)] == true_top
    for value, _ in merged.frequencies(None):
        low, high = merged.frequency_bounds(value)
        assert low <= counter[value] <= high


def test_exactness_after_merges_depends_only_on_the_union() -> None:
    # each part has 3 values; the union has 5, one more than the cap
    parts = [["a", "b", "c"], ["c", "d", "e"], ["a", "b", "e"]]
    for merge in ORDERS.values():
        profiles = [CategoricalProfile(cap=4).update(p) for p in parts]
        assert all(p.exact for p in profiles)
        merged = merge(profiles)
        assert not merged.exact and merged.distinct == pytest.approx(5, abs=0.01)
        assert merge([CategoricalProfile(cap=5).update(p) for p in parts]).exact


# -- tables ----------------------------------------------------------------------------
def _table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "amount": pa.array(rng.lognormal(3, 1, n), mask=rng.random(n) < 0.05),
            "when": pa.array((1.7e9 + rng.uniform(0, 1e7, n)).astype(np.int64), pa.timestamp("s")),
            "segment": pa.array(np.array(["retail", "sme", "corp"])[rng.integers(0, 3, n)]),
            "user": pa.array([f"u{i}" for i in rng.integers(0, 20_000, n)]),
        }
    )


def _exact_fields(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("kind", "count", "nulls", "valid", "min", "max", "distinct_exact")
    return {name: {k: col[k] for k in keep} for name, col in summary["columns"].items()} | {
        "rows": summary["rows"]
    }


@pytest.mark.parametrize("order", ORDERS)
def test_table_partials_merge_to_the_whole(order: str) -> None:
    table = _table(120_000)
    cuts = split_points(table.num_rows, 10, seed=4)
    parts = [TableProfile().update(table.slice(a, b - a)) for a, b in itertools.pairwise(cuts)]
    merged = ORDERS[order](parts)
    whole = TableProfile().update(table)
    assert _exact_fields(merged.summary()) == _exact_fields(whole.summary())
    amount = table.column("amount").to_numpy(zero_copy_only=False)
    assert merged.columns["amount"].numeric.mean == pytest.approx(np.nanmean(amount), rel=1e-12)
    assert_rank_close(merged.columns["amount"].numeric, amount)
    seg = merged.columns["segment"].categorical
    assert seg.frequencies() == whole.columns["segment"].categorical.frequencies()
    users = merged.columns["user"].categorical
    assert users.distinct == pytest.approx(len(set(table.column("user").to_pylist())), rel=0.02)


def test_columns_present_on_one_side_only_are_kept() -> None:
    left = TableProfile().update(pa.table({"a": [1.0, 2.0], "b": ["x", "y"]}))
    right = TableProfile().update(pa.table({"a": [3.0], "c": [True]}))
    merged = left.merge(right)
    assert list(merged.columns) == ["a", "b", "c"]
    assert merged.rows == 3
    assert (merged.columns["a"].count, merged.columns["b"].count) == (3, 2)
    assert merged.columns["c"].categorical.frequencies() == [("true", 1)]
    right.update(pa.table({"c": [False]}))  # the merged copy is independent
    assert merged.columns["c"].count == 1


def test_all_null_column_merges_into_any_kind() -> None:
    typed = TableProfile().update(pa.table({"x": pa.array([1.5, None])}))
    nulls = TableProfile().update(pa.table({"x": pa.nulls(4)}))
    for merged in (typed.copy().merge(nulls), nulls.copy().merge(typed)):
        col = merged.columns["x"]
        assert (col.kind, col.count, col.nulls, col.numeric.mean) == ("numeric", 6, 5, 1.5)


def test_columns_of_different_kinds_refuse_to_merge() -> None:
    a = ColumnProfile("numeric").update(pa.array([1.0]))
    b = ColumnProfile("categorical").update(pa.array(["1"]))
    with pytest.raises(ValueError, match="cannot merge a categorical column profile"):
        a.merge(b)


# -- serialisation ---------------------------------------------------------------------
def _through_json(p: TableProfile) -> TableProfile:
    return TableProfile.from_dict(json.loads(json.dumps(p.to_dict(), allow_nan=False)))


def test_round_trip_preserves_every_summary_and_further_merges() -> None:
    a = TableProfile(k=300, categorical_cap=50).update(_table(40_000, seed=1))
    b = TableProfile(k=300, categorical_cap=50).update(_table(40_000, seed=2))
    a2, b2 = _through_json(a), _through_json(b)
    assert a2.summary() == a.summary()
    assert a2.summary(bins=7, top=1000) == a.summary(bins=7, top=1000)
    assert (a2.k, a2.categorical_cap) == (300, 50)
    both = a.copy().merge(b)
    both2 = a2.merge(b2)
    assert _exact_fields(both2.summary()) == _exact_fields(both.summary())
    data = pa.concat_tables([_table(40_000, seed=1), _table(40_000, seed=2)])
    amount = data.column("amount").to_numpy(zero_copy_only=False)
    assert_rank_close(both2.columns["amount"].numeric, amount)
    assert both2.columns["user"].categorical.distinct == pytest.approx(
        len(set(data.column("user").to_pylist())), rel=0.02
    )
    # and it keeps taking data
    both2.update(_table(1_000, seed=3))
    assert both2.rows == 81_000


@pytest.mark.parametrize(
    "profile",
    [
        NumericProfile().update(_numeric_data(5_000)),
        NumericProfile(),
        CategoricalProfile().update(["a", None, "b"]),
        CategoricalProfile(cap=3).update([f"v{i}" for i in range(50)]),
        CategoricalProfile(),
    ],
    ids=["numeric", "numeric-empty", "categorical-exact", "categorical-sketch", "cat-empty"],
)
def test_each_profile_round_trips_through_json(
    profile: NumericProfile | CategoricalProfile,
) -> None:
    state = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    again = type(profile).from_dict(state)
    assert json.dumps(again.summary(), allow_nan=False) == json.dumps(profile.summary())
    if isinstance(profile, NumericProfile):
        assert again.to_dict() == profile.to_dict()
    else:  # the sketches' byte order follows their hash tables; the answers are equal
        again = CategoricalProfile.from_dict(state)
        assert again.summary(top=10_000) == profile.summary(top=10_000)
        for value, _ in profile.frequencies(None):
            assert again.frequency_bounds(value) == profile.frequency_bounds(value)
        assert again.distinct_bounds(1) == profile.distinct_bounds(1)


def test_state_is_checked_on_load() -> None:
    with pytest.raises(ValueError, match="format"):
        TableProfile.from_dict({"format": "pickle"})
    state = NumericProfile().update([1.0]).to_dict()
    with pytest.raises(ValueError, match="expected type 'categorical'"):
        CategoricalProfile.from_dict(state)
    state["n"] = 5
    with pytest.raises(ValueError, match="sketch holds 1"):
        NumericProfile.from_dict(state)
    state["sketch"] = "bm90IGEgc2tldGNo"  # base64 of "not a sketch"
    with pytest.raises(ValueError, match="numeric state: expected a serialised sketch"):
        NumericProfile.from_dict(state)
    with pytest.raises(ValueError, match="missing keys"):
        TableProfile.from_dict({"format": TableProfile().to_dict()["format"], "rows": 0})
