"""Realised performance: what the model scored on traffic whose labels arrived.

Labels come in through the feedback API (``prediction_feedback``: endpoint, request id,
row). They are joined with the prediction log's primary rows of a window (the model's
logged answer, never a re-run), and the suite's metrics are computed on them with the same
definitions the gates use (:func:`steward.kernels.metrics.performance`). Each metric is
compared with the figure of the model's **latest passing validation** on its locked
holdout, and with the suite's limits:

- ``degraded``: a suite limit fails on the labelled traffic, or the suite's primary metric
  is worse than the validated figure by more than ``monitoring.performance_tolerance``;
- ``ok``: at least ``monitoring.min_labels`` labelled rows and neither of those;
- ``unknown``: too few labels (or none) — performance is not guessed; the report's
  prediction drift is then the only evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from sqlalchemy import and_, select

from steward.gates import ValidationReport
from steward.kernels.metrics import LOWER_IS_BETTER, performance
from steward.registry import ModelDetail, ModelService
from steward.runtime import Runtime
from steward.serving.labels import NO_LABEL, map_label
from steward.store import Prediction, PredictionFeedback, Validation

__all__ = [
    "Labelled",
    "MetricComparison",
    "PerformanceReport",
    "assess",
    "labelled_rows",
    "realised_metrics",
    "usable",
]


class MetricComparison(BaseModel):
    metric: str
    realised: float | None
    validated: float | None
    change: float | None  # realised - validated
    limit: dict[str, float] | None = None  # the suite's bound on this metric
    passes_limit: bool | None = None  # None: the suite sets no limit
    primary: bool = False


class PerformanceReport(BaseModel):
    status: Literal["unknown", "ok", "degraded"]
    labelled: int  # labelled rows used
    min_labels: int
    validation: str | None = None  # the validation compared with
    suite: str | None = None
    primary: str | None = None
    tolerance: float
    metrics: list[MetricComparison] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    # stored labels that name no class of the model (left out; an alert says so)
    refused: int = 0
    refused_examples: list[Any] = Field(default_factory=list)


@dataclass
class Labelled:
    """Logged answers and their labels, row by row."""

    outputs: list[dict[str, Any]]
    labels: list[Any]

    def __len__(self) -> int:
        return len(self.labels)


def labelled_rows(
    rt: Runtime,
    endpoint: str,
    *,
    model: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Labelled:
    """The primary log rows of ``endpoint`` (of ``model``, in ``[start, end)``) that have a
    label, newest first up to ``limit``."""
    q = (
        select(Prediction.outputs, PredictionFeedback.label)
        .join(
            PredictionFeedback,
            and_(
                PredictionFeedback.endpoint == Prediction.endpoint,
                PredictionFeedback.request_id == Prediction.request_id,
                PredictionFeedback.row == Prediction.row,
            ),
        )
        .where(Prediction.endpoint == endpoint, Prediction.role == "primary")
        .order_by(Prediction.id.desc())
    )
    if model is not None:
        q = q.where(Prediction.model == model)
    if start is not None:
        q = q.where(Prediction.at >= start)
    if end is not None:
        q = q.where(Prediction.at < end)
    if limit is not None:
        q = q.limit(limit)
    with rt.store.transaction() as s:
        rows = s.execute(q).all()
    return Labelled([json.loads(o) for o, _ in rows], [_stored_label(lb) for _, lb in rows])


def _distinct(values: list[Any], most: int) -> list[Any]:
    """Up to ``most`` distinct values (by their JSON text), in order."""
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True, default=str), v)
        if len(seen) >= most:
            break
    return list(seen.values())


def _stored_label(text: str) -> Any:
    """A stored label (JSON); text that is not JSON (written around the API) as it is,
    for :func:`usable` to refuse."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def usable(detail: ModelDetail, data: Labelled) -> tuple[Labelled, list[Any]]:
    """The rows whose label names a class of the model (as that class; for regression, a
    finite number), and the labels that name none (stored before the feedback API
    refused them, or written around it): those cannot be scored."""
    outputs: list[dict[str, Any]] = []
    labels: list[Any] = []
    refused: list[Any] = []
    classes = None if detail.objective == "regression" else detail.classes
    for out, label in zip(data.outputs, data.labels, strict=True):
        mapped = map_label(label, classes, detail.objective)
        if mapped is NO_LABEL:
            refused.append(label)
        else:
            outputs.append(out)
            labels.append(mapped)
    return Labelled(outputs, labels), refused


def realised_metrics(detail: ModelDetail, data: Labelled) -> dict[str, float]:
    """The metrics of the model's objective on logged answers against their labels
    (labels that name no class of the model are left out, see :func:`usable`)."""
    data, _ = usable(detail, data)
    if len(data) == 0:
        return {}
    names = [o["name"] for o in detail.outputs]
    answers = np.asarray([scalar(o.get(names[0])) for o in data.outputs], dtype=object)
    if detail.objective == "regression":
        truth = np.asarray(data.labels, dtype=np.float64)
        return performance("regression", truth, answers.astype(np.float64))
    classes = list(detail.classes or [])
    truth = np.empty(len(data.labels), dtype=object)
    truth[:] = data.labels
    labels = _as_classes(list(answers), classes)
    proba: npt.NDArray[np.float64] | None = None
    if len(names) > 1:
        raw = [o.get(names[1]) for o in data.outputs]
        if all(r is not None for r in raw):
            proba = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
            if proba.shape[1] != len(classes):
                proba = None
    return performance(detail.objective, truth, labels, proba, classes)


def _as_classes(values: list[Any], classes: list[Any]) -> npt.NDArray[Any]:
    """Labels in the representation of the model's classes (``"1"``, ``1``, ``1.0`` and
    ``true`` all name the class ``1``); a value that names no class stays as it is."""
    if classes and isinstance(classes[0], str):
        return np.asarray([_text(v) for v in values], dtype=object)
    by_number = {float(c): c for c in classes}
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        n = _number(v)
        out[i] = v if n is None else by_number.get(n, v)
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        v = {"true": 1, "false": 0}.get(v.strip().lower(), v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def scalar(value: Any) -> Any:
    """A row's value of a one-value output (an ``[n, 1]`` output logs ``[v]`` per row)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def latest_pass(rt: Runtime, ref: str) -> tuple[str, ValidationReport] | None:
    """The model version's latest passing validation (id and report)."""
    registry = ModelService(rt)
    with rt.store.transaction() as s:
        _, mv = registry.version_row(s, ref)
        v = s.scalars(
            select(Validation)
            .where(Validation.model_version_id == mv.id, Validation.passed.is_(True))
            .order_by(Validation.created_at.desc(), Validation.id.desc())
            .limit(1)
        ).first()
        if v is None:
            return None
        return v.id, ValidationReport.model_validate_json(v.report_json)


def assess(rt: Runtime, detail: ModelDetail, data: Labelled) -> PerformanceReport:
    """Compare realised metrics on ``data`` with the validated figures (module docs)."""
    cfg = rt.config.monitoring
    data, refused = usable(detail, data)
    base: dict[str, Any] = {
        "labelled": len(data),
        "min_labels": cfg.min_labels,
        "tolerance": cfg.performance_tolerance,
        "refused": len(refused),
        "refused_examples": _distinct(refused, 10),
    }
    if len(data) < cfg.min_labels:
        reason = (
            "no labelled traffic in the window"
            if not data.labels
            else f"{len(data)} labelled row(s); at least {cfg.min_labels} are needed"
        )
        if refused:
            reason += f" ({len(refused)} stored label(s) name no class of {detail.ref})"
        return PerformanceReport(
            status="unknown",
            reasons=[f"{reason} (labels arrive through the feedback API)"],
            **base,
        )
    realised = realised_metrics(detail, data)
    found = latest_pass(rt, detail.ref)
    if found is None:
        return PerformanceReport(
            status="unknown",
            metrics=[
                MetricComparison(metric=k, realised=v, validated=None, change=None)
                for k, v in sorted(realised.items())
            ],
            reasons=[f"{detail.ref} has no passing validation to compare with"],
            **base,
        )
    vid, report = found
    suite = rt.config.gates.suites.get(report.suite)
    primary = suite.primary if suite is not None else None
    limits = {t.metric: t for t in suite.performance} if suite is not None else {}
    shown = [m for m in [primary, *limits] if m is not None]
    shown = list(dict.fromkeys(shown)) or sorted(realised)
    comparisons: list[MetricComparison] = []
    reasons: list[str] = []
    for metric in shown:
        now = realised.get(metric)
        then = report.metrics.get(metric)
        t = limits.get(metric)
        passes = None if t is None or now is None else t.passes(now)
        comparisons.append(
            MetricComparison(
                metric=metric,
                realised=now,
                validated=then,
                change=None if now is None or then is None else now - then,
                limit=_limit(t),
                passes_limit=passes,
                primary=metric == primary,
            )
        )
        if passes is False:
            reasons.append(f"{metric} {now:.4g} fails the suite's limit {_bound(t)}")
        if metric == primary and now is not None and then is not None:
            worse = (now - then) if metric in LOWER_IS_BETTER else (then - now)
            if worse > cfg.performance_tolerance:
                reasons.append(
                    f"{metric} {now:.4g} on labelled traffic, {then:.4g} at validation "
                    f"({vid}): worse by {worse:.4g}, more than the tolerance "
                    f"{cfg.performance_tolerance:g}"
                )
    return PerformanceReport(
        status="degraded" if reasons else "ok",
        validation=vid,
        suite=report.suite,
        primary=primary,
        metrics=comparisons,
        reasons=reasons,
        **base,
    )


def _limit(t: Any) -> dict[str, float] | None:
    if t is None:
        return None
    return {"min": float(t.min)} if t.min is not None else {"max": float(t.max)}


def _bound(t: Any) -> str:
    return f"≥ {t.min:g}" if t.min is not None else f"≤ {t.max:g}"
