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

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, Field

from steward.deploy import DeployService, RevisionInfo
from steward.door import Action
from steward.errors import NotFound, ValidationFailed
from steward.kernels.routing import routes_to_candidate
from steward.policy import Principal, Resource
from steward.registry import ModelDetail, ModelService
from steward.registry.runner import OnnxRunner
from steward.runtime import Runtime

__all__ = [
    "EndpointStatus",
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "ModelMetadata",
    "ServingService",
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
        )

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
                    m = _Model(ref, detail, OnnxRunner(onnx, detail.inputs, detail.classes))
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
        loaded = self.loaded(endpoint)
        self.rt.door.check(
            principal,
            Action("endpoint.predict", Resource("Endpoint", endpoint, {"team": loaded.team})),
        )
        return loaded

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
        loaded = self.authorise(principal, endpoint)
        return self._infer(loaded, self._choose(loaded, endpoint, key), endpoint, request, version)

    def _infer(
        self,
        loaded: _Loaded,
        model: _Model,
        endpoint: str,
        request: InferRequest,
        version: str | None = None,
    ) -> InferResponse:
        """One request on one snapshot of the endpoint (a swap meanwhile does not mix)."""
        rev = loaded.revision
        if version is not None and version != str(model.detail.version):
            raise ValidationFailed(
                f"endpoint {endpoint} serves version {model.detail.version} of "
                f"{model.detail.name}, not {version}",
                expected=str(model.detail.version),
                found=version,
            )
        feeds, rows = self._feeds(model.detail, request)
        outputs = model.runner.session.run(None, feeds)
        shadow = loaded.candidate
        if rev.strategy == "shadow" and shadow is not None:
            # the shadow's answer is computed and never returned (the prediction log of a
            # later step records it for comparison)
            shadow.runner.session.run(None, self._feeds(shadow.detail, request)[0])
        return InferResponse(
            model_name=endpoint,
            model_version=str(model.detail.version),
            id=request.id,
            outputs=self._outputs(model.detail, outputs, rows),
            parameters={"model": model.ref, "revision": rev.revision},
        )

    def predict_records(
        self,
        principal: Principal,
        endpoint: str,
        records: list[dict[str, Any]],
        *,
        key: str | None = None,
    ) -> dict[str, Any]:
        """The convenience form: JSON records (column → value) in, one prediction per
        record out (label and, for classifiers, class probabilities)."""
        if not records:
            raise ValidationFailed("records: expected at least one record")
        loaded = self.authorise(principal, endpoint)
        model = self._choose(loaded, endpoint, key)
        detail = model.detail
        inputs = []
        for spec in detail.inputs:
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
        res = self._infer(loaded, model, endpoint, InferRequest(inputs=inputs))
        labels = res.outputs[0].data
        probs = res.outputs[1].data if len(res.outputs) > 1 else None
        classes = detail.classes
        out = []
        for i, label in enumerate(labels):
            item: dict[str, Any] = {"prediction": label}
            if probs is not None and classes:
                k = len(classes)
                item["probabilities"] = {str(c): probs[i * k + j] for j, c in enumerate(classes)}
            out.append(item)
        return {
            "endpoint": endpoint,
            "model": res.parameters.get("model"),
            "revision": res.parameters.get("revision"),
            "predictions": out,
        }

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


def _coerce(value: Any, datatype: str) -> Any:
    """A JSON value for a numeric or text input (booleans count as 0/1 for numbers)."""
    if datatype == "BYTES":
        return value
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return value
