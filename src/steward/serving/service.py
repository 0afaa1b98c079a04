"""Inference over the Open Inference Protocol v2 (KServe V2 / Triton REST), by endpoint.

A v2 "model" is an endpoint: ``POST /v2/models/credit/infer`` is answered by whatever the
endpoint ``credit``'s current revision serves. Each model version gets one ONNX Runtime
session, loaded the first time a revision needs it and kept; an endpoint's loaded revision
is re-checked at most every ``refresh`` seconds, and a new revision is swapped in by one
reference assignment after its sessions are loaded, so requests in flight finish on the old
one and none fails during a deploy or a rollback.

Inputs are checked against the model's inputs before anything runs: a missing or unknown
input, a wrong datatype, a shape that does not fit the data, or rows that disagree between
inputs are a :class:`~steward.errors.ValidationFailed` naming the input (a 400 in the
protocol's error shape).
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.datasets import DatasetService
from steward.datasets.mask import derive_key
from steward.deploy import DeployService, RevisionInfo
from steward.door import Action
from steward.errors import (
    NotFound,
    QuotaExceeded,
    StewardError,
    ValidationFailed,
    require_count,
)
from steward.kernels.routing import routes_to_candidate
from steward.metering import month_bounds
from steward.policy import Principal, Resource
from steward.registry import ModelDetail, ModelService
from steward.registry.runner import OnnxRunner
from steward.runtime import Runtime
from steward.serving.labels import NO_LABEL, describe_classes, map_label
from steward.serving.log import LogPlan, PredictionLog, Scored, log_plan
from steward.store import Endpoint, Prediction, PredictionFeedback

__all__ = [
    "EndpointStatus",
    "FeedbackResult",
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "Label",
    "ModelMetadata",
    "ServingService",
    "ShadowComparison",
    "TensorMetadata",
]

_DTYPES = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT64": np.int64,
    "INT32": np.int32,
    "BOOL": np.bool_,
    "BYTES": object,
}


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[InferInput] = Field(min_length=1)
    outputs: list[dict[str, Any]] | None = None
    parameters: dict[str, Any] | None = None


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


#: Latency histogram buckets, seconds: fine below 10 ms, where budgets usually are.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0)
WINDOW = 10_000  # latencies kept per endpoint for exact percentiles
MAX_REQUEST_ID = 128  # the prediction log's request_id column
BUDGET_SECONDS = 30.0  # how often a team whose budget blocks serving is checked


class ShadowComparison(BaseModel):
    """A shadow revision's answers against the primary's, on the same logged rows."""

    revision: int
    primary: str
    shadow: str
    compared: int
    agreement: float | None  # share of rows where both gave the same first output
    primary_p50_ms: float | None
    shadow_p50_ms: float | None
    primary_p99_ms: float | None
    shadow_p99_ms: float | None


class EndpointStatus(BaseModel):
    endpoint: str
    revision: int | None
    requests: int
    errors: int
    rejected: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    budget_ms: float
    within_budget: bool | None
    window: int
    logged: int = 0  # rows in the prediction log for this endpoint (primary answers)
    pending_log_rows: int = 0  # rows buffered, not yet flushed
    shadow: ShadowComparison | None = None


class LatencyPoint(BaseModel):
    """Request latency over one stretch of time: its median and 99th percentile (ms)."""

    start: datetime
    end: datetime
    rows: int  # requests (from the log) or rows (in a monitoring window)
    p50_ms: float | None
    p99_ms: float | None
    models: list[str] = Field(default_factory=list)


#: bucket widths (seconds) a logged latency series picks from: the smallest that gives at
#: most the asked number of points
_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 86_400)


class Label(BaseModel):
    """Ground truth for one logged row: the request id the answer carried, the row within
    that request (0 for single-row requests) and the true label or value."""

    request_id: str = Field(min_length=1, max_length=128)
    row: int = Field(0, ge=0)
    label: Any


class FeedbackResult(BaseModel):
    endpoint: str
    accepted: int
    replaced: int  # labels that overwrote an earlier label for the same row


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] = Field(default_factory=dict)


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]
    parameters: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Model:
    ref: str
    detail: ModelDetail
    runner: OnnxRunner
    plan: LogPlan


@dataclass(frozen=True)
class _Loaded:
    revision: RevisionInfo
    team: str | None
    primary: _Model
    candidate: _Model | None


class ServingService:
    def __init__(self, rt: Runtime, *, refresh: float = 1.0) -> None:
        self.rt = rt
        self.refresh = refresh
        self.deploy = DeployService(rt)
        self.registry = ModelService(rt)
        self._models: dict[str, _Model] = {}
        self._endpoints: dict[str, tuple[float, _Loaded]] = {}
        self._lock = threading.Lock()
        self.metrics = CollectorRegistry()
        self._latency = Histogram(
            "steward_inference_seconds",
            "Time to answer one inference request (validation, model, response).",
            ["endpoint", "revision", "model"],
            buckets=BUCKETS,
            registry=self.metrics,
        )
        self._requests = Counter(
            "steward_inference_requests",
            "Inference requests by outcome (ok, rejected: bad input, error: failure).",
            ["endpoint", "outcome"],
            registry=self.metrics,
        )
        self._windows: dict[str, deque[float]] = {}
        self._last_revision: dict[str, int] = {}
        self._allowed: dict[tuple[str, str, str | None], float] = {}
        self._spent: dict[str, tuple[float, float]] = {}  # team -> (checked at, spent)
        self.log = PredictionLog(
            rt.store,
            rt.config.serving,
            derive_key(rt.home.master_key(), "pseudonym"),
            self.metrics,
            meter=self._meter,
        )
        self._where: dict[str, tuple[str | None, str]] = {}  # endpoint -> (team, site)

    def _meter(self, s: Session, entries: Sequence[Scored]) -> None:
        """The cost of a flush's answers: the model's compute time (each answer's scoring
        time, primary and shadow), per endpoint, model and source, added to the hour's
        record at the endpoint's site (see steward.metering)."""
        seconds: dict[tuple[str, str, str], float] = {}
        for e in entries:
            key = (e.endpoint, e.plan.model, e.source)
            seconds[key] = seconds.get(key, 0.0) + e.latency_ms / 1000.0
        for (endpoint, model, source), sec in seconds.items():
            where = self._where.get(endpoint)
            if where is None:
                row = s.execute(
                    select(Endpoint.team, Endpoint.site).where(Endpoint.name == endpoint)
                ).first()
                if row is None:
                    continue
                where = self._where[endpoint] = (row[0], row[1])
            self.rt.meter.compute_hourly(
                s,
                sec,
                team=where[0],
                site=where[1],
                kind="stream" if source == "stream" else "inference",
                action="endpoint.predict",
                endpoint=endpoint,
                model=model,
            )

    def close(self) -> None:
        """Write the buffered prediction log (the server calls this when it stops)."""
        self.log.close()

    # -- measuring ---------------------------------------------------------------------------
    def _record(
        self,
        endpoint: str,
        outcome: str,
        seconds: float,
        revision: int | None = None,
        model: str = "",
    ) -> None:
        self._requests.labels(endpoint, outcome).inc()
        self.log.count(endpoint, outcome)
        if outcome == "ok" and revision is not None:
            self._latency.labels(endpoint, str(revision), model).observe(seconds)
            self._windows.setdefault(endpoint, deque(maxlen=WINDOW)).append(seconds)
            self._last_revision[endpoint] = revision

    def _count(self, endpoint: str, outcome: str) -> int:
        value = self.metrics.get_sample_value(
            "steward_inference_requests_total", {"endpoint": endpoint, "outcome": outcome}
        )
        return int(value or 0)

    def status(self, principal: Principal, endpoint: str) -> EndpointStatus:
        """Latency percentiles over the last requests against the endpoint's budget."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "endpoints")))
        self.deploy.current(endpoint)  # 404 for an unknown endpoint
        window = sorted(self._windows.get(endpoint, ()))
        counts = {o: self._count(endpoint, o) for o in ("ok", "rejected", "error")}
        budget = self.rt.config.serving.budget_ms(endpoint)

        def pct(q: float) -> float | None:
            if not window:
                return None
            return round(window[min(len(window) - 1, math.ceil(q * len(window)) - 1)] * 1e3, 3)

        p99 = pct(0.99)
        rev, _ = self.deploy.current(endpoint)
        with self.rt.store.transaction() as s:
            logged = s.scalar(
                select(func.count())
                .select_from(Prediction)
                .where(Prediction.endpoint == endpoint, Prediction.role == "primary")
            )
        return EndpointStatus(
            endpoint=endpoint,
            revision=self._last_revision.get(endpoint),
            requests=sum(counts.values()),
            errors=counts["error"],
            rejected=counts["rejected"],
            p50_ms=pct(0.50),
            p95_ms=pct(0.95),
            p99_ms=p99,
            budget_ms=budget,
            within_budget=None if p99 is None else p99 <= budget,
            window=len(window),
            logged=int(logged or 0),
            pending_log_rows=self.log.pending,
            shadow=self.shadow_comparison(endpoint, rev) if rev.strategy == "shadow" else None,
        )

    def logged_latency(
        self, principal: Principal, endpoint: str, *, last: int = 20_000, points: int = 48
    ) -> list[LatencyPoint]:
        """p50 and p99 of the endpoint's newest ``last`` requests in the prediction log
        (primary answers, one per request), in equal time buckets (1 s to 1 day, the
        smallest giving at most ``points``; one over them all for ``points=1``), oldest
        first. Exact percentiles (numpy's default, linear interpolation); an unknown
        endpoint is a NotFound."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "endpoints")))
        self.deploy.current(endpoint)  # 404 for an unknown endpoint
        require_count("last", last, 1_000_000)
        require_count("points", points, 10_000)
        with self.rt.store.transaction() as s:
            rows = s.execute(
                select(Prediction.at, Prediction.latency_ms, Prediction.model)
                .where(
                    Prediction.endpoint == endpoint,
                    Prediction.role == "primary",
                    Prediction.row == 0,
                )
                .order_by(Prediction.at.desc())
                .limit(last)
            ).all()
        if not rows:
            return []
        at = np.array([r[0].timestamp() for r in rows])
        ms = np.array([float(r[1]) for r in rows])
        first, span = float(at.min()), float(at.max() - at.min())
        if points == 1:  # one point over all of them
            width, origin = max(span, 1e-6) * (1 + 1e-9), first
        else:
            width = next((b for b in _BUCKETS if span / b < points - 1), _BUCKETS[-1])
            origin = first - first % width
        index = ((at - origin) // width).astype(np.int64)
        out = []
        for i in np.unique(index):
            sel = index == i
            p50, p99 = np.percentile(ms[sel], [50, 99])
            start = datetime.fromtimestamp(origin + int(i) * width, UTC)
            out.append(
                LatencyPoint(
                    start=start,
                    end=datetime.fromtimestamp(origin + (int(i) + 1) * width, UTC),
                    rows=int(sel.sum()),
                    p50_ms=round(float(p50), 3),
                    p99_ms=round(float(p99), 3),
                    models=sorted({str(rows[int(j)][2]) for j in np.flatnonzero(sel)}),
                )
            )
        return out

    def shadow_comparison(
        self, endpoint: str, rev: RevisionInfo, *, last: int = 10_000
    ) -> ShadowComparison:
        """Agreement and latency of a shadow revision against its primary, over the last
        ``last`` rows the log holds answers from both for."""
        with self.rt.store.transaction() as s:
            shadow = (
                select(
                    Prediction.request_id, Prediction.row, Prediction.outputs, Prediction.latency_ms
                )
                .where(
                    Prediction.endpoint == endpoint,
                    Prediction.revision == rev.revision,
                    Prediction.role == "shadow",
                )
                .order_by(Prediction.id.desc())
                .limit(last)
                .subquery()
            )
            pairs = s.execute(
                select(
                    Prediction.outputs, Prediction.latency_ms, shadow.c.outputs, shadow.c.latency_ms
                )
                .join(
                    shadow,
                    (Prediction.request_id == shadow.c.request_id)
                    & (Prediction.row == shadow.c.row),
                )
                .where(
                    Prediction.endpoint == endpoint,
                    Prediction.revision == rev.revision,
                    Prediction.role == "primary",
                )
            ).all()
        same = 0
        for p_out, _, s_out, _ in pairs:
            a, b = json.loads(p_out), json.loads(s_out)
            same += next(iter(a.values()), None) == next(iter(b.values()), None)

        def p(values: list[float], q: float) -> float | None:
            if not values:
                return None
            values = sorted(values)
            return round(values[min(len(values) - 1, math.ceil(q * len(values)) - 1)], 3)

        primary_ms = [r[1] for r in pairs]
        shadow_ms = [r[3] for r in pairs]
        return ShadowComparison(
            revision=rev.revision,
            primary=rev.primary,
            shadow=rev.candidate or "",
            compared=len(pairs),
            agreement=round(same / len(pairs), 6) if pairs else None,
            primary_p50_ms=p(primary_ms, 0.5),
            shadow_p50_ms=p(shadow_ms, 0.5),
            primary_p99_ms=p(primary_ms, 0.99),
            shadow_p99_ms=p(shadow_ms, 0.99),
        )

    # -- feedback ------------------------------------------------------------------------------
    def feedback(self, principal: Principal, endpoint: str, labels: list[Label]) -> FeedbackResult:
        """Attach ground truth to logged rows by request id (the ids the answers carried).

        Ground truth is a write of the endpoint's team (``endpoint.feedback`` is
        team-scoped). All or nothing: an unknown request id or row, the same row twice, or a
        label that names no class of the model that answered its row (see
        :mod:`steward.serving.labels`) refuses the whole batch. Labels are stored as that
        class. A label for a row that already has one replaces it."""
        if not labels:
            raise ValidationFailed("labels: expected at least one label")
        if len(labels) > 10_000:
            raise ValidationFailed(
                f"labels: at most 10000 per call; found {len(labels)}. Send them in batches.",
                expected=10_000,
                found=len(labels),
            )
        _, team = self.deploy.current(endpoint)  # 404 for an unknown endpoint
        keys = [(lb.request_id, lb.row) for lb in labels]
        ids = sorted({k[0] for k in keys})
        action = Action(
            "endpoint.feedback",
            Resource("Endpoint", endpoint, {"team": team}),
            payload={"labels": len(labels), "requests": len(ids)},
        )
        # ground truth is a write of the endpoint's team: decided before anything of the
        # batch is looked at, so another team learns nothing about the endpoint's log
        self.rt.door.check(principal, action)
        seen: set[tuple[str, int]] = set()
        for k in keys:
            if k in seen:
                raise ValidationFailed(
                    f"labels: request {k[0]} row {k[1]} appears twice", request_id=k[0], row=k[1]
                )
            seen.add(k)
        self.log.flush()  # answers given a moment ago are in the log before we look
        with self.rt.store.transaction() as s:
            known: dict[tuple[str, int], str] = {}  # (request id, row) -> the model that answered
            for start in range(0, len(ids), 500):
                known.update(
                    ((r, n), m)
                    for r, n, m in s.execute(
                        select(Prediction.request_id, Prediction.row, Prediction.model).where(
                            Prediction.endpoint == endpoint,
                            Prediction.role == "primary",
                            Prediction.request_id.in_(ids[start : start + 500]),
                        )
                    )
                )
        unknown = [k for k in keys if k not in known]
        if unknown:
            shown = ", ".join(f"{r} row {n}" for r, n in unknown[:5])
            raise ValidationFailed(
                f"labels: {len(unknown)} label(s) name no logged prediction of endpoint "
                f"{endpoint} ({shown}{', ...' if len(unknown) > 5 else ''}); use the request "
                "ids the answers carried (and the row within a batched request)",
                unknown=[{"request_id": r, "row": n} for r, n in unknown[:100]],
            )
        values = self._mapped_labels(endpoint, labels, known)

        def do(s: Session) -> FeedbackResult:
            existing = {
                (f.request_id, f.row): f
                for start in range(0, len(ids), 500)
                for f in s.scalars(
                    select(PredictionFeedback).where(
                        PredictionFeedback.endpoint == endpoint,
                        PredictionFeedback.request_id.in_(ids[start : start + 500]),
                    )
                )
            }
            now = datetime.now(UTC)
            replaced = 0
            for lb, mapped in zip(labels, values, strict=True):
                value = json.dumps(mapped)
                old = existing.get((lb.request_id, lb.row))
                if old is not None:
                    old.label, old.at, old.by = value, now, principal.name
                    replaced += 1
                else:
                    s.add(
                        PredictionFeedback(
                            endpoint=endpoint,
                            request_id=lb.request_id,
                            row=lb.row,
                            label=value,
                            at=now,
                            by=principal.name,
                        )
                    )
            return FeedbackResult(endpoint=endpoint, accepted=len(labels), replaced=replaced)

        return self.rt.door.run(principal, action, do)

    def _mapped_labels(
        self, endpoint: str, labels: list[Label], answered: dict[tuple[str, int], str]
    ) -> list[Any]:
        """Each label as a class of the model that answered its row (see
        :mod:`steward.serving.labels`); one that names no class refuses the whole batch."""
        models: dict[str, tuple[list[Any] | None, str]] = {}
        with self.rt.store.transaction() as s:
            for ref in sorted(set(answered.values())):
                _, v = self.registry.version_row(s, ref)
                models[ref] = (json.loads(v.classes_json), v.objective)
        out: list[Any] = []
        bad: list[dict[str, Any]] = []
        for lb in labels:
            ref = answered[(lb.request_id, lb.row)]
            classes, objective = models[ref]
            mapped = map_label(lb.label, classes, objective)
            if mapped is NO_LABEL:
                bad.append(
                    {"request_id": lb.request_id, "row": lb.row, "label": lb.label, "model": ref}
                )
            out.append(mapped)
        if bad:
            first = bad[0]
            classes, objective = models[first["model"]]
            shown = ", ".join(
                f"{json.dumps(b['label'])[:60]} (request {b['request_id']} row {b['row']})"
                for b in bad[:5]
            )
            raise ValidationFailed(
                f"labels: expected {describe_classes(classes, objective)} of model "
                f"{first['model']} that answered endpoint {endpoint}; found {len(bad)} "
                f"label(s) that name none: {shown}{', ...' if len(bad) > 5 else ''}. Nothing "
                "of this batch was stored; send the labels in the encoding of the training "
                "target (booleans as true/false, yes/no or 1/0 for a two-class model).",
                parameter="labels",
                label=first["label"],
                classes=classes,
                model=first["model"],
                refused=bad[:100],
            )
        return out

    def measured(self, endpoint: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one request through ``fn`` and record its outcome and latency."""
        t0 = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except ValidationFailed:
            self._record(endpoint, "rejected", time.perf_counter() - t0)
            raise
        except NotFound:
            raise
        except Exception:
            self._record(endpoint, "error", time.perf_counter() - t0)
            raise
        # the revision and model that answered, as the response says (a swap meanwhile
        # cannot mislabel the measurement)
        params = result if isinstance(result, dict) else result.parameters
        revision = params.get("revision")
        self._record(
            endpoint,
            "ok",
            time.perf_counter() - t0,
            int(revision) if revision is not None else None,
            str(params.get("model", "")),
        )
        return result

    # -- loading -----------------------------------------------------------------------------
    def _model(self, ref: str) -> _Model:
        m = self._models.get(ref)
        if m is None:
            with self._lock:
                m = self._models.get(ref)
                if m is None:
                    detail, onnx = self.registry.serving_artifact(ref)
                    plan = logged_plan(self.rt, detail)
                    m = _Model(ref, detail, OnnxRunner(onnx, detail.inputs, detail.classes), plan)
                    self._models[ref] = m
        return m

    def loaded(self, endpoint: str) -> _Loaded:
        """The endpoint's current revision with its sessions loaded (see module docs)."""
        now = time.monotonic()
        entry = self._endpoints.get(endpoint)
        if entry is not None and now - entry[0] < self.refresh:
            return entry[1]
        rev, team = self.deploy.current(endpoint)
        if entry is not None and entry[1].revision.revision == rev.revision:
            self._endpoints[endpoint] = (now, entry[1])
            return entry[1]
        loaded = _Loaded(
            revision=rev,
            team=team,
            primary=self._model(rev.primary),
            candidate=self._model(rev.candidate) if rev.candidate else None,
        )
        self._endpoints[endpoint] = (now, loaded)  # the swap: one assignment
        return loaded

    def authorise(self, principal: Principal, endpoint: str) -> _Loaded:
        """The endpoint's snapshot, once ``endpoint.predict`` is allowed. An allow is
        remembered for ``refresh`` seconds per caller and endpoint (the same window in
        which a deploy takes effect); a denial is decided, and recorded, every time."""
        loaded = self.loaded(endpoint)
        key = (principal.name, endpoint, loaded.team)
        now = time.monotonic()
        self._budget_gate(loaded.team, now)
        if now - self._allowed.get(key, -math.inf) < self.refresh:
            return loaded
        self.rt.door.check(
            principal,
            Action("endpoint.predict", Resource("Endpoint", endpoint, {"team": loaded.team})),
        )
        if len(self._allowed) > 10_000:
            self._allowed.clear()
        self._allowed[key] = now
        return loaded

    def _budget_gate(self, team: str | None, now: float) -> None:
        """A team whose budget says ``serving: block`` gets no predictions once its hard
        budget is spent (checked every ``BUDGET_SECONDS``). Otherwise a budget never cuts
        serving off: the monitor alerts instead."""
        budget = self.rt.config.teams[team].budget if team in self.rt.config.teams else None
        if budget is None or budget.serving != "block" or not budget.hard:
            return
        assert team is not None
        checked, spent = self._spent.get(team, (-math.inf, 0.0))
        if now - checked >= BUDGET_SECONDS:
            start, end = month_bounds(datetime.now(UTC))
            with self.rt.store.transaction() as s:
                spent = self.rt.meter.spent(s, team, start, end)
            self._spent[team] = (now, spent)
        if spent >= budget.monthly_usd:
            raise QuotaExceeded(
                f"team {team} has spent ${spent:,.2f} of its ${budget.monthly_usd:,.2f} budget "
                f"this month and its budget blocks serving (teams.{team}.budget.serving: "
                "block); ask an admin to raise the budget or set serving: alert",
                quota="budget",
                budget=budget.monthly_usd,
                spent=round(spent, 6),
                team=team,
            )

    # -- metadata ------------------------------------------------------------------------------
    def metadata(
        self, principal: Principal, endpoint: str, version: str | None = None
    ) -> ModelMetadata:
        loaded = self.authorise(principal, endpoint)
        d = loaded.primary.detail
        served = [str(d.version)] + (
            [str(loaded.candidate.detail.version)] if loaded.candidate else []
        )
        if version is not None and version not in served:
            raise NotFound(
                f"endpoint {endpoint} does not serve version {version}; it serves "
                f"{', '.join(served)}",
                endpoint=endpoint,
                version=version,
            )
        if version is not None and loaded.candidate and version != str(d.version):
            d = loaded.candidate.detail
        return ModelMetadata(
            name=endpoint,
            versions=served,
            platform="onnxruntime_onnx",
            inputs=[
                TensorMetadata(name=i["name"], datatype=i["datatype"], shape=i["shape"])
                for i in d.inputs
            ],
            outputs=[
                TensorMetadata(name=o["name"], datatype=o["datatype"], shape=o["shape"])
                for o in d.outputs
            ],
            parameters={"model": d.ref, "revision": loaded.revision.revision},
        )

    # -- inference -------------------------------------------------------------------------------
    @staticmethod
    def _choose(loaded: _Loaded, endpoint: str, key: str | None) -> _Model:
        rev = loaded.revision
        if (
            rev.strategy == "canary"
            and loaded.candidate is not None
            and key is not None
            and routes_to_candidate(key, rev.percent, salt=endpoint)
        ):
            return loaded.candidate
        return loaded.primary

    def infer(
        self,
        principal: Principal,
        endpoint: str,
        request: InferRequest,
        *,
        version: str | None = None,
        key: str | None = None,
    ) -> InferResponse:
        started = time.perf_counter()
        loaded = self.authorise(principal, endpoint)
        if request.id is None:
            request = request.model_copy(update={"id": uuid.uuid4().hex})
        model = self._choose(loaded, endpoint, key or request.id)
        return self._infer(loaded, model, endpoint, request, version, started=started)

    def _infer(
        self,
        loaded: _Loaded,
        model: _Model,
        endpoint: str,
        request: InferRequest,
        version: str | None = None,
        *,
        started: float,
        source: str = "http",
        lenient: bool = False,
        sink: Callable[[Scored], None] | None = None,
    ) -> InferResponse:
        """One request on one snapshot of the endpoint (a swap meanwhile does not mix),
        logged under ``request.id``. ``lenient``: inputs the model does not take are
        ignored (records carry every column; a shadow may take fewer inputs)."""
        rev = loaded.revision
        if version is not None and version != str(model.detail.version):
            raise ValidationFailed(
                f"endpoint {endpoint} serves version {model.detail.version} of "
                f"{model.detail.name}, not {version}",
                expected=str(model.detail.version),
                found=version,
            )
        feeds, rows = self._feeds(model.detail, _only(request, model) if lenient else request)
        wanted = self._wanted_outputs(model.detail, request)
        outputs = model.runner.session.run(None, feeds)
        answered = self._outputs(model.detail, outputs, rows)
        response = InferResponse(
            model_name=endpoint,
            model_version=str(model.detail.version),
            id=request.id,
            outputs=answered if wanted is None else [o for o in answered if o.name in wanted],
            parameters={"model": model.ref, "revision": rev.revision},
        )
        done = time.perf_counter()
        request_id = str(request.id)
        log = sink or self.log.add
        log(
            Scored(
                endpoint,
                request_id,
                "primary",
                rev.revision,
                model.plan,
                source,
                time.time(),
                (done - started) * 1e3,
                feeds,
                outputs,
                rows,
            )
        )
        shadow = loaded.candidate
        if rev.strategy == "shadow" and shadow is not None:
            # the shadow's answer is computed, logged for comparison and never returned
            try:
                s_feeds, _ = self._feeds(shadow.detail, _only(request, shadow))
                s_out = shadow.runner.session.run(None, s_feeds)
            except Exception:  # a shadow's failure never reaches the caller
                self._requests.labels(endpoint, "shadow_error").inc()
            else:
                log(
                    Scored(
                        endpoint,
                        request_id,
                        "shadow",
                        rev.revision,
                        shadow.plan,
                        source,
                        time.time(),
                        (time.perf_counter() - done) * 1e3,
                        s_feeds,
                        s_out,
                        rows,
                    )
                )
        return response

    def predict_records(
        self,
        principal: Principal,
        endpoint: str,
        records: list[dict[str, Any]],
        *,
        key: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """The convenience form: JSON records (column → value) in, one prediction per
        record out (label and, for classifiers, class probabilities)."""
        started = time.perf_counter()
        loaded = self.authorise(principal, endpoint)
        request_id = request_id or uuid.uuid4().hex
        model = self._choose(loaded, endpoint, key or request_id)
        request = self._records_request(loaded, model, records, request_id)
        res = self._infer(loaded, model, endpoint, request, started=started, lenient=True)
        return self._records_answer(endpoint, model, res)

    @staticmethod
    def _records_request(
        loaded: _Loaded, model: _Model, records: list[dict[str, Any]], request_id: str
    ) -> InferRequest:
        if not records:
            raise ValidationFailed("records: expected at least one record")
        if not all(isinstance(r, dict) for r in records):
            raise ValidationFailed("records: expected a list of objects (column -> value)")
        specs = {i["name"]: i for i in model.detail.inputs}
        if loaded.revision.strategy == "shadow" and loaded.candidate is not None:
            for extra in loaded.candidate.detail.inputs:  # the shadow's too (it may need more)
                specs.setdefault(extra["name"], extra)
        inputs = []
        for spec in specs.values():
            column = spec.get("column", spec["name"])
            missing = [i for i, r in enumerate(records) if column not in r]
            if missing:
                raise ValidationFailed(
                    f"record {missing[0]}: missing field {column!r} (input {spec['name']})",
                    input=spec["name"],
                    record=missing[0],
                )
            values = [_coerce(r[column], spec["datatype"]) for r in records]
            inputs.append(
                InferInput(
                    name=spec["name"],
                    shape=[len(records), 1],
                    datatype=spec["datatype"],
                    data=values,
                )
            )
        return InferRequest(id=request_id, inputs=inputs)

    @staticmethod
    def _records_answer(endpoint: str, model: _Model, res: InferResponse) -> dict[str, Any]:
        labels = res.outputs[0].data
        probs = res.outputs[1].data if len(res.outputs) > 1 else None
        classes = model.detail.classes
        out = []
        for i, label in enumerate(labels):
            item: dict[str, Any] = {"prediction": label}
            if probs is not None and classes:
                k = len(classes)
                item["probabilities"] = {str(c): probs[i * k + j] for j, c in enumerate(classes)}
            out.append(item)
        return {
            "endpoint": endpoint,
            "request_id": res.id,
            "model": res.parameters.get("model"),
            "revision": res.parameters.get("revision"),
            "predictions": out,
        }

    def score_many(
        self,
        principal: Principal,
        endpoint: str,
        requests: list[tuple[str, Any]],
        *,
        source: str = "stream",
    ) -> list[dict[str, Any]]:
        """Score a micro-batch of requests and write their log rows before returning (the
        stream consumer acknowledges only after this and the replies are published).

        Each request is ``(request_id, body)`` with ``body`` either ``{"records": [...]}``
        (answered like ``predict``) or a v2 infer request ``{"inputs": [...]}`` (answered
        like v2 infer). The answers come back in order: the answer, or ``{"request_id",
        "error": {"error", "message"}}`` for a request that is bad input. A request id the
        log already holds is not scored again: its logged answer is returned with
        ``"duplicate": true`` (at-least-once delivery, each request scored once).
        """
        loaded = self.authorise(principal, endpoint)
        ids = [rid for rid, _ in requests if len(rid) <= MAX_REQUEST_ID]
        done = self._logged_rows(endpoint, ids)
        entries: list[Scored] = []
        answers: list[dict[str, Any]] = []
        seen: dict[str, dict[str, Any]] = {}
        for rid, body in requests:
            started = time.perf_counter()
            try:
                if len(rid) > MAX_REQUEST_ID:
                    raise ValidationFailed(
                        f"request id: at most {MAX_REQUEST_ID} characters; found {len(rid)}"
                    )
                if rid in seen:  # twice in this batch
                    answers.append({**seen[rid], "duplicate": True})
                    continue
                if rid in done:  # redelivered: the logged answer, in the form asked for
                    answer = self._answer_from_log(endpoint, rid, done[rid], body)
                    seen[rid] = answer
                    answers.append({**answer, "duplicate": True})
                    continue
                model = self._choose(loaded, endpoint, rid)
                if isinstance(body, dict) and "records" in body:
                    records = body["records"]
                    if not isinstance(records, list):
                        raise ValidationFailed("records: expected a list of objects")
                    request = self._records_request(loaded, model, records, rid)
                    res = self._infer(
                        loaded,
                        model,
                        endpoint,
                        request,
                        started=started,
                        source=source,
                        lenient=True,
                        sink=entries.append,
                    )
                    answer = self._records_answer(endpoint, model, res)
                elif isinstance(body, dict) and "inputs" in body:
                    try:
                        request = InferRequest.model_validate({**body, "id": rid})
                    except ValidationError as exc:
                        raise ValidationFailed(
                            f"not a v2 infer request: {exc.errors()[0]['msg']} at "
                            f"{'.'.join(str(x) for x in exc.errors()[0]['loc'])}"
                        ) from None
                    res = self._infer(
                        loaded,
                        model,
                        endpoint,
                        request,
                        started=started,
                        source=source,
                        sink=entries.append,
                    )
                    answer = {**res.model_dump(mode="json"), "request_id": rid}
                else:
                    raise ValidationFailed(
                        'expected a JSON object with "records" (a list of objects) or '
                        '"inputs" (v2 tensors)'
                    )
            except ValidationFailed as exc:
                self._record(endpoint, "rejected", time.perf_counter() - started)
                answers.append(
                    {"request_id": rid, "error": {"error": exc.code, "message": exc.message}}
                )
                continue
            self._record(
                endpoint,
                "ok",
                time.perf_counter() - started,
                loaded.revision.revision,
                model.ref,
            )
            seen[rid] = answer
            answers.append(answer)
        self.log.write(entries)
        return answers

    def _answer_from_log(
        self, endpoint: str, rid: str, rows: list[Prediction], body: Any
    ) -> dict[str, Any]:
        """A logged answer rebuilt in the shape a fresh one has (records or v2)."""
        model = self._model(rows[0].model)
        logged = [json.loads(p.outputs) for p in rows]
        arrays = [np.asarray([r.get(name) for r in logged]) for name in model.plan.outputs]
        res = InferResponse(
            model_name=endpoint,
            model_version=str(model.detail.version),
            id=rid,
            outputs=self._outputs(model.detail, arrays, len(rows)),
            parameters={"model": model.ref, "revision": rows[0].revision},
        )
        if isinstance(body, dict) and "records" in body:
            return self._records_answer(endpoint, model, res)
        return {**res.model_dump(mode="json"), "request_id": rid}

    def _logged_rows(self, endpoint: str, ids: list[str]) -> dict[str, list[Prediction]]:
        """The primary rows the log holds for these request ids, in row order."""
        rows: dict[str, list[Prediction]] = {}
        with self.rt.store.transaction() as s:
            for start in range(0, len(ids), 500):
                for p in s.scalars(
                    select(Prediction)
                    .where(
                        Prediction.endpoint == endpoint,
                        Prediction.role == "primary",
                        Prediction.request_id.in_(ids[start : start + 500]),
                    )
                    .order_by(Prediction.request_id, Prediction.row)
                ):
                    rows.setdefault(p.request_id, []).append(p)
            s.expunge_all()
        return rows

    @staticmethod
    def _wanted_outputs(detail: ModelDetail, request: InferRequest) -> set[str] | None:
        """The outputs a v2 request names (``None``: all of them)."""
        if not request.outputs:
            return None
        names = {str(o.get("name")) for o in request.outputs}
        have = {o["name"] for o in detail.outputs}
        unknown = sorted(names - have)
        if unknown:
            raise ValidationFailed(
                f"unknown output(s) {', '.join(unknown)}; the model gives "
                f"{', '.join(sorted(have))}",
                expected=sorted(have),
                found=sorted(names),
            )
        return names

    @staticmethod
    def _feeds(
        detail: ModelDetail, request: InferRequest
    ) -> tuple[dict[str, npt.NDArray[Any]], int]:
        given = {i.name: i for i in request.inputs}
        wanted = {i["name"]: i for i in detail.inputs}
        unknown = sorted(set(given) - set(wanted))
        if unknown:
            raise ValidationFailed(
                f"unexpected input(s) {', '.join(unknown)}; the model takes {', '.join(wanted)}",
                expected=list(wanted),
                found=list(given),
            )
        missing = [n for n in wanted if n not in given]
        if missing:
            raise ValidationFailed(
                f"missing input(s) {', '.join(missing)}; the model takes {', '.join(wanted)}",
                expected=list(wanted),
                found=list(given),
            )
        feeds: dict[str, npt.NDArray[Any]] = {}
        rows: int | None = None
        for name, spec in wanted.items():
            inp = given[name]
            if inp.datatype != spec["datatype"]:
                raise ValidationFailed(
                    f"input {name}: expected datatype {spec['datatype']}; found {inp.datatype}",
                    input=name,
                    expected=spec["datatype"],
                    found=inp.datatype,
                )
            if not inp.shape or any(d < 0 for d in inp.shape) or len(inp.shape) > 2:
                raise ValidationFailed(
                    f"input {name}: expected shape [rows] or [rows, 1]; found {inp.shape}",
                    input=name,
                )
            if len(inp.shape) == 2 and inp.shape[1] != 1:
                raise ValidationFailed(
                    f"input {name}: expected shape [rows, 1]; found {inp.shape}", input=name
                )
            n = inp.shape[0]
            if math.prod(inp.shape) != len(inp.data):
                raise ValidationFailed(
                    f"input {name}: shape {inp.shape} holds {math.prod(inp.shape)} value(s) "
                    f"but data has {len(inp.data)}",
                    input=name,
                )
            if rows is not None and n != rows:
                raise ValidationFailed(
                    f"input {name}: {n} row(s), other inputs have {rows}", input=name
                )
            rows = n
            try:
                if spec["datatype"] == "BYTES":
                    arr = np.array(["" if v is None else str(v) for v in inp.data], dtype=object)
                else:
                    values = [np.nan if v is None else v for v in inp.data]
                    arr = np.asarray(values, dtype=_DTYPES[spec["datatype"]])
            except (TypeError, ValueError) as e:
                raise ValidationFailed(
                    f"input {name}: values do not fit {spec['datatype']} ({e})", input=name
                ) from None
            feeds[name] = arr.reshape(-1, 1)
        return feeds, rows or 0

    @staticmethod
    def _outputs(detail: ModelDetail, outputs: list[Any], rows: int) -> list[InferOutput]:
        out: list[InferOutput] = []
        for spec, value in zip(detail.outputs, outputs, strict=False):
            arr = np.asarray(value)
            datatype = spec.get("datatype", "FP32")
            if arr.dtype == object:
                datatype, data = "BYTES", [str(v) for v in arr.ravel().tolist()]
            else:
                data = arr.ravel().tolist()
            out.append(
                InferOutput(name=spec["name"], shape=list(arr.shape), datatype=datatype, data=data)
            )
        return out


def input_categories(rt: Runtime, detail: ModelDetail) -> dict[str, str]:
    """Column → classification category, over the datasets the model was trained on
    (the most sensitive category wins where they disagree)."""
    rank = {"none": 0, "quasi": 1, "free_text": 2, "special": 3, "direct": 4}
    out: dict[str, str] = {}
    datasets = DatasetService(rt)
    for d in detail.lineage.get("datasets", []):
        try:
            view, _, _ = datasets.governed_view(d["ref"])
        except (StewardError, KeyError):
            continue  # an imported model's data is not in this home
        for c in view.classification:
            if rank.get(c.category, 0) > rank.get(out.get(c.column, "none"), 0):
                out[c.column] = c.category
    return out


def logged_plan(rt: Runtime, detail: ModelDetail) -> LogPlan:
    """How the prediction log stores this model's inputs (which are masked, and how)."""
    return log_plan(
        detail.ref,
        detail.inputs,
        detail.outputs,
        input_categories(rt, detail),
        rt.config.serving.log_mask,
    )


def _only(request: InferRequest, model: _Model) -> InferRequest:
    """The request with only the inputs ``model`` takes."""
    names = {i["name"] for i in model.detail.inputs}
    if all(i.name in names for i in request.inputs):
        return request
    return request.model_copy(update={"inputs": [i for i in request.inputs if i.name in names]})


def _coerce(value: Any, datatype: str) -> Any:
    """A JSON value for a numeric or text input (booleans count as 0/1 for numbers)."""
    if datatype == "BYTES":
        return value
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return value
