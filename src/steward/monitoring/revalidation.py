"""Revalidation: production models re-run through their gate suite on a schedule.

A model an endpoint serves (its primary) is **due** when its latest validation is older
than its team's period (``monitoring.revalidation.every_days``, per team under ``teams``;
0 turns it off). Revalidating it, as the service identity ``steward-monitor``:

1. the suite's performance is measured on **recently labelled traffic** (the log's answers
   joined with feedback labels of the last ``labelled_days``) and compared with the latest
   passing validation (:func:`steward.monitoring.performance.assess`) — unknown, and not
   held against the model, when too few labels arrived;
2. the model is **validated again** (``model.validate``, in the ledger) on the latest
   version of the holdout its last validation used — a new locked version, if one was
   registered since, is what "latest" means. On the schedule the validation is the
   service identity's; asked for by a person (``steward monitor revalidate``), it is that
   person's, decided on their permission (team-scoped) and recorded with them as the actor.

The model passes when the gates pass and the traffic is not degraded. The outcome is the
``revalidation`` signal of the endpoint: rules in ``steward.yaml`` turn a failure into an
alert (the default), a webhook, a rollback; a later pass resolves the alert.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select

from steward.deploy import DeployService
from steward.door import Action
from steward.errors import NotFound, StewardError
from steward.gates import GateService
from steward.monitoring.alerts import SERVICE, AlertInfo, AlertService
from steward.monitoring.performance import PerformanceReport, assess, labelled_rows
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.store import Endpoint, Validation

__all__ = ["RevalidationResult", "RevalidationService"]

_log = logging.getLogger("steward.monitoring.revalidation")


class RevalidationResult(BaseModel):
    endpoint: str
    model: str
    team: str | None
    at: datetime
    passed: bool
    holdout: str | None = None
    validation: str | None = None  # the new validation's id
    failed_checks: list[str] = Field(default_factory=list)
    traffic: PerformanceReport
    reasons: list[str] = Field(default_factory=list)
    alerts: list[AlertInfo] = Field(default_factory=list)


class RevalidationService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.registry = ModelService(rt)

    def _last_validation(self, ref: str) -> Validation | None:
        with self.rt.store.transaction() as s:
            _, mv = self.registry.version_row(s, ref)
            v = s.scalars(
                select(Validation)
                .where(Validation.model_version_id == mv.id)
                .order_by(Validation.created_at.desc(), Validation.id.desc())
                .limit(1)
            ).first()
            if v is not None:
                s.expunge(v)
            return v

    def due(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """(endpoint, model) pairs whose model is due for revalidation."""
        now = now or datetime.now(UTC)
        cfg = self.rt.config.monitoring.revalidation
        deploy = DeployService(self.rt)
        with self.rt.store.transaction() as s:
            names = list(s.scalars(select(Endpoint.name).order_by(Endpoint.name)))
        out = []
        for name in names:
            try:
                model = deploy.current(name)[0].primary
                detail, _ = self.registry.serving_artifact(model)
                last = self._last_validation(model)
            except NotFound:
                continue  # retired, or nothing deployed
            except Exception as exc:  # one endpoint's trouble must not stop the round
                _log.warning("revalidation: endpoint %s: %s: %s", name, type(exc).__name__, exc)
                continue
            days = cfg.days_for(detail.team or "")
            if days <= 0:
                continue
            if last is None:
                continue  # never validated: nothing to re-run (deploys need a validation)
            at = last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=UTC)
            if now - at >= timedelta(days=days):
                out.append((name, model))
        return out

    def run_due(self, now: datetime | None = None) -> list[RevalidationResult]:
        """Revalidate every model due at ``now`` (what the server's monitor does each
        round, as the service identity). A failure to run one never stops the round: it is
        logged and becomes the endpoint's ``monitoring`` alert, and the others go on."""
        results = []
        for endpoint, model in self.due(now):
            try:
                results.append(self._revalidate(endpoint, SERVICE))
            except Exception as exc:  # one endpoint's trouble must not stop the round
                message = exc.message if isinstance(exc, StewardError) else str(exc)
                _log.warning("revalidation of %s: %s: %s", endpoint, type(exc).__name__, message)
                problem = {
                    "model": model,
                    "problems": [
                        {"stage": "revalidation", "error": type(exc).__name__, "message": message}
                    ],
                }
                try:
                    AlertService(self.rt).monitoring_problem(endpoint, problem)
                except Exception as alert_exc:  # the alert store itself failing: logged
                    _log.warning("revalidation of %s: no alert: %s", endpoint, alert_exc)
        return results

    def run(self, principal: Principal, endpoint: str) -> RevalidationResult:
        """Revalidate the endpoint's model now (``steward monitor revalidate E``), as the
        caller: the new validation is theirs (``model.validate``, team-scoped, in the ledger
        with them as the actor), so they need that permission on the model. The monitor
        acts as itself only on its own schedule (:meth:`run_due`)."""
        model = DeployService(self.rt).current(endpoint)[0].primary
        detail, _ = self.registry.serving_artifact(model)
        self.rt.door.check(
            principal,
            Action(
                "model.validate",
                ModelService.policy_resource(detail),
                payload={"model": model, "endpoint": endpoint, "revalidation": True},
            ),
        )
        return self._revalidate(endpoint, principal)

    def _revalidate(self, endpoint: str, actor: Principal) -> RevalidationResult:
        cfg = self.rt.config.monitoring.revalidation
        model = DeployService(self.rt).current(endpoint)[0].primary
        detail, _ = self.registry.serving_artifact(model)
        now = datetime.now(UTC)
        labelled = labelled_rows(
            self.rt, endpoint, model=model, start=now - timedelta(days=cfg.labelled_days)
        )
        traffic = assess(self.rt, detail, labelled)
        reasons = (
            [f"labelled traffic: {r}" for r in traffic.reasons]
            if (traffic.status == "degraded")
            else []
        )
        last = self._last_validation(model)
        holdout = validation = None
        failed: list[str] = []
        gates_passed = True
        if last is None:
            reasons.append(f"{model} has no validation to repeat (no holdout is known)")
            gates_passed = False
        else:
            # the evidence configuration applies now (never a shopped suite or holdout);
            # without a pinned one, the newest version of the holdout used last time
            gates = GateService(self.rt)
            app = gates.applicable(detail)
            holdout = app.holdout or last.holdout_ref.partition("@")[0]
            suite = None if app.suite is not None else last.suite_name
            info = gates.validate(actor, model, holdout, suite=suite)
            holdout, validation, gates_passed = info.holdout, info.id, info.passed
            failed = [c.name for c in info.report.failed]
            if not info.passed:
                reasons.append(f"gates on {info.holdout} ({info.id}): failed {', '.join(failed)}")
        passed = gates_passed and traffic.status != "degraded"
        result = RevalidationResult(
            endpoint=endpoint,
            model=model,
            team=detail.team,
            at=now,
            passed=passed,
            holdout=holdout,
            validation=validation,
            failed_checks=failed,
            traffic=traffic,
            reasons=reasons,
        )
        evidence = None
        if not passed:
            evidence = {
                "model": model,
                "validation": validation,
                "holdout": holdout,
                "failed_checks": failed,
                "labelled": traffic.labelled,
                "reasons": reasons,
            }
        result.alerts = AlertService(self.rt).apply(endpoint, {"revalidation": evidence})
        return result
