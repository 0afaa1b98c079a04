"""Steward's errors: one base, a stable ``code`` each, structured fields.

::

    StewardError
    ├── ConfigError          steward.yaml or the home is wrong (one problem per line)
    ├── ValidationFailed     a request or file does not have the expected shape
    ├── Unauthenticated      no token, or an unknown, expired or revoked one
    ├── PolicyDenied         the policy engine said no (action, resource, reasons)
    ├── NotFound             the named thing does not exist
    ├── Conflict             the request collides with existing state
    ├── QuotaExceeded        a team's quota or budget would be crossed
    ├── GateFailed           a validation gate did not pass
    ├── IntegrityError       stored data (object, ledger) does not match its hash
    ├── Unavailable          a service Steward needs (NATS, ...) cannot be reached
    └── BypassError          a write was attempted outside the one door (a bug)

The API turns each into ``{"error": code, "message": ..., "details": {...}}`` with
``status``; the CLI prints the message and exits with ``exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "BypassError",
    "ConfigError",
    "Conflict",
    "GateFailed",
    "IntegrityError",
    "NotFound",
    "PolicyDenied",
    "QuotaExceeded",
    "Reason",
    "StewardError",
    "Unauthenticated",
    "Unavailable",
    "ValidationFailed",
    "require_count",
]


class StewardError(Exception):
    """Base of every error Steward raises on purpose."""

    code = "steward_error"
    status = 400
    exit_code = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class ConfigError(StewardError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    code = "config_error"
    status = 400
    exit_code = 2

    def __init__(self, problems: list[str], *, path: str | None = None) -> None:
        where = f"{path}: " if path else ""
        head = f"{where}{len(problems)} problem(s) in the configuration"
        super().__init__(head + ":\n  " + "\n  ".join(problems), path=path, problems=problems)
        self.problems = problems
        self.path = path


class ValidationFailed(StewardError):
    code = "validation_failed"
    status = 422
    exit_code = 2


def require_count(name: str, value: int, high: int) -> int:
    """``value`` if it is a whole number from 1 to ``high``; else a ValidationFailed that
    names the parameter (``details["parameter"]``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValidationFailed(
            f"{name}: expected a whole number from 1 to {high:,}; found {value!r}",
            parameter=name,
        )
    return value


class Unauthenticated(StewardError):
    code = "unauthenticated"
    status = 401
    exit_code = 3


@dataclass(frozen=True)
class Reason:
    """Why a decision went the way it did: the policy's id and its advice."""

    policy: str
    advice: str = ""
    effect: str = "forbid"

    def to_dict(self) -> dict[str, str]:
        return {"policy": self.policy, "effect": self.effect, "advice": self.advice}


class PolicyDenied(StewardError):
    """The policy engine denied ``principal`` doing ``action`` on ``resource``."""

    code = "policy_denied"
    status = 403
    exit_code = 4

    def __init__(
        self, *, principal: str, action: str, resource: str, reasons: list[Reason]
    ) -> None:
        if reasons:
            why = "; ".join(f"[{r.policy}] {r.advice}".rstrip() for r in reasons)
        else:
            why = "no policy permits it (default deny). Ask an admin for a role that allows it."
        super().__init__(
            f"{principal} may not {action} on {resource}: {why}",
            principal=principal,
            action=action,
            resource=resource,
            reasons=[r.to_dict() for r in reasons],
        )
        self.principal = principal
        self.action = action
        self.resource = resource
        self.reasons = reasons


class NotFound(StewardError):
    code = "not_found"
    status = 404
    exit_code = 5


class Conflict(StewardError):
    code = "conflict"
    status = 409
    exit_code = 6


class QuotaExceeded(StewardError):
    code = "quota_exceeded"
    status = 429
    exit_code = 7


class GateFailed(StewardError):
    code = "gate_failed"
    status = 409
    exit_code = 8


class IntegrityError(StewardError):
    """Stored bytes or ledger entries do not match what was recorded."""

    code = "integrity_error"
    status = 409
    exit_code = 9


class Unavailable(StewardError):
    """A service Steward needs (the NATS server, its JetStream, ...) cannot be reached or
    cannot do what is asked; the message says what was tried and how to fix it."""

    code = "unavailable"
    status = 503
    exit_code = 69  # sysexits' EX_UNAVAILABLE (as BypassError's 70 is EX_SOFTWARE)


class BypassError(StewardError):
    """A write reached the store or artifact root outside a governed action."""

    code = "bypass"
    status = 500
    exit_code = 70
