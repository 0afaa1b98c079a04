"""The training step: fit a scikit-learn pipeline on an Arrow table, export it to ONNX,
check the export against scikit-learn and measure the export on a validation split.

Pure: no database, files or network; the worker reads the data and stores the result.
This module prepares the data, builds and fits the pipeline and measures the export;
:mod:`steward.training.checks` checks the spec against the data and
:mod:`steward.training.export` converts, runs and checks the export.

The exported model takes one input per feature column, named after the column
(sanitised to ``[A-Za-z0-9_]``; ``FitResult.inputs`` maps each input to its column):
``FP32`` of shape ``[-1, 1]`` for numeric columns (integers, floats, decimals, booleans;
a missing value is NaN) and ``BYTES`` (strings) of shape ``[-1, 1]`` for categorical
ones (strings and dictionaries; a missing value is the empty string). Classifiers output
``label`` and ``probabilities`` (columns in the order of ``FitResult.classes``),
regressors ``variable``.

Numeric columns are cast to float32 *before* fitting, so that scikit-learn and ONNX
Runtime see the same numbers: the export computes in float32, and a tree threshold that
falls between a float64 value and its float32 rounding would otherwise send a row down
different branches. Integers beyond 2**24 lose precision in that cast, as they would at
serving time. Tree families get no scaler for the same reason (a one-ulp difference in a
scaled value can cross a threshold); they encode categories as ordinals, which keeps the
matrix dense and small however many rows there are.
"""

from __future__ import annotations

import importlib
import inspect
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from steward.errors import ValidationFailed
from steward.kernels.metrics import performance
from steward.kernels.profile import TableProfile
from steward.training.checks import Kind, _close, _feature_kind, check_spec_against
from steward.training.export import (
    CHECK_ROWS,
    ONNX_OPSET,
    _check,
    _convert,
    _float32_thresholds,
    _input_names,
    _inputs,
    _io,
    _run,
    _session,
)
from steward.training.spec import TrainingSpec

__all__ = ["CHECK_ROWS", "ONNX_OPSET", "FitResult", "check_spec_against", "fit"]

_MISSING_CATEGORY = "missing"
_PHASES: tuple[tuple[str, float], ...] = (
    ("prepare", 0.0),
    ("fit", 0.05),
    ("convert", 0.75),
    ("check", 0.85),
    ("metrics", 0.9),
    ("profile", 0.95),
)
_TREE_FAMILIES = ("random_forest", "hgb")
_TREE_MODULES = ("sklearn.tree", "sklearn.ensemble")
# Defaults that differ from scikit-learn's, applied unless spec.params sets them. A fully
# grown forest on a million rows exports to more than protobuf's 2 GiB; depth 12 keeps
# each tree under 8,192 nodes.
_FAMILY_DEFAULTS: dict[tuple[str, bool], dict[str, Any]] = {
    ("linear", True): {"max_iter": 1000},
    ("random_forest", True): {"n_estimators": 100, "max_depth": 12},
    ("random_forest", False): {"n_estimators": 100, "max_depth": 12},
}
_LIBRARIES = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "protobuf", "numpy", "pyarrow")


@dataclass
class FitResult:
    """What one training run produced: the ONNX model and everything recorded about it."""

    onnx: bytes
    estimator: str
    params: dict[str, Any]
    features: list[str]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    classes: list[Any] | None
    metrics: dict[str, float]
    n_train: int
    n_validation: int
    dropped_rows: int
    onnx_max_diff: float
    onnx_label_agreement: float | None
    onnx_checked_rows: int
    opset: dict[str, int]
    reference_profile: dict[str, Any]
    library_versions: dict[str, str]
    seconds: dict[str, float]
    warnings: list[str] = field(default_factory=list)


# -- the estimator ----------------------------------------------------------------------


def _import_class(path: str) -> Any:
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationFailed(
            f"estimator {path!r}: cannot import module {module_name!r} ({exc}). Expected an "
            "installed module; install its package on the workers or correct the path.",
            check="estimator",
            estimator=path,
            expected="an importable module.Class",
            found=str(exc),
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        close = _close(attr, [n for n in dir(module) if not n.startswith("_")])
        raise ValidationFailed(
            f"estimator {path!r}: module {module_name!r} has no {attr!r}"
            + (f"; did you mean {close[0]!r}?" if close else "."),
            check="estimator",
            estimator=path,
            suggestions=close,
        ) from exc


def _param_names(cls: type) -> set[str] | None:
    """The constructor's parameter names; None if it takes ``**kwargs``."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind is not p.VAR_POSITIONAL:
            names.add(p.name)
    return names


def _build_estimator(spec: TrainingSpec) -> tuple[str, Any]:
    from sklearn.base import is_classifier, is_regressor

    path = spec.estimator_path()
    cls = _import_class(path)
    shown = path.replace(":", ".")
    methods = ("fit", "predict", "get_params", "set_params")
    if not isinstance(cls, type) or not all(callable(getattr(cls, m, None)) for m in methods):
        raise ValidationFailed(
            f"{shown} is not a scikit-learn estimator: expected a class with fit, predict, "
            f"get_params and set_params; found {type(cls).__name__} {cls!r}"[:300],
            check="estimator",
            estimator=shown,
        )
    valid = _param_names(cls)
    unknown = sorted(set(spec.params) - valid) if valid is not None else []
    if unknown:
        hints = {p: _close(p, sorted(valid or ())) for p in unknown}
        raise ValidationFailed(
            f"{shown} has no parameter {', '.join(map(repr, unknown))}; its parameters are "
            f"{', '.join(sorted(valid or ()))}.",
            check="params",
            estimator=shown,
            unknown=unknown,
            valid=sorted(valid or ()),
            suggestions=hints,
        )
    classify = spec.objective != "regression"
    params = dict(_FAMILY_DEFAULTS.get((spec.family, classify), {}))
    params.update(spec.params)
    if valid is not None:
        params = {k: v for k, v in params.items() if k in valid}
        if "random_state" in valid and "random_state" not in spec.params:
            params["random_state"] = spec.seed
        # n_jobs only where it splits the work: LogisticRegression warns that it has
        # no effect, and one job is every estimator's default.
        if (
            "n_jobs" in valid
            and "n_jobs" not in spec.params
            and spec.family != "linear"
            and spec.resources.cpus > 1
        ):
            params["n_jobs"] = spec.resources.cpus
    try:
        estimator = cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"{shown}: cannot construct it with params {spec.params}: {exc}",
            check="params",
            estimator=shown,
        ) from exc
    try:
        kind_ok = is_classifier(estimator) if classify else is_regressor(estimator)
    except (AttributeError, TypeError):  # not an estimator scikit-learn can tag
        kind_ok = False
    if not kind_ok:
        expected = "a classifier" if classify else "a regressor"
        raise ValidationFailed(
            f"{shown} is not {expected}, which objective {spec.objective!r} needs. Pick "
            f"{expected} or change the objective.",
            check="estimator",
            estimator=shown,
            expected=expected,
        )
    if classify and not callable(getattr(estimator, "predict_proba", None)):
        raise ValidationFailed(
            f"{shown} has no predict_proba: classification needs probabilities for its "
            "metrics and its served output. Pick a probabilistic classifier or wrap it in "
            "sklearn.calibration.CalibratedClassifierCV.",
            check="estimator",
            estimator=shown,
        )
    return shown, estimator


def _pipeline(
    spec: TrainingSpec, estimator: Any, numeric: list[str], categorical: list[str]
) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    module = type(estimator).__module__
    trees = spec.family in _TREE_FAMILIES or (
        spec.family == "custom" and module.startswith(_TREE_MODULES)
    )
    # keep_empty_features: a column that is all null in the training split still has an
    # input in the export; it is imputed with 0 rather than silently dropped.
    num_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if not trees:
        num_steps.append(("scale", StandardScaler()))
    encoder: Any
    if spec.family in _TREE_FAMILIES:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float32
        )
    else:
        encoder = OneHotEncoder(
            handle_unknown="ignore", dtype=np.float32, sparse_output=spec.family == "linear"
        )
    cat_steps = [
        (
            "impute",
            SimpleImputer(
                missing_values="",
                strategy="constant",
                fill_value=_MISSING_CATEGORY,
                keep_empty_features=True,
            ),
        ),
        ("encode", encoder),
    ]
    parts = []
    if numeric:
        parts.append(("numeric", Pipeline(num_steps), numeric))
    if categorical:
        parts.append(("categorical", Pipeline(cat_steps), categorical))
    # Only the linear family takes sparse input for sure; custom estimators get dense.
    prepare = ColumnTransformer(parts, sparse_threshold=0.3 if spec.family == "linear" else 0.0)
    return Pipeline([("prepare", prepare), ("model", estimator)])


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)


# -- preparing the data -----------------------------------------------------------------


def _numeric_column(name: str, col: pa.ChunkedArray) -> pa.ChunkedArray:
    out = pc.cast(col, pa.float32(), safe=False)
    infinite = pc.sum(pc.is_inf(out)).as_py() or 0
    if infinite:
        raise ValidationFailed(
            f"column {name!r} has {infinite:,} infinite value(s) (or values beyond float32's "
            "range); expected finite numbers. Replace them with nulls or exclude the column.",
            check="infinite",
            column=name,
            found=infinite,
        )
    return pc.fill_null(out, float("nan"))


def _categorical_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    return pc.fill_null(col, "")


def _labels(spec: TrainingSpec, col: pa.ChunkedArray) -> npt.NDArray[Any]:
    """The target as numpy: float64 for regression, str objects or int64 for labels."""
    t = col.type
    if spec.objective == "regression":
        y = np.asarray(pc.cast(col, pa.float64(), safe=False).to_numpy(), dtype=np.float64)
        if not np.isfinite(y).all():
            raise ValidationFailed(
                f"target {spec.target!r} has infinite values; expected finite numbers. "
                "Replace them with nulls (those rows are dropped) or fix the data.",
                check="target_values",
                column=spec.target,
            )
        return y
    if pa.types.is_dictionary(t):
        col = pc.cast(col, t.value_type)
        t = col.type
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return np.asarray(pc.cast(col, pa.int64()).to_numpy(), dtype=np.int64)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        y = np.asarray(pc.cast(col, pa.float64(), safe=False).to_numpy(), dtype=np.float64)
        if not (np.isfinite(y) & (y == np.round(y))).all():
            raise ValidationFailed(
                f"target {spec.target!r} holds non-integer numbers; {spec.objective} "
                "classification needs labels. Use objective regression, or round the "
                "target to class codes.",
                check="target_type",
                column=spec.target,
            )
        return y.astype(np.int64)
    # Through a dictionary: one Python string per class rather than one per row.
    encoded = pc.dictionary_encode(pc.cast(col, pa.string())).combine_chunks()
    words = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    return np.asarray(words[encoded.indices.to_numpy()], dtype=object)


@dataclass
class _Data:
    x_train: pa.Table
    x_val: pa.Table
    y_train: npt.NDArray[Any]
    y_val: npt.NDArray[Any]
    train_idx: npt.NDArray[np.intp]
    table: pa.Table  # rows with a target, original columns
    classes: npt.NDArray[Any] | None
    kinds: list[Kind]
    names: list[str]
    dropped: int


def _classes(
    spec: TrainingSpec, y: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted classes (as ``np.unique`` and scikit-learn order them), their row counts,
    and each row's class index. Arrow's hash kernels do it without sorting the rows,
    which for a million string labels is most of the preparation time."""
    arr = pa.array(y)
    counted = pc.value_counts(arr)
    order = np.argsort(np.asarray(counted.field("values").to_numpy(zero_copy_only=False)))
    classes = np.asarray(counted.field("values").to_numpy(zero_copy_only=False))[order]
    counts = np.asarray(counted.field("counts").to_numpy(), dtype=np.int64)[order]
    codes = pc.index_in(arr, value_set=pa.array(classes)).to_numpy()
    codes = np.asarray(codes, dtype=np.int64)
    if len(classes) < 2:
        raise ValidationFailed(
            f"target {spec.target!r} has {len(classes)} class "
            f"({', '.join(map(repr, classes.tolist()))}); classification needs at least 2. "
            "Pick another target or add data with the other classes.",
            check="classes",
            column=spec.target,
            expected=">= 2 classes",
            found=classes.tolist(),
        )
    if spec.objective == "binary" and len(classes) > 2:
        shown = ", ".join(map(repr, classes[:10].tolist()))
        raise ValidationFailed(
            f"objective binary needs a target with 2 classes; {spec.target!r} has "
            f"{len(classes)} ({shown}{', ...' if len(classes) > 10 else ''}). Use objective "
            "multiclass, or map the target to two classes.",
            check="classes",
            column=spec.target,
            expected="2 classes",
            found=classes[:100].tolist(),
        )
    return classes, counts, codes


def _prepare(spec: TrainingSpec, table: pa.Table, features: list[str]) -> _Data:
    from sklearn.model_selection import train_test_split

    target = table.column(spec.target)
    valid = pc.is_valid(target)
    if pa.types.is_floating(target.type):
        valid = pc.and_(valid, pc.invert(pc.is_nan(target)))
    kept = pc.sum(valid).as_py() or 0
    dropped = table.num_rows - kept
    if kept == 0:
        raise ValidationFailed(
            f"target {spec.target!r} is null in all {table.num_rows:,} rows; expected values "
            "to learn from. Pick another target or fill it in.",
            check="target_values",
            column=spec.target,
        )
    if dropped:
        table = table.filter(valid)
    if table.num_rows < 2:
        raise ValidationFailed(
            f"only {table.num_rows} row has a target; expected at least 2 (one to train on, "
            "one to validate).",
            check="empty",
            expected=">= 2 rows",
            found=table.num_rows,
        )
    y = _labels(spec, table.column(spec.target))
    n = len(y)
    n_val = math.ceil(n * spec.validation_fraction)
    n_val = min(max(n_val, 1), n - 1)
    stratify = None
    classes = None
    if spec.objective != "regression":
        classes, counts, codes = _classes(spec, y)
        if counts.min() >= 2 and min(n_val, n - n_val) >= len(classes):
            stratify = codes
    train_idx, val_idx = train_test_split(
        np.arange(n), test_size=n_val, random_state=spec.seed, stratify=stratify
    )
    if classes is not None:
        missing = np.setdiff1d(classes, y[train_idx])
        if len(missing):
            raise ValidationFailed(
                f"class(es) {', '.join(map(repr, missing.tolist()))} of {spec.target!r} have "
                "too few rows to appear in both the training and the validation split; "
                "expected at least 2 rows per class. Merge or drop the rare classes.",
                check="classes",
                column=spec.target,
                found=missing.tolist(),
            )
    names = _input_names(features)
    kinds: list[Kind] = []
    columns = []
    for f in features:
        col = table.column(f)
        kind = _feature_kind(col.type)
        assert kind is not None  # check_spec_against rejected the others
        kinds.append(kind)
        columns.append(_numeric_column(f, col) if kind == "numeric" else _categorical_column(col))
    x = pa.table(columns, names=names)
    return _Data(
        x_train=x.take(train_idx),
        x_val=x.take(val_idx),
        y_train=y[train_idx],
        y_val=y[val_idx],
        train_idx=train_idx,
        table=table,
        classes=classes,
        kinds=kinds,
        names=names,
        dropped=dropped,
    )


# -- metrics ------------------------------------------------------------------------------


def _normalised(p: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    total = q.sum(axis=1, keepdims=True)
    return np.asarray(q / np.where(total > 0, total, 1.0), dtype=np.float64)


def _metrics(
    spec: TrainingSpec, y: npt.NDArray[Any], classes: npt.NDArray[Any] | None, out: list[Any]
) -> tuple[dict[str, float], pa.Array]:
    """Validation metrics from the export's outputs (the gates' definitions, see
    :mod:`steward.kernels.metrics`), and the ``prediction`` column."""
    if classes is None:
        pred = np.asarray(out[0], dtype=np.float64).ravel()
        return performance("regression", y, pred), pa.array(pred)
    labels = np.asarray(out[0])
    proba = _normalised(out[1])
    res = performance(spec.objective, y, labels, proba, list(classes))
    if spec.objective == "binary":
        return res, pa.array(proba[:, 1])
    return res, pa.array(labels.tolist())


# -- the fit ------------------------------------------------------------------------------


class _Phases:
    def __init__(self, progress: Callable[[str, float], None] | None) -> None:
        self._progress = progress
        self._fractions = dict(_PHASES)
        self._current: str | None = None
        self._start = 0.0
        self.seconds: dict[str, float] = {}

    def __call__(self, phase: str) -> None:
        self._end()
        self._current, self._start = phase, time.perf_counter()
        if self._progress is not None:
            self._progress(phase, self._fractions[phase])

    def _end(self) -> None:
        if self._current is not None:
            self.seconds[self._current] = round(time.perf_counter() - self._start, 6)
            self._current = None

    def done(self) -> None:
        self._end()
        if self._progress is not None:
            self._progress("done", 1.0)


def _versions() -> dict[str, str]:
    out = {}
    for lib in _LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "unknown"
    return out


def fit(
    spec: TrainingSpec,
    table: pa.Table,
    *,
    progress: Callable[[str, float], None] | None = None,
    onnx_tolerance: float = 1e-4,
) -> FitResult:
    """Train ``spec`` on ``table``, export it to ONNX and measure the export.

    Rows whose target is null (or NaN) are dropped and counted in ``dropped_rows``; the
    rest is split into training and validation rows (``spec.validation_fraction``,
    ``spec.seed``; stratified for classification when every class has 2 rows or more).
    The export is compared with scikit-learn on up to :data:`CHECK_ROWS` validation
    rows: classifier probabilities must agree within ``onnx_tolerance``, regressor
    predictions within ``onnx_tolerance * max(1, |prediction|)``. Metrics are those of
    the export on the whole validation split: binary roc_auc, accuracy, f1 (positive
    class: the second of the sorted classes), log_loss and brier; multiclass accuracy,
    f1_macro and log_loss; regression rmse, mae and r2.

    ``progress(phase, fraction)`` is called as each phase starts (prepare, fit, convert,
    check, metrics, profile) with a rough fraction of the work done, and once with
    ``("done", 1.0)``. BLAS and OpenMP threads, ``n_jobs`` and ONNX Runtime's threads
    are limited to ``spec.resources.cpus``. Warnings raised while training are returned
    in ``FitResult.warnings`` rather than printed.

    Raises :class:`ValidationFailed` (``details["check"]`` says which check) for a spec
    that does not fit the data, an estimator that is unknown, not an estimator, or does
    not export, and an export that does not match scikit-learn.

    Examples
    --------
    >>> spec = TrainingSpec(data=["toy@1"], target="y", objective="binary", family="linear")
    >>> t = pa.table({"x": [0.1, 0.9, 0.2, 0.8] * 25, "y": ["no", "yes", "no", "yes"] * 25})
    >>> r = fit(spec, t)
    >>> (r.classes, r.metrics["accuracy"], [i["datatype"] for i in r.inputs])
    (['no', 'yes'], 1.0, ['FP32'])
    """
    if not onnx_tolerance > 0:
        raise ValueError(f"onnx_tolerance: expected a positive number; found {onnx_tolerance}")
    phase = _Phases(progress)
    cpus = spec.resources.cpus
    classify = spec.objective != "regression"
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=cpus):
        warnings.simplefilter("always")
        # skl2onnx 1.20 passes a Python bool into an int attribute when it exports
        # HistGradientBoosting*; protobuf < 7.34 accepts it with this warning (hence the
        # protobuf pin). The exported model is correct: the check below compares it.
        warnings.filterwarnings(
            "ignore", message=r"Field onnx\.AttributeProto\.ints: Expected an int, got a boolean"
        )
        phase("prepare")
        features = check_spec_against(spec, table.schema, table.num_rows)
        estimator_name, estimator = _build_estimator(spec)
        data = _prepare(spec, table, features)
        numeric = [n for n, k in zip(data.names, data.kinds, strict=True) if k == "numeric"]
        categorical = [n for n, k in zip(data.names, data.kinds, strict=True) if k != "numeric"]
        pipeline = _pipeline(spec, estimator, numeric, categorical)

        phase("fit")
        from sklearn.utils._param_validation import (
            InvalidParameterError,  # private module, but the stable type of param errors
        )

        try:
            pipeline.fit(data.x_train, data.y_train)
        except InvalidParameterError as exc:
            raise ValidationFailed(
                f"{estimator_name}: {exc}", check="params", estimator=estimator_name
            ) from exc
        except (ValueError, TypeError) as exc:
            raise ValidationFailed(
                f"{estimator_name} failed to train on this data: {exc}",
                check="fit",
                estimator=estimator_name,
            ) from exc

        phase("convert")
        _float32_thresholds(estimator)
        blob = _convert(pipeline, data.names, data.kinds, estimator_name, classify, spec.model_name)
        model = onnx.load_model_from_string(blob)

        phase("check")
        try:
            session = _session(blob, cpus)
        except Exception as exc:  # onnxruntime's own exception types are not importable
            raise ValidationFailed(
                f"the ONNX export of {estimator_name} does not load in onnxruntime: {exc}",
                check="onnx_export",
                estimator=estimator_name,
            ) from exc
        max_diff, agreement, checked = _check(
            pipeline, session, data.x_val, data.kinds, classify, onnx_tolerance
        )

        phase("metrics")
        outputs = _run(session, data.x_val, data.kinds)
        metrics, prediction = _metrics(spec, data.y_val, data.classes, outputs)

        phase("profile")
        train_features = data.table.select(features).take(data.train_idx)
        reference = {
            "features": TableProfile().update(train_features).to_dict(),
            "predictions": TableProfile().update(pa.table({"prediction": prediction})).to_dict(),
        }
    phase.done()

    inputs = _inputs(data.names, data.kinds, features, table.schema)
    seen: dict[str, None] = {}
    for w in caught:
        seen.setdefault(f"{w.category.__name__}: {w.message}", None)
    return FitResult(
        onnx=blob,
        estimator=estimator_name,
        params={k: _jsonable(v) for k, v in estimator.get_params(deep=False).items()},
        features=features,
        inputs=inputs,
        outputs=_io(model.graph.output),
        classes=data.classes.tolist() if data.classes is not None else None,
        metrics=metrics,
        n_train=data.x_train.num_rows,
        n_validation=data.x_val.num_rows,
        dropped_rows=data.dropped,
        onnx_max_diff=max_diff,
        onnx_label_agreement=agreement,
        onnx_checked_rows=checked,
        opset={o.domain or "ai.onnx": o.version for o in model.opset_import},
        reference_profile=reference,
        library_versions=_versions(),
        seconds=phase.seconds,
        warnings=list(seen),
    )
