"""Performance metrics of a model's outputs, by objective (scikit-learn's definitions).

Binary: ROC AUC, accuracy, F1, precision and recall of the positive class (the second of
the sorted classes), log loss, Brier score, and the expected calibration error (ECE: the
mean |observed rate − mean predicted probability| over 10 equal-width probability bins,
weighted by bin size; Naeini et al., 2015). Multiclass: accuracy, macro F1, log loss.
Regression: RMSE, MAE, R². A metric that is undefined on the data (AUC with one class) is
left out rather than invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["LOWER_IS_BETTER", "calibration_error", "performance"]

#: Metrics where a smaller value is better (the others: larger is better).
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "calibration_error", "rmse", "mae"})


def calibration_error(
    truth: npt.NDArray[np.bool_], score: npt.NDArray[np.float64], bins: int = 10
) -> float:
    """Expected calibration error of positive-class probabilities (equal-width bins)."""
    score = np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0)
    which = np.minimum((score * bins).astype(np.int64), bins - 1)
    n = np.bincount(which, minlength=bins)
    observed = np.bincount(which, weights=truth.astype(np.float64), minlength=bins)
    predicted = np.bincount(which, weights=score, minlength=bins)
    used = n > 0
    gap = np.abs(observed[used] - predicted[used]) / n[used]
    return float(np.sum(gap * n[used]) / max(1, len(score)))


def performance(
    objective: str,
    y_true: npt.NDArray[Any],
    labels: npt.NDArray[Any],
    probabilities: npt.NDArray[np.float64] | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """The metrics of ``objective`` for the given truth and model outputs."""
    from sklearn import metrics as m

    if objective == "regression":
        pred = np.asarray(labels, dtype=np.float64).ravel()
        y = np.asarray(y_true, dtype=np.float64)
        out = {"rmse": m.root_mean_squared_error(y, pred), "mae": m.mean_absolute_error(y, pred)}
        if len(y) >= 2:
            out["r2"] = m.r2_score(y, pred)
        return {k: float(v) for k, v in out.items()}
    if classes is None:
        raise ValueError("classification metrics need the classes")
    cls = list(classes)
    res: dict[str, float] = {"accuracy": float(m.accuracy_score(y_true, labels))}
    if probabilities is not None:
        proba = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
        proba = proba / np.where(
            proba.sum(axis=1, keepdims=True) > 0, proba.sum(axis=1, keepdims=True), 1.0
        )
    else:
        proba = None
    if objective == "binary":
        positive = cls[1]
        truth = np.asarray(y_true) == positive
        decided = np.asarray(labels) == positive
        res["f1"] = float(m.f1_score(truth, decided, zero_division=0.0))
        res["precision"] = float(m.precision_score(truth, decided, zero_division=0.0))
        res["recall"] = float(m.recall_score(truth, decided, zero_division=0.0))
        if proba is not None:
            if 0 < truth.sum() < len(truth):
                res["roc_auc"] = float(m.roc_auc_score(truth, proba[:, 1]))
            res["log_loss"] = float(m.log_loss(y_true, proba, labels=cls))
            res["brier"] = float(m.brier_score_loss(truth, proba[:, 1]))
            res["calibration_error"] = calibration_error(truth, proba[:, 1])
        return res
    res["f1_macro"] = float(
        m.f1_score(y_true, labels, average="macro", labels=cls, zero_division=0.0)
    )
    if proba is not None:
        res["log_loss"] = float(m.log_loss(y_true, proba, labels=cls))
    return res
