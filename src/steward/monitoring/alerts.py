"""Alerts: monitoring signals that rules in ``steward.yaml`` turn into actions.

A window's report gives signals (dataset drift, prediction drift, a drifted feature, p99
over the latency budget, error or rejection rate over a rule's threshold). Each rule that
names an endpoint's signal either **fires** (the signal shows), **clears** (it was tested
and does not show) or says nothing (the window was too small to test). A firing rule opens
an alert, or adds to the open (or acknowledged) one with the same key (endpoint, rule,
signal): alerts de-duplicate. Its other actions run once per alert: a webhook POST, a
rollback of the endpoint to its previous revision, a retraining job with the model's spec.
A clearing rule resolves its alert.

Each time a rule fires is an **occurrence** (``alert_occurrences``): its evidence is kept as
it was then, never overwritten by the next one, and each automatic action records the
occurrence that triggered it: the occurrence's id is in the action's ledger payload, and the
occurrence keeps that payload, its hash and the ledger entry's seq (``steward alert show``).
The automatic rollback goes to the last known good revision, never re-introduces a model
rolled back within ``monitoring.flap_guard_hours``, and when there is no such revision
leaves the endpoint alone and says so (:meth:`steward.deploy.DeployService.rollback_from`).

Opening and resolving alerts, rollbacks and retraining jobs are governed actions of the
service identity ``steward-monitor`` (see ``policy/pack/service.cedar``), so each is in
the ledger with the evidence that triggered it. People acknowledge and resolve alerts as
``alert.acknowledge`` / ``alert.resolve``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.config import AlertRule
from steward.deploy import DeployService, NoSafeRevision
from steward.door import Action
from steward.errors import Conflict, NotFound, StewardError, ValidationFailed
from steward.policy import Principal, Resource
from steward.policy.entities import SERVICE_USER
from steward.runtime import Runtime
from steward.store import Alert, AlertOccurrence, AuditEntry, EndpointCount, governed_writes
from steward.training import TrainingService

__all__ = ["SERVICE", "AlertDetail", "AlertInfo", "AlertService", "OccurrenceInfo", "signals"]

SERVICE = Principal(SERVICE_USER)
_log = logging.getLogger("steward.monitoring.alerts")
STATES = ("open", "acknowledged", "resolved")
#: the rule of the ``monitoring`` signal when steward.yaml names none: a problem in an
#: endpoint's monitoring round (see AlertService.monitoring_problem) always alerts
MONITORING_RULE = AlertRule(name="monitoring", signal="monitoring", severity="warning")
_MAX_ID = 2**31  # alert ids are 32-bit integers: a larger one names no alert
#: signals that are events, not states: their alerts stay until someone resolves them
EVENT_SIGNALS = frozenset({"change_point", "cost_anomaly"})


class AlertInfo(BaseModel):
    id: int
    endpoint: str  # "" for a team's alert
    team: str | None = None
    rule: str
    signal: str
    severity: str
    state: str
    count: int
    message: str
    evidence: dict[str, Any]
    actions: list[dict[str, Any]]
    opened_at: datetime
    updated_at: datetime
    acknowledged_by: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class OccurrenceInfo(BaseModel):
    """One time the alert's signal was seen: its evidence then, and the automatic actions
    it triggered (with ``occurrence``, ``payload_hash`` and ``ledger_seq``: the link to the
    action's ledger entry, whose payload names this occurrence's id)."""

    id: int
    alert: int
    number: int
    message: str
    evidence: dict[str, Any]
    actions: list[dict[str, Any]]
    observed_at: datetime


class AlertDetail(AlertInfo):
    """An alert with every occurrence, oldest first."""

    occurrences: list[OccurrenceInfo]


def _occurrence(o: AlertOccurrence) -> OccurrenceInfo:
    return OccurrenceInfo(
        id=o.id,
        alert=o.alert_id,
        number=o.number,
        message=o.message,
        evidence=json.loads(o.evidence),
        actions=json.loads(o.actions),
        observed_at=o.observed_at,
    )


def _info(a: Alert) -> AlertInfo:
    return AlertInfo(
        id=a.id,
        endpoint=a.endpoint,
        team=a.team,
        rule=a.rule,
        signal=a.signal,
        severity=a.severity,
        state=a.state,
        count=a.count,
        message=a.message,
        evidence=json.loads(a.evidence),
        actions=json.loads(a.actions),
        opened_at=a.opened_at,
        updated_at=a.updated_at,
        acknowledged_by=a.acknowledged_by,
        resolved_by=a.resolved_by,
        resolved_at=a.resolved_at,
    )


def signals(report: Any, counts: dict[str, int]) -> dict[str, dict[str, Any] | None]:
    """Signal → evidence (it shows) or None (tested, it does not); signals that could not
    be tested (a window too small) are left out."""
    window = {
        "model": report.model,
        "window_start": report.start.isoformat(),
        "window_minutes": report.minutes,
        "rows": report.rows,
    }
    out: dict[str, dict[str, Any] | None] = {}
    if not report.too_few_rows:
        drifted = [
            {"column": f.column, "method": f.method, "score": f.score, "threshold": f.threshold}
            for f in report.features
            if f.status == "drifted"
        ]
        out["dataset_drift"] = (
            {**window, "drifted_share": report.drifted_share, "drifted": drifted}
            if report.dataset_drift
            else None
        )
        out["feature_drift"] = {**window, "drifted": drifted} if drifted else None
        p = report.prediction
        out["prediction_drift"] = (
            {**window, "method": p.method, "score": p.score, "threshold": p.threshold}
            if p is not None and p.status == "drifted"
            else None
        )
    perf = getattr(report, "performance", None)
    if perf is not None and perf.status != "unknown":
        out["performance"] = (
            {
                **window,
                "labelled": perf.labelled,
                "validation": perf.validation,
                "reasons": perf.reasons,
                "metrics": [m.model_dump(mode="json") for m in perf.metrics],
            }
            if perf.status == "degraded"
            else None
        )
    latest = [c for c in getattr(report, "change_points", []) if c.latest]
    if latest:
        out["change_point"] = {
            **window,
            "columns": [
                {
                    "column": c.column,
                    "method": c.method,
                    "change_start": c.change_start.isoformat(),
                    "statistic": c.statistic,
                }
                for c in latest
            ],
        }
    if report.latency_p99_ms is not None:
        out["latency"] = (
            {**window, "p99_ms": report.latency_p99_ms, "budget_ms": report.budget_ms}
            if report.latency_p99_ms > report.budget_ms
            else None
        )
    total = sum(counts.values())
    if total:
        out["error_rate"] = {**window, "errors": counts.get("error", 0), "requests": total}
        out["rejected_share"] = {
            **window,
            "rejected": counts.get("rejected", 0),
            "requests": total,
        }
    return out


def _fires(rule: AlertRule, evidence: dict[str, Any] | None) -> bool:
    if evidence is None:
        return False
    if rule.signal == "error_rate":
        return bool(evidence["errors"] / evidence["requests"] > (rule.threshold or 0.05))
    if rule.signal == "rejected_share":
        return bool(evidence["rejected"] / evidence["requests"] > (rule.threshold or 0.05))
    return True


def _message(rule: AlertRule, endpoint: str, ev: dict[str, Any]) -> str:
    where = f"endpoint {endpoint} ({ev.get('model')}, {ev.get('window_minutes')}-minute window)"
    match rule.signal:
        case "budget":
            return (
                f"team {ev['team']}: ${ev['spent']:,.2f} spent of its ${ev['budget']:,.2f} "
                f"budget for {ev['month']} ({ev['share']:.0%}; alert at {ev['soft_share']:.0%})"
                + (
                    f"; at the forecast rate it is crossed on {ev['crossing_day']}"
                    if ev.get("crossing_day")
                    else ""
                )
            )
        case "cost_anomaly":
            who = f"endpoint {endpoint}" if endpoint else f"team {ev.get('team')}"
            pct = ev.get("impact_pct")
            return (
                f"{who}: spend on {ev['day']} was ${ev['value']:,.2f}, expected "
                f"${ev['expected']:,.2f} (${ev['lower']:,.2f}–${ev['upper']:,.2f}): "
                f"{'+' if ev['impact'] >= 0 else '-'}${abs(ev['impact']):,.2f}"
                + (f" ({pct:+.0%})" if pct is not None else "")
            )
        case "dataset_drift":
            cols = ", ".join(d["column"] for d in ev.get("drifted", []))
            return f"{where}: dataset drift, {ev.get('drifted_share', 0):.0%} of features ({cols})"
        case "feature_drift":
            return f"{where}: drift in " + ", ".join(d["column"] for d in ev.get("drifted", []))
        case "prediction_drift":
            return f"{where}: predictions drifted ({ev.get('method')} {ev.get('score'):.4g})"
        case "performance":
            return f"{where}: performance degraded on {ev['labelled']} labelled rows: " + "; ".join(
                ev.get("reasons", [])
            )
        case "change_point":
            cols = ", ".join(
                f"{c['column']} since {c['change_start'][:16]}" for c in ev.get("columns", [])
            )
            return f"{where}: drift score rising over the window series ({cols})"
        case "monitoring":
            return (
                f"endpoint {endpoint}: monitoring of {ev.get('model')} hit a problem (the rest "
                "of the round went on): "
                + "; ".join(str(p.get("message", "")) for p in ev.get("problems", []))
            )
        case "revalidation":
            return (
                f"endpoint {endpoint}: {ev.get('model')} no longer passes its gates: "
                + "; ".join(ev.get("reasons", []))
            )
        case "latency":
            return f"{where}: p99 {ev['p99_ms']} ms over the {ev['budget_ms']:g} ms budget"
        case "error_rate":
            return f"{where}: {ev['errors']} error(s) in {ev['requests']} requests"
        case _:
            return f"{where}: {ev['rejected']} rejected input(s) in {ev['requests']} requests"


class AlertService:
    def __init__(self, rt: Runtime, *, webhook_timeout: float = 5.0) -> None:
        self.rt = rt
        self.webhook_timeout = webhook_timeout

    def counts(self, endpoint: str, start: datetime, end: datetime) -> dict[str, int]:
        with self.rt.store.transaction() as s:
            rows = s.execute(
                select(EndpointCount.outcome, func.sum(EndpointCount.count))
                .where(
                    EndpointCount.endpoint == endpoint,
                    EndpointCount.minute >= start,
                    EndpointCount.minute < end,
                )
                .group_by(EndpointCount.outcome)
            ).all()
        return {o: int(n) for o, n in rows}

    # -- rules -------------------------------------------------------------------------------
    def evaluate(
        self, endpoint: str, report: Any, *, now: datetime | None = None
    ) -> list[AlertInfo]:
        """Apply every rule naming this endpoint to one window's report; returns the
        alerts opened, added to or resolved."""
        return self.apply(
            endpoint, signals(report, self.counts(endpoint, report.start, report.end)), now=now
        )

    def apply(
        self,
        endpoint: str,
        found: dict[str, dict[str, Any] | None],
        *,
        team: str | None = None,
        now: datetime | None = None,
    ) -> list[AlertInfo]:
        """Apply the rules to signals found on an endpoint (or, with ``team`` and an empty
        endpoint, on a team): signal → evidence (it shows) or None (tested, it does not); a
        signal left out was not tested. ``now`` (default: the clock) dates occurrences and
        automatic actions, and is what the rollback's flap guard counts back from."""
        touched: list[AlertInfo] = []
        for rule in self.rt.config.monitoring.rules:
            if endpoint and rule.endpoints and endpoint not in rule.endpoints:
                continue
            if team is not None and not endpoint and rule.teams and team not in rule.teams:
                continue
            if rule.signal not in found:
                continue  # not tested in this window: neither fires nor clears
            evidence = found[rule.signal]
            if _fires(rule, evidence):
                assert evidence is not None
                touched.append(self._fire(endpoint, rule, evidence, team, now))
            elif rule.signal not in EVENT_SIGNALS:
                cleared = self._clear(endpoint, rule, team)
                if cleared is not None:
                    touched.append(cleared)
        return touched

    def monitoring_problem(self, endpoint: str, evidence: dict[str, Any] | None) -> list[AlertInfo]:
        """The ``monitoring`` signal: a problem that kept part of an endpoint's round from
        being judged (labels that name no class, an error in one evaluation), or None when
        the round had none. It always alerts: by the rules naming the signal, or else by
        the built-in rule :data:`MONITORING_RULE`."""
        rules = [
            r
            for r in self.rt.config.monitoring.rules
            if r.signal == "monitoring" and (not r.endpoints or endpoint in r.endpoints)
        ] or [MONITORING_RULE]
        touched: list[AlertInfo] = []
        for rule in rules:
            if evidence is not None:
                touched.append(self._fire(endpoint, rule, evidence))
            else:
                cleared = self._clear(endpoint, rule)
                if cleared is not None:
                    touched.append(cleared)
        return touched

    def _key(self, endpoint: str, rule: AlertRule, team: str | None = None) -> str:
        return f"{endpoint or 'team:' + str(team)}|{rule.name}|{rule.signal}"

    def _resource(self, endpoint: str, team: str | None) -> Resource:
        if not endpoint:
            return Resource("Team", str(team))
        return DeployService(self.rt).endpoint_resource(endpoint)

    def _live(self, s: Session, key: str) -> Alert | None:
        return s.scalars(
            select(Alert)
            .where(Alert.key == key, Alert.state.in_(("open", "acknowledged")))
            .order_by(Alert.id.desc())
        ).first()

    def _fire(
        self,
        endpoint: str,
        rule: AlertRule,
        evidence: dict[str, Any],
        team: str | None = None,
        now: datetime | None = None,
    ) -> AlertInfo:
        key = self._key(endpoint, rule, team)
        now = (now or datetime.now(UTC)).astimezone(UTC)
        message = _message(rule, endpoint, evidence)
        with self.rt.store.transaction() as s:
            live = self._live(s, key)
            alert_id = live.id if live is not None else None
        if alert_id is not None:
            # the same alert, seen again: counted, not a new ledger entry; its evidence is
            # a new occurrence (the alert row shows the last one)
            with governed_writes("alert.update"), self.rt.store.transaction(write=True) as s:
                a = s.get(Alert, alert_id)
                assert a is not None
                a.count += 1
                a.evidence = json.dumps(evidence)
                a.message = message
                a.updated_at = now
                occurrence = self._occur(s, a, now)
        else:
            action = Action(
                "alert.open",
                self._resource(endpoint, team),
                payload={"rule": rule.name, "signal": rule.signal, "evidence": evidence},
            )

            def do(s: Session) -> tuple[int, int]:
                a = Alert(
                    key=key,
                    endpoint=endpoint,
                    team=team if not endpoint else None,
                    rule=rule.name,
                    signal=rule.signal,
                    severity=rule.severity,
                    state="open",
                    count=1,
                    message=message,
                    evidence=json.dumps(evidence),
                    actions=json.dumps([]),
                    opened_at=now,
                    updated_at=now,
                )
                s.add(a)
                s.flush()
                return a.id, self._occur(s, a, now)

            alert_id, occurrence = self.rt.door.run(SERVICE, action, do)
        return self._act(alert_id, occurrence, endpoint, rule, evidence, now)

    def _occur(self, s: Session, a: Alert, now: datetime) -> int:
        """Keep this sighting's evidence as occurrence number ``a.count``."""
        o = AlertOccurrence(
            alert_id=a.id,
            number=a.count,
            message=a.message,
            evidence=a.evidence,
            actions=json.dumps([]),
            observed_at=now,
        )
        s.add(o)
        s.flush()
        return o.id

    def _act(
        self,
        alert_id: int,
        occurrence: int,
        endpoint: str,
        rule: AlertRule,
        evidence: dict[str, Any],
        now: datetime,
    ) -> AlertInfo:
        """The rule's other actions, each once per alert; each names the occurrence that
        triggered it."""
        with self.rt.store.transaction() as s:
            a = s.get(Alert, alert_id)
            assert a is not None
            done = {x["action"] for x in json.loads(a.actions)}
            info = _info(a)
        taken: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []  # the same, with the ledger payloads
        for name in rule.actions:
            if name == "alert" or name in done:
                continue
            at = now.isoformat()
            base = {"action": name, "at": at, "occurrence": occurrence}
            try:
                result = self._do(name, alert_id, occurrence, endpoint, rule, evidence, info, now)
                payload = result.pop("payload", None)
                taken.append({**base, "ok": True, **result})
                kept.append({**taken[-1], **({"payload": payload} if payload else {})})
            except (StewardError, httpx.HTTPError) as exc:
                message = exc.message if isinstance(exc, StewardError) else str(exc)
                _log.warning("alert %s: %s failed: %s", alert_id, name, message)
                failed: dict[str, Any] = {**base, "ok": False, "error": message}
                if isinstance(exc, StewardError):
                    failed["code"] = exc.code
                if isinstance(exc, NoSafeRevision):
                    digest = str(exc.details.get("payload_hash", ""))
                    failed["payload_hash"] = digest
                    failed["ledger_seq"] = self._ledger_seq(digest, "deny")
                    failed["skipped"] = exc.details.get("skipped", [])
                taken.append(failed)
                kept.append(failed)
        if taken:
            with governed_writes("alert.update"), self.rt.store.transaction(write=True) as s:
                a = s.get(Alert, alert_id)
                assert a is not None
                a.actions = json.dumps(json.loads(a.actions) + taken)
                o = s.get(AlertOccurrence, occurrence)
                assert o is not None
                o.actions = json.dumps(json.loads(o.actions) + kept)
                info = _info(a)
        return info

    def _ledger_seq(self, payload_hash: str, decision: str) -> int | None:
        """The seq of the ``deployment.rollback`` entry recorded with this payload hash."""
        with self.rt.store.transaction() as s:
            return s.scalars(
                select(AuditEntry.seq)
                .where(
                    AuditEntry.action == "deployment.rollback",
                    AuditEntry.payload_hash == payload_hash,
                    AuditEntry.decision == decision,
                )
                .order_by(AuditEntry.seq.desc())
            ).first()

    def _do(
        self,
        name: str,
        alert_id: int,
        occurrence: int,
        endpoint: str,
        rule: AlertRule,
        evidence: dict[str, Any],
        alert: AlertInfo,
        now: datetime,
    ) -> dict[str, Any]:
        if name in ("rollback", "retrain") and not endpoint:
            raise ValidationFailed(f"{name}: a team's alert has no endpoint to act on")
        if name == "rollback":
            model = evidence.get("model")
            if not model:
                raise ValidationFailed(
                    f"rollback: the alert's evidence names no model to roll away from "
                    f"(signal {rule.signal})"
                )
            why = {
                **evidence,
                "alert": alert_id,
                "occurrence": occurrence,
                "rule": rule.name,
                "signal": rule.signal,
                "reason": f"automatic: alert {alert_id}, rule {rule.name}",
            }
            done = DeployService(self.rt).rollback_from(
                SERVICE, endpoint, str(model), evidence=why, now=now
            )
            rev = done.endpoint.current
            return {
                "revision": rev.revision if rev else None,
                "to": done.to,
                "away_from": model,
                "skipped": done.skipped,
                "payload_hash": done.payload_hash,
                "ledger_seq": self._ledger_seq(done.payload_hash, "allow"),
                "payload": done.payload,
            }
        if name == "retrain":
            detail = self._model_spec(str(evidence.get("model", "")))
            job = TrainingService(self.rt).submit(SERVICE, detail)
            return {"job": job.id}
        if name == "webhook":
            assert rule.webhook is not None
            resp = httpx.post(
                rule.webhook, json=alert.model_dump(mode="json"), timeout=self.webhook_timeout
            )
            resp.raise_for_status()
            return {"status": resp.status_code}
        raise ValidationFailed(f"unknown action {name!r}")  # the config refuses these

    def _model_spec(self, ref: str) -> dict[str, Any]:
        from steward.registry import ModelService

        if not ref:
            raise ValidationFailed("retrain: the alert names no model")
        detail, _ = ModelService(self.rt).serving_artifact(ref)
        spec = dict(detail.spec)
        spec.pop("seed", None)
        return spec

    def _clear(self, endpoint: str, rule: AlertRule, team: str | None = None) -> AlertInfo | None:
        key = self._key(endpoint, rule, team)
        with self.rt.store.transaction() as s:
            live = self._live(s, key)
            if live is None:
                return None
            alert_id = live.id
        return self._resolve(SERVICE, alert_id, "the signal cleared")

    # -- people ------------------------------------------------------------------------------
    def alerts(
        self,
        principal: Principal,
        *,
        endpoint: str | None = None,
        state: str | None = None,
        team: str | None = None,
        limit: int = 200,
    ) -> list[AlertInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "endpoints")))
        if state is not None and state not in STATES:
            raise ValidationFailed(
                f"state: expected one of {', '.join(STATES)}; found {state!r}",
                parameter="state",
            )
        q = select(Alert).order_by(Alert.id.desc()).limit(limit)
        if endpoint is not None:
            q = q.where(Alert.endpoint == endpoint)
        if team is not None:
            q = q.where(Alert.team == team)
        if state is not None:
            q = q.where(Alert.state == state)
        with self.rt.store.transaction() as s:
            return [_info(a) for a in s.scalars(q)]

    def alert(self, principal: Principal, alert_id: int) -> AlertDetail:
        """One alert with every occurrence's evidence and the actions each triggered."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "endpoints")))
        with self.rt.store.transaction() as s:
            a = s.get(Alert, alert_id) if 0 < alert_id < _MAX_ID else None
            if a is None:
                raise NotFound(f"alert {alert_id} not found", alert=alert_id)
            occurrences = [
                _occurrence(o)
                for o in s.scalars(
                    select(AlertOccurrence)
                    .where(AlertOccurrence.alert_id == alert_id)
                    .order_by(AlertOccurrence.number)
                )
            ]
            return AlertDetail(**_info(a).model_dump(), occurrences=occurrences)

    def _alert(self, alert_id: int) -> Alert:
        with self.rt.store.transaction() as s:
            a = s.get(Alert, alert_id) if 0 < alert_id < _MAX_ID else None
            if a is None:
                raise NotFound(f"alert {alert_id} not found", alert=alert_id)
            s.expunge(a)
            return a

    def acknowledge(self, principal: Principal, alert_id: int, note: str = "") -> AlertInfo:
        a = self._alert(alert_id)
        if a.state != "open":
            raise Conflict(f"alert {alert_id} is {a.state}; only an open alert is acknowledged")
        action = Action(
            "alert.acknowledge",
            self._resource(a.endpoint, a.team),
            payload={"alert": alert_id, "note": note},
        )

        def do(s: Session) -> AlertInfo:
            live = s.get(Alert, alert_id)
            assert live is not None
            if live.state != "open":
                raise Conflict(f"alert {alert_id} is {live.state}")
            live.state, live.acknowledged_by = "acknowledged", principal.name
            live.updated_at = datetime.now(UTC)
            return _info(live)

        return self.rt.door.run(principal, action, do)

    def resolve(self, principal: Principal, alert_id: int, note: str = "") -> AlertInfo:
        return self._resolve(principal, alert_id, note)

    def _resolve(self, principal: Principal, alert_id: int, note: str) -> AlertInfo:
        a = self._alert(alert_id)
        if a.state == "resolved":
            raise Conflict(f"alert {alert_id} is already resolved")
        action = Action(
            "alert.resolve",
            self._resource(a.endpoint, a.team),
            payload={"alert": alert_id, "note": note},
        )

        def do(s: Session) -> AlertInfo:
            live = s.get(Alert, alert_id)
            assert live is not None
            if live.state == "resolved":
                raise Conflict(f"alert {alert_id} is already resolved")
            now = datetime.now(UTC)
            live.state, live.resolved_by, live.resolved_at = "resolved", principal.name, now
            live.updated_at = now
            return _info(live)

        return self.rt.door.run(principal, action, do)
