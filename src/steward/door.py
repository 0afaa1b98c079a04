"""The one door: every state change is decided, done and recorded together.

``Door.run`` asks the policy engine, then runs the change and appends its audit entry
in one database transaction (committed together or not at all). A denial is recorded
in the ledger too and raises :class:`~steward.errors.PolicyDenied`; so is a refusal
that is not the policy's (a gate that failed, a quota or budget crossed, raised as
:class:`~steward.errors.GateFailed` or :class:`~steward.errors.QuotaExceeded` by the
change): its entry is a denial with the refusal's reason, and the error is raised.
``Door.check`` authorises a read: denials are recorded, and so are allowed reads of
personal data when the caller asks (``record=True``), as ``audit.reads`` says (every
one, or a sample with at least one per user, resource and period). Metering joins the
transaction with the cost issue.

While a governed action runs, the store's write guard and the artifact store accept
writes; outside one they raise :class:`~steward.errors.BypassError`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steward.audit import EntryDraft, Ledger, canonical_json, sha256_hex
from steward.config import ReadAudit
from steward.errors import GateFailed, PolicyDenied, QuotaExceeded, Reason, StewardError
from steward.policy import Decision, PolicyEngine, Principal, Resource
from steward.store import ReadMark, Store, governed_writes

__all__ = ["REFUSALS", "Action", "Door", "refusal_reason"]

T = TypeVar("T")

#: Errors that refuse an action the policy allowed: recorded as denials by the door.
REFUSALS: tuple[type[StewardError], ...] = (GateFailed, QuotaExceeded)


def refusal_reason(exc: StewardError) -> Reason:
    """The ledger reason of a refusal that is not the policy's (``quota:<which>``,
    ``gate-failed``, or the error's code), with the error's message as advice."""
    if isinstance(exc, QuotaExceeded):
        policy = f"quota:{exc.details.get('quota', 'quota')}"
    elif isinstance(exc, GateFailed):
        policy = "gate-failed"
    else:
        policy = exc.code
    return Reason(policy, exc.message, "forbid")


@dataclass
class Action:
    """A request to act: its name, the resource, the site and the payload to hash."""

    name: str
    resource: Resource
    site: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)

    def cedar_context(self) -> dict[str, Any]:
        ctx = dict(self.context)
        if self.site is not None:
            ctx["site"] = self.site
        return ctx


class Door:
    """decide → do → record (→ meter, from the cost issue on)."""

    def __init__(
        self,
        store: Store,
        policy: PolicyEngine,
        ledger: Ledger,
        *,
        reads: ReadAudit | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.ledger = ledger
        self.reads = reads or ReadAudit()
        #: The clock and the sampler of read records (tests inject both).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.sample: Callable[[], float] = random.random

    def decide(self, principal: Principal, action: Action) -> Decision:
        return self.policy.decide(principal, action.name, action.resource, action.cedar_context())

    def draft(self, principal: Principal, action: Action, decision: Decision) -> EntryDraft:
        """The ledger entry this door records for ``action`` decided as ``decision``."""
        return EntryDraft(
            actor=principal.name,
            action=action.name,
            resource=str(action.resource),
            site=action.site,
            decision="allow" if decision.allowed else "deny",
            reasons=[r.to_dict() for r in decision.reasons],
            payload_hash=sha256_hex(canonical_json(action.payload)),
        )

    def _deny(self, principal: Principal, action: Action, decision: Decision) -> PolicyDenied:
        with governed_writes("audit.deny"), self.store.transaction(write=True) as s:
            self.ledger.append(s, self.draft(principal, action, decision))
        return PolicyDenied(
            principal=principal.name,
            action=action.name,
            resource=str(action.resource),
            reasons=[r for r in decision.reasons if r.effect == "forbid"],
        )

    def check(
        self,
        principal: Principal,
        action: Action,
        *,
        record: bool = False,
        reasons: list[Reason] | None = None,
    ) -> Decision:
        """Authorise a read. Denials are recorded; allowed reads only with ``record``
        (reads of personal data, model downloads), as ``audit.reads`` samples them.
        ``reasons`` are added to a recorded entry's (e.g. on whose behalf a service read)."""
        decision = self.decide(principal, action)
        if not decision.allowed:
            raise self._deny(principal, action, decision)
        if record:
            self._record_read(principal, action, decision, reasons or [])
        return decision

    def _record_read(
        self, principal: Principal, action: Action, decision: Decision, extra: list[Reason]
    ) -> bool:
        """Append an allowed read to the ledger unless sampling leaves it out. Returns
        whether it was recorded."""
        try:
            return self._append_read(principal, action, decision, extra)
        except IntegrityError:
            # a concurrent first read of the same (user, resource) inserted the mark:
            # the mark now exists, so this attempt updates it
            return self._append_read(principal, action, decision, extra)

    def _append_read(
        self, principal: Principal, action: Action, decision: Decision, extra: list[Reason]
    ) -> bool:
        now = self.clock()
        actor, name, resource = principal.name, action.name, str(action.resource)[:512]
        with governed_writes("audit.read"), self.store.transaction(write=True) as s:
            mark = s.execute(
                select(ReadMark).where(
                    ReadMark.actor == actor, ReadMark.action == name, ReadMark.resource == resource
                )
            ).scalar_one_or_none()
            if self.reads.record == "sampled" and mark is not None:
                due = mark.recorded_at + timedelta(minutes=self.reads.period_minutes)
                if now < due and self.sample() >= self.reads.sample_rate:
                    return False
            if mark is None:
                s.add(ReadMark(actor=actor, action=name, resource=resource, recorded_at=now))
            else:
                mark.recorded_at = now
            s.flush()
            recorded = Decision(
                True,
                decision.principal,
                decision.action,
                decision.resource,
                [*decision.reasons, *extra],
            )
            self.ledger.append(s, self.draft(principal, action, recorded))
        return True

    def run(self, principal: Principal, action: Action, do: Callable[[Session], T]) -> T:
        """Decide, then do and record in one transaction. Returns what ``do`` returns.

        A refusal raised by ``do`` (:data:`REFUSALS`) rolls the change back and is
        recorded as a denial with its reason before it is raised."""
        decision = self.decide(principal, action)
        if not decision.allowed:
            raise self._deny(principal, action, decision)
        with (
            self.refusals(principal, action),
            governed_writes(action.name),
            self.store.transaction(write=True) as session,
        ):
            result = do(session)
            self.ledger.append(session, self.draft(principal, action, decision))
        return result

    @contextmanager
    def refusals(self, principal: Principal, action: Action) -> Iterator[None]:
        """Record a refusal (:data:`REFUSALS`) raised in the block as a denial of
        ``action``, then let it go on. For checks a service makes before :meth:`run`."""
        try:
            yield
        except REFUSALS as exc:
            if not getattr(exc, "_steward_recorded", False):
                self.refuse(principal, action, refusal_reason(exc))
                exc._steward_recorded = True  # type: ignore[attr-defined]
            raise

    def refuse(self, principal: Principal, action: Action, reason: Reason) -> None:
        """Record a refusal that is not the policy's (a quota, a budget, a gate) as a
        denial."""
        decision = Decision(False, principal.name, action.name, str(action.resource), [reason])
        with governed_writes("audit.deny"), self.store.transaction(write=True) as s:
            self.ledger.append(s, self.draft(principal, action, decision))

    def record(self, actor: str, action: Action, do: Callable[[Session], T], *, follows: str) -> T:
        """A step Steward takes itself on an action already decided and recorded (a job
        finishing, a worker lost): done and recorded in one transaction, no new decision.

        ``follows`` names the decided action it belongs to (e.g. ``model.train job j-1``);
        the entry's reason says so, with policy ``steward-system``.
        """
        reason = Reason("steward-system", f"recorded by Steward; follows {follows}", "permit")
        decision = Decision(True, actor, action.name, str(action.resource), [reason])
        with governed_writes(action.name), self.store.transaction(write=True) as session:
            result = do(session)
            self.ledger.append(session, self.draft(Principal(actor), action, decision))
        return result
