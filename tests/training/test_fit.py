"""The training step on real data: every built-in family and objective exports an ONNX
model that matches scikit-learn, whose metrics recomputed here from the model agree with
the reported ones; runs are reproducible; bad specs fail before any compute with errors
that say what to fix; the custom escape hatch works; reference profiles count right."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from steward.errors import ValidationFailed
from steward.kernels.profile import TableProfile
from steward.training.fit import CHECK_ROWS, FitResult, check_spec_against, fit
from steward.training.spec import TrainingSpec

Spec = Callable[..., TrainingSpec]

# Small models keep the suite fast; the defaults are exercised by the custom/seed tests.
FAST = {"linear": {}, "random_forest": {"n_estimators": 30}, "hgb": {"max_iter": 50}}
# (fixture, target, objective)
DATA = {
    "binary": ("default_table", "default"),
    "multiclass": ("penguins_table", "species"),
    "regression": ("credit_table", "Balance"),
}
TOL = 1e-4


def _session(result: FitResult) -> ort.InferenceSession:
    return ort.InferenceSession(result.onnx, providers=["CPUExecutionProvider"])


def _feed(result: FitResult, table: pa.Table) -> dict[str, np.ndarray]:
    """The model's inputs from the raw columns, as a client of the served model sends
    them: numbers as float32 (null → NaN), categories as strings (null → "")."""
    feed = {}
    for spec in result.inputs:
        col = table.column(spec["column"])
        if spec["datatype"] == "FP32":
            values = pc.cast(col, pa.float32()).to_numpy(zero_copy_only=False)
            arr = np.asarray(values, dtype=np.float32)
        else:
            values = pc.fill_null(pc.cast(col, pa.string()), "").to_numpy(zero_copy_only=False)
            arr = np.asarray(values, dtype=object)
        feed[spec["name"]] = arr.reshape(-1, 1)
    return feed


def _validation(table: pa.Table, spec: TrainingSpec) -> pa.Table:
    """The validation rows as documented: seeded split, stratified for classification."""
    y = table.column(spec.target).to_numpy(zero_copy_only=False)
    stratify = None if spec.objective == "regression" else y
    _, val = train_test_split(
        np.arange(len(y)),
        test_size=spec.validation_fraction,
        random_state=spec.seed,
        stratify=stratify,
    )
    return table.take(val)


def _ece(truth: np.ndarray, score: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error, bin by bin (an independent re-implementation)."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (score >= lo) & ((score < hi) if b < bins - 1 else (score <= hi))
        if inside.any():
            total += inside.sum() * abs(truth[inside].mean() - score[inside].mean())
    return total / len(score)


def _metrics_from_onnx(result: FitResult, spec: TrainingSpec, table: pa.Table) -> dict[str, float]:
    """The validation metrics recomputed here: onnxruntime on the raw column values, then
    scikit-learn's metric functions."""
    val = _validation(table, spec)
    y = np.asarray(val.column(spec.target).to_numpy(zero_copy_only=False))
    out = _session(result).run(None, _feed(result, val))
    if spec.objective == "regression":
        pred = out[0].ravel().astype(np.float64)
        return {
            "rmse": math.sqrt(float(np.mean((y - pred) ** 2))),
            "mae": skm.mean_absolute_error(y, pred),
            "r2": skm.r2_score(y, pred),
        }
    labels, proba = out[0], out[1].astype(np.float64)
    proba /= proba.sum(axis=1, keepdims=True)
    classes = result.classes
    got = {"accuracy": skm.accuracy_score(y, labels)}
    got["log_loss"] = skm.log_loss(y, proba, labels=classes)
    if spec.objective == "binary":
        truth = y == classes[1]
        got["roc_auc"] = skm.roc_auc_score(truth, proba[:, 1])
        got["f1"] = skm.f1_score(truth, labels == classes[1])
        got["brier"] = skm.brier_score_loss(truth, proba[:, 1])
        got["precision"] = skm.precision_score(truth, labels == classes[1], zero_division=0.0)
        got["recall"] = skm.recall_score(truth, labels == classes[1], zero_division=0.0)
        got["calibration_error"] = _ece(truth, proba[:, 1])
    else:
        got["f1_macro"] = skm.f1_score(y, labels, average="macro")
    return got


@pytest.fixture(scope="module")
def fitted(request: pytest.FixtureRequest) -> Callable[[str, str], tuple[FitResult, Any]]:
    """One fit per (family, objective), shared by the tests of this module."""
    cache: dict[tuple[str, str], tuple[FitResult, TrainingSpec, pa.Table]] = {}

    def get(family: str, objective: str) -> tuple[FitResult, TrainingSpec, pa.Table]:
        if (family, objective) not in cache:
            fixture, target = DATA[objective]
            table = request.getfixturevalue(fixture)
            spec = TrainingSpec(
                data=["t@1"], target=target, objective=objective, family=family, params=FAST[family]
            )
            cache[family, objective] = (fit(spec, table), spec, table)
        return cache[family, objective]

    return get


FAMILIES = ["linear", "random_forest", "hgb"]
OBJECTIVES = ["binary", "multiclass", "regression"]


# -- every family × objective -----------------------------------------------------------


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_export_matches_sklearn(fitted: Any, family: str, objective: str) -> None:
    r, spec, table = fitted(family, objective)
    assert r.warnings == []
    assert r.onnx_checked_rows == min(CHECK_ROWS, r.n_validation)
    if objective == "regression":
        # Predictions must agree within TOL relative to max(1, |y|); balances reach ~2,000.
        scale = max(1.0, float(pc.max(table.column(spec.target)).as_py()))
        assert r.onnx_max_diff <= TOL * scale
        assert r.onnx_label_agreement is None
        assert r.classes is None
    else:
        assert r.onnx_max_diff <= TOL
        assert r.onnx_label_agreement == 1.0
    assert r.n_train + r.n_validation == table.num_rows
    assert r.n_validation == math.ceil(spec.validation_fraction * table.num_rows)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("family", FAMILIES)
def test_reported_metrics_are_those_of_the_onnx_model(
    fitted: Any, family: str, objective: str
) -> None:
    r, spec, table = fitted(family, objective)
    expected = _metrics_from_onnx(r, spec, table)
    assert set(r.metrics) == set(expected)
    for name, value in expected.items():
        # Not bit-identical: onnxruntime sums a forest's trees in an order that depends on
        # its thread count (fit uses spec.resources.cpus, this session the default).
        assert r.metrics[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("family", FAMILIES)
def test_metrics_are_sensible_on_real_data(fitted: Any, family: str) -> None:
    binary, _, _ = fitted(family, "binary")
    # Default is 3.3% Yes: accuracy alone says little, AUC does (ISLR reports ~0.95).
    assert binary.metrics["roc_auc"] > 0.9
    assert binary.classes == ["No", "Yes"]
    assert 0.0 < binary.metrics["brier"] < 0.05
    multi, _, _ = fitted(family, "multiclass")
    assert multi.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert multi.metrics["accuracy"] > 0.95
    reg, _, _ = fitted(family, "regression")
    assert reg.metrics["r2"] > 0.9


def test_binary_auc_agrees_with_an_independent_sklearn_fit(
    default_table: pa.Table, make_spec: Spec
) -> None:
    """The same model trained with scikit-learn directly, on the same split, scores the
    same AUC as the exported one (to float32 rounding of the inputs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    spec = make_spec(target="default", objective="binary", family="linear")
    r = fit(spec, default_table)
    y = np.asarray(default_table.column("default").to_numpy(zero_copy_only=False))
    x = np.column_stack(
        [
            np.asarray(default_table.column("student").to_numpy(zero_copy_only=False)) == "Yes",
            default_table.column("balance").to_numpy(),
            default_table.column("income").to_numpy(),
        ]
    ).astype(np.float64)
    tr, va = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x[tr])
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(x[tr]), y[tr])
    auc = skm.roc_auc_score(y[va] == "Yes", model.predict_proba(scaler.transform(x[va]))[:, 1])
    assert r.metrics["roc_auc"] == pytest.approx(auc, abs=1e-3)


# -- the exported model ------------------------------------------------------------------


def test_model_has_one_named_input_per_feature(fitted: Any) -> None:
    r, _, _ = fitted("hgb", "binary")
    assert r.features == ["student", "balance", "income"]
    assert [(i["name"], i["datatype"], i["kind"]) for i in r.inputs] == [
        ("student", "BYTES", "categorical"),
        ("balance", "FP32", "numeric"),
        ("income", "FP32", "numeric"),
    ]
    assert all(i["shape"] == [-1, 1] for i in r.inputs)
    assert [i["arrow_type"] for i in r.inputs] == ["string", "double", "double"]
    sess = _session(r)
    assert [(i.name, i.type, i.shape) for i in sess.get_inputs()] == [
        ("student", "tensor(string)", [None, 1]),
        ("balance", "tensor(float)", [None, 1]),
        ("income", "tensor(float)", [None, 1]),
    ]
    assert r.outputs == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
    ]
    assert r.opset["ai.onnx"] == 18


def test_regression_model_outputs_one_value(fitted: Any) -> None:
    r, _, _ = fitted("linear", "regression")
    assert r.outputs == [{"name": "variable", "datatype": "FP32", "shape": [-1, 1]}]
    assert {i["name"]: i["datatype"] for i in r.inputs}["Ethnicity"] == "BYTES"


def test_column_names_are_sanitised_and_mapped(iris_table: pa.Table, make_spec: Spec) -> None:
    spec = make_spec(target="Species", objective="multiclass", family="linear")
    r = fit(spec, iris_table)
    assert [(i["name"], i["column"]) for i in r.inputs] == [
        ("Sepal_Length", "Sepal.Length"),
        ("Sepal_Width", "Sepal.Width"),
        ("Petal_Length", "Petal.Length"),
        ("Petal_Width", "Petal.Width"),
    ]
    assert r.features == ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
    assert r.metrics == pytest.approx(_metrics_from_onnx(r, spec, iris_table), rel=1e-6)


def test_colliding_sanitised_names_stay_unique(make_spec: Spec) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    table = pa.table({"a b": x, "a_b": -x, "1st": x * 2, "y": x + rng.normal(size=200)})
    r = fit(make_spec(target="y", objective="regression", family="linear"), table)
    assert [i["name"] for i in r.inputs] == ["a_b", "a_b_2", "_1st"]


def test_missing_and_unseen_values_follow_the_input_contract(
    fitted: Any, penguins_table: pa.Table
) -> None:
    """A null number is NaN and a null category "" (imputed as the category "missing");
    a category never seen in training is ignored, not an error."""
    for family in FAMILIES:
        r, _, _ = fitted(family, "multiclass")
        sess = _session(r)
        row = penguins_table.slice(0, 1)
        base = _feed(r, row)
        runs = {}
        for label, sex, mass in [
            ("empty", "", np.nan),
            ("missing", "missing", np.nan),
            ("unseen", "neither", 4000.0),
        ]:
            feed = dict(base, sex=np.array([[sex]], dtype=object))
            feed["body_mass_g"] = np.array([[mass]], dtype=np.float32)
            runs[label] = sess.run(None, feed)[1]
            assert np.isfinite(runs[label]).all()
            assert runs[label].sum() == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_array_equal(runs["empty"], runs["missing"])


def test_bool_and_dictionary_columns(make_spec: Spec) -> None:
    rng = np.random.default_rng(0)
    n = 400
    flag = rng.random(n) < 0.5
    colour = rng.choice(["red", "green", "blue"], n)
    noise = rng.random(n) < 0.1
    table = pa.table(
        {
            "flag": flag,
            "colour": pa.array(colour).dictionary_encode(),
            "amount": pa.array(rng.integers(0, 100, n), pa.int32()),
            "target": flag ^ noise,
        }
    )
    r = fit(make_spec(target="target", objective="binary", family="hgb"), table)
    assert [(i["name"], i["datatype"]) for i in r.inputs] == [
        ("flag", "FP32"),
        ("colour", "BYTES"),
        ("amount", "FP32"),
    ]
    assert r.classes == [0, 1]
    assert r.outputs[0]["datatype"] == "INT64"
    assert r.metrics["accuracy"] > 0.8


# -- reproducibility ---------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_gives_identical_metrics_and_bytes(
    default_table: pa.Table, make_spec: Spec, family: str
) -> None:
    spec = make_spec(target="default", objective="binary", family=family, params=FAST[family])
    a, b = fit(spec, default_table), fit(spec, default_table)
    assert a.metrics == b.metrics
    assert a.onnx == b.onnx
    # Not the reference profiles: their KLL quantile sketches compact at random.
    assert a.reference_profile["features"]["rows"] == b.reference_profile["features"]["rows"]
    other = fit(spec.model_copy(update={"seed": 1}), default_table)
    assert other.metrics != a.metrics  # another split (and forest)
    assert other.params.get("random_state", 1) == 1


# -- errors before any compute ------------------------------------------------------------


def _fails_before_compute(spec: TrainingSpec, table: pa.Table) -> ValidationFailed:
    phases: list[str] = []
    with pytest.raises(ValidationFailed) as info:
        fit(spec, table, progress=lambda phase, _: phases.append(phase))
    assert phases == ["prepare"]
    return info.value


def test_unknown_target_lists_columns_and_suggests(
    default_table: pa.Table, make_spec: Spec
) -> None:
    err = _fails_before_compute(make_spec(target="defualt", objective="binary"), default_table)
    assert err.details["check"] == "unknown_target"
    assert err.details["suggestions"][0] == "default"
    assert err.details["found"] == ["default", "student", "balance", "income"]
    assert "'default'" in err.message and "income" in err.message
    err = _fails_before_compute(make_spec(target="Balance", objective="regression"), default_table)
    assert err.details["suggestions"][0] == "balance"  # case-insensitive match first


def test_unknown_feature_or_excluded_column(default_table: pa.Table, make_spec: Spec) -> None:
    spec = make_spec(target="default", objective="binary", features=["balance", "incme"])
    err = _fails_before_compute(spec, default_table)
    assert err.details["check"] == "unknown_features"
    assert err.details["columns"] == ["incme"]
    assert err.details["suggestions"] == {"incme": ["income"]}
    spec = make_spec(target="default", objective="binary", exclude=["studnet"])
    err = _fails_before_compute(spec, default_table)
    assert err.details["check"] == "unknown_exclude"
    assert err.details["suggestions"]["studnet"][0] == "student"


def test_empty_dataset(default_table: pa.Table, make_spec: Spec) -> None:
    err = _fails_before_compute(
        make_spec(target="default", objective="binary"), default_table.slice(0, 0)
    )
    assert err.details["check"] == "empty"
    assert err.details["found"] == 0


def test_string_target_for_regression(default_table: pa.Table, make_spec: Spec) -> None:
    err = _fails_before_compute(make_spec(target="default", objective="regression"), default_table)
    assert err.details["check"] == "target_type"
    assert err.details["found"] == "string"


def test_binary_objective_with_three_classes(penguins_table: pa.Table, make_spec: Spec) -> None:
    err = _fails_before_compute(make_spec(target="species", objective="binary"), penguins_table)
    assert err.details["check"] == "classes"
    assert err.details["found"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert "multiclass" in err.message


def test_target_with_one_class(default_table: pa.Table, make_spec: Spec) -> None:
    only_no = default_table.filter(pc.equal(default_table["default"], "No"))
    err = _fails_before_compute(make_spec(target="default", objective="binary"), only_no)
    assert err.details["check"] == "classes"
    assert err.details["found"] == ["No"]


def test_unsupported_feature_type_advises_exclude(default_table: pa.Table, make_spec: Spec) -> None:
    days = pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 365) for i in range(10_000)])
    table = default_table.append_column("opened", days)
    spec = make_spec(target="default", objective="binary", family="linear")
    err = _fails_before_compute(spec, table)
    assert err.details["check"] == "feature_types"
    assert err.details["columns"] == {"opened": "date32[day]"}
    assert "exclude" in err.message and "opened" in err.message
    assert check_spec_against(
        spec.model_copy(update={"exclude": ["opened"]}), table.schema, table.num_rows
    ) == ["student", "balance", "income"]


def test_unknown_estimator_param_lists_valid_ones(default_table: pa.Table, make_spec: Spec) -> None:
    spec = make_spec(
        target="default", objective="binary", family="random_forest", params={"n_estimator": 5}
    )
    err = _fails_before_compute(spec, default_table)
    assert err.details["check"] == "params"
    assert err.details["unknown"] == ["n_estimator"]
    assert "n_estimators" in err.details["valid"]
    assert err.details["suggestions"]["n_estimator"][0] == "n_estimators"


def test_invalid_param_value_is_a_validation_error(
    default_table: pa.Table, make_spec: Spec
) -> None:
    spec = make_spec(target="default", objective="binary", family="hgb", params={"max_iter": -3})
    with pytest.raises(ValidationFailed) as info:
        fit(spec, default_table)
    assert info.value.details["check"] == "params"
    assert "max_iter" in info.value.message


@pytest.mark.parametrize(
    ("path", "objective"),
    [
        ("nosuchpackage.models.Thing", "binary"),  # not importable
        ("sklearn.linear_model.NoSuchModel", "binary"),  # no such class
        ("json.JSONDecoder", "binary"),  # a class, not an estimator
        ("sklearn.linear_model.Ridge", "binary"),  # a regressor for a classification
        ("sklearn.svm.SVC", "binary"),  # no predict_proba unless probability=True
        ("sklearn.linear_model.LogisticRegression", "regression"),
    ],
)
def test_custom_estimator_that_cannot_serve(
    default_table: pa.Table, make_spec: Spec, path: str, objective: str
) -> None:
    target = "balance" if objective == "regression" else "default"
    spec = make_spec(target=target, objective=objective, family="custom", estimator=path)
    err = _fails_before_compute(spec, default_table)
    assert err.details["check"] == "estimator"


def test_custom_estimator_that_does_not_export(default_table: pa.Table, make_spec: Spec) -> None:
    spec = make_spec(
        target="default",
        objective="binary",
        family="custom",
        estimator="sklearn.semi_supervised.LabelSpreading",
    )
    with pytest.raises(ValidationFailed) as info:
        fit(spec, default_table.slice(0, 500))
    assert info.value.details["check"] == "onnx_export"
    assert info.value.details["estimator"] == "sklearn.semi_supervised.LabelSpreading"
    assert "LabelSpreading" in info.value.message


def test_infinite_feature_values(make_spec: Spec) -> None:
    table = pa.table({"x": [1.0, 2.0, math.inf, 4.0] * 10, "y": [1.0, 2.0, 3.0, 4.0] * 10})
    with pytest.raises(ValidationFailed) as info:
        fit(make_spec(target="y", objective="regression", family="linear"), table)
    assert info.value.details == {"check": "infinite", "column": "x", "found": 10}


def test_fractional_target_for_classification(make_spec: Spec) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0] * 10, "y": [0.5, 1.0, 0.0, 1.0] * 10})
    with pytest.raises(ValidationFailed) as info:
        fit(make_spec(target="y", objective="binary", family="linear"), table)
    assert info.value.details["check"] == "target_type"


# -- nulls in the target ---------------------------------------------------------------------


def test_rows_without_target_are_dropped_and_counted(
    default_table: pa.Table, make_spec: Spec
) -> None:
    target = default_table.column("default").to_pylist()
    for i in range(0, 10_000, 100):
        target[i] = None
    table = default_table.set_column(0, "default", pa.array(target))
    r = fit(make_spec(target="default", objective="binary", family="linear"), table)
    assert r.dropped_rows == 100
    assert r.n_train + r.n_validation == 9_900
    assert r.reference_profile["features"]["rows"] == r.n_train


def test_all_null_target(make_spec: Spec) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": pa.array([None, None, None], pa.string())})
    err = _fails_before_compute(make_spec(target="y", objective="binary"), table)
    assert err.details["check"] == "target_values"


# -- the custom escape hatch ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["sklearn.tree.DecisionTreeClassifier", "sklearn.tree:DecisionTreeClassifier"]
)
def test_custom_decision_tree(default_table: pa.Table, make_spec: Spec, path: str) -> None:
    spec = make_spec(
        target="default",
        objective="binary",
        family="custom",
        estimator=path,
        params={"max_depth": 5},
        seed=7,
    )
    r = fit(spec, default_table)
    assert r.estimator == "sklearn.tree.DecisionTreeClassifier"
    assert r.params["max_depth"] == 5
    assert r.params["random_state"] == 7
    assert r.onnx_max_diff <= TOL
    assert r.onnx_label_agreement == 1.0
    assert r.metrics["roc_auc"] > 0.85
    assert r.metrics == pytest.approx(_metrics_from_onnx(r, spec, default_table), rel=1e-6)


# -- what the result records -----------------------------------------------------------------


def test_reference_profile_counts(fitted: Any) -> None:
    r, _, table = fitted("random_forest", "multiclass")
    features = TableProfile.from_dict(r.reference_profile["features"]).summary()
    assert features["rows"] == r.n_train
    assert list(features["columns"]) == r.features
    nulls = {c: table.column(c).null_count for c in r.features}
    for name, col in features["columns"].items():
        assert col["count"] == r.n_train
        assert col["nulls"] <= nulls[name]
    assert features["columns"]["island"]["kind"] == "categorical"
    preds = TableProfile.from_dict(r.reference_profile["predictions"]).summary()
    assert preds["rows"] == r.n_validation
    pred = preds["columns"]["prediction"]
    assert (pred["kind"], pred["count"], pred["nulls"]) == ("categorical", r.n_validation, 0)
    assert {v for v, _ in pred["top"]} <= set(r.classes)


def test_binary_prediction_profile_is_the_positive_probability(fitted: Any) -> None:
    r, _, _ = fitted("hgb", "binary")
    pred = TableProfile.from_dict(r.reference_profile["predictions"]).summary()
    col = pred["columns"]["prediction"]
    assert col["kind"] == "numeric"
    assert col["count"] == r.n_validation
    assert 0.0 <= col["min"] <= col["max"] <= 1.0
    assert col["mean"] == pytest.approx(0.033, abs=0.02)  # ~3.3% of Default are Yes


def test_result_is_json_able_and_records_versions(fitted: Any) -> None:
    r, _, _ = fitted("random_forest", "binary")
    record = {k: v for k, v in vars(r).items() if k != "onnx"}
    assert json.loads(json.dumps(record)) == record
    assert set(r.library_versions) >= {
        "scikit-learn",
        "skl2onnx",
        "onnx",
        "onnxruntime",
        "numpy",
        "pyarrow",
    }
    assert r.estimator == "sklearn.ensemble.RandomForestClassifier"
    assert r.params["n_estimators"] == 30
    assert r.params["max_depth"] == 12  # the default that bounds the export's size
    assert r.params["random_state"] == 0


def test_progress_reports_each_phase_in_order(penguins_table: pa.Table, make_spec: Spec) -> None:
    calls: list[tuple[str, float]] = []
    r = fit(
        make_spec(target="species", objective="multiclass", family="linear"),
        penguins_table,
        progress=lambda phase, frac: calls.append((phase, frac)),
    )
    phases = ["prepare", "fit", "convert", "check", "metrics", "profile"]
    assert [p for p, _ in calls] == [*phases, "done"]
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert list(r.seconds) == phases
    assert all(s >= 0 for s in r.seconds.values())


def test_warnings_are_returned_not_raised(default_table: pa.Table, make_spec: Spec) -> None:
    spec = make_spec(target="default", objective="binary", family="linear", params={"max_iter": 2})
    r = fit(spec, default_table)
    assert any(w.startswith("ConvergenceWarning") for w in r.warnings)


def test_float32_threshold_rounding_keeps_sklearn_predictions() -> None:
    """HistGradientBoosting's thresholds are rounded down to float32 before export; on
    float32 inputs, probed at and around every threshold, predictions do not change."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from steward.training.export import _float32_thresholds

    rng = np.random.default_rng(11)
    x = rng.normal(size=(3000, 3)).astype(np.float32)
    y = x[:, 0] - 2 * x[:, 1] + rng.normal(size=3000)
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(x, y)

    def thresholds() -> np.ndarray:
        return np.concatenate(
            [
                p.nodes["num_threshold"][p.nodes["is_leaf"] == 0]
                for per_iteration in model._predictors
                for p in per_iteration
            ]
        )

    t = thresholds().astype(np.float32)
    probes = np.unique(np.concatenate([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]))
    grid = rng.choice(probes, size=(20_000, 3)).astype(np.float32)
    before = model.predict(grid)
    assert (thresholds() != thresholds().astype(np.float32)).any()  # the case at hand
    _float32_thresholds(model)
    after = model.predict(grid)
    np.testing.assert_array_equal(before, after)
    assert (thresholds() == thresholds().astype(np.float32)).all()
