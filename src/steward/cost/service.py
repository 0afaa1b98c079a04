"""Cost: reports over the metered cost records, budgets, forecasts, anomalies, egress and
the cost of leaving a provider.

The records are written where the work happens (:mod:`steward.metering`); this service
reads them:

- **reports** group the records of a period by team, site, kind, resource, model,
  endpoint, day or month; the rows add up to the total exactly (they are one SQL
  aggregate of the same records). A site with a declared ``capacity`` also shows its
  **idle** cost: what the capacity cost over the period less what was allocated on it;
- **forecasts** of the month's spend per team or endpoint from the daily series
  (Holt–Winters with a weekly season; :mod:`steward.kernels.forecast`), with a
  prediction interval and the day the budget would be crossed;
- **anomalies**: days outside the one-step forecast band, with their impact in money and
  percent;
- **egress** between sites, and the **exit** estimate: what moving a team's data, models
  and work from one provider to another would cost once (egress) and per month after
  (re-hosted at the other provider's prices);
- **watching** (the server's monitor, each round): a day's storage accrued once, soft
  budget alerts, and cost anomalies turned into alerts through the monitoring rules.
"""

from __future__ import annotations

import calendar
import json
import logging
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.audit import canonical_json, sha256_hex
from steward.config import Prices
from steward.door import Action
from steward.errors import NotFound, ValidationFailed
from steward.kernels.forecast import anomalies, budget_crossing, forecast
from steward.metering import GB, month_bounds
from steward.monitoring.alerts import AlertInfo, AlertService
from steward.policy import Principal, Resource
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.store import (
    Alert,
    CostRecord,
    Endpoint,
    Prediction,
    governed_writes,
)

__all__ = [
    "GROUPS",
    "RECORD_COLUMNS",
    "AnomalyInfo",
    "CostForecast",
    "CostRecordInfo",
    "CostReport",
    "CostRow",
    "CostService",
    "EgressRow",
    "ExitEstimate",
    "IdleRow",
    "ServingEstimate",
]

_log = logging.getLogger("steward.cost")

GROUPS: dict[str, Any] = {
    "team": CostRecord.team,
    "site": CostRecord.site,
    "kind": CostRecord.kind,
    "resource": CostRecord.resource,
    "model": CostRecord.model,
    "endpoint": CostRecord.endpoint,
    "action": CostRecord.action,
    "day": CostRecord.day,
    "month": func.substr(CostRecord.day, 1, 7),
}
COMPUTE = ("cpu", "memory", "gpu")
SECONDS_PER_MONTH = 730 * 3600  # the cloud's month: 730 hours


class CostRow(BaseModel):
    key: dict[str, str | None]
    amount: float
    records: int


class CostRecordInfo(BaseModel):
    """One metered record (see :class:`steward.store.CostRecord`)."""

    at: datetime
    team: str
    site: str
    kind: str
    resource: str
    units: float
    unit: str
    unit_price: float
    amount: float
    action: str
    ref: str
    endpoint: str | None = None
    model: str | None = None
    requested: float | None = None
    used: float | None = None
    hours: float | None = None
    dest: str | None = None


RECORD_COLUMNS = list(CostRecordInfo.model_fields)


class IdleRow(BaseModel):
    site: str
    capacity_usd: float  # what the declared capacity cost over the period
    allocated_usd: float  # compute recorded at the site over the period
    idle_usd: float
    idle_share: float


class CostReport(BaseModel):
    since: date
    until: date  # exclusive
    team: str | None
    by: list[str]
    currency: str = "USD"
    rows: list[CostRow]
    total: float
    records: int
    idle: list[IdleRow] = Field(default_factory=list)


class EgressRow(BaseModel):
    source: str
    dest: str
    gb: float
    amount: float
    records: int


class ExitLine(BaseModel):
    what: str  # datasets | models | objects | compute | storage
    site: str
    gb: float | None = None
    units: float | None = None
    unit: str | None = None
    current_usd: float
    target_usd: float


class ExitEstimate(BaseModel):
    from_provider: str
    to_provider: str
    to_region: str
    team: str | None
    sites: list[str]
    data_gb: float
    egress_usd: float  # once: moving the bytes out
    current_monthly_usd: float  # the last 30 days at the current prices
    target_monthly_usd: float  # the same usage at the target region's prices
    monthly_change_usd: float
    endpoints: list[str]
    lines: list[ExitLine]
    notes: list[str]


class DayPoint(BaseModel):
    day: date
    amount: float


class ForecastPoint(BaseModel):
    day: date
    mean: float
    lower: float
    upper: float


class CostForecast(BaseModel):
    team: str | None
    endpoint: str | None
    month: str
    spent: float  # month to date, today included
    spent_before_today: float
    method: str
    level: float
    history: list[DayPoint]
    forecast: list[ForecastPoint]
    projected_total: dict[str, float]
    budget: float | None
    crossing: dict[str, date | None]
    exceeded_already: bool


class AnomalyInfo(BaseModel):
    day: date
    team: str | None
    endpoint: str | None
    value: float
    expected: float
    lower: float
    upper: float
    impact: float
    impact_pct: float | None
    direction: str
    method: str


class SiteServing(BaseModel):
    site: str
    allowed: bool
    monthly_usd: float
    cpu_hour: float
    refused_by: list[str] = Field(default_factory=list)


class ServingEstimate(BaseModel):
    model: str
    requests_per_second: float
    seconds_per_request: float
    basis: str  # where seconds_per_request comes from
    cpu_hours_per_month: float
    sites: list[SiteServing]
    cheapest_allowed: str | None


def _day(text: str | date | None, default: date) -> date:
    if text is None:
        return default
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            f"expected a date YYYY-MM-DD; found {text!r}", parameter="since/until"
        ) from None


def _start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


class CostService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._anomaly_checked: dict[str, date] = {}

    def _read(self, principal: Principal) -> None:
        self.rt.door.check(principal, Action("system.read", Resource("System", "costs")))

    def _team_known(self, team: str | None) -> None:
        if team is not None and team not in self.rt.config.teams:
            raise NotFound(
                f"unknown team {team!r}; expected one of "
                f"{', '.join(sorted(self.rt.config.teams)) or '(none declared)'}",
                team=team,
            )

    @staticmethod
    def _period(since: str | date | None, until: str | date | None) -> tuple[date, date]:
        today = datetime.now(UTC).date()
        first = today.replace(day=1)
        start = _day(since, first)
        end = _day(until, today + timedelta(days=1))
        if end <= start:
            raise ValidationFailed(
                f"until ({end}) must be after since ({start}); until is exclusive",
                parameter="until",
            )
        return start, end

    # -- reports -----------------------------------------------------------------------------
    def report(
        self,
        principal: Principal,
        *,
        by: list[str] | None = None,
        team: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        endpoint: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
    ) -> CostReport:
        """Spend in [since, until) (default: this month so far), grouped ``by``."""
        self._read(principal)
        self._team_known(team)
        by = by or ["kind"]
        unknown = [b for b in by if b not in GROUPS]
        if unknown:
            raise ValidationFailed(
                f"by: expected some of {', '.join(GROUPS)}; found {', '.join(unknown)}",
                parameter="by",
            )
        start, end = self._period(since, until)
        cols = [GROUPS[b].label(b) for b in by]
        q = select(*cols, func.sum(CostRecord.amount), func.count(CostRecord.id)).where(
            CostRecord.day >= start.isoformat(), CostRecord.day < end.isoformat()
        )
        q = self._filtered(q, team=team, site=site, kind=kind, endpoint=endpoint)
        q = q.group_by(*cols).order_by(*cols)
        with self.rt.store.transaction() as s:
            rows = [
                CostRow(
                    key={
                        b: (None if v is None else str(v)) for b, v in zip(by, r[:-2], strict=True)
                    },
                    amount=float(r[-2] or 0.0),
                    records=int(r[-1]),
                )
                for r in s.execute(q).all()
            ]
            idle = self._idle(s, start, end) if site is None or site in self.rt.config.sites else []
        total = float(sum(r.amount for r in rows))
        return CostReport(
            since=start,
            until=end,
            team=team,
            by=by,
            rows=rows,
            total=total,
            records=sum(r.records for r in rows),
            idle=[i for i in idle if site is None or i.site == site],
        )

    @staticmethod
    def _filtered(q: Any, **where: str | None) -> Any:
        for name, value in where.items():
            if value is not None:
                q = q.where(getattr(CostRecord, name) == value)
        return q

    def _idle(self, s: Session, start: date, end: date) -> list[IdleRow]:
        """Each site with a declared capacity: its cost over the period (up to now) less
        the compute allocated on it."""
        out = []
        now = datetime.now(UTC)
        for name, site in sorted(self.rt.config.sites.items()):
            cap = site.capacity
            if cap is None:
                continue
            hours = max(0.0, (min(_start(end), now) - _start(start)).total_seconds() / 3600)
            p = site.prices
            capacity = hours * (
                cap.cpus * p.cpu_hour + cap.memory_gb * p.memory_gb_hour + cap.gpus * p.gpu_hour
            )
            allocated = float(
                s.execute(
                    select(func.coalesce(func.sum(CostRecord.amount), 0.0)).where(
                        CostRecord.site == name,
                        CostRecord.resource.in_(COMPUTE),
                        CostRecord.day >= start.isoformat(),
                        CostRecord.day < end.isoformat(),
                    )
                ).scalar_one()
            )
            idle = max(0.0, capacity - allocated)
            out.append(
                IdleRow(
                    site=name,
                    capacity_usd=capacity,
                    allocated_usd=allocated,
                    idle_usd=idle,
                    idle_share=idle / capacity if capacity > 0 else 0.0,
                )
            )
        return out

    def records(
        self,
        principal: Principal,
        *,
        team: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        limit: int = 10_000,
    ) -> list[CostRecordInfo]:
        """The records themselves (for CSV), oldest first."""
        self._read(principal)
        self._team_known(team)
        start, end = self._period(since, until)
        q = (
            select(CostRecord)
            .where(CostRecord.day >= start.isoformat(), CostRecord.day < end.isoformat())
            .order_by(CostRecord.id)
            .limit(limit)
        )
        q = self._filtered(q, team=team)
        with self.rt.store.transaction() as s:
            return [
                CostRecordInfo(**{c: getattr(r, c) for c in RECORD_COLUMNS}) for r in s.scalars(q)
            ]

    def import_records(self, principal: Principal, rows: list[CostRecordInfo]) -> int:
        """Bring in spend metered elsewhere (a previous platform, a cloud bill export) so
        that reports, forecasts and anomalies see the history: one governed action
        (``cost.import``, admins), all rows or none. Each row's amount must equal
        ``units × unit_price``; teams and sites must be declared."""
        if not rows:
            raise ValidationFailed("records: expected at least one", parameter="records")
        problems = []
        for i, r in enumerate(rows):
            if r.team and r.team not in self.rt.config.teams:
                problems.append(f"row {i}: unknown team {r.team!r}")
            if r.site not in self.rt.config.sites:
                problems.append(f"row {i}: unknown site {r.site!r}")
            if r.units < 0 or r.unit_price < 0:
                problems.append(f"row {i}: units and unit_price must be >= 0")
            if not math.isclose(r.amount, r.units * r.unit_price, rel_tol=1e-6, abs_tol=1e-9):
                problems.append(
                    f"row {i}: amount {r.amount} is not units × unit_price "
                    f"({r.units} × {r.unit_price} = {r.units * r.unit_price})"
                )
        if problems:
            raise ValidationFailed(
                f"{len(problems)} problem(s) in the records, none imported: "
                + "; ".join(problems[:10]),
                problems=problems[:100],
            )
        total = sum(r.amount for r in rows)
        action = Action(
            "cost.import",
            Resource("System", "costs"),
            payload={
                "records": len(rows),
                "total": round(total, 6),
                "digest": sha256_hex(canonical_json([r.model_dump(mode="json") for r in rows])),
            },
        )

        def do(s: Session) -> int:
            for r in rows:
                at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
                s.add(
                    CostRecord(
                        **{**r.model_dump(), "at": at, "action": "cost.import"},
                        day=at.astimezone(UTC).strftime("%Y-%m-%d"),
                    )
                )
            return len(rows)

        return self.rt.door.run(principal, action, do)

    # -- egress and exit ---------------------------------------------------------------------
    def egress(
        self,
        principal: Principal,
        *,
        team: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
    ) -> list[EgressRow]:
        """Bytes and money moved between sites (and out), by source and destination."""
        self._read(principal)
        self._team_known(team)
        start, end = self._period(since, until)
        q = select(
            CostRecord.site,
            CostRecord.dest,
            func.sum(CostRecord.units),
            func.sum(CostRecord.amount),
            func.count(CostRecord.id),
        ).where(
            CostRecord.kind == "egress",
            CostRecord.day >= start.isoformat(),
            CostRecord.day < end.isoformat(),
        )
        q = self._filtered(q, team=team).group_by(CostRecord.site, CostRecord.dest)
        with self.rt.store.transaction() as s:
            return [
                EgressRow(
                    source=src, dest=dest or "", gb=float(gb), amount=float(amt), records=int(n)
                )
                for src, dest, gb, amt, n in s.execute(q.order_by(CostRecord.site)).all()
            ]

    def exit(
        self,
        principal: Principal,
        *,
        from_provider: str,
        to_provider: str,
        to_region: str | None = None,
        team: str | None = None,
    ) -> ExitEstimate:
        """What leaving ``from_provider`` for ``to_provider`` would cost: moving the bytes
        out once (each site's internet egress price), and the last 30 days' usage at the
        target region's prices instead of today's, per month."""
        self._read(principal)
        self._team_known(team)
        cfg = self.rt.config
        book = cfg.price_book.get(to_provider)  # type: ignore[call-overload]
        if not book:
            raise ValidationFailed(
                f"to: no prices for provider {to_provider!r} in the price book; expected one "
                f"of {', '.join(sorted(cfg.price_book)) or '(none)'} (price_book in "
                "steward.yaml)",
                parameter="to",
            )
        region = to_region or sorted(book)[0]
        if region not in book:
            raise ValidationFailed(
                f"to-region: {to_provider} has no region {region!r} in the price book; "
                f"expected one of {', '.join(sorted(book))}",
                parameter="to_region",
            )
        target = book[region]
        sites = sorted(n for n, s in cfg.sites.items() if s.provider == from_provider)
        if not sites:
            raise ValidationFailed(
                f"from: no site is at provider {from_provider!r}; the sites' providers are "
                f"{', '.join(sorted({s.provider for s in cfg.sites.values()}))}",
                parameter="from",
            )
        lines: list[ExitLine] = []
        now = datetime.now(UTC)
        with self.rt.store.transaction() as s:
            held = self._held_by_site(s, team)
            usage = s.execute(
                self._filtered(
                    select(
                        CostRecord.site,
                        CostRecord.resource,
                        func.sum(CostRecord.units),
                        func.sum(CostRecord.amount),
                    )
                    .where(
                        CostRecord.at >= now - timedelta(days=30),
                        CostRecord.site.in_(sites),
                        CostRecord.resource.in_(COMPUTE),
                    )
                    .group_by(CostRecord.site, CostRecord.resource),
                    team=team,
                )
            ).all()
            endpoints = list(s.scalars(self._endpoint_query(team).where(Endpoint.site.in_(sites))))
        egress = 0.0
        data_gb = 0.0
        for site in sites:
            prices = cfg.sites[site].prices
            for what, nbytes in sorted(held.get(site, {}).items()):
                gb = nbytes / GB
                data_gb += gb
                out = gb * prices.egress_to("internet", same_provider=False)
                egress += out
                lines.append(
                    ExitLine(
                        what=what,
                        site=site,
                        gb=gb,
                        current_usd=gb * prices.storage_gb_month,
                        target_usd=gb * target.storage_gb_month,
                    )
                )
        unit_of = {"cpu": "cpu-hour", "memory": "gb-hour", "gpu": "gpu-hour"}
        for site, resource, units, amount in usage:
            lines.append(
                ExitLine(
                    what="compute",
                    site=site,
                    units=float(units),
                    unit=unit_of.get(resource, resource),
                    current_usd=float(amount),
                    target_usd=float(units) * _price(target, resource),
                )
            )
        current = sum(x.current_usd for x in lines)
        after = sum(x.target_usd for x in lines)
        notes = [
            f"egress: the bytes held at {', '.join(sites)} moved out once at each site's "
            "internet price; re-hosting: the last 30 days' compute and today's storage at "
            f"{to_provider} {region}'s list prices",
            "residency still applies: data of one jurisdiction may only move to sites of it",
        ]
        return ExitEstimate(
            from_provider=from_provider,
            to_provider=to_provider,
            to_region=region,
            team=team,
            sites=sites,
            data_gb=data_gb,
            egress_usd=egress,
            current_monthly_usd=current,
            target_monthly_usd=after,
            monthly_change_usd=after - current,
            endpoints=endpoints,
            lines=lines,
            notes=notes,
        )

    @staticmethod
    def _endpoint_query(team: str | None) -> Any:
        q = select(Endpoint.name).order_by(Endpoint.name)
        return q.where(Endpoint.team == team) if team is not None else q

    def _held_by_site(self, s: Session, team: str | None) -> dict[str, dict[str, int]]:
        """site → {datasets|models|objects: bytes} held now (of ``team``, or all)."""
        out: dict[str, dict[str, int]] = {}
        for what, _, site, nbytes in self.rt.meter.held(s, team=team):
            out.setdefault(site, {})
            out[site][what] = out[site].get(what, 0) + nbytes
        return out

    # -- series, forecasts, anomalies --------------------------------------------------------
    def daily(
        self, s: Session, *, team: str | None, endpoint: str | None, start: date, end: date
    ) -> np.ndarray:
        """Daily totals in [start, end), zero where nothing was recorded."""
        q = select(CostRecord.day, func.sum(CostRecord.amount)).where(
            CostRecord.day >= start.isoformat(), CostRecord.day < end.isoformat()
        )
        q = self._filtered(q, team=team, endpoint=endpoint).group_by(CostRecord.day)
        totals = {d: float(v) for d, v in s.execute(q).all()}
        n = (end - start).days
        return np.array(
            [totals.get((start + timedelta(days=i)).isoformat(), 0.0) for i in range(n)]
        )

    def _subject(self, team: str | None, endpoint: str | None) -> None:
        if (team is None) == (endpoint is None):
            raise ValidationFailed(
                "say whose spend: a team or an endpoint (one of them)", parameter="team"
            )
        self._team_known(team)
        if endpoint is not None:
            with self.rt.store.transaction() as s:
                if s.scalars(select(Endpoint.id).where(Endpoint.name == endpoint)).first() is None:
                    raise NotFound(f"endpoint {endpoint!r} not found", endpoint=endpoint)

    def forecast(
        self,
        principal: Principal,
        *,
        team: str | None = None,
        endpoint: str | None = None,
        history_days: int = 180,
        level: float = 0.9,
        today: date | None = None,
    ) -> CostForecast:
        """This month's spend: so far, and forecast for the days left (see module docs)."""
        self._read(principal)
        self._subject(team, endpoint)
        today = today or datetime.now(UTC).date()
        month_start = today.replace(day=1)
        days_in = calendar.monthrange(today.year, today.month)[1]
        month_end = month_start + timedelta(days=days_in)
        first = today - timedelta(days=history_days)
        with self.rt.store.transaction() as s:
            history = self.daily(s, team=team, endpoint=endpoint, start=first, end=today)
            today_so_far = float(
                self.daily(
                    s, team=team, endpoint=endpoint, start=today, end=today + timedelta(days=1)
                )[0]
            )
        # leading days before anything was recorded are not history
        nz = np.flatnonzero(history)
        series = history[nz[0] :] if nz.size else history[-7:]
        horizon = (month_end - today).days  # today (not complete yet) to the month's end
        f = forecast(series, horizon, level=level)
        before_today = (
            float(history[-(today - month_start).days :].sum()) if today > month_start else 0.0
        )
        budget = None
        if team is not None and self.rt.config.teams[team].budget is not None:
            budget = self.rt.config.teams[team].budget.monthly_usd  # type: ignore[union-attr]
        crossing = budget_crossing(before_today, f, budget if budget is not None else float("inf"))
        days = [today + timedelta(days=i) for i in range(horizon)]
        hist_days = [today - timedelta(days=len(series) - i) for i in range(len(series))]

        def when(step: int | None) -> date | None:
            return None if step is None or budget is None else today + timedelta(days=step - 1)

        return CostForecast(
            team=team,
            endpoint=endpoint,
            month=month_start.strftime("%Y-%m"),
            spent=before_today + today_so_far,
            spent_before_today=before_today,
            method=f.method,
            level=f.level,
            history=[
                DayPoint(day=d, amount=float(v)) for d, v in zip(hist_days, series, strict=True)
            ],
            forecast=[
                ForecastPoint(day=d, mean=float(m), lower=float(lo), upper=float(hi))
                for d, m, lo, hi in zip(days, f.mean, f.lower, f.upper, strict=True)
            ],
            projected_total={k: float(v) for k, v in crossing["projected_total"].items()},
            budget=budget,
            crossing={k: when(v) for k, v in crossing["crossing"].items()},
            exceeded_already=bool(budget is not None and crossing["exceeded_already"]),
        )

    def anomalies(
        self,
        principal: Principal,
        *,
        team: str | None = None,
        endpoint: str | None = None,
        days: int = 90,
        today: date | None = None,
    ) -> list[AnomalyInfo]:
        """Days (complete ones: before today) whose spend left the forecast band."""
        self._read(principal)
        self._subject(team, endpoint)
        return self._anomalies(team, endpoint, days, today or datetime.now(UTC).date())

    def _anomalies(
        self, team: str | None, endpoint: str | None, days: int, today: date
    ) -> list[AnomalyInfo]:
        first = today - timedelta(days=days)
        with self.rt.store.transaction() as s:
            series = self.daily(s, team=team, endpoint=endpoint, start=first, end=today)
        nz = np.flatnonzero(series)
        if not nz.size:
            return []
        offset = int(nz[0])
        found = anomalies(series[offset:])
        return [
            AnomalyInfo(
                day=first + timedelta(days=offset + a.index),
                team=team,
                endpoint=endpoint,
                **{k: v for k, v in a.to_dict().items() if k != "index"},
            )
            for a in found
        ]

    # -- serving estimate --------------------------------------------------------------------
    def serving_estimate(
        self, principal: Principal, model: str, *, requests_per_second: float
    ) -> ServingEstimate:
        """A month of serving ``model`` at a request rate, at each site (``steward deploy
        --dry-run``): the model's compute per request (the mean of its logged answers'
        scoring time, else one measured row) × requests × the site's cpu-hour price."""
        if requests_per_second < 0:
            raise ValidationFailed(
                f"rate: expected requests per second >= 0; found {requests_per_second}",
                parameter="rate",
            )
        registry = ModelService(self.rt)
        detail = registry.show(principal, model)
        with self.rt.store.transaction() as s:
            mean_ms, n = s.execute(
                select(func.avg(Prediction.latency_ms), func.count(Prediction.id)).where(
                    Prediction.model == detail.ref
                )
            ).one()
        if n:
            seconds, basis = float(mean_ms) / 1000.0, f"the mean of {n:,} logged answers"
        else:
            seconds, basis = self._measure(principal, detail.ref), "one row, measured now"
        cpu_hours = requests_per_second * SECONDS_PER_MONTH * seconds / 3600.0
        resource = registry.policy_resource(detail)
        sites = []
        for name in sorted(self.rt.config.sites):
            d = self.rt.door.decide(principal, Action("deployment.create", resource, site=name))
            price = self.rt.config.sites[name].prices.cpu_hour
            sites.append(
                SiteServing(
                    site=name,
                    allowed=d.allowed,
                    monthly_usd=cpu_hours * price,
                    cpu_hour=price,
                    refused_by=sorted({r.policy for r in d.reasons if r.effect == "forbid"}),
                )
            )
        allowed = [x for x in sites if x.allowed]
        return ServingEstimate(
            model=detail.ref,
            requests_per_second=requests_per_second,
            seconds_per_request=seconds,
            basis=basis,
            cpu_hours_per_month=cpu_hours,
            sites=sites,
            cheapest_allowed=min(allowed, key=lambda x: x.monthly_usd).site if allowed else None,
        )

    def _measure(self, principal: Principal, ref: str) -> float:
        import time

        from steward.registry.runner import OnnxRunner

        registry = ModelService(self.rt)
        detail = registry.show(principal, ref)
        runner = OnnxRunner(registry.onnx(principal, ref), detail.inputs, detail.classes)
        row: dict[str, Any] = {}
        for spec in detail.inputs:
            kind = str(spec.get("arrow_type", ""))
            value: Any = "x" if "string" in kind else (False if kind == "bool" else 0.0)
            row[str(spec.get("column", spec["name"]))] = value
        table = pa.Table.from_pylist([row])
        runner.predict(table)  # warm up
        t0 = time.perf_counter()
        for _ in range(20):
            runner.predict(table)
        return (time.perf_counter() - t0) / 20

    # -- watching ----------------------------------------------------------------------------
    def accrue_storage(self, today: date | None = None) -> int:
        """Storage of every complete day not accrued yet (up to 60 days back)."""
        today = today or datetime.now(UTC).date()
        written = 0
        with governed_writes("cost.accrue"), self.rt.store.transaction(write=True) as s:
            last = s.execute(
                select(func.max(CostRecord.day)).where(CostRecord.kind == "storage")
            ).scalar_one()
            first = (
                date.fromisoformat(last) + timedelta(days=1) if last else today - timedelta(days=1)
            )
            first = max(first, today - timedelta(days=60))
            day = first
            while day < today:
                written += self.rt.meter.storage_day(s, day)
                day += timedelta(days=1)
        return written

    def watch(self, today: date | None = None) -> list[AlertInfo]:
        """One round of the server's monitor: storage accrued, budgets and anomalies turned
        into signals for the alert rules. Returns the alerts touched."""
        today = today or datetime.now(UTC).date()
        self.accrue_storage(today)
        alerts = AlertService(self.rt)
        touched: list[AlertInfo] = []
        for team, cfg in sorted(self.rt.config.teams.items()):
            found: dict[str, dict[str, Any] | None] = {}
            if cfg.budget is not None:
                found["budget"] = self._budget_signal(team, today)
            if self._anomaly_checked.get(f"team:{team}") != today:
                self._anomaly_checked[f"team:{team}"] = today
                found["cost_anomaly"] = self._anomaly_signal(team, None, today)
            touched += alerts.apply("", found, team=team)
        with self.rt.store.transaction() as s:
            names = list(s.scalars(select(Endpoint.name).order_by(Endpoint.name)))
        for name in names:
            if self._anomaly_checked.get(name) == today:
                continue
            self._anomaly_checked[name] = today
            touched += alerts.apply(name, {"cost_anomaly": self._anomaly_signal(None, name, today)})
        return touched

    def _budget_signal(self, team: str, today: date) -> dict[str, Any] | None:
        budget = self.rt.config.teams[team].budget
        assert budget is not None
        start, end = month_bounds(_start(today))
        with self.rt.store.transaction() as s:
            spent = self.rt.meter.spent(s, team, start, end)
        share = spent / budget.monthly_usd
        if share < budget.soft_share:
            return None
        crossing = None
        try:
            f = self.forecast(SERVICE_READER, team=team, today=today)
            crossing = f.crossing.get("mean")
        except Exception as exc:  # a forecast is extra evidence, not the signal
            _log.warning("cost: forecast for team %s failed: %s", team, exc)
        return {
            "team": team,
            "month": start.strftime("%Y-%m"),
            "spent": round(spent, 4),
            "budget": budget.monthly_usd,
            "share": share,
            "soft_share": budget.soft_share,
            "crossing_day": crossing.isoformat() if crossing else None,
        }

    def _alerted(self, team: str | None, endpoint: str | None, day: date) -> bool:
        """Whether a live cost-anomaly alert already names this day (another process's
        monitor, or this one before a restart, saw it)."""
        q = select(Alert.evidence).where(
            Alert.signal == "cost_anomaly", Alert.state.in_(("open", "acknowledged"))
        )
        q = q.where(Alert.endpoint == endpoint) if endpoint else q.where(Alert.team == team)
        with self.rt.store.transaction() as s:
            return any(json.loads(ev).get("day") == day.isoformat() for ev in s.scalars(q))

    def _anomaly_signal(
        self, team: str | None, endpoint: str | None, today: date
    ) -> dict[str, Any] | None:
        """The last complete day (yesterday), if it is an anomaly."""
        yesterday = today - timedelta(days=1)
        if self._alerted(team, endpoint, yesterday):
            return None
        found = [a for a in self._anomalies(team, endpoint, 90, today) if a.day == yesterday]
        if not found:
            return None
        a = found[0]
        return {
            "team": team,
            "endpoint": endpoint,
            "day": a.day.isoformat(),
            "value": round(a.value, 4),
            "expected": round(a.expected, 4),
            "lower": round(a.lower, 4),
            "upper": round(a.upper, 4),
            "impact": round(a.impact, 4),
            "impact_pct": a.impact_pct,
            "direction": a.direction,
            "method": a.method,
        }


def _price(p: Prices, resource: str) -> float:
    return {"cpu": p.cpu_hour, "memory": p.memory_gb_hour, "gpu": p.gpu_hour}.get(resource, 0.0)


#: the monitor reads forecasts as the service identity
SERVICE_READER = Principal("steward-monitor")
