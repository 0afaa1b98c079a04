"""Monitoring: live window profiles from the prediction log, tested for drift against the
model's reference profile.

**Windows.** The prediction log is read incrementally (a cursor per endpoint, the last row
id read). Each primary row is added to the window of every configured length
(``monitoring.windows_minutes``, default an hour and a day) that contains its time, per
endpoint and per model version: three mergeable profiles per window — the inputs (cast back
to the types the model was trained on, so they profile like the reference), the
predictions (for a binary classifier the probability of the positive class; for others the
label or value, as the reference holds them) and the latency. A batch's profiles are merged
into the stored ones in the same transaction that moves the cursor, so readers in several
processes each add their own rows and nothing is counted twice.

**Drift.** A window with at least ``monitoring.min_rows`` rows is compared with the model's
reference profile by :func:`steward.kernels.drift.table_drift` (Evidently's default choice
of test unless ``steward.yaml`` says otherwise, per model and per column). Inputs that the
log masks (pseudonymised or redacted personal data) cannot be compared with the raw
reference: they are reported as not tested, with that reason.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.deploy import DeployService
from steward.door import Action
from steward.errors import NotFound, ValidationFailed
from steward.kernels.drift import TableDrift, cusum, page_hinkley, table_drift
from steward.kernels.profile import NumericProfile, TableProfile
from steward.monitoring.alerts import SERVICE, AlertInfo, AlertService
from steward.monitoring.performance import PerformanceReport, assess, labelled_rows, scalar
from steward.policy import Principal, Resource
from steward.registry import ModelDetail, ModelService
from steward.runtime import Runtime
from steward.serving.service import logged_plan
from steward.store import (
    Endpoint,
    MonitorCursor,
    MonitorWindow,
    Prediction,
    governed_writes,
)

__all__ = [
    "ChangePointInfo",
    "ColumnVerdict",
    "MonitoringService",
    "WindowInfo",
    "WindowReport",
    "parse_window",
]

_log = logging.getLogger("steward.monitoring")

#: the prediction's name in change points (beside the input columns)
PREDICTION = "(prediction)"
#: log rows read per batch (one transaction each)
BATCH = 20_000


class ColumnVerdict(BaseModel):
    column: str
    kind: str
    status: str  # drifted | stable | not_tested
    method: str | None = None
    score: float | None = None  # the statistic or distance
    p_value: float | None = None
    threshold: float | None = None
    reason: str | None = None


class ChangePointInfo(BaseModel):
    """A lasting move of one column's mean over the window series (module docs)."""

    column: str
    method: str
    direction: str  # up | down: the mean rose or fell
    window_start: datetime  # the window whose score raised the alarm
    change_start: datetime  # the estimated first window of the change
    statistic: float
    latest: bool  # raised by the window this report is about


class WindowInfo(BaseModel):
    endpoint: str
    model: str
    minutes: int
    start: datetime
    end: datetime
    rows: int
    evaluated_at: datetime | None
    dataset_drift: bool | None


class WindowReport(WindowInfo):
    reference_rows: int
    tested: int
    drifted: int
    drifted_share: float | None
    drift_share: float  # the share at which the dataset drifts
    features: list[ColumnVerdict]
    prediction: ColumnVerdict | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    budget_ms: float
    too_few_rows: bool = False
    performance: PerformanceReport | None = None
    change_points: list[ChangePointInfo] = Field(default_factory=list)
    series_windows: int = 0  # windows in the change-point series
    notes: list[str] = Field(default_factory=list)
    alerts: list[AlertInfo] = Field(default_factory=list)  # opened, added to or resolved


def parse_window(text: str) -> int:
    """``60``, ``60m``, ``1h``, ``1d`` → minutes."""
    t = text.strip().lower()
    try:
        if t.endswith("d"):
            return int(t[:-1]) * 1440
        if t.endswith("h"):
            return int(t[:-1]) * 60
        return int(t[:-1] if t.endswith("m") else t)
    except ValueError:
        raise ValidationFailed(
            f"window: expected minutes, or a number with m, h or d (60m, 1h, 1d); found {text!r}",
            parameter="window",
        ) from None


@dataclass
class _Partial:
    features: TableProfile
    predictions: TableProfile
    latency: NumericProfile
    rows: int = 0


class MonitoringService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.registry = ModelService(rt)
        self._details: dict[str, ModelDetail] = {}
        self._masked: dict[str, dict[str, str]] = {}

    # -- reading the log ---------------------------------------------------------------------
    def _detail(self, ref: str) -> ModelDetail:
        d = self._details.get(ref)
        if d is None:
            d, _ = self.registry.serving_artifact(ref)
            self._details[ref] = d
            self._masked[ref] = logged_plan(self.rt, d).masked
        return d

    def ingest(self, endpoint: str | None = None, *, limit: int | None = None) -> int:
        """Read new prediction-log rows into the window profiles; returns the rows read."""
        names = [endpoint] if endpoint else self._endpoints()
        total = 0
        for name in names:
            while True:
                n = self._ingest_batch(name)
                total += n
                if n < BATCH or (limit is not None and total >= limit):
                    break
        return total

    def _endpoints(self) -> list[str]:
        with self.rt.store.transaction() as s:
            return list(s.scalars(select(Endpoint.name).order_by(Endpoint.name)))

    def _ingest_batch(self, endpoint: str) -> int:
        with governed_writes("monitor.ingest"), self.rt.store.transaction(write=True) as s:
            cursor = s.get(MonitorCursor, endpoint, with_for_update=True)
            last = cursor.last_id if cursor is not None else 0
            rows = s.execute(
                select(
                    Prediction.id,
                    Prediction.model,
                    Prediction.at,
                    Prediction.latency_ms,
                    Prediction.inputs,
                    Prediction.outputs,
                )
                .where(
                    Prediction.endpoint == endpoint,
                    Prediction.role == "primary",
                    Prediction.id > last,
                )
                .order_by(Prediction.id)
                .limit(BATCH)
            ).all()
            if not rows:
                return 0
            partials = self._profile(rows)
            for (model, minutes, start), part in partials.items():
                self._merge(s, endpoint, model, minutes, start, part)
            now = datetime.now(UTC)
            if cursor is None:
                s.add(MonitorCursor(endpoint=endpoint, last_id=rows[-1][0], updated_at=now))
            else:
                cursor.last_id, cursor.updated_at = rows[-1][0], now
            return len(rows)

    def _profile(self, rows: Sequence[Any]) -> dict[tuple[str, int, datetime], _Partial]:
        """The batch's partial profiles per (model, window length, window start)."""
        groups: dict[tuple[str, int, datetime], list[Any]] = {}
        sizes = self.rt.config.monitoring.windows_minutes
        for row in rows:
            at: datetime = row[2] if row[2].tzinfo else row[2].replace(tzinfo=UTC)
            for minutes in sizes:
                groups.setdefault((row[1], minutes, _floor(at, minutes)), []).append(row)
        out: dict[tuple[str, int, datetime], _Partial] = {}
        cache: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        for key, members in groups.items():
            detail = self._detail(key[0])
            masked = self._masked[key[0]]
            parsed = []
            for r in members:
                if r[0] not in cache:
                    cache[r[0]] = (json.loads(r[4]), json.loads(r[5]))
                parsed.append(cache[r[0]])
            features = TableProfile().update(_inputs_table(detail, masked, [p[0] for p in parsed]))
            predictions = TableProfile().update(
                pa.table({"prediction": _predictions(detail, [p[1] for p in parsed])})
            )
            latency = NumericProfile().update(pa.array([r[3] for r in members], pa.float64()))
            out[key] = _Partial(features, predictions, latency, len(members))
        return out

    @staticmethod
    def _merge(
        s: Session, endpoint: str, model: str, minutes: int, start: datetime, part: _Partial
    ) -> None:
        win = s.scalars(
            select(MonitorWindow)
            .where(
                MonitorWindow.endpoint == endpoint,
                MonitorWindow.model == model,
                MonitorWindow.minutes == minutes,
                MonitorWindow.start == start,
            )
            .with_for_update()
        ).first()
        now = datetime.now(UTC)
        if win is None:
            s.add(
                MonitorWindow(
                    endpoint=endpoint,
                    model=model,
                    minutes=minutes,
                    start=start,
                    rows=part.rows,
                    features=json.dumps(part.features.to_dict()),
                    predictions=json.dumps(part.predictions.to_dict()),
                    latency=json.dumps(part.latency.to_dict()),
                    updated_at=now,
                )
            )
            return
        win.features = json.dumps(
            TableProfile.from_dict(json.loads(win.features)).merge(part.features).to_dict()
        )
        win.predictions = json.dumps(
            TableProfile.from_dict(json.loads(win.predictions)).merge(part.predictions).to_dict()
        )
        win.latency = json.dumps(
            NumericProfile.from_dict(json.loads(win.latency)).merge(part.latency).to_dict()
        )
        win.rows += part.rows
        win.updated_at = now

    # -- evaluating --------------------------------------------------------------------------
    def _check(self, principal: Principal, endpoint: str) -> None:
        self.rt.door.check(principal, Action("system.read", Resource("System", "endpoints")))
        with self.rt.store.transaction() as s:
            if s.scalars(select(Endpoint.id).where(Endpoint.name == endpoint)).first() is None:
                raise NotFound(
                    f"endpoint {endpoint!r} not found; list them with 'steward endpoint list'",
                    endpoint=endpoint,
                )

    def windows(self, principal: Principal, endpoint: str) -> list[WindowInfo]:
        """The endpoint's windows, newest first."""
        self._check(principal, endpoint)
        with self.rt.store.transaction() as s:
            wins = s.scalars(
                select(MonitorWindow)
                .where(MonitorWindow.endpoint == endpoint)
                .order_by(MonitorWindow.start.desc(), MonitorWindow.minutes, MonitorWindow.model)
            ).all()
            return [_info(w) for w in wins]

    def run(self, principal: Principal, endpoint: str) -> list[WindowReport]:
        """Read the log, evaluate the endpoint's latest window of each length and model
        (the ones traffic is still arriving in, or arrived in last), and apply the alert
        rules to the shortest window of the model the endpoint serves now."""
        self._check(principal, endpoint)
        return self.watch(endpoint)

    def watch_all(self) -> dict[str, list[WindowReport]]:
        """:meth:`watch` every endpoint (a failure on one is logged, the others go on)."""
        out: dict[str, list[WindowReport]] = {}
        for name in self._endpoints():
            try:
                out[name] = self.watch(name)
            except Exception as exc:  # one endpoint's trouble must not stop the monitor
                _log.warning("monitor: endpoint %s: %s: %s", name, type(exc).__name__, exc)
        return out

    def watch(self, endpoint: str) -> list[WindowReport]:
        """:meth:`run` without a caller: what the server's background monitor does."""
        self.ingest(endpoint)
        with self.rt.store.transaction() as s:
            latest = s.execute(
                select(MonitorWindow.model, MonitorWindow.minutes, func.max(MonitorWindow.start))
                .where(MonitorWindow.endpoint == endpoint)
                .group_by(MonitorWindow.model, MonitorWindow.minutes)
            ).all()
        reports = [self._evaluate(endpoint, m, n, st) for m, n, st in sorted(latest)]
        try:
            current = DeployService(self.rt).current(endpoint)[0].primary
        except NotFound:
            return reports
        shortest = min(self.rt.config.monitoring.windows_minutes)
        for r in reports:
            if r.model == current and r.minutes == shortest:
                r.alerts = AlertService(self.rt).evaluate(endpoint, r)
        return reports

    def report(
        self,
        principal: Principal,
        endpoint: str,
        *,
        minutes: int | None = None,
        start: datetime | None = None,
        model: str | None = None,
    ) -> WindowReport:
        """One window's report (default: the latest of the shortest length)."""
        self._check(principal, endpoint)
        self.ingest(endpoint)
        minutes = minutes or min(self.rt.config.monitoring.windows_minutes)
        with self.rt.store.transaction() as s:
            q = select(MonitorWindow).where(
                MonitorWindow.endpoint == endpoint, MonitorWindow.minutes == minutes
            )
            if model is not None:
                q = q.where(MonitorWindow.model == model)
            if start is not None:
                q = q.where(MonitorWindow.start == _floor(start, minutes))
            win = s.scalars(q.order_by(MonitorWindow.start.desc())).first()
            if win is None:
                raise NotFound(
                    f"endpoint {endpoint} has no {minutes}-minute window"
                    + (f" starting {start.isoformat()}" if start else "")
                    + (f" for {model}" if model else "")
                    + " yet; windows fill as the prediction log is read (steward monitor run)",
                    endpoint=endpoint,
                )
            key = (win.model, win.minutes, win.start)
        return self._evaluate(endpoint, *key)

    def _evaluate(self, endpoint: str, model: str, minutes: int, start: datetime) -> WindowReport:
        """Test one window (drift, performance, change points up to it) and store the
        report with it."""
        detail = self._detail(model)
        masked = self._masked[model]
        cfg = self.rt.config.monitoring
        reference = self.registry.reference_profile(SERVICE, model)
        settings = cfg.drift_for(detail.name)
        with self.rt.store.transaction() as s:
            win = s.scalars(
                select(MonitorWindow).where(
                    MonitorWindow.endpoint == endpoint,
                    MonitorWindow.model == model,
                    MonitorWindow.minutes == minutes,
                    MonitorWindow.start == start,
                )
            ).one()
            current = TableProfile.from_dict(json.loads(win.features))
            preds = TableProfile.from_dict(json.loads(win.predictions))
            latency = NumericProfile.from_dict(json.loads(win.latency))
            ref_features = TableProfile.from_dict(reference["features"])
            ref_preds = TableProfile.from_dict(reference["predictions"])
            columns = [c for c in list(ref_features.columns) if c not in masked]
            too_few = win.rows < cfg.min_rows
            drift: TableDrift | None = None
            pred_drift: TableDrift | None = None
            if not too_few:
                drift = table_drift(ref_features, current, settings, columns=columns)
                pred_drift = table_drift(ref_preds, preds, settings, columns=["prediction"])
            features = [_verdict(c) for c in drift.columns.values()] if drift else []
            features += [
                ColumnVerdict(
                    column=c,
                    kind="masked",
                    status="not_tested",
                    reason=f"{masked[c]} in the prediction log (personal data): its values "
                    "cannot be compared with the raw reference",
                )
                for c in list(ref_features.columns)
                if c in masked
            ]
            q = latency.quantiles([0.5, 0.99]) if latency.valid else [None, None]
            report = WindowReport(
                endpoint=endpoint,
                model=model,
                minutes=minutes,
                start=start,
                end=start + timedelta(minutes=minutes),
                rows=win.rows,
                evaluated_at=datetime.now(UTC),
                dataset_drift=drift.dataset_drift if drift else None,
                reference_rows=ref_features.rows,
                tested=drift.tested if drift else 0,
                drifted=drift.drifted if drift else 0,
                drifted_share=drift.share if drift else None,
                drift_share=settings.drift_share,
                features=features,
                prediction=_verdict(pred_drift.columns["prediction"]) if pred_drift else None,
                latency_p50_ms=_round(q[0]),
                latency_p99_ms=_round(q[1]),
                budget_ms=self.rt.config.serving.budget_ms(endpoint),
                too_few_rows=too_few,
                notes=(
                    [f"{win.rows} row(s) in the window; at least {cfg.min_rows} are needed"]
                    if too_few
                    else []
                ),
            )
        end = start + timedelta(minutes=minutes)
        labelled = labelled_rows(self.rt, endpoint, model=model, start=start, end=end)
        report.performance = assess(self.rt, detail, labelled)
        self._change_points(report, reference)
        with governed_writes("monitor.evaluate"), self.rt.store.transaction(write=True) as s:
            win = s.scalars(
                select(MonitorWindow).where(
                    MonitorWindow.endpoint == endpoint,
                    MonitorWindow.model == model,
                    MonitorWindow.minutes == minutes,
                    MonitorWindow.start == start,
                )
            ).one()
            win.report = report.model_dump_json()
            win.evaluated_at = report.evaluated_at
        return report

    def _change_points(self, report: WindowReport, reference: dict[str, Any]) -> None:
        """Watch each numeric column's window mean (and the prediction's) over the series
        of the latest ``change_points.windows`` windows ending at this one (module docs)."""
        cp = self.rt.config.monitoring.change_points
        min_rows = self.rt.config.monitoring.min_rows
        with self.rt.store.transaction() as s:
            rows = s.execute(
                select(MonitorWindow.start, MonitorWindow.features, MonitorWindow.predictions)
                .where(
                    MonitorWindow.endpoint == report.endpoint,
                    MonitorWindow.model == report.model,
                    MonitorWindow.minutes == report.minutes,
                    MonitorWindow.start <= report.start,
                )
                .order_by(MonitorWindow.start.desc())
                .limit(cp.windows)
            ).all()
        rows = list(reversed(rows))
        report.series_windows = len(rows)
        masked = self._masked[report.model]
        refs = {c: v for c, v in _moments(reference["features"]).items() if c not in masked}
        if "prediction" in (pred := _moments(reference["predictions"])):
            refs[PREDICTION] = pred["prediction"]
        means: dict[str, list[tuple[float, int]]] = {c: [] for c in refs}
        for _, features, predictions in rows:
            now = _moments(json.loads(features))
            if "prediction" in (pred := _moments(json.loads(predictions))):
                now[PREDICTION] = pred["prediction"]
            for column in refs:
                mean, _, n = now.get(column, (math.nan, math.nan, 0))
                means[column].append((mean, n) if n >= min_rows else (math.nan, 0))
        series: dict[str, list[float]] = {}
        for column, window_means in means.items():
            base = [(m, n) for m, n in window_means[: cp.warmup] if n]
            sd = refs[column][1]
            if len(base) < cp.warmup or sd <= 0:
                continue  # too short a series to know the endpoint's own level
            level = sum(m * n for m, n in base) / sum(n for _, n in base)
            series[column] = [
                (m - level) / max(sd / math.sqrt(n), cp.min_effect * sd) if n else math.nan
                for m, n in window_means
            ]
        last = len(rows) - 1
        for column, values in sorted(series.items()):
            if cp.method == "page_hinkley":
                found = page_hinkley(values, delta=cp.k, threshold=cp.h, target=0.0, scale=1.0)
            else:
                found = cusum(values, k=cp.k, h=cp.h, target=0.0, scale=1.0)
            for a in found.alarms:
                report.change_points.append(
                    ChangePointInfo(
                        column=column,
                        method=cp.method,
                        direction=a.direction,
                        window_start=rows[a.index][0],
                        change_start=rows[a.start][0],
                        statistic=round(float(a.statistic), 4),
                        latest=a.index == last,
                    )
                )


# -- helpers ---------------------------------------------------------------------------------
def _floor(at: datetime, minutes: int) -> datetime:
    at = at.astimezone(UTC)
    epoch = int(at.timestamp()) // 60
    return datetime.fromtimestamp((epoch - epoch % minutes) * 60, UTC)


def _moments(profile: dict[str, Any]) -> dict[str, tuple[float, float, int]]:
    """(mean, standard deviation, values) of each numeric column of a stored profile,
    read from its state without decoding the sketches."""
    out = {}
    for name, col in profile.get("columns", {}).items():
        state = col.get("state", {})
        n = int(state.get("n", 0)) if state.get("type") == "numeric" else 0
        if n >= 2:
            sd = math.sqrt(max(float(state["m2"]), 0.0) / (n - 1))
            out[name] = (float(state["mean"]), sd, n)
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def _info(w: MonitorWindow) -> WindowInfo:
    report = json.loads(w.report) if w.report else {}
    return WindowInfo(
        endpoint=w.endpoint,
        model=w.model,
        minutes=w.minutes,
        start=w.start,
        end=w.start + timedelta(minutes=w.minutes),
        rows=w.rows,
        evaluated_at=w.evaluated_at,
        dataset_drift=report.get("dataset_drift"),
    )


def _verdict(c: Any) -> ColumnVerdict:
    t = c.test
    return ColumnVerdict(
        column=c.column,
        kind=c.kind,
        status=c.status,
        method=t.method if t else None,
        score=None if t is None or t.statistic is None else float(t.statistic),
        p_value=None if t is None or t.p_value is None else float(t.p_value),
        threshold=None if t is None else float(t.threshold),
        reason=c.reason,
    )


_ARROW = {
    "double": pa.float64(),
    "float": pa.float32(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "large_string": pa.string(),
}


def _inputs_table(
    detail: ModelDetail, masked: dict[str, str], rows: list[dict[str, Any]]
) -> pa.Table:
    """The logged inputs as the training table had them (same columns, same types)."""
    arrays: dict[str, pa.Array] = {}
    for spec in detail.inputs:
        column = str(spec.get("column", spec["name"]))
        if column in masked:
            continue
        values = [r.get(column) for r in rows]
        target = _ARROW.get(str(spec.get("arrow_type", "")))
        if target == pa.bool_():
            arrays[column] = pa.array([None if v is None else bool(v) for v in values])
        elif target is not None and pa.types.is_string(target):
            arrays[column] = pa.array([None if v is None else str(v) for v in values])
        elif target is not None:
            arrays[column] = pa.array(values, pa.float64()).cast(target, safe=False)
        else:
            arrays[column] = pa.array(values)
    return pa.table(arrays)


def _predictions(detail: ModelDetail, outputs: list[dict[str, Any]]) -> pa.Array:
    """The prediction column as the reference profile holds it (see the module docs)."""
    names = [o["name"] for o in detail.outputs]
    if detail.objective == "binary" and len(names) > 1:
        probs = np.asarray([o.get(names[1]) for o in outputs], dtype=np.float64)
        probs = probs.reshape(len(outputs), -1)
        total = probs.sum(axis=1, keepdims=True)
        return pa.array((probs / np.where(total > 0, total, 1.0))[:, 1])
    first = [scalar(o.get(names[0])) for o in outputs]
    if detail.objective == "regression":
        return pa.array(first, pa.float64())
    return pa.array(first)
