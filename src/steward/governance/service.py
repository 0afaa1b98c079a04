"""Audit and policy services: every read checked by policy, every change through the door."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from steward.audit import (
    Checkpoint,
    LedgerFilter,
    Problem,
    Verification,
    read_witness,
    verify_export,
    witness_dir,
    write_witness,
)
from steward.config import Site
from steward.door import Action
from steward.errors import IntegrityError, NotFound, ValidationFailed
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
    checkpoint: int | None = None
    line: int | None = None


class CheckpointInfo(BaseModel):
    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str
    position: int | None = None
    prev_checkpoint: str | None = None


class VerificationInfo(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problem: ProblemInfo | None = None
    witness: CheckpointInfo | None = None

    @classmethod
    def of(cls, v: Verification) -> VerificationInfo:
        return cls.model_validate(v.to_dict())


class DecisionInfo(BaseModel):
    decision: str
    principal: str
    action: str
    resource: str
    reasons: list[ReasonInfo]
    errors: list[str]
    # explain: whether the resource exists (its real attributes were used, with any
    # --attr on top), and the attributes the decision saw
    resource_found: bool | None = None
    attributes: dict[str, Any] = {}


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

    @property
    def witness_dir(self) -> Path:
        """Where the newest checkpoint is also written (``audit.witness_dir``)."""
        return witness_dir(self.rt.home, self.rt.config)

    def verify(self, principal: Principal) -> VerificationInfo:
        """Verify the ledger, its checkpoints, and the database against the witness."""
        self.rt.door.check(principal, Action("audit.verify", LEDGER))
        key = self.rt.home.signing_key().public_key()
        # Read the witness before the database snapshot: it is written after its checkpoint
        # commits, so what it holds is always visible to the snapshot that follows.
        try:
            witness = read_witness(self.witness_dir)
        except IntegrityError as exc:
            v = self.rt.ledger.verify(key)
            if v.ok:
                v.fail(Problem(v.head_seq, "bad_witness", exc.message))
            return VerificationInfo.of(v)
        source = f"the witness {self.witness_dir}"
        return VerificationInfo.of(
            self.rt.ledger.verify(key, witness=witness, witness_source=source)
        )

    def checkpoint(self, principal: Principal) -> CheckpointInfo:
        """Sign the ledger's head (a governed action), then write it to the witness."""
        key = self.rt.home.signing_key()

        def do(session: Session) -> Checkpoint:
            return self.rt.ledger.checkpoint(session, key)

        cp = self.rt.door.run(principal, Action("audit.checkpoint", LEDGER), do)
        # After the commit: a witness must never hold a checkpoint the database lacks.
        write_witness(self.witness_dir, cp)
        return CheckpointInfo(**cp.to_dict())

    def checkpoints(self, principal: Principal) -> list[CheckpointInfo]:
        self.rt.door.check(principal, Action("audit.read", LEDGER))
        return [CheckpointInfo(**c.to_dict()) for c in self.rt.ledger.checkpoints()]

    def public_key(self, principal: Principal) -> str:
        self.rt.door.check(principal, Action("audit.read", LEDGER))
        return self.rt.home.public_key_pem().decode("ascii")

    def export(self, principal: Principal, out: IO[str]) -> int:
        """Write the ledger, its checkpoints and a signed manifest as JSON lines."""
        self.rt.door.check(principal, Action("audit.export", LEDGER))
        return self.rt.ledger.export(out, self.rt.home.public_key_pem(), self.rt.home.signing_key())

    @staticmethod
    def verify_export(path: Path, public_key: Path) -> VerificationInfo:
        """Verify an export file with a public key only: needs no home, no principal.

        What is wrong with the file comes back as a problem (``ok`` False); a file or key
        that cannot be read raises NotFound or ValidationFailed.
        """
        pem = _read_file(public_key, "public key", "--public-key")
        with _open_file(path) as fh:
            return VerificationInfo.of(verify_export(fh, pem))

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
        """Dry-run a decision for ``as_user`` and show the policies that decided it.

        When the resource exists, the decision sees its real attributes (as the service
        that owns it builds them); ``attrs`` are a what-if on top of them. A resource that
        does not exist is decided on ``attrs`` alone, and the answer says so."""
        from steward.governance.resolve import resolve

        self.rt.door.check(principal, Action("policy.explain", Resource("System", "policy")))
        given = parse_resource(resource, attrs)
        real = resolve(self.rt, given.type, given.id)
        res = given if real is None else Resource(real.type, real.id, {**real.attrs, **given.attrs})
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
        info = DecisionInfo.model_validate(decision.to_dict())
        info.resource_found = real is not None
        info.attributes = {k: v for k, v in res.attrs.items() if v is not None}
        return info

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


def _read_file(path: Path, what: str, parameter: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{what} {path}: no such file", path=str(path)) from None
    except OSError as exc:
        raise ValidationFailed(
            f"{what} {path}: cannot read it ({exc.strerror or exc}); expected a file",
            parameter=parameter,
            path=str(path),
        ) from None


def _open_file(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")  # the caller closes it
    except FileNotFoundError:
        raise NotFound(f"export {path}: no such file", path=str(path)) from None
    except OSError as exc:
        raise ValidationFailed(
            f"export {path}: cannot read it ({exc.strerror or exc}); expected a file from "
            "'steward audit export'",
            parameter="file",
            path=str(path),
        ) from None


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
