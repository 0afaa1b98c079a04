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
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.deploy import DeployService
from steward.door import Action
from steward.errors import NotFound, ValidationFailed, require_count
from steward.kernels.drift import TableDrift, cusum, page_hinkley, table_drift
from steward.kernels.profile import CategoricalProfile, ColumnProfile, NumericProfile, TableProfile
from steward.monitoring.alerts import SERVICE, AlertInfo, AlertService
from steward.monitoring.performance import PerformanceReport, assess, labelled_rows, scalar
from steward.policy import Principal, Resource
from steward.registry import ModelDetail, ModelService
from steward.runtime import Runtime
from steward.serving.service import LatencyPoint, logged_plan
from steward.store import (
    Endpoint,
    MonitorCursor,
    MonitorWindow,
    Prediction,
    PredictionFeedback,
    governed_writes,
)

__all__ = [
    "ChangePointInfo",
    "ColumnVerdict",
    "FeatureDistribution",
    "LatencyPoint",
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
#: the bucket of a categorical distribution that holds the categories not shown
OTHER = "(other)"
#: most categories a categorical distribution shows (beside OTHER)
TOP = 20


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


class FeatureDistribution(BaseModel):
    """One column in the reference and in one window, side by side: each side's share of
    its values per shared bin (numeric: finite values, equal-width bins over both sides'
    range, as ``numpy.histogram``) or per category (categorical: valid values, the
    reference's most common first, then :data:`OTHER` for the rest)."""

    endpoint: str
    model: str
    minutes: int
    start: datetime
    end: datetime
    column: str
    kind: str  # numeric | categorical
    reference_rows: int
    current_rows: int
    edges: list[float] | None  # numeric: bins + 1 edges
    categories: list[str] | None  # categorical
    reference: list[float]
    current: list[float]
    reference_summary: dict[str, int | float | None]
    current_summary: dict[str, int | float | None]
    verdict: ColumnVerdict | None  # the window's drift verdict for the column


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
        """:meth:`watch` every endpoint (a failure on one is logged and alerted, the
        others go on)."""
        out: dict[str, list[WindowReport]] = {}
        for name in self._endpoints():
            try:
                out[name] = self.watch(name)
            except Exception as exc:  # one endpoint's trouble must not stop the monitor
                _log.warning("monitor: endpoint %s: %s: %s", name, type(exc).__name__, exc)
                self._alert_problems(name, None, [_problem("round", exc)])
        return out

    def watch(self, endpoint: str) -> list[WindowReport]:
        """:meth:`run` without a caller: what the server's background monitor does.

        A problem in one part of the round (reading the log, one window's evaluation,
        labels that name no class of the model, an alert rule's action) never stops the
        rest: each becomes the endpoint's ``monitoring`` alert (cleared by a round without
        one), and drift, the alert rules and their actions (a rollback) go on."""
        problems: list[dict[str, Any]] = []
        try:
            self.ingest(endpoint)
        except Exception as exc:  # windows already stored are still evaluated
            problems.append(_problem("reading the prediction log", exc))
        with self.rt.store.transaction() as s:
            latest = s.execute(
                select(MonitorWindow.model, MonitorWindow.minutes, func.max(MonitorWindow.start))
                .where(MonitorWindow.endpoint == endpoint)
                .group_by(MonitorWindow.model, MonitorWindow.minutes)
            ).all()
        reports: list[WindowReport] = []
        for m, n, st in sorted(latest):
            try:
                reports.append(self._evaluate(endpoint, m, n, st, problems))
            except Exception as exc:
                problems.append(_problem(f"the {n}-minute window of {m}", exc))
        try:
            current: str | None = DeployService(self.rt).current(endpoint)[0].primary
        except NotFound:
            current = None
        shortest = min(self.rt.config.monitoring.windows_minutes)
        target = next((r for r in reports if r.model == current and r.minutes == shortest), None)
        if target is not None:
            try:
                target.alerts = AlertService(self.rt).evaluate(endpoint, target)
            except Exception as exc:
                problems.append(_problem("the alert rules", exc))
        if current is not None:
            touched = self._alert_problems(endpoint, current, problems)
            if target is not None:
                target.alerts = [*target.alerts, *touched]
        return reports

    def _alert_problems(
        self, endpoint: str, model: str | None, problems: list[dict[str, Any]]
    ) -> list[AlertInfo]:
        """The endpoint's ``monitoring`` signal for this round (module docs of alerts)."""
        evidence = {"model": model, "problems": problems} if problems else None
        try:
            return AlertService(self.rt).monitoring_problem(endpoint, evidence)
        except Exception as exc:  # the alert itself failing: logged, the round goes on
            _log.warning("monitor: endpoint %s: no monitoring alert: %s", endpoint, exc)
            return []

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
        with self.rt.store.transaction() as s:
            win = self._window(s, endpoint, minutes, start, model)
            key = (win.model, win.minutes, win.start)
        return self._evaluate(endpoint, *key)

    def _window(
        self,
        s: Session,
        endpoint: str,
        minutes: int | None,
        start: datetime | None,
        model: str | None,
    ) -> MonitorWindow:
        """The window :meth:`report` means (default: the latest of the shortest length)."""
        minutes = minutes or self._shortest()
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
        return win

    def _shortest(self) -> int:
        return min(self.rt.config.monitoring.windows_minutes)

    def _labelled_at(self, s: Session, endpoint: str) -> datetime | None:
        """When the endpoint's newest label arrived (it may change a window's performance
        without adding rows to it)."""
        at: datetime | None = s.scalar(
            select(func.max(PredictionFeedback.at)).where(PredictionFeedback.endpoint == endpoint)
        )
        return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)

    # -- dashboard reads ---------------------------------------------------------------------
    def recent(
        self, principal: Principal, endpoint: str, *, minutes: int | None = None, limit: int = 6
    ) -> list[WindowReport]:
        """The reports of the newest ``limit`` windows of one length (default the
        shortest), any model, oldest first. A window's stored report is reused while it is
        fresh (evaluated after the window's last rows and the endpoint's last label);
        the others are evaluated again."""
        self._check(principal, endpoint)
        limit = require_count("limit", limit, 1000)
        self.ingest(endpoint)
        minutes = minutes or self._shortest()
        with self.rt.store.transaction() as s:
            wins = s.scalars(
                select(MonitorWindow)
                .where(MonitorWindow.endpoint == endpoint, MonitorWindow.minutes == minutes)
                .order_by(MonitorWindow.start.desc(), MonitorWindow.model)
                .limit(limit)
            ).all()
            labelled = self._labelled_at(s, endpoint)
            found = [
                (w.model, w.start, _stored(w, labelled))
                for w in sorted(wins, key=lambda w: (w.start, w.model))
            ]
        return [
            stored or self._evaluate(endpoint, model, minutes, start)
            for model, start, stored in found
        ]

    def latency(
        self, principal: Principal, endpoint: str, *, minutes: int | None = None, limit: int = 48
    ) -> list[LatencyPoint]:
        """Latency quantiles of the newest ``limit`` window starts of one length (default
        the shortest), oldest first, each over every model that answered in the window.
        Read from the stored latency profiles; nothing is evaluated."""
        self._check(principal, endpoint)
        limit = require_count("limit", limit, 10_000)
        self.ingest(endpoint)
        minutes = minutes or self._shortest()
        with self.rt.store.transaction() as s:
            starts = (
                select(MonitorWindow.start)
                .where(MonitorWindow.endpoint == endpoint, MonitorWindow.minutes == minutes)
                .group_by(MonitorWindow.start)
                .order_by(MonitorWindow.start.desc())
                .limit(limit)
                .subquery()
            )
            rows = s.execute(
                select(
                    MonitorWindow.start,
                    MonitorWindow.model,
                    MonitorWindow.rows,
                    MonitorWindow.latency,
                )
                .where(
                    MonitorWindow.endpoint == endpoint,
                    MonitorWindow.minutes == minutes,
                    MonitorWindow.start.in_(select(starts.c.start)),
                )
                .order_by(MonitorWindow.start, MonitorWindow.model)
            ).all()
        merged: dict[datetime, tuple[NumericProfile, int, list[str]]] = {}
        for start, model, n, latency in rows:
            profile = NumericProfile.from_dict(json.loads(latency))
            if start in merged:
                total, count, models = merged[start]
                merged[start] = (total.merge(profile), count + n, [*models, model])
            else:
                merged[start] = (profile, n, [model])
        points = []
        for start, (profile, n, models) in merged.items():
            q = profile.quantiles([0.5, 0.99]) if profile.finite else [None, None]
            points.append(
                LatencyPoint(
                    start=start,
                    end=start + timedelta(minutes=minutes),
                    rows=n,
                    p50_ms=_round(q[0]),
                    p99_ms=_round(q[1]),
                    models=models,
                )
            )
        return points

    def distribution(
        self,
        principal: Principal,
        endpoint: str,
        column: str,
        *,
        minutes: int | None = None,
        start: datetime | None = None,
        model: str | None = None,
        bins: int = 20,
    ) -> FeatureDistribution:
        """One input column (or ``"prediction"``) of one window (chosen as by
        :meth:`report`) beside the model's reference profile, with the window's drift
        verdict for it (from its stored report while fresh, else from a new evaluation)."""
        self._check(principal, endpoint)
        bins = require_count("bins", bins, 1000)
        self.ingest(endpoint)
        part = "predictions" if column == "prediction" else "features"
        with self.rt.store.transaction() as s:
            win = self._window(s, endpoint, minutes, start, model)
            key = (win.model, win.minutes, win.start)
            current = TableProfile.from_dict(json.loads(getattr(win, part)))
            stored = _stored(win, self._labelled_at(s, endpoint))
        self._detail(key[0])
        masked = self._masked[key[0]]
        if column in masked:
            raise ValidationFailed(
                f"column {column!r}: expected a column the prediction log holds as sent; "
                f"found it {masked[column]} there (personal data), so its logged values "
                "cannot be compared with the raw reference. Pick another column.",
                column=column,
                masked=masked[column],
            )
        profiles = self.registry.reference_profile(SERVICE, key[0])
        reference = TableProfile.from_dict(profiles[part])
        if column not in reference.columns:
            known = [c for c in profiles["features"].get("columns", {}) if c not in masked]
            raise NotFound(
                f"column {column!r} is not an input of {key[0]}; expected one of "
                + ", ".join(repr(c) for c in [*known, "prediction"]),
                column=column,
                columns=[*known, "prediction"],
            )
        ref = reference.columns[column]
        cur = ColumnProfile(ref.kind)
        if column in current.columns:
            cur.merge(current.columns[column])  # a kind of its own only when all null
        edges: list[float] | None = None
        categories: list[str] | None = None
        if isinstance(ref.profile, NumericProfile):
            edges, ref_shares, cur_shares = _bins(ref.numeric, cur.numeric, bins)
        elif isinstance(ref.profile, CategoricalProfile):
            categories, ref_shares, cur_shares = _categories(ref.categorical, cur.categorical)
        else:
            raise ValidationFailed(
                f"column {column!r}: expected a numeric or categorical column; found "
                f"kind {ref.kind!r}, which has no distribution to show",
                column=column,
            )
        report = stored or self._evaluate(endpoint, *key)
        if column == "prediction":
            verdict = report.prediction
        else:
            verdict = next((v for v in report.features if v.column == column), None)
        return FeatureDistribution(
            endpoint=endpoint,
            model=key[0],
            minutes=key[1],
            start=key[2],
            end=key[2] + timedelta(minutes=key[1]),
            column=column,
            kind="numeric" if edges is not None else "categorical",
            reference_rows=reference.rows,
            current_rows=current.rows,
            edges=edges,
            categories=categories,
            reference=ref_shares,
            current=cur_shares,
            reference_summary=_summary(ref),
            current_summary=_summary(cur),
            verdict=verdict,
        )

    def _evaluate(
        self,
        endpoint: str,
        model: str,
        minutes: int,
        start: datetime,
        problems: list[dict[str, Any]] | None = None,
    ) -> WindowReport:
        """Test one window (drift, performance, change points up to it) and store the
        report with it. Performance and change points are judged apart from drift: a
        problem in either is a note on the report and added to ``problems`` (labels that
        name no class of the model, once per model), and the drift verdict stands."""
        problems = [] if problems is None else problems
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
        try:
            labelled = labelled_rows(self.rt, endpoint, model=model, start=start, end=end)
            report.performance = assess(self.rt, detail, labelled)
        except Exception as exc:
            problems.append(_problem(f"performance of the {minutes}-minute window", exc))
            report.notes.append(f"performance not judged: {type(exc).__name__}: {exc}")
        perf = report.performance
        if perf is not None and perf.refused:
            _label_problem(problems, detail, perf.refused, perf.refused_examples)
            report.notes.append(
                f"{perf.refused} label(s) name no class of {model}: left out of performance"
            )
        try:
            self._change_points(report, reference)
        except Exception as exc:
            problems.append(_problem(f"change points of the {minutes}-minute window", exc))
            report.notes.append(f"change points not judged: {type(exc).__name__}: {exc}")
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
def _problem(stage: str, exc: BaseException) -> dict[str, Any]:
    """One problem of a monitoring round, as the ``monitoring`` alert's evidence holds it."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return {
        "stage": stage,
        "error": type(exc).__name__,
        "message": f"{stage}: {type(exc).__name__}: {message}"[:1000],
    }


def _label_problem(
    problems: list[dict[str, Any]], detail: ModelDetail, refused: int, examples: list[Any]
) -> None:
    """Stored labels that name no class of the model: one problem per model (the largest
    window's count), naming the labels and the classes."""
    classes = detail.classes if detail.objective != "regression" else None
    shown = ", ".join(json.dumps(x, default=str)[:40] for x in examples[:10])
    expected = (
        "finite numbers"
        if classes is None
        else "its classes " + ", ".join(json.dumps(c) for c in classes[:20])
    )
    entry = {
        "stage": "labels",
        "model": detail.ref,
        "refused": refused,
        "labels": examples[:10],
        "classes": classes,
        "message": (
            f"labels: {refused} stored label(s) of {detail.ref}'s answers name no class of the "
            f"model (found {shown}; expected {expected}); they are left out of performance. "
            "Post the right labels for those rows through the feedback API (a row's new label "
            "replaces the old one)."
        ),
    }
    for i, p in enumerate(problems):
        if p.get("stage") == "labels" and p.get("model") == detail.ref:
            if refused > int(p.get("refused", 0)):
                problems[i] = entry
            return
    problems.append(entry)


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


def _stored(w: MonitorWindow, labelled: datetime | None) -> WindowReport | None:
    """The window's stored report while it still describes the window: evaluated after
    the window's last merge (and on as many rows: a merge committed while the evaluation
    ran makes it stale too) and after the endpoint's newest label."""
    if w.report is None or w.evaluated_at is None or w.evaluated_at < w.updated_at:
        return None
    if labelled is not None and w.evaluated_at < labelled:
        return None
    try:
        report = WindowReport.model_validate_json(w.report)
    except PydanticValidationError:  # stored by a Steward with another report shape
        return None
    return report if report.rows == w.rows else None


def _bins(
    ref: NumericProfile, cur: NumericProfile, bins: int
) -> tuple[list[float], list[float], list[float]]:
    """Shared equal-width edges over both sides' range (numpy's convention for a constant
    column) and each side's share of its finite values per bin."""
    lows = [p.min for p in (ref, cur) if p.min is not None]
    highs = [p.max for p in (ref, cur) if p.max is not None]
    if not lows or not highs:
        return [], [], []
    lo, hi = min(lows), max(highs)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = [float(e) for e in np.linspace(lo, hi, bins + 1)]
    return edges, _shares(ref, edges), _shares(cur, edges)


def _shares(p: NumericProfile, edges: list[float]) -> list[float]:
    """Share of ``p``'s finite values per bin, half-open bins with the last closed (as
    ``numpy.histogram``), from the sketch's CDF at the edges: the same estimate for any
    profile, within ``pmf_error`` of the exact shares."""
    if not p.finite:
        return [0.0] * (len(edges) - 1)
    below = p.sketch.get_cdf(edges[1:-1], inclusive=False) if len(edges) > 2 else [1.0]
    return [round(float(x), 6) for x in np.diff([0.0, *below])]


def _categories(
    ref: CategoricalProfile, cur: CategoricalProfile
) -> tuple[list[str], list[float], list[float]]:
    """The union of both sides' most common categories (the reference's order first) and
    each side's share of its valid values, with :data:`OTHER` for the rest if any."""
    rf, cf = dict(ref.frequencies(None)), dict(cur.frequencies(None))
    rn, cn = max(ref.valid, 1), max(cur.valid, 1)
    names = sorted(set(rf) | set(cf), key=lambda c: (-rf.get(c, 0) / rn, -cf.get(c, 0) / cn, c))
    names = names[:TOP]
    rs = [rf.get(c, 0) / rn for c in names]
    cs = [cf.get(c, 0) / cn for c in names]
    # past its cap a profile knows only its heavy hitters: the rest is OTHER too
    rest = (
        max(0.0, 1.0 - sum(rs)) if ref.valid else 0.0,
        max(0.0, 1.0 - sum(cs)) if cur.valid else 0.0,
    )
    if max(rest) > 1e-9:
        names, rs, cs = [*names, OTHER], [*rs, rest[0]], [*cs, rest[1]]
    return names, [round(x, 6) for x in rs], [round(x, 6) for x in cs]


def _summary(c: ColumnProfile) -> dict[str, int | float | None]:
    """Counts, and for numbers the moments and median, of one side of a distribution."""
    p = c.profile
    out: dict[str, int | float | None] = {"rows": p.count, "valid": p.valid, "nulls": p.nulls}
    if isinstance(p, NumericProfile):
        out |= {
            "mean": p.mean,
            "std": p.std,
            "min": p.min,
            "max": p.max,
            "p50": p.quantiles([0.5])[0] if p.finite else None,
        }
    elif isinstance(p, CategoricalProfile):
        out["distinct"] = p.distinct
    return out


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
