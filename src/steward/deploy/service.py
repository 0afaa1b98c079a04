"""Deployments: endpoints and their revisions, placed by policy, rolled back in one step.

An endpoint lives at one site. Every change is a new, immutable revision: ``direct`` (one
model serves everything), ``canary`` (the candidate gets ``percent`` of traffic, sticky per
request key: :mod:`steward.kernels.routing`) or ``shadow`` (the candidate sees a copy of
all traffic and its answers are recorded, never returned). ``deploy`` is the governed
``deployment.create`` on the model at the endpoint's site — residency, ``private-only`` and
``approved-only`` decide, and denials are recorded with their reasons; ``promote`` turns a
canary or shadow into a direct revision of the candidate; ``rollback`` makes a new revision
equal to the previous one (or to ``--to R``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.door import Action
from steward.errors import Conflict, NotFound, ValidationFailed
from steward.policy import Principal, Resource
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.store import Endpoint, EndpointRevision, Model, ModelVersion

__all__ = ["DeployService", "EndpointInfo", "RevisionInfo"]

Strategy = Literal["direct", "canary", "shadow"]
_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


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
                created_at=datetime.now(UTC),
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
    ) -> EndpointInfo:
        """A new revision equal to the previous one (or to revision ``to``). ``evidence``
        (an automatic rollback's reason: the rule, the signal, the window's figures) goes
        into the ledger entry and the revision's reason."""
        payload: dict[str, Any] = {"endpoint": endpoint, "to": to}
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
            old = self._revision(s, ep, target)
            self._add_revision(
                s,
                ep,
                old.strategy,
                old.primary_version_id,
                old.candidate_version_id,
                old.percent,
                f"rollback to revision {target}"
                + (f" ({evidence['reason']})" if evidence and "reason" in evidence else ""),
                principal,
            )
            s.flush()
            return self._info(s, ep)

        return self.rt.door.run(principal, action, do)

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
