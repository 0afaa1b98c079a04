"""The one door: every state change is decided, done and recorded together.

``Door.run`` asks the policy engine, then runs the change and appends its audit entry
in one database transaction (committed together or not at all). A denial is recorded
in the ledger too and raises :class:`~steward.errors.PolicyDenied`. ``Door.check``
authorises a read: only denials are recorded. Metering joins the transaction with
the cost issue.

While a governed action runs, the store's write guard and the artifact store accept
writes; outside one they raise :class:`~steward.errors.BypassError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from steward.audit import EntryDraft, Ledger, canonical_json, sha256_hex
from steward.errors import PolicyDenied, Reason
from steward.policy import Decision, PolicyEngine, Principal, Resource
from steward.store import Store, governed_writes

__all__ = ["Action", "Door"]

T = TypeVar("T")


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

    def __init__(self, store: Store, policy: PolicyEngine, ledger: Ledger) -> None:
        self.store = store
        self.policy = policy
        self.ledger = ledger

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

    def check(self, principal: Principal, action: Action) -> Decision:
        """Authorise a read. Denials are recorded; allowed reads are not."""
        decision = self.decide(principal, action)
        if not decision.allowed:
            raise self._deny(principal, action, decision)
        return decision

    def run(self, principal: Principal, action: Action, do: Callable[[Session], T]) -> T:
        """Decide, then do and record in one transaction. Returns what ``do`` returns."""
        decision = self.decide(principal, action)
        if not decision.allowed:
            raise self._deny(principal, action, decision)
        with governed_writes(action.name), self.store.transaction(write=True) as session:
            result = do(session)
            self.ledger.append(session, self.draft(principal, action, decision))
        return result

    def refuse(self, principal: Principal, action: Action, reason: Reason) -> None:
        """Record a refusal that is not the policy's (a quota, a budget) as a denial."""
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
