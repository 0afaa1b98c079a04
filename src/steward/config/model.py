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
    "AlertRule",
    "Audit",
    "ChampionGate",
    "FairnessGate",
    "GateSuite",
    "Gates",
    "LogMask",
    "Monitoring",
    "Prices",
    "Privacy",
    "Quotas",
    "RobustnessGate",
    "Site",
    "StewardConfig",
    "Team",
    "Threshold",
    "Training",
    "Transfer",
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


class SpotPrices(_Strict):
    """Spot (preemptible) prices; a job that asks for spot (``resources.spot``) pays these."""

    cpu_hour: float | None = Field(None, ge=0)
    gpu_hour: float | None = Field(None, ge=0)


class Prices(_Strict):
    """List prices of a site (or of a provider's region in the price book), in US dollars.

    ``egress_gb`` is the price per GB leaving the site: by destination site name, or
    ``inter_region`` (another region of the same provider), or ``internet`` (anything
    else: another provider, on-premises, the internet)."""

    cpu_hour: float = Field(0.0, ge=0, description="per vCPU-hour")
    memory_gb_hour: float = Field(0.0, ge=0, description="per GB of memory per hour")
    gpu_hour: float = Field(0.0, ge=0)
    storage_gb_month: float = Field(0.0, ge=0)
    egress_gb: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="price per GB leaving this site, by destination site name, "
        "'inter_region' or 'internet'",
    )
    spot: SpotPrices | None = None

    def egress_to(self, dest: str, *, same_provider: bool) -> float:
        """The price per GB from here to ``dest`` (a site name or ``internet``)."""
        if dest in self.egress_gb:
            return self.egress_gb[dest]
        if same_provider and "inter_region" in self.egress_gb:
            return self.egress_gb["inter_region"]
        return self.egress_gb.get("internet", 0.0)


class Capacity(_Strict):
    """What a site has (for its idle cost: capacity paid for and not allocated)."""

    cpus: float = Field(0, ge=0)
    memory_gb: float = Field(0, ge=0)
    gpus: float = Field(0, ge=0)


class Site(_Strict):
    """Where data lives and work runs. Without ``prices`` the site takes its provider's
    and region's entry of the price book."""

    provider: Provider
    region: str = Field(min_length=1)
    jurisdiction: Jurisdiction
    trust: Trust = "public"
    prices: Prices = Field(default_factory=lambda: Prices())
    capacity: Capacity | None = None


class Quotas(_Strict):
    """Compute a team may use per calendar month (UTC); absent means unlimited."""

    cpu_hours_per_month: float | None = Field(None, ge=0)
    gpu_hours_per_month: float | None = Field(None, ge=0)


class Budget(_Strict):
    """A team's money per calendar month (UTC). At ``soft_share`` of it an alert opens; a
    ``hard`` budget refuses a training job whose estimated cost would cross it before it
    starts. Serving is never cut off by a budget unless ``serving: block``."""

    monthly_usd: float = Field(gt=0)
    soft_share: float = Field(0.8, gt=0, le=1)
    hard: bool = True
    serving: Literal["alert", "block"] = "alert"


class Team(_Strict):
    members: list[str] = Field(default_factory=list)
    quotas: Quotas = Field(default_factory=lambda: Quotas())
    budget: Budget | None = None


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


class Transfer(_Strict):
    """A transfer of personal data out of its jurisdiction that the site allows at all
    (an adequacy decision, standard contractual clauses). Each copy still needs a second
    data steward's approval; without a rule the residency policy forbids it outright."""

    origin: Jurisdiction = Field(description="jurisdiction the data belongs to")
    destination: Jurisdiction = Field(description="jurisdiction it may be copied to")
    basis: str = Field(min_length=1, description="the legal basis, e.g. 'adequacy decision'")


class Privacy(_Strict):
    """Thresholds for anonymisation (no hidden defaults: these are the documented ones)."""

    k_anonymity_min: int = Field(
        5, ge=2, description="k a masked version needs to count as anonymised"
    )
    sample_rows: int = Field(
        1000, ge=50, le=100_000, description="values per column sampled for classification"
    )
    transfers: list[Transfer] = Field(
        default_factory=list,
        description="cross-jurisdiction copies of non-anonymised data allowed with four eyes",
    )


class ReadAudit(_Strict):
    """Which allowed reads of personal data go on the record (``audit.reads``).

    Reads of dataset versions holding direct or special-category columns and model
    artifact downloads are recorded (HIPAA 164.312(b)). ``all`` records every one;
    ``sampled`` records a share ``sample_rate`` of them and, whatever the draw, the first
    read by a user of a resource in each ``period_minutes``. ``audit.reads: sampled`` is
    short for ``{record: sampled}``.
    """

    record: Literal["all", "sampled"] = Field(
        "all", description="all: every read of personal data; sampled: see sample_rate"
    )
    sample_rate: float = Field(
        0.01, ge=0.0, le=1.0, description="share of the other reads recorded when sampled"
    )
    period_minutes: float = Field(
        60.0,
        gt=0,
        le=525_600,
        description="a user's reads of one resource are recorded at least once per period",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"record": value} if isinstance(value, str) else value


PERFORMANCE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": (
        "roc_auc",
        "accuracy",
        "f1",
        "precision",
        "recall",
        "log_loss",
        "brier",
        "calibration_error",
    ),
    "multiclass": ("accuracy", "f1_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
FAIRNESS_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "accuracy_difference",
)
ROBUSTNESS_METRICS = (
    "flip_rate",
    "invalid_output_share",
    "conflicting_duplicates_share",
    "leakage_auc",
)


class Threshold(_Strict):
    """A bound on one metric: ``min`` (at least) or ``max`` (at most), not both."""

    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if (self.min is None) == (self.max is None):
            raise ValueError(
                f"{self.metric}: expected exactly one of min or max (the direction of the bound)"
            )
        return self

    @property
    def bound(self) -> float:
        return self.min if self.min is not None else self.max  # type: ignore[return-value]

    def passes(self, value: float) -> bool:
        if value != value:  # NaN: not measurable is not a pass
            return False
        return value >= self.min if self.min is not None else value <= self.max  # type: ignore[operator]


class FairnessGate(_Strict):
    sensitive: list[str] = Field(min_length=1, description="attributes in the holdout")
    min_group_size: int = Field(30, ge=1, description="smaller groups are reported, not judged")
    intersections: bool = True
    limits: list[Threshold] = Field(default_factory=list)
    allow_unjudged: bool = Field(
        False,
        description="pass an attribute with fewer than two groups of min_group_size rows "
        "(reported 'not judged'); by default such an attribute fails the gate",
    )


class RobustnessGate(_Strict):
    epsilon: float = Field(0.05, gt=0, le=1, description="noise, in standard deviations")
    limits: list[Threshold] = Field(default_factory=list)


class ChampionGate(_Strict):
    metric: str | None = Field(None, description="default: the suite's primary metric")
    margin: float = Field(0.0, ge=0, description="how much worse than the champion is allowed")


class GateSuite(_Strict):
    """Evidence a model must show on a locked holdout (see docs/gates.md)."""

    objective: Literal["binary", "multiclass", "regression"]
    teams: list[str] = Field(default_factory=list, description="empty: every team")
    models: list[str] = Field(default_factory=list, description="empty: every model")
    holdout: str | None = Field(
        None,
        max_length=160,
        description="the holdout dataset (name; its newest version) for the models this "
        "suite applies to; gates.holdout_by_model and gates.holdout_by_team come first",
    )
    primary: str
    performance: list[Threshold] = Field(default_factory=list)
    fairness: FairnessGate | None = None
    robustness: RobustnessGate | None = None
    champion: ChampionGate | None = None

    @model_validator(mode="after")
    def _metrics_known(self) -> GateSuite:
        known = PERFORMANCE_METRICS[self.objective]
        problems = []
        for t in [*self.performance]:
            if t.metric not in known:
                problems.append(f"performance metric {t.metric!r} is not one of {', '.join(known)}")
        if self.primary not in known:
            problems.append(f"primary {self.primary!r} is not one of {', '.join(known)}")
        if self.champion and self.champion.metric and self.champion.metric not in known:
            problems.append(
                f"champion metric {self.champion.metric!r} is not one of {', '.join(known)}"
            )
        if self.fairness is not None:
            if self.objective != "binary":
                problems.append("fairness gates need a binary objective (selection rates)")
            for t in self.fairness.limits:
                if t.metric not in FAIRNESS_METRICS:
                    problems.append(
                        f"fairness metric {t.metric!r} is not one of {', '.join(FAIRNESS_METRICS)}"
                    )
        if self.robustness is not None:
            for t in self.robustness.limits:
                if t.metric not in ROBUSTNESS_METRICS:
                    problems.append(
                        f"robustness metric {t.metric!r} is not one of "
                        f"{', '.join(ROBUSTNESS_METRICS)}"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Gates(_Strict):
    suites: dict[str, GateSuite] = Field(default_factory=dict)
    approvals_required: int = Field(1, ge=1, le=10, description="approvals before promotion")
    approvals_by_team: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    holdout_by_model: dict[str, str] = Field(
        default_factory=dict, description="model name → holdout dataset name (newest version)"
    )
    holdout_by_team: dict[str, str] = Field(
        default_factory=dict, description="team → holdout dataset name (newest version)"
    )

    def holdout_for(
        self, team: str | None, model: str, suite: str | None
    ) -> tuple[str, str] | None:
        """The holdout dataset that applies and the key that named it: the model's
        (``holdout_by_model``), then its team's (``holdout_by_team``), then the applicable
        suite's ``holdout``; ``None`` when none is pinned."""
        if model in self.holdout_by_model:
            return self.holdout_by_model[model], f"gates.holdout_by_model.{model}"
        if team is not None and team in self.holdout_by_team:
            return self.holdout_by_team[team], f"gates.holdout_by_team.{team}"
        found = self.suites.get(suite) if suite is not None else None
        if found is not None and found.holdout is not None:
            return found.holdout, f"gates.suites.{suite}.holdout"
        return None

    def suite_for(
        self, objective: str, team: str | None, model: str
    ) -> tuple[str, GateSuite] | None:
        """The most specific suite: one naming the model, then the team, then any."""
        best: tuple[int, str, GateSuite] | None = None
        for name, suite in sorted(self.suites.items()):
            if suite.objective != objective:
                continue
            if suite.models and model not in suite.models:
                continue
            if suite.teams and team not in suite.teams:
                continue
            rank = 2 if suite.models else 1 if suite.teams else 0
            if best is None or rank > best[0]:
                best = (rank, name, suite)
        return None if best is None else (best[1], best[2])


_MaskOp = Literal["keep", "pseudonymise", "redact", "drop"]


class LogMask(_Strict):
    """How the prediction log stores a model input, by the category its training data's
    classification gave the column: ``pseudonymise`` (keyed HMAC, the same pseudonym as in
    masked datasets, so distributions and joins survive), ``redact``, ``drop`` or ``keep``."""

    direct: _MaskOp = "pseudonymise"
    quasi: _MaskOp = "keep"
    special: _MaskOp = "pseudonymise"
    free_text: _MaskOp = "redact"


class Serving(_Strict):
    """Latency budgets of endpoints (the p99 each should stay under, milliseconds) and the
    prediction log: how often it is flushed and how it masks personal data."""

    default_latency_budget_ms: float = Field(50.0, gt=0, le=60_000)
    latency_budgets_ms: dict[str, Annotated[float, Field(gt=0, le=60_000)]] = Field(
        default_factory=dict, description="per endpoint name"
    )
    log_flush_seconds: float = Field(
        1.0, gt=0, le=300, description="a crash loses at most this much of the prediction log"
    )
    log_batch: int = Field(2000, ge=1, le=100_000, description="flush early at this many rows")
    log_buffer: int = Field(
        200_000,
        ge=1000,
        le=10_000_000,
        description="rows held while the database cannot be written; the oldest are dropped",
    )
    log_mask: LogMask = Field(default_factory=lambda: LogMask())

    def budget_ms(self, endpoint: str) -> float:
        return self.latency_budgets_ms.get(endpoint, self.default_latency_budget_ms)


Signal = Literal[
    "dataset_drift",
    "prediction_drift",
    "feature_drift",
    "change_point",
    "performance",
    "revalidation",
    "latency",
    "error_rate",
    "rejected_share",
    "budget",
    "cost_anomaly",
    "monitoring",  # a problem in an endpoint's monitoring round (bad labels, an error)
]
ActionName = Literal["alert", "webhook", "rollback", "retrain"]


def _alert_only() -> list[ActionName]:
    return ["alert"]


class AlertRule(_Strict):
    """When a signal shows on an endpoint's latest (shortest) window, or on a team (its
    budget, an anomaly in its spend), do the actions.

    ``error_rate`` and ``rejected_share`` fire above ``threshold`` (a share; default 0.05);
    ``latency`` when the window's p99 is over the endpoint's budget; the drift signals on
    the window's drift verdicts. Every action is taken as ``steward-monitor`` through the
    one door: ``alert`` opens (or adds to) an alert, ``webhook`` posts it to ``webhook``,
    ``rollback`` returns the endpoint to its previous revision (once per alert),
    ``retrain`` opens a training job with the model's spec (its result must pass the gates
    again before anyone may deploy it)."""

    name: str = Field(min_length=1, max_length=128)
    signal: Signal
    endpoints: list[str] = Field(default_factory=list, description="empty: every endpoint")
    teams: list[str] = Field(
        default_factory=list, description="for a team's signals (budget, cost): empty: all"
    )
    threshold: float | None = Field(None, ge=0, le=1)
    actions: list[ActionName] = Field(default_factory=_alert_only, min_length=1)
    webhook: str | None = Field(None, pattern=r"^https?://")
    severity: Literal["info", "warning", "critical"] = "warning"

    @model_validator(mode="after")
    def _webhook(self) -> AlertRule:
        if "webhook" in self.actions and not self.webhook:
            raise ValueError(f"rule {self.name}: the webhook action needs a webhook URL")
        return self


def _default_rules() -> list[AlertRule]:
    return [
        AlertRule(name="data-drift", signal="dataset_drift"),
        AlertRule(name="prediction-drift", signal="prediction_drift"),
        AlertRule(name="latency-budget", signal="latency"),
        AlertRule(name="errors", signal="error_rate", threshold=0.05),
        AlertRule(name="performance", signal="performance"),
        AlertRule(name="gradual-drift", signal="change_point", severity="info"),
        AlertRule(name="revalidation", signal="revalidation", severity="critical"),
        AlertRule(name="budget", signal="budget"),
        AlertRule(name="cost-anomaly", signal="cost_anomaly"),
    ]


class ChangePointSettings(_Strict):
    """Change points over an endpoint's series of windows (docs/monitoring.md): each
    numeric input's and the prediction's window mean, against the endpoint's own level
    (the row-weighted mean of the series' first ``warmup`` windows), in units of the
    window's standard error ``max(reference std / sqrt(rows), min_effect * reference
    std)``, watched by CUSUM (or Page–Hinkley): a lasting move that no single window's
    test calls drift."""

    method: Literal["cusum", "page_hinkley"] = "cusum"
    windows: int = Field(72, ge=3, le=10_000, description="the series: this many latest windows")
    warmup: int = Field(12, ge=2, le=1000, description="windows that set the endpoint's level")
    k: float = Field(0.5, ge=0, description="CUSUM allowance / Page–Hinkley delta, in z units")
    h: float = Field(8.0, gt=0, description="CUSUM decision interval / Page–Hinkley lambda")
    min_effect: float = Field(
        0.02,
        gt=0,
        description="the smallest move, in reference standard deviations, one window counts "
        "in full (large windows would otherwise alarm on differences too small to matter)",
    )


class Revalidation(_Strict):
    """Production models re-run through their gate suite on a schedule: on the latest
    locked version of their holdout and on recently labelled traffic. ``every_days`` for
    all teams, ``teams`` per team (0 turns it off); a model that no longer passes raises
    the ``revalidation`` signal."""

    every_days: float = Field(7.0, ge=0)
    teams: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    labelled_days: float = Field(7.0, gt=0, description="recently labelled traffic: days back")

    def days_for(self, team: str) -> float:
        return self.teams.get(team, self.every_days)


class Monitoring(_Strict):
    """How endpoints are watched (docs/monitoring.md): the window lengths live profiles are
    kept for, how often the server's monitor runs, the least rows a window needs before it
    is tested, and drift settings (Evidently's defaults unless set; per model name under
    ``models``). ``drift`` and each ``models`` entry take the keys of
    :class:`steward.kernels.drift.DriftSettings`: method, threshold, numeric, categorical,
    columns, thresholds, drift_share."""

    windows_minutes: list[Annotated[int, Field(ge=1, le=44_640)]] = Field(
        default_factory=lambda: [60, 1440], min_length=1
    )
    interval_seconds: float = Field(60.0, gt=0, le=86_400)
    min_rows: int = Field(100, ge=1)
    min_labels: int = Field(50, ge=1, description="labelled rows needed to judge performance")
    performance_tolerance: float = Field(
        0.05, ge=0, description="how much worse than validated the primary metric may get"
    )
    change_points: ChangePointSettings = Field(default_factory=lambda: ChangePointSettings())
    revalidation: Revalidation = Field(default_factory=lambda: Revalidation())
    drift: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=_default_rules)
    flap_guard_hours: float = Field(
        24.0,
        ge=0,
        le=8_760,
        description="an automatic rollback never brings back a model that a rollback took "
        "off the same endpoint within this many hours (0: off)",
    )

    @model_validator(mode="after")
    def _drift_settings(self) -> Monitoring:
        from steward.kernels.drift import DriftError, DriftSettings

        problems = []
        for where, d in [("drift", self.drift)] + [
            (f"models.{m}", d) for m, d in self.models.items()
        ]:
            try:
                DriftSettings.from_dict(d)
            except DriftError as exc:
                problems.append(f"monitoring.{where}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def drift_for(self, model: str) -> Any:
        """The DriftSettings for a model (its own entry over the general one)."""
        from steward.kernels.drift import DriftSettings

        return DriftSettings.from_dict({**self.drift, **self.models.get(model, {})})


class Audit(_Strict):
    """The audit ledger: automatic signed checkpoints and the witness copy (``audit``).

    ``steward server`` signs a checkpoint after ``checkpoint_every_entries`` new entries,
    or ``checkpoint_every_minutes`` after the last one if anything was recorded since,
    and writes the newest checkpoint also to ``witness_dir`` (relative paths are from the
    home; default ``<home>/witness``): ship that directory to write-once storage.
    """

    checkpoint_every_entries: int = Field(
        1000, ge=1, le=100_000_000, description="sign a checkpoint after this many new entries"
    )
    checkpoint_every_minutes: float = Field(
        60.0,
        gt=0,
        le=525_600,
        description="sign a checkpoint this long after the last one (if anything was recorded)",
    )
    witness_dir: str | None = Field(
        None,
        min_length=1,
        description="where the newest checkpoint is also written (default <home>/witness)",
    )
    reads: ReadAudit = Field(default_factory=lambda: ReadAudit())


class StewardConfig(_Strict):
    """The whole of ``steward.yaml``."""

    version: Literal[1] = 1
    default_site: str | None = None
    sites: dict[str, Site] = Field(min_length=1)
    teams: dict[str, Team] = Field(default_factory=dict)
    users: dict[str, User] = Field(min_length=1)
    privacy: Privacy = Field(default_factory=lambda: Privacy())
    training: Training = Field(default_factory=lambda: Training())
    gates: Gates = Field(default_factory=lambda: Gates())
    serving: Serving = Field(default_factory=lambda: Serving())
    monitoring: Monitoring = Field(default_factory=lambda: Monitoring())
    audit: Audit = Field(default_factory=lambda: Audit())
    price_book: dict[Provider, dict[str, Prices]] = Field(
        default_factory=dict,
        description="provider -> region -> prices: what sites without their own prices "
        "pay, and what `steward cost exit` prices another provider at",
    )

    @model_validator(mode="after")
    def _site_prices(self) -> StewardConfig:
        """A site without its own prices takes its provider's and region's entry."""
        for name, site in list(self.sites.items()):
            if "prices" not in site.model_fields_set:
                book = self.price_book.get(site.provider, {}).get(site.region)
                if book is not None:
                    self.sites[name] = site.model_copy(update={"prices": book})
        return self

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
        if "steward-monitor" in self.users:
            problems.append(
                "users.steward-monitor: the name is reserved for Steward's monitoring service "
                "identity; choose another name"
            )
        if "steward-gates" in self.users:
            problems.append(
                "users.steward-gates: the name is reserved for Steward's gate evaluation "
                "service identity (the only reader of locked holdouts); choose another name"
            )
        for site_name, site in self.sites.items():
            for dest in site.prices.egress_gb:
                if dest not in ("internet", "inter_region") and dest not in self.sites:
                    problems.append(
                        f"sites.{site_name}.prices.egress_gb.{dest}: expected a declared site, "
                        f"'inter_region' or 'internet'; found {dest!r}"
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

    def egress_price(self, source: str, dest: str) -> float:
        """US dollars per GB moved from site ``source`` to ``dest`` (a site or internet)."""
        src = self.site(source)
        same = dest in self.sites and self.sites[dest].provider == src.provider
        return src.prices.egress_to(dest, same_provider=same)

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
            # Our own checks. The top-level cross-reference checks already give one line per
            # problem with its path; a nested model's check gets the model's path here.
            msg = str(ctx.get("error", err["msg"]))
            prefix = f"{path}: " if err["loc"] else ""
            problems.extend(prefix + line for line in msg.split("\n") if line)
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
