"""Single profiles: exact statistics vs numpy (and scipy), sketch answers within their
error bounds, categorical counts, kinds from Arrow types, summaries, and speed."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    TableProfile,
    kind_of,
)

try:
    import scipy.stats as sps
except ImportError:  # scipy is a test-only cross-check
    sps = None

needs_scipy = pytest.mark.skipif(sps is None, reason="scipy is not installed")

QS = [0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]


def _data(kind: str, n: int = 200_000, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(10.0, 3.0, n)
    if kind == "lognormal":
        return rng.lognormal(0.0, 1.5, n)
    x = rng.normal(-2.0, 0.5, n)  # "nan": a tenth missing
    x[rng.random(n) < 0.1] = np.nan
    return x


def assert_quantiles_within_rank_error(p: NumericProfile, data: np.ndarray) -> float:
    """Each estimate's rank in the data is within the sketch's bound of its target; and
    so the estimate lies between numpy's quantiles at q ± eps. Returns the worst error."""
    xs = np.sort(data[np.isfinite(data)])
    eps = p.rank_error
    worst = 0.0
    for q, v in zip(QS, p.quantiles(QS), strict=True):
        lo = np.searchsorted(xs, v, "left") / len(xs)
        hi = np.searchsorted(xs, v, "right") / len(xs)
        assert lo - eps <= q <= hi + eps, (q, v, lo, hi, eps)
        worst = max(worst, lo - q, q - hi)
        below = np.quantile(xs, max(q - eps, 0.0), method="inverted_cdf")
        above = np.quantile(xs, min(q + eps, 1.0), method="inverted_cdf")
        assert below <= v <= above
    return worst


# -- numeric: exact statistics ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["normal", "lognormal", "nan"])
def test_numeric_moments_and_extremes_match_numpy(kind: str) -> None:
    x = _data(kind)
    p = NumericProfile().update(x)
    finite = x[np.isfinite(x)]
    assert p.count == len(x)
    assert p.nulls == int(np.isnan(x).sum())
    assert p.finite == len(finite)
    assert p.min == finite.min() and p.max == finite.max()
    assert p.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert p.variance == pytest.approx(finite.var(ddof=1), rel=1e-10)
    assert p.var(ddof=0) == pytest.approx(finite.var(), rel=1e-10)
    assert p.std == pytest.approx(finite.std(ddof=1), rel=1e-10)


@needs_scipy
@pytest.mark.parametrize("kind", ["normal", "lognormal", "nan"])
def test_numeric_moments_agree_with_scipy_describe(kind: str) -> None:
    x = _data(kind)
    p = NumericProfile()
    for part in np.array_split(x, 7):
        p.update(part)
    d = sps.describe(x, nan_policy="omit")
    assert p.finite == d.nobs
    assert (p.min, p.max) == (float(d.minmax[0]), float(d.minmax[1]))
    assert p.mean == pytest.approx(d.mean, rel=1e-12)
    assert p.variance == pytest.approx(d.variance, rel=1e-10)


def test_arrow_nulls_and_nan_both_count_as_nulls() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=10_000)
    x[::10] = np.nan
    mask = rng.random(10_000) < 0.2
    p = NumericProfile().update(pa.array(x, mask=mask))
    missing = mask | np.isnan(x)
    assert p.nulls == int(missing.sum())
    assert p.mean == pytest.approx(x[~missing].mean(), rel=1e-12)


def test_python_sequence_with_none_and_infinities() -> None:
    p = NumericProfile().update([1.0, None, 2, float("nan"), math.inf, -math.inf, 6.0])
    assert (p.count, p.nulls, p.infinite, p.valid, p.finite) == (7, 2, 2, 5, 3)
    assert (p.min, p.max, p.mean) == (1.0, 6.0, 3.0)


def test_integer_arrays_are_profiled_as_numbers() -> None:
    x = np.arange(-500, 1500, dtype=np.int32)
    p = NumericProfile().update(pa.array(x)).update(x.astype(np.int64))
    assert (p.count, p.min, p.max) == (4000, -500.0, 1499.0)
    assert p.mean == pytest.approx(x.mean())


def test_decimals_are_numeric() -> None:
    arr = pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.50")])
    col = ColumnProfile(kind_of(arr.type)).update(arr)
    assert col.kind == "numeric"
    assert (col.numeric.min, col.numeric.max, col.nulls) == (-3.5, 1.25, 1)


def test_timestamps_and_dates_are_epoch_seconds() -> None:
    utc = dt.UTC
    stamps = [dt.datetime(2024, 1, 1, tzinfo=utc), None, dt.datetime(2024, 1, 2, tzinfo=utc)]
    for unit in ("s", "ms", "us", "ns"):
        arr = pa.array(stamps, pa.timestamp(unit, tz="UTC"))
        assert kind_of(arr.type) == "datetime"
        p = NumericProfile().update(arr)
        assert (p.min, p.max, p.nulls) == (1704067200.0, 1704153600.0, 1)
    days = pa.array([dt.date(1970, 1, 2), dt.date(2000, 3, 1)], pa.date32())
    assert NumericProfile().update(days).min == 86400.0
    ms = pa.array([dt.date(1970, 1, 2)], pa.date64())
    assert NumericProfile().update(ms).max == 86400.0


def test_strings_are_refused_by_numeric_profiles() -> None:
    with pytest.raises(TypeError, match="values"):
        NumericProfile().update(pa.array(["a", "b"]))


def test_empty_numeric_profile_has_undefined_statistics() -> None:
    p = NumericProfile().update(np.array([np.nan, np.nan]))
    assert (p.count, p.nulls, p.min, p.max, p.mean, p.variance) == (2, 2, None, None, None, None)
    assert all(math.isnan(v) for v in p.quantiles([0.5, 0.9]))
    assert math.isnan(p.cdf([0.0])[0])
    assert p.histogram() == ([], [])
    s = p.summary()
    json.dumps(s, allow_nan=False)
    assert s["quantiles"]["p50"] is None and s["null_rate"] == 1.0


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: NumericProfile(k=4), "k"),
        (lambda: NumericProfile(cap=-1), "cap"),
        (lambda: NumericProfile().update([1.0]).quantiles([1.5]), "qs"),
        (lambda: NumericProfile().update([1.0]).histogram(0), "bins"),
        (lambda: NumericProfile().cdf([math.nan]), "points"),
        (lambda: CategoricalProfile(lg_k=3), "lg_k"),
        (lambda: TableProfile(categorical_cap=-5), "categorical_cap"),
    ],
)
def test_bad_parameters_name_the_parameter(call: object, param: str) -> None:
    with pytest.raises(ValueError, match=f"^{param}: expected"):
        call()  # type: ignore[operator]


# -- numeric: sketch answers -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["normal", "lognormal", "nan"])
def test_quantiles_within_kll_rank_error(kind: str) -> None:
    x = _data(kind)
    p = NumericProfile().update(x)
    assert 0.01 < p.rank_error < 0.015  # k=200: about 1.3 % at 99 % confidence
    assert_quantiles_within_rank_error(p, x)
    assert p.quantiles([0.0, 1.0]) == [p.min, p.max]


def test_larger_k_gives_a_tighter_bound() -> None:
    x = _data("lognormal")
    fine = NumericProfile(k=800).update(x)
    assert fine.rank_error < NumericProfile().rank_error / 3
    assert_quantiles_within_rank_error(fine, x)


def test_small_data_quantiles_are_exact_inverted_cdf() -> None:
    x = np.random.default_rng(3).normal(size=150)
    p = NumericProfile().update(x)
    assert p.quantiles(QS) == [float(np.quantile(x, q, method="inverted_cdf")) for q in QS]


def test_cdf_within_rank_error() -> None:
    x = _data("lognormal")
    p = NumericProfile().update(x)
    points = [0.05, 0.3, 1.0, 1.0, 2.5, 10.0, 100.0, -1.0]
    exact = [float(np.mean(x <= t)) for t in points]
    got = p.cdf(points)
    assert got[2] == got[3] and got[-1] == 0.0
    assert max(abs(a - b) for a, b in zip(got, exact, strict=True)) <= p.rank_error


@needs_scipy
def test_cdf_agrees_with_scipy_percentileofscore() -> None:
    x = _data("normal", n=50_000)
    p = NumericProfile().update(x)
    for t in (2.0, 8.0, 10.0, 13.5):
        ref = sps.percentileofscore(x, t, kind="weak") / 100
        assert abs(p.cdf([t])[0] - ref) <= p.rank_error


def test_small_data_histogram_equals_numpy() -> None:
    x = np.random.default_rng(5).gamma(2.0, size=180)
    edges, counts = NumericProfile().update(x).histogram(12)
    ref_counts, ref_edges = np.histogram(x, bins=12)
    assert edges == ref_edges.tolist()
    assert counts == ref_counts.tolist()


def test_histogram_within_pmf_error_and_adds_up() -> None:
    x = _data("nan")
    p = NumericProfile().update(x)
    edges, counts = p.histogram(20)
    ref, _ = np.histogram(x[np.isfinite(x)], bins=np.asarray(edges))
    assert sum(counts) == p.finite
    assert max(abs(a - b) for a, b in zip(counts, ref, strict=True)) <= p.pmf_error * p.finite


def test_constant_column_histogram_follows_numpy() -> None:
    edges, counts = NumericProfile().update(np.full(1000, 4.0)).histogram(4)
    ref_counts, ref_edges = np.histogram(np.full(1000, 4.0), bins=4)
    assert (edges, counts) == (ref_edges.tolist(), ref_counts.tolist())


def test_numeric_exact_frequencies_under_the_cap() -> None:
    x = np.random.default_rng(2).integers(0, 7, 50_000)
    p = NumericProfile(cap=10).update(x[:20_000]).update(pa.array(x[20_000:]))
    assert p.distinct == 7
    assert p.frequencies(None) == [
        (float(v), c) for v, c in sorted(Counter(x.tolist()).items(), key=lambda t: (-t[1], t[0]))
    ]
    assert p.summary()["distinct_exact"] is True


def test_numeric_distinct_is_unknown_past_the_cap() -> None:
    p = NumericProfile(cap=10).update(np.arange(11.0))
    assert (p.distinct, p.frequencies()) == (None, [])


# -- categorical -----------------------------------------------------------------------
def _categories(n: int, seed: int = 11) -> list[str | None]:
    rng = np.random.default_rng(seed)
    names = np.array([f"c{i:03d}" for i in range(300)])
    out: list[str | None] = names[rng.zipf(1.3, n) % 300].tolist()
    for i in rng.choice(n, n // 20, replace=False):
        out[i] = None
    return out


def test_categorical_exact_frequencies_match_counter() -> None:
    values = _categories(100_000)
    arr = pa.array(values)
    p = CategoricalProfile().update(arr.slice(0, 30_000)).update(arr.slice(30_000))
    counter = Counter(v for v in values if v is not None)
    assert p.exact
    assert (p.count, p.nulls, p.distinct) == (len(values), values.count(None), len(counter))
    expected = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    assert p.frequencies(top=None) == expected
    assert p.frequencies(top=5) == expected[:5]
    assert p.frequency_bounds(expected[0][0]) == (expected[0][1], expected[0][1])


def test_dictionary_chunked_and_python_inputs_count_alike() -> None:
    values = _categories(20_000)
    reference = CategoricalProfile().update(values).frequencies(None)
    chunked = pa.chunked_array([pa.array(values[:7_000]), pa.array(values[7_000:])])
    as_dict = pa.array(values).dictionary_encode()
    assert CategoricalProfile().update(chunked).frequencies(None) == reference
    assert CategoricalProfile().update(as_dict).frequencies(None) == reference
    assert CategoricalProfile().update(np.array(values, dtype=object)).frequencies(None) == (
        reference
    )


def test_booleans_are_categories() -> None:
    arr = pa.array([True, False, None, True])
    assert kind_of(arr.type) == "categorical"
    p = CategoricalProfile().update(arr)
    assert (p.frequencies(), p.nulls) == ([("true", 2), ("false", 1)], 1)


def test_heavy_hitters_past_the_cap() -> None:
    rng = np.random.default_rng(4)
    heavy = {"alpha": 20_000, "beta": 12_000, "gamma": 6_000, "delta": 3_000}
    noise = [f"n{i}" for i in rng.integers(0, 100_000, 160_000)]
    values = noise + [k for k, c in heavy.items() for _ in range(c)]
    order = rng.permutation(len(values))
    arr = pa.array(values).take(pa.array(order))
    p = CategoricalProfile(cap=1000)
    for start in range(0, len(values), 25_000):
        p.update(arr.slice(start, 25_000))
    truth = Counter(values)
    assert not p.exact
    top = p.frequencies(top=4)
    assert [v for v, _ in top] == list(heavy)
    for value, estimate in p.frequencies(top=None):
        low, high = p.frequency_bounds(value)
        assert low <= truth[value] <= high
        assert low <= estimate <= high
        assert high - low <= 3.5 / 2**p.lg_max_k * len(values)


def test_distinct_estimate_within_two_percent_on_100k() -> None:
    values = pa.array([f"user-{i}" for i in range(100_000)])
    p = CategoricalProfile()
    for start in range(0, 100_000, 10_000):
        p.update(values.slice(start, 10_000))
    assert not p.exact
    assert p.distinct == pytest.approx(100_000, rel=0.02)
    low, high = p.distinct_bounds(3)
    assert low <= 100_000 <= high


# -- columns and tables ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("arrow_type", "kind"),
    [
        (pa.int8(), "numeric"),
        (pa.uint64(), "numeric"),
        (pa.float32(), "numeric"),
        (pa.decimal128(10, 2), "numeric"),
        (pa.duration("ms"), "numeric"),
        (pa.timestamp("ns", tz="Europe/Paris"), "datetime"),
        (pa.date32(), "datetime"),
        (pa.string(), "categorical"),
        (pa.large_string(), "categorical"),
        (pa.bool_(), "categorical"),
        (pa.dictionary(pa.int32(), pa.string()), "categorical"),
        (pa.list_(pa.int64()), "other"),
        (pa.binary(), "other"),
        (pa.null(), "other"),
    ],
)
def test_kind_follows_arrow_type(arrow_type: pa.DataType, kind: str) -> None:
    assert kind_of(arrow_type) == kind


def _mixed_table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "income": pa.array(rng.lognormal(10, 1, n), mask=rng.random(n) < 0.05),
            "age": rng.integers(18, 90, n),
            "joined": pa.array(
                (1.6e9 + rng.uniform(0, 1e8, n)).astype(np.int64), pa.timestamp("s")
            ),
            "country": pa.array(np.array(["DE", "FR", "US"])[rng.integers(0, 3, n)]),
            "active": pa.array(rng.random(n) < 0.4),
            "tags": pa.array([["x"]] * n, pa.list_(pa.string())),
        }
    )


def test_table_summary_is_json_with_one_shape_for_every_kind() -> None:
    t = _mixed_table(5_000)
    s = TableProfile().update(t).summary()
    json.dumps(s, allow_nan=False)
    cols = s["columns"]
    assert s["rows"] == 5_000
    assert {n: c["kind"] for n, c in cols.items()} == {
        "income": "numeric",
        "age": "numeric",
        "joined": "datetime",
        "country": "categorical",
        "active": "categorical",
        "tags": "other",
    }
    assert len({frozenset(c) for c in cols.values()}) == 1  # same keys everywhere
    income = cols["income"]
    assert set(income["quantiles"]) == {"p1", "p5", "p25", "p50", "p75", "p95", "p99"}
    assert income["null_rate"] == pytest.approx(income["nulls"] / 5_000)
    assert sum(income["histogram"]["counts"]) == income["valid"]
    assert cols["country"]["distinct"] == 3 and cols["country"]["distinct_exact"]
    assert cols["age"]["min"] >= 18 and cols["age"]["distinct"] == 72
    assert cols["tags"]["count"] == 5_000


def test_table_update_refuses_other_inputs_and_duplicate_names() -> None:
    with pytest.raises(TypeError, match="batch"):
        TableProfile().update({"a": [1]})
    dup = pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(ValueError, match="duplicates"):
        TableProfile().update(dup)


def test_all_null_batch_takes_the_kind_of_later_batches() -> None:
    t = TableProfile()
    t.update(pa.table({"x": pa.nulls(3)}))
    assert t.columns["x"].kind == "other"
    t.update(pa.table({"x": pa.array(["a", "b", None])}))
    col = t.columns["x"]
    assert (col.kind, col.count, col.nulls) == ("categorical", 6, 4)


def test_a_column_changing_kind_is_refused() -> None:
    t = TableProfile().update(pa.table({"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="cannot merge a categorical"):
        t.update(pa.table({"x": ["a"]}))


def test_column_accessors_check_the_kind() -> None:
    col = ColumnProfile("categorical")
    assert col.categorical.count == 0
    with pytest.raises(TypeError, match="numeric"):
        _ = col.numeric
    with pytest.raises(ValueError, match="kind"):
        ColumnProfile("text")  # type: ignore[arg-type]


def test_million_rows_by_twenty_columns_profiles_in_seconds() -> None:
    n = 1_000_000
    rng = np.random.default_rng(42)
    cols: dict[str, object] = {f"normal_{i}": rng.normal(i, 1 + i, n) for i in range(5)}
    skewed = rng.lognormal(0, 1, n)
    skewed[rng.random(n) < 0.05] = np.nan
    cols["lognormal_nan"] = skewed
    cols["float_nulls"] = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1)
    cols["int_small"] = rng.integers(0, 5, n)
    cols["int_wide"] = rng.integers(0, 10**9, n)
    cols["int32"] = rng.integers(-1000, 1000, n).astype(np.int32)
    cols["flag"] = rng.integers(0, 2, n).astype(np.int8)
    cols["ts"] = pa.array((1.6e9 + rng.uniform(0, 3e7, n)).astype(np.int64), pa.timestamp("s"))
    cols["date"] = pa.array((18_000 + rng.integers(0, 2000, n)).astype(np.int32), pa.date32())
    cats = np.array([f"cat_{i}" for i in range(50)])
    cols["zipf50"] = pa.array(cats[rng.zipf(1.5, n) % 50])
    cols["dict10"] = pa.array(cats[rng.integers(0, 10, n)]).dictionary_encode()
    cols["bool"] = pa.array(rng.random(n) < 0.3)
    cols["country"] = pa.array(
        np.array(["DE", "FR", "US", "GB", "NL"])[rng.integers(0, 5, n)], mask=rng.random(n) < 0.02
    )
    cols["cat5k"] = pa.array(np.char.add("v", rng.integers(0, 5000, n).astype(str)))
    cols["id"] = pa.array(np.char.add("id-", np.arange(n).astype(str)))
    cols["sparse"] = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.9)
    table = pa.table(cols)
    assert table.shape == (n, 20)

    start = time.perf_counter()
    profile = TableProfile()
    for batch in table.to_batches(max_chunksize=100_000):
        profile.update(batch)
    elapsed = time.perf_counter() - start
    summary = profile.summary()
    print(f"\nprofiled {n:,} rows x 20 columns in {elapsed:.2f} s")

    assert summary["rows"] == n
    assert summary["columns"]["id"]["distinct"] == pytest.approx(n, rel=0.02)
    assert summary["columns"]["int_small"]["distinct"] == 5
