"""Deployments: endpoints and their revisions, placed by policy, rolled back in one step.

An endpoint lives at one site. Every change is a new, immutable revision: ``direct`` (one
model serves everything), ``canary`` (the candidate gets ``percent`` of traffic, sticky per
request key: :mod:`steward.kernels.routing`) or ``shadow`` (the candidate sees a copy of
all traffic and its answers are recorded, never returned). ``deploy`` is the governed
``deployment.create`` on the model at the endpoint's site — residency, ``private-only`` and
``approved-only`` decide, and denials are recorded with their reasons; ``promote`` turns a
canary or shadow into a direct revision of the candidate; ``rollback`` makes a new revision
equal to the previous one (or to ``--to R``), and refuses to land on a revision that still
serves the model it rolls away from unless asked (``allow_same_model``).

``rollback_from`` is the automatic rollback (an alert's action): it goes back to the
**last known good** revision, the newest one that serves the alerting model in no role
(primary, canary, or shadow) and no model a rollback took off the endpoint within
``monitoring.flap_guard_hours`` (the flap guard); when there is none it does not roll back
and raises :class:`NoSafeRevision`, recorded in the ledger as a refusal. Every rollback
records the models it took off (``endpoint_rollbacks``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.audit import canonical_json, sha256_hex
from steward.door import Action
from steward.errors import Conflict, NotFound, Reason, ValidationFailed
from steward.policy import Principal, Resource
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.store import Endpoint, EndpointRevision, EndpointRollback, Model, ModelVersion

__all__ = [
    "AutoRollback",
    "DeployService",
    "EndpointInfo",
    "NoSafeRevision",
    "RevisionInfo",
    "RollbackKeepsModel",
]

Strategy = Literal["direct", "canary", "shadow"]
_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


class NoSafeRevision(Conflict):
    """An automatic rollback found no revision that serves neither the model it rolls
    away from nor a model the flap guard holds back: it did not roll back."""

    code = "no_safe_revision"


class RollbackKeepsModel(Conflict):
    """A manual rollback would land on a revision that still serves the model it rolls
    away from (pass ``allow_same_model`` to land there anyway)."""

    code = "rollback_keeps_model"


def _served(r: EndpointRevision) -> dict[int, str]:
    """Model version id → how ``r`` serves it (primary, canary, shadow). A candidate at 0%
    gets no traffic and is not served."""
    out = {r.primary_version_id: "primary"}
    if r.candidate_version_id is not None and r.percent > 0:
        out[r.candidate_version_id] = r.strategy
    return out


def _newest(r: EndpointRevision) -> int:
    """The model a rollback from ``r`` rolls away from: its candidate, or its primary."""
    if r.candidate_version_id is not None and r.percent > 0:
        return r.candidate_version_id
    return r.primary_version_id


class RevisionInfo(BaseModel):
    endpoint: str
    revision: int
    strategy: str
    primary: str
    candidate: str | None
    percent: int
    reason: str
    created_by: str
    created_at: datetime
    current: bool


class EndpointInfo(BaseModel):
    name: str
    site: str
    team: str | None
    current: RevisionInfo | None
    revisions: list[RevisionInfo]


class AutoRollback(BaseModel):
    """What an automatic rollback did: the endpoint after it, the revision it returned to,
    the revisions it passed over (and why), and the ledger payload with its hash (the link
    from the alert's occurrence to the ledger entry)."""

    endpoint: EndpointInfo
    to: int
    skipped: list[dict[str, Any]]
    payload: dict[str, Any]
    payload_hash: str


class DeployService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.registry = ModelService(rt)

    # -- lookups ---------------------------------------------------------------------------
    def _endpoint(self, s: Session, name: str, *, lock: bool = False) -> Endpoint:
        q = select(Endpoint).where(Endpoint.name == name)
        if lock and self.rt.store.dialect == "postgresql":
            q = q.with_for_update()
        ep = s.execute(q).scalar_one_or_none()
        if ep is None:
            raise NotFound(
                f"endpoint {name!r} not found; list them with 'steward endpoint list'",
                endpoint=name,
            )
        return ep

    def _revision(self, s: Session, ep: Endpoint, revision: int) -> EndpointRevision:
        r = s.execute(
            select(EndpointRevision).where(
                EndpointRevision.endpoint_id == ep.id, EndpointRevision.revision == revision
            )
        ).scalar_one_or_none()
        if r is None:
            raise NotFound(f"endpoint {ep.name} has no revision {revision}", revision=revision)
        return r

    def _ref(self, s: Session, version_id: int | None) -> str | None:
        if version_id is None:
            return None
        row = s.execute(
            select(Model.name, ModelVersion.version)
            .join(ModelVersion, ModelVersion.model_id == Model.id)
            .where(ModelVersion.id == version_id)
        ).first()
        return None if row is None else f"{row[0]}@{row[1]}"

    def _rev_info(self, s: Session, ep: Endpoint, r: EndpointRevision) -> RevisionInfo:
        return RevisionInfo(
            endpoint=ep.name,
            revision=r.revision,
            strategy=r.strategy,
            primary=self._ref(s, r.primary_version_id) or "?",
            candidate=self._ref(s, r.candidate_version_id),
            percent=r.percent,
            reason=r.reason,
            created_by=r.created_by,
            created_at=r.created_at,
            current=r.revision == ep.current_revision,
        )

    def _info(self, s: Session, ep: Endpoint) -> EndpointInfo:
        revs = list(
            s.execute(
                select(EndpointRevision)
                .where(EndpointRevision.endpoint_id == ep.id)
                .order_by(EndpointRevision.revision)
            ).scalars()
        )
        infos = [self._rev_info(s, ep, r) for r in revs]
        current = next((i for i in infos if i.current), None)
        return EndpointInfo(
            name=ep.name, site=ep.site, team=ep.team, current=current, revisions=infos
        )

    # -- deploy ----------------------------------------------------------------------------
    def deploy(
        self,
        principal: Principal,
        model_ref: str,
        *,
        endpoint: str,
        site: str | None = None,
        strategy: Strategy = "direct",
        percent: int | None = None,
    ) -> EndpointInfo:
        """Deploy ``model_ref`` to ``endpoint`` (created at ``site`` on first deploy)."""
        if not _NAME.fullmatch(endpoint):
            raise ValidationFailed(
                f"endpoint {endpoint!r}: expected lower-case letters, digits and '-', "
                "starting with a letter",
                endpoint=endpoint,
            )
        if strategy not in ("direct", "canary", "shadow"):
            raise ValidationFailed(
                f"strategy: expected direct, canary or shadow; found {strategy!r}"
            )
        if strategy == "canary" and (percent is None or not 1 <= percent <= 99):
            raise ValidationFailed(
                "a canary needs --percent between 1 and 99 (the candidate's share of traffic)",
                percent=percent,
            )
        if strategy != "canary" and percent is not None:
            raise ValidationFailed("--percent is for canaries only", strategy=strategy)
        with self.rt.store.transaction() as s:
            existing = s.execute(
                select(Endpoint).where(Endpoint.name == endpoint)
            ).scalar_one_or_none()
            where = existing.site if existing is not None else site or self.rt.config.default_site
            if existing is not None and site is not None and site != existing.site:
                raise Conflict(
                    f"endpoint {endpoint} lives at {existing.site}; deploy to another endpoint "
                    f"for {site}",
                    endpoint=endpoint,
                    site=existing.site,
                )
            if existing is None and strategy != "direct":
                raise ValidationFailed(
                    f"endpoint {endpoint} does not exist yet: its first deployment is direct",
                    strategy=strategy,
                )
        if where is None:
            raise ValidationFailed("site: none given and no default_site in steward.yaml")
        self.rt.config.site(where)
        model = self.registry.show(principal, model_ref)
        resource, team, ref = self.registry.policy_resource(model), model.team, model.ref
        action = Action(
            "deployment.create",
            resource,
            site=where,
            payload={"endpoint": endpoint, "strategy": strategy, "percent": percent, "model": ref},
        )

        def do(s: Session) -> EndpointInfo:
            ep = s.execute(select(Endpoint).where(Endpoint.name == endpoint)).scalar_one_or_none()
            now = datetime.now(UTC)
            if ep is None:
                ep = Endpoint(
                    name=endpoint,
                    site=where,
                    team=team,
                    current_revision=0,
                    created_by=principal.name,
                    created_at=now,
                )
                s.add(ep)
                s.flush()
            else:
                ep = self._endpoint(s, endpoint, lock=True)
            vid = self.registry.version_row(s, ref)[1].id
            candidate: int | None
            pct: int
            if strategy == "direct":
                primary, candidate, pct = vid, None, 0
                reason = f"deploy {ref}"
            else:
                cur = self._revision(s, ep, ep.current_revision)
                if cur.primary_version_id == vid:
                    raise Conflict(f"{ref} already serves {endpoint}", endpoint=endpoint)
                primary, candidate = cur.primary_version_id, vid
                pct = (percent or 0) if strategy == "canary" else 100
                reason = f"{strategy} {ref}" + (f" at {pct}%" if strategy == "canary" else "")
            self._add_revision(s, ep, strategy, primary, candidate, pct, reason, principal)
            s.flush()
            return self._info(s, ep)

        return self.rt.door.run(principal, action, do)

    def _add_revision(
        self,
        s: Session,
        ep: Endpoint,
        strategy: str,
        primary: int,
        candidate: int | None,
        percent: int,
        reason: str,
        principal: Principal,
        now: datetime | None = None,
    ) -> None:
        last = s.execute(
            select(EndpointRevision.revision)
            .where(EndpointRevision.endpoint_id == ep.id)
            .order_by(EndpointRevision.revision.desc())
            .limit(1)
        ).scalar_one_or_none()
        rev = (last or 0) + 1
        s.add(
            EndpointRevision(
                endpoint_id=ep.id,
                revision=rev,
                strategy=strategy,
                primary_version_id=primary,
                candidate_version_id=candidate,
                percent=percent,
                reason=reason,
                created_by=principal.name,
                created_at=now or datetime.now(UTC),
            )
        )
        ep.current_revision = rev

    def endpoint_resource(self, name: str) -> Resource:
        """The endpoint as a policy resource (404 for an unknown one)."""
        with self.rt.store.transaction() as s:
            ep = self._endpoint(s, name)
            return Resource("Endpoint", ep.name, {"team": ep.team})

    # -- promote and roll back -------------------------------------------------------------
    def promote(self, principal: Principal, endpoint: str) -> EndpointInfo:
        """Make a canary's or shadow's candidate the endpoint's only model."""
        action = Action(
            "deployment.promote", self.endpoint_resource(endpoint), payload={"endpoint": endpoint}
        )

        def do(s: Session) -> EndpointInfo:
            ep = self._endpoint(s, endpoint, lock=True)
            cur = self._revision(s, ep, ep.current_revision)
            if cur.candidate_version_id is None:
                raise Conflict(
                    f"endpoint {endpoint} has no canary or shadow to promote (revision "
                    f"{cur.revision} is {cur.strategy})",
                    endpoint=endpoint,
                )
            ref = self._ref(s, cur.candidate_version_id)
            self._add_revision(
                s, ep, "direct", cur.candidate_version_id, None, 0, f"promote {ref}", principal
            )
            s.flush()
            return self._info(s, ep)

        return self.rt.door.run(principal, action, do)

    def rollback(
        self,
        principal: Principal,
        endpoint: str,
        *,
        to: int | None = None,
        evidence: dict[str, Any] | None = None,
        allow_same_model: bool = False,
        now: datetime | None = None,
    ) -> EndpointInfo:
        """A new revision equal to the previous one (or to revision ``to``). It refuses
        (:class:`RollbackKeepsModel`) to land on a revision that still serves the model it
        rolls away from (the current candidate, or else the current primary) unless
        ``allow_same_model``. ``evidence`` goes into the ledger entry and the reason."""
        payload: dict[str, Any] = {"endpoint": endpoint, "to": to}
        if allow_same_model:
            payload["allow_same_model"] = True
        if evidence is not None:
            payload["evidence"] = evidence
        action = Action("deployment.rollback", self.endpoint_resource(endpoint), payload=payload)

        def do(s: Session) -> EndpointInfo:
            ep = self._endpoint(s, endpoint, lock=True)
            target = to if to is not None else ep.current_revision - 1
            if target < 1:
                raise Conflict(
                    f"endpoint {endpoint} has no earlier revision to roll back to",
                    endpoint=endpoint,
                )
            if target == ep.current_revision:
                raise Conflict(f"revision {target} is already current", endpoint=endpoint)
            cur = self._revision(s, ep, ep.current_revision)
            old = self._revision(s, ep, target)
            away = _newest(cur)
            role = _served(old).get(away)
            if role is not None and not allow_same_model:
                model = self._ref(s, away)
                raise RollbackKeepsModel(
                    f"revision {target} of endpoint {endpoint} still serves {model} (as "
                    f"{role}), the model this rollback rolls away from; expected a revision "
                    "without it. Roll back further with --to R (see 'steward endpoint show "
                    f"{endpoint}'), or pass --allow-same-model to land there anyway",
                    endpoint=endpoint,
                    revision=target,
                    model=model,
                    role=role,
                )
            why = evidence.get("reason") if evidence else None
            self._roll(
                s,
                ep,
                cur,
                old,
                f"rollback to revision {target}" + (f" ({why})" if why else ""),
                principal,
                automatic=False,
                now=now or datetime.now(UTC),
            )
            s.flush()
            return self._info(s, ep)

        return self.rt.door.run(principal, action, do)

    def _roll(
        self,
        s: Session,
        ep: Endpoint,
        cur: EndpointRevision,
        old: EndpointRevision,
        reason: str,
        principal: Principal,
        *,
        automatic: bool,
        now: datetime,
    ) -> None:
        """Make ``old`` current again as a new revision, and record the models it takes
        off the endpoint (the flap guard reads them)."""
        self._add_revision(
            s,
            ep,
            old.strategy,
            old.primary_version_id,
            old.candidate_version_id,
            old.percent,
            reason,
            principal,
            now,
        )
        for vid in sorted(set(_served(cur)) - set(_served(old))):
            s.add(
                EndpointRollback(
                    endpoint_id=ep.id,
                    revision=ep.current_revision,
                    version_id=vid,
                    automatic=automatic,
                    created_by=principal.name,
                    created_at=now,
                )
            )

    def _plan(
        self, s: Session, ep: Endpoint, away: int, now: datetime, hours: float
    ) -> tuple[EndpointRevision | None, list[dict[str, Any]]]:
        """The last known good revision away from model ``away`` (None: there is none) and
        the newer revisions passed over, with why."""
        cur = self._revision(s, ep, ep.current_revision)
        if away not in _served(cur):
            raise Conflict(
                f"endpoint {ep.name}: its current revision {cur.revision} does not serve "
                f"{self._ref(s, away)}; there is nothing to roll back",
                endpoint=ep.name,
                revision=cur.revision,
            )
        guarded: dict[int, datetime] = {}
        if hours > 0:
            for vid, at in s.execute(
                select(EndpointRollback.version_id, EndpointRollback.created_at).where(
                    EndpointRollback.endpoint_id == ep.id,
                    EndpointRollback.created_at > now - timedelta(hours=hours),
                )
            ).all():
                guarded[vid] = max(at, guarded.get(vid, at))
        skipped: list[dict[str, Any]] = []
        for r in s.execute(
            select(EndpointRevision)
            .where(
                EndpointRevision.endpoint_id == ep.id,
                EndpointRevision.revision != ep.current_revision,
            )
            .order_by(EndpointRevision.revision.desc())
        ).scalars():
            served = _served(r)
            if away in served:
                skipped.append(
                    {
                        "revision": r.revision,
                        "model": self._ref(s, away),
                        "role": served[away],
                        "why": "serves the model rolled away from",
                    }
                )
                continue
            held = sorted(v for v in served if v in guarded)
            if held:
                skipped.append(
                    {
                        "revision": r.revision,
                        "model": self._ref(s, held[0]),
                        "role": served[held[0]],
                        "why": f"serves {self._ref(s, held[0])}, rolled back at "
                        f"{guarded[held[0]].isoformat()}, less than {hours:g} h ago "
                        "(flap guard)",
                    }
                )
                continue
            return r, skipped
        return None, skipped

    def rollback_from(
        self,
        principal: Principal,
        endpoint: str,
        model: str,
        *,
        evidence: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AutoRollback:
        """The automatic rollback away from ``model`` (``name@version``): to the newest
        revision that serves it in no role and serves no model a rollback took off this
        endpoint within ``monitoring.flap_guard_hours`` of ``now``. With none, nothing
        changes: the refusal is recorded in the ledger and :class:`NoSafeRevision` raised."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        hours = self.rt.config.monitoring.flap_guard_hours
        resource = self.endpoint_resource(endpoint)
        with self.rt.store.transaction() as s:
            ep = self._endpoint(s, endpoint)
            away = self.registry.version_row(s, model)[1].id
            target, skipped = self._plan(s, ep, away, now, hours)
        payload: dict[str, Any] = {
            "endpoint": endpoint,
            "to": target.revision if target is not None else None,
            "away_from": model,
            "automatic": True,
            "flap_guard_hours": hours,
            "evidence": evidence or {},
        }
        digest = sha256_hex(canonical_json(payload))
        action = Action("deployment.rollback", resource, payload=payload)
        if target is None:
            passed = "; ".join(f"revision {x['revision']} {x['why']}" for x in skipped)
            message = (
                f"endpoint {endpoint}: no revision to roll back to away from {model}: "
                "expected a last known good revision (one serving neither it nor a model "
                f"rolled back in the last {hours:g} h), found "
                + (passed if skipped else "no earlier revision")
                + ". The endpoint was left as it is: deploy a known good model by hand "
                "('steward deploy'), or roll back with 'steward rollback --to R "
                "--allow-same-model'"
            )
            self.rt.door.check(principal, action)  # a policy denial is the policy's
            self.rt.door.refuse(principal, action, Reason("last-known-good", message))
            raise NoSafeRevision(
                message,
                endpoint=endpoint,
                model=model,
                skipped=skipped,
                payload_hash=digest,
            )
        to = target.revision
        why = (evidence or {}).get("reason")

        def do(s: Session) -> EndpointInfo:
            ep = self._endpoint(s, endpoint, lock=True)
            again, _ = self._plan(s, ep, away, now, hours)
            if again is None or again.revision != to:
                raise Conflict(
                    f"endpoint {endpoint} changed while rolling back; run the rollback again",
                    endpoint=endpoint,
                )
            cur = self._revision(s, ep, ep.current_revision)
            self._roll(
                s,
                ep,
                cur,
                again,
                f"rollback to revision {to}, the last without {model}"
                + (f" ({why})" if why else ""),
                principal,
                automatic=True,
                now=now,
            )
            s.flush()
            return self._info(s, ep)

        info = self.rt.door.run(principal, action, do)
        return AutoRollback(
            endpoint=info, to=to, skipped=skipped, payload=payload, payload_hash=digest
        )

    # -- reads -----------------------------------------------------------------------------
    def _read_check(self, principal: Principal) -> None:
        self.rt.door.check(principal, Action("system.read", Resource("System", "endpoints")))

    def endpoints(self, principal: Principal) -> list[EndpointInfo]:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            return [
                self._info(s, ep)
                for ep in s.execute(select(Endpoint).order_by(Endpoint.name)).scalars()
            ]

    def endpoint(self, principal: Principal, name: str) -> EndpointInfo:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            return self._info(s, self._endpoint(s, name))

    def current(self, name: str) -> tuple[RevisionInfo, str | None]:
        """The endpoint's current revision and team, for the inference server (which
        authorises each prediction itself, as ``endpoint.predict``)."""
        with self.rt.store.transaction() as s:
            ep = self._endpoint(s, name)
            if ep.current_revision < 1:
                raise NotFound(f"endpoint {name} has no revision", endpoint=name)
            return self._rev_info(s, ep, self._revision(s, ep, ep.current_revision)), ep.team
