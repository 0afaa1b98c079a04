"""Table-level drift: Evidently's default choice of test, the settings that override it,
golden verdicts on seeded tables with drift injected into known columns (a small
reference: KS, chi-square, Z; a large one: Wasserstein, Jensen–Shannon), explicit "not
tested" verdicts, and the time 120 columns take."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.drift import (
    ColumnSettings,
    DriftError,
    DriftSettings,
    choose,
    drift_test,
    table_drift,
)
from steward.kernels.profile import TableProfile


# -- the default choice ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "rows", "distinct", "method"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 1000, 1, "z"),
        ("datetime", 200, 50, "ks"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("categorical", 5, 40, "chisquare"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 10**6, 2, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 10**6, 900, "jensenshannon"),
    ],
)
def test_choose_mirrors_evidentlys_default_stattest(
    kind: str, rows: int, distinct: int, method: str
) -> None:
    assert choose(kind, rows, distinct) == method


def test_choose_boundary_can_be_moved() -> None:
    assert choose("numeric", 1500, 50, small_reference_rows=2000) == "ks"
    with pytest.raises(DriftError) as info:
        choose("text", 10, 10)
    assert info.value.parameter == "kind"


# -- settings --------------------------------------------------------------------------------
def test_settings_resolve_column_then_kind_then_all_then_default() -> None:
    s = DriftSettings(
        method="psi",
        threshold=0.3,
        numeric=ColumnSettings(method="wasserstein", threshold=0.2),
        columns={
            "age": ColumnSettings(method="ks", threshold=0.01),
            "code": ColumnSettings(kind="categorical"),
        },
        thresholds={"jensenshannon": 0.15},
    )
    age = s.resolve("age", "numeric")
    assert (age.method, age.threshold, age.source) == ("ks", 0.01, "column")
    income = s.resolve("income", "numeric")
    assert (income.method, income.threshold, income.source) == ("wasserstein", 0.2, "kind")
    city = s.resolve("city", "categorical")
    assert (city.method, city.threshold, city.source) == ("psi", 0.3, "all")
    code = s.resolve("code", "numeric")  # read as categories: the categorical settings
    assert (code.kind, code.method, code.source) == ("categorical", "psi", "all")
    plain = DriftSettings(thresholds={"jensenshannon": 0.15}).resolve("city", "categorical")
    assert (plain.method, plain.source) == (None, "default")
    assert (
        plain.threshold_for("jensenshannon", DriftSettings(thresholds={"jensenshannon": 0.15}))
        == 0.15
    )
    assert plain.threshold_for("chisquare", DriftSettings()) == 0.05


def test_settings_from_a_mapping_round_trip() -> None:
    d = {
        "numeric": {"method": "wasserstein", "threshold": 0.15},
        "categorical": {"method": "psi"},
        "datetime": {"method": "ks"},
        "columns": {"age": {"method": "ks", "threshold": 0.01}, "zip": {"skip": True}},
        "thresholds": {"jensenshannon": 0.2},
        "drift_share": 0.3,
        "small_reference_rows": 500,
    }
    s = DriftSettings.from_dict(d)
    assert DriftSettings.from_dict(s.to_dict()) == s
    assert s.resolve("zip", "categorical").skip
    assert not s.resolve("when", "datetime").skip
    assert DriftSettings().resolve("when", "datetime").skip


@pytest.mark.parametrize(
    ("d", "parameter"),
    [
        ({"method": "t-test"}, "method"),
        ({"drift_share": 1.5}, "drift_share"),
        ({"thresholds": {"ks": 0.0}}, "thresholds.ks"),
        ({"thresholds": {"kl": 0.1}}, "thresholds"),
        ({"columns": {"age": {"method": "ks", "threshold": 2}}}, "columns.age.threshold"),
        ({"columns": {"age": {"colour": "red"}}}, "columns.age"),
        (
            {"columns": {"age": {"kind": "categorical", "method": "wasserstein"}}},
            "columns.age.method",
        ),
        ({"numeric": {"skip": "yes"}}, "numeric.skip"),
        ({"nonsense": 1}, "nonsense"),
        ({"columns": ["age"]}, "columns"),
    ],
)
def test_bad_settings_name_the_key(d: dict[str, object], parameter: str) -> None:
    with pytest.raises(DriftError) as info:
        DriftSettings.from_dict(d)
    assert info.value.parameter == parameter


def test_a_numeric_only_method_for_a_column_read_as_categories_is_refused() -> None:
    s = DriftSettings(method="ks")
    with pytest.raises(DriftError) as info:
        s.resolve("city", "categorical")
    assert info.value.parameter == "method"


# -- golden verdicts: small reference ----------------------------------------------------------
def _small_tables() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(20240601)
    n, m = 800, 600
    letters = np.array(["a", "b", "c"])
    ref = pa.table(
        {
            "x_shift": rng.normal(0, 1, n),
            "x_same": rng.normal(0, 1, n),
            "x_scale": rng.normal(0, 1, n),
            "code3": rng.choice(letters, n, p=[0.5, 0.3, 0.2]),
            "code3_same": rng.choice(letters, n, p=[0.5, 0.3, 0.2]),
            "flag": (rng.random(n) < 0.3).astype(np.int64),
            "flag_same": rng.choice(np.array(["no", "yes"]), n, p=[0.7, 0.3]),
            "num4": rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]).astype(np.float64),
        }
    )
    cur = pa.table(
        {
            "x_shift": rng.normal(0.5, 1, m),
            "x_same": rng.normal(0, 1, m),
            "x_scale": rng.normal(0, 2, m),
            "code3": rng.choice(letters, m, p=[0.3, 0.3, 0.4]),
            "code3_same": rng.choice(letters, m, p=[0.5, 0.3, 0.2]),
            "flag": (rng.random(m) < 0.45).astype(np.int64),
            "flag_same": rng.choice(np.array(["no", "yes"]), m, p=[0.7, 0.3]),
            "num4": rng.choice(4, m, p=[0.2, 0.3, 0.2, 0.3]).astype(np.float64),
        }
    )
    return ref, cur


SMALL_EXPECTED = {
    "x_shift": ("ks", True),
    "x_same": ("ks", False),
    "x_scale": ("ks", True),
    "code3": ("chisquare", True),
    "code3_same": ("chisquare", False),
    "flag": ("z", True),
    "flag_same": ("z", False),
    "num4": ("chisquare", True),
}


def test_golden_small_reference_verdicts() -> None:
    ref_t, cur_t = _small_tables()
    d = table_drift(TableProfile().update(ref_t), TableProfile().update(cur_t))
    got = {n: (c.test.method, c.test.drifted) for n, c in d.columns.items() if c.test}
    assert got == SMALL_EXPECTED
    assert (d.tested, d.drifted, d.share, d.dataset_drift) == (8, 5, 5 / 8, True)
    for name, c in d.columns.items():
        assert c.test is not None and c.source == "default"
        # Clear verdicts: far from the threshold, whatever the sketch error.
        assert c.test.p_value is not None
        assert c.test.p_value < 1e-3 if c.test.drifted else c.test.p_value > 0.1, name


def test_golden_small_reference_agrees_with_the_raw_value_tests() -> None:
    ref_t, cur_t = _small_tables()
    d = table_drift(TableProfile().update(ref_t), TableProfile().update(cur_t))
    for name, c in d.columns.items():
        assert c.test is not None
        kind = "numeric" if c.test.method in ("ks", "wasserstein") else "categorical"
        exact = drift_test(
            c.test.method,
            ref_t[name],
            cur_t[name],
            kind=kind,  # type: ignore[arg-type]
        )
        assert exact.drifted == c.test.drifted
        if c.test.basis == "profile":
            assert c.test.statistic == pytest.approx(exact.statistic, abs=1e-9)


# -- golden verdicts: large reference ----------------------------------------------------------
def _large_tables() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(7)
    n, m = 20_000, 15_000
    cats = np.array([f"c{i}" for i in range(10)])
    p_ref = np.full(10, 0.1)
    p_cur = np.array([0.3, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.1])
    ref = pa.table(
        {
            "w_shift": rng.normal(0, 1, n),
            "w_same": rng.normal(0, 1, n),
            "w_small": rng.normal(0, 1, n),
            "w_scale": rng.normal(0, 1, n),
            "cat": rng.choice(cats, n, p=p_ref),
            "cat_same": rng.choice(cats, n, p=p_ref),
            "few": rng.choice(3, n, p=[0.6, 0.3, 0.1]).astype(np.float64),
            "few_same": rng.choice(3, n, p=[0.6, 0.3, 0.1]).astype(np.float64),
        }
    )
    cur = pa.table(
        {
            "w_shift": rng.normal(0.5, 1, m),
            "w_same": rng.normal(0, 1, m),
            "w_small": rng.normal(0.02, 1, m),  # a small shift: well under 0.1
            "w_scale": rng.normal(0, 1.6, m),
            "cat": rng.choice(cats, m, p=p_cur),
            "cat_same": rng.choice(cats, m, p=p_ref),
            "few": rng.choice(3, m, p=[0.4, 0.3, 0.3]).astype(np.float64),
            "few_same": rng.choice(3, m, p=[0.6, 0.3, 0.1]).astype(np.float64),
        }
    )
    return ref, cur


LARGE_EXPECTED = {
    "w_shift": ("wasserstein", True),
    "w_same": ("wasserstein", False),
    "w_small": ("wasserstein", False),
    "w_scale": ("wasserstein", True),
    "cat": ("jensenshannon", True),
    "cat_same": ("jensenshannon", False),
    "few": ("jensenshannon", True),
    "few_same": ("jensenshannon", False),
}


def test_golden_large_reference_verdicts() -> None:
    ref_t, cur_t = _large_tables()
    d = table_drift(TableProfile().update(ref_t), TableProfile().update(cur_t))
    got = {n: (c.test.method, c.test.drifted) for n, c in d.columns.items() if c.test}
    assert got == LARGE_EXPECTED
    assert (d.drifted, d.share, d.dataset_drift) == (4, 0.5, True)  # at least half: drift
    for name, c in d.columns.items():
        assert c.test is not None
        exact = drift_test(
            c.test.method,  # type: ignore[arg-type]
            ref_t[name],
            cur_t[name],
            kind="categorical" if ref_t[name].type == pa.string() else "numeric",
        )
        assert exact.drifted == c.test.drifted, name
        # Clear of the threshold by more than the profiles' measured error.
        assert abs(exact.statistic - 0.1) > 0.05, name


def test_dataset_drift_needs_the_configured_share() -> None:
    ref_t, cur_t = _large_tables()
    ref, cur = TableProfile().update(ref_t), TableProfile().update(cur_t)
    assert not table_drift(ref, cur, DriftSettings(drift_share=0.51)).dataset_drift
    only = table_drift(ref, cur, columns=["w_same", "cat_same", "w_shift"])
    assert list(only.columns) == ["w_same", "cat_same", "w_shift"]
    assert (only.drifted, only.dataset_drift) == (1, False)


def test_overrides_change_the_method_and_threshold_per_column() -> None:
    ref_t, cur_t = _large_tables()
    s = DriftSettings(
        numeric=ColumnSettings(method="psi"),
        columns={
            "w_same": ColumnSettings(method="ks", threshold=0.01),
            "few": ColumnSettings(kind="categorical", method="chisquare"),
            "cat": ColumnSettings(threshold=0.9),
        },
    )
    d = table_drift(TableProfile().update(ref_t), TableProfile().update(cur_t), s)
    assert d.columns["w_same"].test is not None
    assert (d.columns["w_same"].test.method, d.columns["w_same"].test.threshold) == ("ks", 0.01)
    assert d.columns["w_shift"].test is not None and d.columns["w_shift"].test.method == "psi"
    assert d.columns["few"].test is not None and d.columns["few"].test.method == "chisquare"
    cat = d.columns["cat"]
    assert cat.test is not None and cat.test.threshold == 0.9 and cat.status == "stable"
    assert d.to_dict()["columns"]["cat"]["test"]["threshold"] == 0.9


# -- not tested ------------------------------------------------------------------------------
def test_columns_that_cannot_be_tested_say_why() -> None:
    rng = np.random.default_rng(1)
    n = 500
    same = rng.normal(size=n)
    ref = TableProfile().update(
        pa.table(
            {
                "ok": same,
                "gone": rng.normal(size=n),
                "blank_now": rng.normal(size=n),
                "blank_before": pa.nulls(n, pa.float64()),
                "changed": rng.normal(size=n),
                "nested": pa.array([[1, 2]] * n),
                "when": pa.array(np.arange(n).astype("datetime64[s]")),
                "skipme": rng.normal(size=n),
            }
        )
    )
    cur = TableProfile().update(
        pa.table(
            {
                "ok": same,
                "blank_now": pa.nulls(n),
                "blank_before": rng.normal(size=n),
                "changed": pa.array(["x"] * n),
                "nested": pa.array([[1]] * n),
                "when": pa.array(np.arange(n).astype("datetime64[s]")),
                "skipme": rng.normal(size=n),
            }
        )
    )
    s = DriftSettings(columns={"skipme": ColumnSettings(skip=True)})
    d = table_drift(ref, cur, s, columns=[*ref.columns, "unknown"])
    reasons = d.not_tested
    assert set(reasons) == {
        "gone",
        "blank_now",
        "blank_before",
        "changed",
        "nested",
        "when",
        "skipme",
        "unknown",
    }
    assert reasons["gone"] == "missing from the current window"
    assert reasons["blank_now"].startswith("no finite values in the current window")
    assert reasons["blank_before"].startswith("no finite values in the reference")
    assert "kind changed from numeric" in reasons["changed"]
    assert "no drift test" in reasons["nested"]
    assert "datetime columns are not tested by default" in reasons["when"]
    assert reasons["skipme"] == "skipped by the drift settings"
    assert reasons["unknown"] == "not in the reference profile"
    assert (d.tested, d.columns["ok"].status) == (1, "stable")
    for c in d.columns.values():
        if c.status == "not_tested":
            assert c.test is None and c.to_dict()["test"] is None


def test_an_empty_window_tests_nothing_and_is_not_drift() -> None:
    ref = TableProfile().update(pa.table({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    empty = TableProfile().update(
        pa.table({"x": pa.array([], pa.float64()), "c": pa.array([], pa.string())})
    )
    for cur in (empty, TableProfile()):
        d = table_drift(ref, cur)
        assert d.tested == 0 and d.share is None and not d.dataset_drift
        assert set(d.not_tested.values()) == {"empty window: the current profile has no rows"}


def test_datetime_columns_are_tested_when_asked() -> None:
    t0 = np.datetime64("2024-01-01T00:00:00")
    ref = TableProfile().update(pa.table({"when": pa.array(t0 + np.arange(300) * 60)}))
    cur = TableProfile().update(pa.table({"when": pa.array(t0 + np.arange(300) * 60 + 86_400)}))
    d = table_drift(ref, cur, DriftSettings(datetime=ColumnSettings()))
    c = d.columns["when"]
    assert c.test is not None and c.test.method == "ks" and c.status == "drifted"


def test_table_drift_rejects_what_is_not_a_table_profile() -> None:
    with pytest.raises(DriftError) as info:
        table_drift({}, TableProfile())  # type: ignore[arg-type]
    assert info.value.parameter == "reference"
    with pytest.raises(DriftError) as info:
        table_drift(TableProfile(), TableProfile(), columns="x")
    assert info.value.parameter == "columns"


# -- speed -----------------------------------------------------------------------------------
def test_120_columns_take_well_under_a_second_once_profiled() -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    letters = np.array(list("abcdefghij"))

    def table(shift: float) -> pa.Table:
        cols: dict[str, object] = {f"n{i}": rng.normal(shift * (i < 10), 1, n) for i in range(100)}
        cols.update({f"c{i}": pa.array(rng.choice(letters, n)) for i in range(20)})
        return pa.table(cols)

    ref, cur = TableProfile().update(table(0.0)), TableProfile().update(table(0.5))
    start = time.perf_counter()
    d = table_drift(ref, cur)
    elapsed = time.perf_counter() - start
    assert len(d.columns) == 120 and d.tested == 120
    assert elapsed < 0.5, elapsed
    assert {f"n{i}" for i in range(10)} <= set(d.drifted_columns)
