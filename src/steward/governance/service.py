"""Audit and policy services: every read checked by policy, every change through the door."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from steward.audit import LedgerFilter, verify_export
from steward.audit.ledger import Verification
from steward.config import Site
from steward.door import Action
from steward.errors import ValidationFailed
from steward.policy import Principal, Resource, parse_resource
from steward.policy.engine import PolicyProblem, PolicySource, check_policy_files, load_pack
from steward.runtime import Runtime

__all__ = [
    "AuditEntryInfo",
    "CheckpointInfo",
    "DecisionInfo",
    "GovernanceService",
    "ReasonInfo",
    "SiteInfo",
    "VerificationInfo",
]

LEDGER = Resource("Ledger", "main")


class SiteInfo(BaseModel):
    name: str
    provider: str
    region: str
    jurisdiction: str
    trust: str
    prices: dict[str, Any]


class ReasonInfo(BaseModel):
    policy: str
    effect: str
    advice: str


class AuditEntryInfo(BaseModel):
    seq: int
    ts: str
    actor: str
    action: str
    resource: str
    site: str | None
    decision: str
    reasons: list[ReasonInfo]
    payload_hash: str
    prev_hash: str
    hash: str


class ProblemInfo(BaseModel):
    seq: int
    kind: str
    message: str


class VerificationInfo(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problem: ProblemInfo | None = None

    @classmethod
    def of(cls, v: Verification) -> VerificationInfo:
        return cls.model_validate(v.to_dict())


class CheckpointInfo(BaseModel):
    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str


class DecisionInfo(BaseModel):
    decision: str
    principal: str
    action: str
    resource: str
    reasons: list[ReasonInfo]
    errors: list[str]


class GovernanceService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- sites -----------------------------------------------------------------------
    @staticmethod
    def _site_info(name: str, s: Site) -> SiteInfo:
        return SiteInfo(
            name=name,
            provider=s.provider,
            region=s.region,
            jurisdiction=s.jurisdiction,
            trust=s.trust,
            prices=s.prices.model_dump(),
        )

    def sites(self, principal: Principal) -> list[SiteInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "sites")))
        return [self._site_info(n, s) for n, s in sorted(self.rt.config.sites.items())]

    def site(self, principal: Principal, name: str) -> SiteInfo:
        site = self.rt.config.site(name)
        self.rt.door.check(principal, Action("site.read", Resource("Site", name)))
        return self._site_info(name, site)

    # -- audit -----------------------------------------------------------------------
    def audit_log(
        self, principal: Principal, flt: LedgerFilter | None = None
    ) -> list[AuditEntryInfo]:
        self.rt.door.check(principal, Action("audit.read", LEDGER))
        return [
            AuditEntryInfo(
                seq=e.seq,
                ts=e.ts,
                actor=e.actor,
                action=e.action,
                resource=e.resource,
                site=e.site,
                decision=e.decision,
                reasons=[ReasonInfo(**r) for r in json.loads(e.reasons)],
                payload_hash=e.payload_hash,
                prev_hash=e.prev_hash,
                hash=e.hash,
            )
            for e in self.rt.ledger.entries(flt)
        ]

    def verify(self, principal: Principal) -> VerificationInfo:
        self.rt.door.check(principal, Action("audit.verify", LEDGER))
        key = self.rt.home.signing_key().public_key()
        return VerificationInfo.of(self.rt.ledger.verify(key))

    def checkpoint(self, principal: Principal) -> CheckpointInfo:
        key = self.rt.home.signing_key()

        def do(session: Session) -> CheckpointInfo:
            cp = self.rt.ledger.checkpoint(session, key)
            return CheckpointInfo(**cp.to_dict())

        return self.rt.door.run(principal, Action("audit.checkpoint", LEDGER), do)

    def checkpoints(self, principal: Principal) -> list[CheckpointInfo]:
        self.rt.door.check(principal, Action("audit.read", LEDGER))
        return [CheckpointInfo(**c.to_dict()) for c in self.rt.ledger.checkpoints()]

    def public_key(self, principal: Principal) -> str:
        self.rt.door.check(principal, Action("audit.read", LEDGER))
        return self.rt.home.public_key_pem().decode("ascii")

    def export(self, principal: Principal, out: IO[str]) -> int:
        self.rt.door.check(principal, Action("audit.export", LEDGER))
        return self.rt.ledger.export(out, self.rt.home.public_key_pem())

    @staticmethod
    def verify_export(path: Path, public_key: Path) -> VerificationInfo:
        """Verify an export file with a public key only: needs no home, no principal."""
        with open(path, encoding="utf-8") as fh:
            return VerificationInfo.of(verify_export(fh, public_key.read_bytes()))

    # -- policy ----------------------------------------------------------------------
    def explain(
        self,
        principal: Principal,
        *,
        as_user: str,
        action: str,
        resource: str,
        site: str | None = None,
        attrs: dict[str, str] | None = None,
    ) -> DecisionInfo:
        """Dry-run a decision for ``as_user`` and show the policies that decided it."""
        self.rt.door.check(principal, Action("policy.explain", Resource("System", "policy")))
        res = parse_resource(resource, attrs)
        ctx: dict[str, Any] = {}
        if site is not None:
            self.rt.config.site(site)
            ctx["site"] = site
            if action in ("dataset.read", "dataset.copy", "dataset.mask"):
                ctx["purpose"] = ""
        elif action in _SITE_ACTIONS:
            raise ValidationFailed(
                f"{action} is decided per site: pass --site (one of "
                f"{', '.join(sorted(self.rt.config.sites))})",
                parameter="site",
            )
        decision = self.rt.policy.decide(Principal(as_user), action, res, ctx)
        return DecisionInfo.model_validate(decision.to_dict())

    @staticmethod
    def check_policies(paths: list[Path]) -> list[PolicyProblem]:
        """Validate policy files (and the default pack) against Steward's schema."""
        sources = load_pack()
        for path in paths:
            files = sorted(path.glob("*.cedar")) if path.is_dir() else [path]
            for f in files:
                try:
                    sources.append(PolicySource(str(f), f.read_text("utf-8")))
                except (OSError, UnicodeDecodeError) as exc:
                    raise ValidationFailed(f"{f}: cannot read: {exc}", file=str(f)) from None
        return check_policy_files(sources)


_SITE_ACTIONS = {
    "object.put",
    "object.read",
    "dataset.register",
    "dataset.read",
    "dataset.copy",
    "dataset.mask",
    "model.train",
    "deployment.create",
}
