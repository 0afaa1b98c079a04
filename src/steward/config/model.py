"""The ``steward.yaml`` model, validated with pydantic; errors name the key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from steward.errors import ConfigError

__all__ = [
    "JURISDICTIONS",
    "PROVIDERS",
    "ROLES",
    "Prices",
    "Privacy",
    "Quotas",
    "Site",
    "StewardConfig",
    "Team",
    "Training",
    "User",
    "load_config",
    "parse_config",
]

Jurisdiction = Literal[
    "EU", "US", "UK", "CH", "CA", "JP", "AU", "IN", "BR", "SG", "KR", "CN", "ZA", "AE"
]
Provider = Literal["aws", "azure", "gcp", "onprem", "edge"]
Trust = Literal["public", "private"]
Role = Literal["viewer", "data-steward", "scientist", "approver", "deployer", "admin"]

JURISDICTIONS: tuple[str, ...] = Jurisdiction.__args__  # type: ignore[attr-defined]
PROVIDERS: tuple[str, ...] = Provider.__args__  # type: ignore[attr-defined]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

_NAME = r"^[a-z][a-z0-9-]{0,62}$"
_name_re = re.compile(_NAME)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prices(_Strict):
    """List prices of a site, in US dollars."""

    cpu_hour: float = Field(0.0, ge=0)
    gpu_hour: float = Field(0.0, ge=0)
    storage_gb_month: float = Field(0.0, ge=0)
    egress_gb: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="price per GB leaving this site, by destination site name or 'internet'",
    )


class Site(_Strict):
    """Where data lives and work runs."""

    provider: Provider
    region: str = Field(min_length=1)
    jurisdiction: Jurisdiction
    trust: Trust = "public"
    prices: Prices = Field(default_factory=lambda: Prices())


class Quotas(_Strict):
    """Compute a team may use per calendar month (UTC); absent means unlimited."""

    cpu_hours_per_month: float | None = Field(None, ge=0)
    gpu_hours_per_month: float | None = Field(None, ge=0)


class Team(_Strict):
    members: list[str] = Field(default_factory=list)
    quotas: Quotas = Field(default_factory=lambda: Quotas())


class Training(_Strict):
    """How training jobs run (see docs/training.md)."""

    executor: Literal["inline", "process", "ray"] = Field(
        "process", description="inline: in the caller; process: local worker processes; ray"
    )
    workers: int = Field(1, ge=1, le=64, description="jobs run at once by one worker")
    heartbeat_seconds: float = Field(5.0, gt=0, le=300)
    lost_after_seconds: float = Field(
        30.0, gt=0, le=3600, description="a running job with no heartbeat this long lost its worker"
    )
    max_attempts: int = Field(2, ge=1, le=10, description="attempts before a lost job fails")
    ray_address: str | None = Field(
        None, description="Ray cluster address (ray executor); none starts a local Ray"
    )
    onnx_tolerance: float = Field(
        1e-4, gt=0, le=0.1, description="largest ONNX vs scikit-learn difference accepted"
    )


class User(_Strict):
    roles: list[Role] = Field(min_length=1)
    email: str | None = None
    display_name: str | None = None


class Privacy(_Strict):
    """Thresholds for anonymisation (no hidden defaults: these are the documented ones)."""

    k_anonymity_min: int = Field(
        5, ge=2, description="k a masked version needs to count as anonymised"
    )
    sample_rows: int = Field(
        1000, ge=50, le=100_000, description="values per column sampled for classification"
    )


class StewardConfig(_Strict):
    """The whole of ``steward.yaml``."""

    version: Literal[1] = 1
    default_site: str | None = None
    sites: dict[str, Site] = Field(min_length=1)
    teams: dict[str, Team] = Field(default_factory=dict)
    users: dict[str, User] = Field(min_length=1)
    privacy: Privacy = Field(default_factory=lambda: Privacy())
    training: Training = Field(default_factory=lambda: Training())

    @model_validator(mode="after")
    def _cross_references(self) -> StewardConfig:
        problems: list[str] = []
        for kind, names in (("sites", self.sites), ("teams", self.teams), ("users", self.users)):
            for name in names:
                if not _name_re.match(name):
                    problems.append(
                        f"{kind}.{name}: expected a name of lowercase letters, digits and '-' "
                        f"starting with a letter; found {name!r}"
                    )
        for site_name, site in self.sites.items():
            for dest in site.prices.egress_gb:
                if dest != "internet" and dest not in self.sites:
                    problems.append(
                        f"sites.{site_name}.prices.egress_gb.{dest}: expected a declared site "
                        f"or 'internet'; found {dest!r}"
                    )
        for team_name, team in self.teams.items():
            for i, member in enumerate(team.members):
                if member not in self.users:
                    problems.append(
                        f"teams.{team_name}.members.{i}: expected a user declared under "
                        f"'users'; found {member!r}"
                    )
        if self.default_site is not None and self.default_site not in self.sites:
            problems.append(
                f"default_site: expected one of {', '.join(self.sites)}; "
                f"found {self.default_site!r}"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def teams_of(self, user: str) -> list[str]:
        return sorted(t for t, team in self.teams.items() if user in team.members)

    def site(self, name: str) -> Site:
        from steward.errors import NotFound

        try:
            return self.sites[name]
        except KeyError:
            raise NotFound(
                f"unknown site {name!r}; expected one of {', '.join(sorted(self.sites))}. "
                "Declare it under 'sites' in steward.yaml.",
                site=name,
                known=sorted(self.sites),
            ) from None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` inside :class:`StewardConfig`, if any."""
    node: Any = StewardConfig
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            if field is None:
                return None
            node = field.annotation
        elif get_origin(node) in (dict, list) and get_args(node):
            node = get_args(node)[-1]
        else:
            return None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _format_errors(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        ctx = err.get("ctx") or {}
        found = _describe(err.get("input"))
        if kind == "value_error":
            # Our own cross-reference checks: already one line per problem with the path.
            msg = str(ctx.get("error", err["msg"]))
            problems.extend(line for line in msg.split("\n") if line)
            continue
        if kind == "literal_error":
            expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
            problems.append(f"{path}: expected one of {expected}; found {found}")
        elif kind == "extra_forbidden":
            model = _model_at(err["loc"][:-1])
            known = ", ".join(model.model_fields) if model else "a known key"
            problems.append(
                f"{path}: expected one of {known}; found unexpected key {err['loc'][-1]!r} "
                "(remove it or check its spelling)"
            )
        elif kind == "missing":
            problems.append(f"{path}: required key is missing")
        else:
            msg = err["msg"]
            msg = msg[0].lower() + msg[1:] if msg else msg
            msg = msg.replace("input should be", "expected").replace("Input should be", "expected")
            problems.append(f"{path}: {msg}; found {found}")
    return problems


def parse_config(data: Any, *, path: str | None = None) -> StewardConfig:
    """Validate already-loaded YAML data; raise :class:`ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError([f"(top level): expected a mapping; found {_describe(data)}"], path=path)
    try:
        return StewardConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc), path=path) from None


def load_config(path: Path) -> StewardConfig:
    """Read and validate ``steward.yaml``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: file not found; run 'steward init' to create a home"], path=str(path)
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}not valid YAML: {problem}"], path=str(path)) from None
    return parse_config(data, path=str(path))
