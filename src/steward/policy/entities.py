"""Cedar entities built from Steward's own objects (users, roles, teams, sites, resources)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from steward.config import StewardConfig
from steward.errors import NotFound, ValidationFailed

__all__ = [
    "GATE_USER",
    "SERVICE_USER",
    "Principal",
    "Resource",
    "entity_ref",
    "parse_resource",
    "user_entities",
]

# Resource types Steward knows, with the attributes each carries and their Cedar types.
RESOURCE_ATTRS: dict[str, dict[str, str]] = {
    "System": {},
    "Ledger": {},
    "Site": {},
    "Token": {"owner": "User"},
    "Job": {"owner": "User", "team": "Team"},
    "Object": {"jurisdiction": "String", "anonymised": "Bool", "team": "Team"},
    "Dataset": {
        "jurisdiction": "String",
        "anonymised": "Bool",
        "locked": "Bool",
        "team": "Team",
        "verdict": "String",
        "requester": "User",
    },
    "Model": {
        "jurisdiction": "String",
        "anonymised": "Bool",
        "producers": "Set<User>",
        "privateOnly": "Bool",
        "stage": "String",
        "team": "Team",
    },
    "Endpoint": {"team": "Team"},
}
REQUIRED_DEFAULTS: dict[str, dict[str, Any]] = {
    "Object": {"jurisdiction": "", "anonymised": False},
    "Dataset": {"jurisdiction": "", "anonymised": False, "locked": False},
    "Model": {"jurisdiction": "", "anonymised": False, "producers": [], "privateOnly": False},
}


def entity_ref(type_: str, id_: str) -> dict[str, dict[str, str]]:
    return {"__entity": {"type": type_, "id": id_}}


@dataclass(frozen=True)
class Principal:
    """Who acts: a user name (roles and teams come from the configuration)."""

    name: str

    def __str__(self) -> str:
        return f'User::"{self.name}"'


@dataclass(frozen=True)
class Resource:
    """What is acted on: a Cedar type, an id and attributes (plain Python values).

    Entity-valued attributes (``team``, ``owner``, ``producers``) are given as names.
    """

    type: str
    id: str
    attrs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f'{self.type}::"{self.id}"'

    def cedar_entity(self) -> dict[str, Any]:
        kinds = RESOURCE_ATTRS.get(self.type, {})
        attrs: dict[str, Any] = dict(REQUIRED_DEFAULTS.get(self.type, {}))
        for key, value in self.attrs.items():
            kind = kinds.get(key)
            if value is None:
                continue
            if kind == "Team":
                attrs[key] = entity_ref("Team", str(value))
            elif kind == "User":
                attrs[key] = entity_ref("User", str(value))
            elif kind == "Set<User>":
                attrs[key] = [entity_ref("User", str(v)) for v in value]
            else:
                attrs[key] = value
        return {"uid": {"type": self.type, "id": self.id}, "attrs": attrs, "parents": []}


#: The service identity monitoring acts as (automatic rollbacks, retraining jobs,
#: revalidation): not a configured user, it has the role ``service`` and is a member of
#: every team; what that role may do is in the default pack's ``service.cedar``, and the
#: forbid rules (residency, four eyes, locked holdouts) bind it like anyone.
SERVICE_USER = "steward-monitor"

#: The service identity the gates read locked holdouts as (``model validate``): not a
#: configured user, role ``gate-service``, a member of every team. Only it may read a
#: locked holdout (``policy/pack/holdouts.cedar``); each of its reads is recorded with the
#: user who asked for the validation.
GATE_USER = "steward-gates"

_SERVICE_ROLES = {SERVICE_USER: "service", GATE_USER: "gate-service"}


def user_entities(config: StewardConfig, name: str) -> list[dict[str, Any]]:
    """The user, their roles and teams as Cedar entities. Unknown users are refused."""
    if name in _SERVICE_ROLES:
        teams = sorted(config.teams)
        role = _SERVICE_ROLES[name]
        service: list[dict[str, Any]] = [
            {
                "uid": {"type": "User", "id": name},
                "attrs": {"teams": [entity_ref("Team", t) for t in teams]},
                "parents": [{"type": "Role", "id": role}]
                + [{"type": "Team", "id": t} for t in teams],
            },
            {"uid": {"type": "Role", "id": role}, "attrs": {}, "parents": []},
        ]
        return service + [
            {"uid": {"type": "Team", "id": t}, "attrs": {}, "parents": []} for t in teams
        ]
    user = config.users.get(name)
    if user is None:
        raise NotFound(
            f"unknown user {name!r}; expected one of {', '.join(sorted(config.users))}. "
            "Declare users under 'users' in steward.yaml.",
            user=name,
        )
    teams = config.teams_of(name)
    parents = [{"type": "Role", "id": r} for r in user.roles]
    parents += [{"type": "Team", "id": t} for t in teams]
    out: list[dict[str, Any]] = [
        {
            "uid": {"type": "User", "id": name},
            "attrs": {"teams": [entity_ref("Team", t) for t in teams]},
            "parents": parents,
        }
    ]
    out += [{"uid": {"type": "Role", "id": r}, "attrs": {}, "parents": []} for r in user.roles]
    out += [{"uid": {"type": "Team", "id": t}, "attrs": {}, "parents": []} for t in teams]
    return out


def site_entity(config: StewardConfig, name: str) -> dict[str, Any]:
    site = config.site(name)
    return {
        "uid": {"type": "Site", "id": name},
        "attrs": {
            "provider": site.provider,
            "region": site.region,
            "jurisdiction": site.jurisdiction,
            "trust": site.trust,
        },
        "parents": [],
    }


_REF = re.compile(r'^(?P<type>[A-Z][A-Za-z]*)::"(?P<id>[^"]*)"$')
_SHORT = re.compile(r"^(?P<type>[a-z][a-z]*):(?P<id>.+)$")


def parse_resource(text: str, attrs: dict[str, str] | None = None) -> Resource:
    """Parse ``Type::"id"`` or ``type:id`` with ``key=value`` attributes as strings."""
    m = _REF.match(text) or _SHORT.match(text)
    if not m:
        raise ValidationFailed(
            f'resource: expected Type::"id" or type:id (e.g. object:abc, Model::"loans"); '
            f"found {text!r}",
            parameter="resource",
        )
    type_ = m["type"][0].upper() + m["type"][1:]
    if type_ not in RESOURCE_ATTRS:
        raise ValidationFailed(
            f"resource type: expected one of {', '.join(sorted(RESOURCE_ATTRS))}; "
            f"found {m['type']!r}",
            parameter="resource",
        )
    kinds = RESOURCE_ATTRS[type_]
    typed: dict[str, Any] = {}
    for key, raw in (attrs or {}).items():
        kind = kinds.get(key)
        if kind is None:
            raise ValidationFailed(
                f"attribute {key!r}: {type_} has {', '.join(sorted(kinds)) or 'no attributes'}",
                parameter="attr",
            )
        if kind == "Bool":
            if raw.lower() not in ("true", "false"):
                raise ValidationFailed(
                    f"attribute {key!r}: expected true or false; found {raw!r}", parameter="attr"
                )
            typed[key] = raw.lower() == "true"
        elif kind == "Set<User>":
            typed[key] = [v for v in raw.split(",") if v]
        else:
            typed[key] = raw
    return Resource(type_, m["id"], typed)
