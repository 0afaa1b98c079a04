"""Mergeable profiles: exact moments, bounded quantile error, associative merges."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.profile import CategoricalProfile, NumericProfile, TableProfile


def _data(seed: int = 0, n: int = 50_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(3.0, 0.8, size=n)
    x[rng.random(n) < 0.02] = np.nan
    return x


def test_moments_are_exact_against_numpy() -> None:
    x = _data()
    p = NumericProfile().update(pa.array(x, from_pandas=True))
    present = x[~np.isnan(x)]
    assert p.count == len(present) and p.nulls == int(np.isnan(x).sum())
    assert p.min == present.min() and p.max == present.max()
    assert p.mean == pytest.approx(present.mean(), rel=1e-12)
    assert p.variance == pytest.approx(present.var(), rel=1e-9)


@pytest.mark.parametrize("parts", [2, 7, 31])
def test_merging_partials_in_any_order_equals_one_profile(parts: int) -> None:
    x = _data(1)
    whole = NumericProfile().update(x)
    chunks = np.array_split(x, parts)
    profiles = [NumericProfile().update(c) for c in chunks] + [NumericProfile()]  # an empty one
    rng = np.random.default_rng(parts)
    order = rng.permutation(len(profiles))
    merged = NumericProfile()
    for i in order:
        merged.merge(profiles[i])
    assert (merged.count, merged.nulls, merged.min, merged.max) == (
        whole.count,
        whole.nulls,
        whole.min,
        whole.max,
    )
    assert merged.mean == pytest.approx(whole.mean, rel=1e-12)
    assert merged.variance == pytest.approx(whole.variance, rel=1e-9)
    present = np.sort(x[~np.isnan(x)])
    # KLL's normalised rank error at k=200 is about 1.65%; check ranks, not values.
    for q, v in zip(
        [0.01, 0.25, 0.5, 0.75, 0.99], merged.quantiles([0.01, 0.25, 0.5, 0.75, 0.99]), strict=True
    ):
        rank = np.searchsorted(present, v) / len(present)
        assert abs(rank - q) < 0.0165 * 1.5


def test_histogram_counts_add_up() -> None:
    p = NumericProfile().update(_data(2))
    edges, counts = p.histogram(10)
    assert len(edges) == 11 and len(counts) == 10
    assert abs(sum(counts) - p.count) <= 10


def test_categorical_counts_are_exact_under_the_cap() -> None:
    rng = np.random.default_rng(3)
    values = rng.choice(["a", "b", "c", "d", None], size=10_000).tolist()
    parts = [CategoricalProfile().update(values[i::3]) for i in range(3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    expected = Counter(v for v in values if v is not None)
    assert dict(merged.frequencies()) == dict(expected)
    assert merged.nulls == values.count(None) and merged.exact


def test_categorical_distinct_estimate_above_the_cap() -> None:
    values = [f"id{i}" for i in range(100_000)] + ["hot"] * 20_000
    p = CategoricalProfile(cap=1000).update(values)
    assert not p.exact
    assert p.distinct() == pytest.approx(100_001, rel=0.02)
    assert p.frequencies(1)[0][0] == "hot"


def test_table_profile_round_trips_through_json() -> None:
    rng = np.random.default_rng(4)
    table = pa.table(
        {
            "x": rng.normal(size=5000),
            "c": pa.array(rng.choice(["u", "v"], size=5000)),
            "t": pa.array(np.arange(5000).astype("datetime64[s]")),
        }
    )
    p = TableProfile()
    for batch in table.to_batches(1000):
        p.update(batch)
    restored = TableProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert restored.summary() == p.summary()
    assert restored.summary()["columns"]["t"]["kind"] == "datetime"
    restored.merge(p)
    assert restored.rows == 10_000
    assert restored.columns["x"].inner.count == 10_000
