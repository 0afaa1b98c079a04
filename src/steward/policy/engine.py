"""The policy engine: Cedar (``cedarpy``) with Steward's schema, pack and user policies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import cedarpy

from steward.config import StewardConfig
from steward.errors import ConfigError, Reason, ValidationFailed
from steward.policy.entities import (
    REQUIRED_DEFAULTS,
    Principal,
    Resource,
    site_entity,
    user_entities,
)

__all__ = [
    "Decision",
    "PolicyEngine",
    "PolicyProblem",
    "PolicySource",
    "check_policy_files",
    "load_pack",
    "load_schema_text",
    "split_statements",
]


def load_schema_text() -> str:
    return resources.files("steward.policy").joinpath("steward.cedarschema").read_text("utf-8")


@dataclass(frozen=True)
class PolicySource:
    """One file of policies: where it came from and its text."""

    name: str
    text: str
    builtin: bool = False


def load_pack() -> list[PolicySource]:
    pack = resources.files("steward.policy").joinpath("pack")
    return [
        PolicySource(f"pack/{p.name}", p.read_text("utf-8"), builtin=True)
        for p in sorted(pack.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".cedar")
    ]


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split Cedar text into policy statements, each with the line it starts on.

    Cedar policies end at a ``;`` outside strings and comments. Each statement's text
    starts at its first token (comments and blank lines before it are dropped), so a
    position inside the text maps to ``line + text.count("\n", 0, position)``.
    """
    out: list[tuple[int, str]] = []
    start: int | None = None
    start_line: int | None = None
    prev_end = 0
    line = 1
    i, n = 0, len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == '"':
            in_str = True
            if start is None:
                start, start_line = i, line
        elif c == ";":
            if start is None:
                start, start_line = i, line
            out.append((start_line or line, text[start : i + 1]))
            prev_end = i + 1
            start, start_line = None, None
        elif not c.isspace() and start is None:
            start, start_line = i, line
        if c == "\n":
            line += 1
        i += 1
    if start is not None and start_line is not None and text[prev_end:].strip():
        out.append((start_line, text[start:]))
    return out


@dataclass(frozen=True)
class PolicyProblem:
    """A problem in a policy file, located by file and line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


def _error_line(stmt_line: int, stmt: str, message: str) -> int:
    """Refine a statement's line with the offending token Cedar names, when it does."""
    m = re.search(r"`([^`]+)`", message)
    if m:
        pos = stmt.find(m.group(1))
        if pos >= 0:
            return stmt_line + stmt.count("\n", 0, pos)
    return stmt_line


def check_policy_files(
    sources: Sequence[PolicySource], schema_text: str | None = None
) -> list[PolicyProblem]:
    """Parse and validate policies against Steward's schema; one problem per finding."""
    schema_text = schema_text or load_schema_text()
    problems: list[PolicyProblem] = []
    seen_ids: dict[str, str] = {}
    for src in sources:
        stmts = split_statements(src.text)
        good: list[tuple[int, str]] = []
        for line, stmt in stmts:
            try:
                cedarpy.PolicySet.from_str(stmt)
            except ValueError as exc:
                msg = str(exc)
                problems.append(PolicyProblem(src.name, _error_line(line, stmt, msg), msg))
                continue
            good.append((line, stmt))
        if not good:
            continue
        text = "\n".join(s for _, s in good)
        result = cedarpy.validate_policies(text, schema_text)
        for err in result.errors:
            idx = _policy_index(err.policy_id)
            line = good[idx][0] if idx is not None and idx < len(good) else 1
            problems.append(PolicyProblem(src.name, line, f"does not fit the schema: {err.error}"))
        annotations = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        for key, pol in annotations.items():
            pid = pol.get("annotations", {}).get("id")
            idx = _policy_index(key)
            line = good[idx][0] if idx is not None and idx < len(good) else 1
            if pid is None:
                problems.append(
                    PolicyProblem(src.name, line, 'policy has no @id("...") annotation')
                )
            elif pid in seen_ids:
                problems.append(
                    PolicyProblem(src.name, line, f"@id {pid!r} is already used in {seen_ids[pid]}")
                )
            else:
                seen_ids[pid] = src.name
    return problems


def _policy_index(policy_id: str | None) -> int | None:
    if policy_id and policy_id.startswith("policy") and policy_id[6:].isdigit():
        return int(policy_id[6:])
    return None


@dataclass
class Decision:
    """The answer to one request, with the policies that decided it."""

    allowed: bool
    principal: str
    action: str
    resource: str
    reasons: list[Reason] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": "allow" if self.allowed else "deny",
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "reasons": [r.to_dict() for r in self.reasons],
            "errors": self.errors,
        }


_PLACEHOLDER = re.compile(r"\{([a-z]+(?:\.[A-Za-z_]+)*)\}")


def _words(value: Any, missing: str) -> str:
    """A filled-in value as a person reads it; ``missing`` when there is none."""
    if value is None or value == "" or value == []:
        return missing
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return str(value)


class PolicyEngine:
    """Decides (principal, action, resource, context) with the pack and user policies."""

    def __init__(self, config: StewardConfig, policy_dir: Path | None = None) -> None:
        self.config = config
        sources = load_pack()
        if policy_dir is not None and policy_dir.is_dir():
            sources += [
                PolicySource(str(p), p.read_text("utf-8"))
                for p in sorted(policy_dir.glob("*.cedar"))
            ]
        self.schema_text = load_schema_text()
        problems = check_policy_files(sources, self.schema_text)
        if problems:
            raise ConfigError([str(p) for p in problems], path=str(policy_dir or "policies"))
        self.sources = sources
        text = "\n".join(s.text for s in sources)
        self._policies = cedarpy.PolicySet.from_str(text)
        self._schema = cedarpy.Schema.from_str(self.schema_text)
        static = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        self._meta: dict[str, tuple[str, str, str]] = {
            key: (
                pol["annotations"].get("id", key),
                pol["annotations"].get("advice", ""),
                pol["effect"],
            )
            for key, pol in static.items()
        }

    @property
    def policy_ids(self) -> list[str]:
        return [m[0] for m in self._meta.values()]

    # -- requests --------------------------------------------------------------------
    def _request(
        self, principal: Principal, action: str, resource: Resource, context: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        entities = user_entities(self.config, principal.name)
        ctx: dict[str, Any] = {}
        for key, value in context.items():
            if key == "site":
                entities.append(site_entity(self.config, str(value)))
                ctx["site"] = {"__entity": {"type": "Site", "id": str(value)}}
            else:
                ctx[key] = value
        if resource.type == "Site":
            entities.append(site_entity(self.config, resource.id))
        else:
            entities.append(resource.cedar_entity())
        request = {
            "principal": {"type": "User", "id": principal.name},
            "action": {"type": "Action", "id": action},
            "resource": {"type": resource.type, "id": resource.id},
            "context": ctx,
        }
        return request, entities

    def _advice(
        self, template: str, resource: Resource, context: dict[str, Any], principal: str = ""
    ) -> str:
        """Fill an advice's placeholders from the request. A value the request does not
        have is named in words, never left as ``{...}`` (a person reads this)."""
        site = context.get("site")

        def fill(m: re.Match[str]) -> str:
            path = m.group(1).split(".")
            if path == ["resource"]:
                return str(resource)
            if path == ["principal"]:
                return f'User::"{principal}"' if principal else "the caller"
            if path[0] == "resource" and len(path) == 2:
                value = resource.attrs.get(path[1])
                if value is None:
                    value = REQUIRED_DEFAULTS.get(resource.type, {}).get(path[1])
                return _words(value, f"{resource}'s {path[1]} (not set)")
            if path == ["context", "site"]:
                return str(site) if site else "the site (none given)"
            if path[:2] == ["context", "site"] and len(path) == 3:
                s = self.config.sites.get(str(site)) if site else None
                value = getattr(s, path[2], None) if s is not None else None
                return _words(value, f"the site's {path[2]} (no site given)")
            if path[0] == "context" and len(path) == 2:
                return _words(context.get(path[1]), f"the request's {path[1]} (not set)")
            return f"({m.group(1)}: unknown)"

        return _PLACEHOLDER.sub(fill, template)

    def advice(
        self,
        policy_id: str,
        resource: Resource,
        context: dict[str, Any] | None = None,
        principal: str = "",
    ) -> str:
        """The advice of policy ``policy_id`` filled for a request on ``resource`` (what a
        denial by it would say). Unknown ids are refused."""
        for pid, template, _ in self._meta.values():
            if pid == policy_id:
                return self._advice(template, resource, context or {}, principal)
        raise ValidationFailed(
            f"policy: expected one of {', '.join(sorted(self.policy_ids))}; found {policy_id!r}",
            parameter="policy",
        )

    def _decision(
        self,
        result: Any,
        principal: Principal,
        action: str,
        resource: Resource,
        context: dict[str, Any],
    ) -> Decision:
        reasons = []
        for key in result.diagnostics.reasons:
            pid, advice, effect = self._meta.get(key, (key, "", "forbid"))
            reasons.append(
                Reason(pid, self._advice(advice, resource, context, principal.name), effect)
            )
        return Decision(
            allowed=bool(result.allowed),
            principal=str(principal),
            action=action,
            resource=str(resource),
            reasons=reasons,
            errors=[str(e) for e in result.diagnostics.errors],
        )

    def decide(
        self,
        principal: Principal,
        action: str,
        resource: Resource,
        context: dict[str, Any] | None = None,
    ) -> Decision:
        ctx = context or {}
        request, entities = self._request(principal, action, resource, ctx)
        try:
            result = cedarpy.is_authorized(request, self._policies, entities, self._schema)
        except (ValueError, RuntimeError) as exc:
            raise ValidationFailed(f"policy request rejected by Cedar: {exc}") from exc
        decision = self._decision(result, principal, action, resource, ctx)
        if decision.errors and not decision.allowed and not decision.reasons:
            # A malformed request (unknown action, wrong resource type) is the caller's bug.
            raise ValidationFailed(
                f"cannot decide {action} on {resource}: {'; '.join(decision.errors)}",
                action=action,
                resource=str(resource),
            )
        return decision

    def decide_many(
        self, requests: Iterable[tuple[Principal, str, Resource, dict[str, Any]]]
    ) -> list[Decision]:
        """Decide several requests in as few Cedar calls as possible (entities merged).

        One call shares one entity list, so requests that describe the same entity
        differently (one resource id, different attributes) go to separate calls;
        otherwise the first description would silently decide the others.
        """
        reqs = list(requests)
        built = [self._request(p, a, r, c) for p, a, r, c in reqs]
        groups: list[tuple[list[int], dict[tuple[str, str], dict[str, Any]]]] = []
        for i, (_, entities) in enumerate(built):
            uids = [(e["uid"]["type"], e["uid"]["id"]) for e in entities]
            group = next(
                (
                    g
                    for g in groups
                    if all(g[1].get(u, e) == e for u, e in zip(uids, entities, strict=True))
                ),
                None,
            )
            if group is None:
                group = ([], {})
                groups.append(group)
            group[0].append(i)
            for u, e in zip(uids, entities, strict=True):
                group[1].setdefault(u, e)
        results: list[Any] = [None] * len(reqs)
        for members, merged in groups:
            batch = cedarpy.is_authorized_batch(
                [built[i][0] for i in members], self._policies, list(merged.values()), self._schema
            )
            for i, res in zip(members, batch, strict=True):
                results[i] = res
        return [
            self._decision(res, p, a, r, c) for res, (p, a, r, c) in zip(results, reqs, strict=True)
        ]
