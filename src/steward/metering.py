"""Metering: what work used, priced from the site's price book, as cost records.

Every training job, validation, batch of predictions (HTTP or stream), cross-site copy
and day of storage writes :class:`~steward.store.CostRecord` rows: team, site, kind,
resource, units, unit price, amount and the action that caused it. Records of an action
are written in the action's own transaction (committed with it, or not at all).

**Allocation** follows the OpenCost convention: a resource costs ``max(requested, used)
× duration × rate``. For compute, ``requested`` is what the work reserved (a job's
``resources.cpus``, its ``memory_gb``) and ``used`` what it used on average (cpu-seconds
÷ wall seconds; peak memory); GPUs are reserved whole. Storage is the GB held per day at
``storage_gb_month ÷ days in the month``; egress the GB moved at the source site's price
to the destination (by site, ``inter_region`` within a provider, else ``internet``).
Idle capacity (what a site's declared ``capacity`` would have cost, less what was
allocated) is not a record: reports compute it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from steward.config import Prices, StewardConfig
from steward.store import (
    CostRecord,
    Dataset,
    DatasetCopy,
    DatasetVersion,
    Model,
    ModelVersion,
    StoredObject,
)

__all__ = ["GB", "KINDS", "Meter", "Usage", "month_bounds"]

GB = 1e9
KINDS = ("training", "validation", "inference", "stream", "storage", "egress")

_COLUMNS = (
    "at", "day", "team", "site", "kind", "resource", "units", "unit", "unit_price", "amount",
    "action", "ref", "endpoint", "model", "requested", "used", "hours", "dedupe",
)  # fmt: skip
#: add to the hour's record (SQLite 3.24+ and PostgreSQL share this upsert's syntax)
_HOURLY_UPSERT = text(
    f"INSERT INTO cost_records ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _COLUMNS)}) "
    "ON CONFLICT (dedupe) DO UPDATE SET "
    "units = cost_records.units + excluded.units, "
    "amount = cost_records.amount + excluded.amount, "
    "used = cost_records.used + excluded.used, "
    "hours = cost_records.hours + excluded.hours"
).bindparams(bindparam("at", type_=CostRecord.__table__.c.at.type))


@dataclass(frozen=True)
class Usage:
    """What one piece of work reserved and used."""

    wall_seconds: float
    cpu_seconds: float = 0.0
    cpus: float = 0.0  # reserved vCPUs (0: nothing reserved, pay for use)
    memory_gb: float | None = None  # reserved memory
    peak_memory_gb: float = 0.0
    gpus: float = 0.0
    spot: bool = False


def _compute_rates(prices: Prices, spot: bool) -> tuple[float, float]:
    """(cpu-hour, gpu-hour) rates: the spot ones where asked for and the site has them."""
    cpu, gpu = prices.cpu_hour, prices.gpu_hour
    if spot and prices.spot is not None:
        cpu = prices.spot.cpu_hour if prices.spot.cpu_hour is not None else cpu
        gpu = prices.spot.gpu_hour if prices.spot.gpu_hour is not None else gpu
    return cpu, gpu


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) that contains ``at``: [start, end)."""
    at = at.astimezone(UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


class Meter:
    def __init__(self, config: StewardConfig) -> None:
        self.config = config

    # -- writing -----------------------------------------------------------------------------
    def _record(
        self,
        s: Session,
        *,
        at: datetime,
        team: str | None,
        site: str,
        kind: str,
        resource: str,
        units: float,
        unit: str,
        unit_price: float,
        action: str,
        ref: str,
        **extra: Any,
    ) -> CostRecord:
        rec = CostRecord(
            at=at,
            day=at.astimezone(UTC).strftime("%Y-%m-%d"),
            team=team or "",
            site=site,
            kind=kind,
            resource=resource,
            units=units,
            unit=unit,
            unit_price=unit_price,
            amount=units * unit_price,
            action=action,
            ref=ref,
            **extra,
        )
        s.add(rec)
        return rec

    def usage(
        self,
        s: Session,
        usage: Usage,
        *,
        team: str | None,
        site: str,
        kind: str,
        action: str,
        ref: str,
        at: datetime | None = None,
        endpoint: str | None = None,
        model: str | None = None,
    ) -> list[CostRecord]:
        """Records for compute: cpu, memory and gpu (those with units), by OpenCost."""
        at = at or datetime.now(UTC)
        prices = self.config.site(site).prices
        hours = max(usage.wall_seconds, 0.0) / 3600.0
        used_cpus = usage.cpu_seconds / usage.wall_seconds if usage.wall_seconds > 0 else 0.0
        cpu_price, gpu_price = _compute_rates(prices, usage.spot)
        common = {"endpoint": endpoint, "model": model, "hours": hours}
        out = []
        cpu_units = max(usage.cpus, used_cpus) * hours
        if hours == 0 and usage.cpu_seconds > 0:  # no wall time known: what was used
            cpu_units = usage.cpu_seconds / 3600.0
        if cpu_units > 0:
            out.append(
                self._record(
                    s,
                    at=at,
                    team=team,
                    site=site,
                    kind=kind,
                    resource="cpu",
                    units=cpu_units,
                    unit="cpu-hour",
                    unit_price=cpu_price,
                    action=action,
                    ref=ref,
                    requested=usage.cpus,
                    used=used_cpus,
                    **common,
                )
            )
        mem = max(usage.memory_gb or 0.0, usage.peak_memory_gb)
        if mem > 0 and hours > 0:
            out.append(
                self._record(
                    s,
                    at=at,
                    team=team,
                    site=site,
                    kind=kind,
                    resource="memory",
                    units=mem * hours,
                    unit="gb-hour",
                    unit_price=prices.memory_gb_hour,
                    action=action,
                    ref=ref,
                    requested=usage.memory_gb,
                    used=usage.peak_memory_gb,
                    **common,
                )
            )
        if usage.gpus > 0 and hours > 0:
            out.append(
                self._record(
                    s,
                    at=at,
                    team=team,
                    site=site,
                    kind=kind,
                    resource="gpu",
                    units=usage.gpus * hours,
                    unit="gpu-hour",
                    unit_price=gpu_price,
                    action=action,
                    ref=ref,
                    requested=usage.gpus,
                    used=usage.gpus,
                    **common,
                )
            )
        return out

    def compute_hourly(
        self,
        s: Session,
        seconds: float,
        *,
        team: str | None,
        site: str,
        kind: str,
        action: str,
        endpoint: str,
        model: str,
        at: datetime | None = None,
    ) -> None:
        """Add ``seconds`` of model compute (used, nothing reserved) to the record of this
        endpoint, model, kind and hour: serving writes every second, the bill is hourly."""
        at = (at or datetime.now(UTC)).astimezone(UTC)
        hour = at.replace(minute=0, second=0, microsecond=0)
        price = self.config.site(site).prices.cpu_hour
        units = seconds / 3600.0
        row = {
            "at": hour,
            "day": hour.strftime("%Y-%m-%d"),
            "team": team or "",
            "site": site,
            "kind": kind,
            "resource": "cpu",
            "units": units,
            "unit": "cpu-hour",
            "unit_price": price,
            "amount": units * price,
            "action": action,
            "ref": endpoint,
            "endpoint": endpoint,
            "model": model,
            "requested": 0.0,
            "used": units,
            "hours": units,
            "dedupe": f"{kind}|{endpoint}|{model}|{hour:%Y-%m-%dT%H}",
        }
        # one statement, built once: serving calls this on every flush of the log, and
        # building an ORM upsert each time cost ten times the upsert itself
        s.execute(_HOURLY_UPSERT, row)

    def egress(
        self,
        s: Session,
        *,
        team: str | None,
        source: str,
        dest: str,
        nbytes: int,
        action: str,
        ref: str,
        at: datetime | None = None,
    ) -> CostRecord:
        """Bytes moved from site ``source`` to ``dest`` (a site, or ``internet``)."""
        return self._record(
            s,
            at=at or datetime.now(UTC),
            team=team,
            site=source,
            kind="egress",
            resource="egress",
            units=nbytes / GB,
            unit="gb",
            unit_price=self.config.egress_price(source, dest),
            action=action,
            ref=ref,
            dest=dest,
        )

    def storage_day(self, s: Session, day: date) -> int:
        """Accrue one day of storage for every (team, site) holding bytes at the end of
        ``day``: ``GB × storage_gb_month ÷ days in the month``. Once per day: a day already
        accrued is skipped (the ``dedupe`` key). Returns the records written."""
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        held: dict[tuple[str, str], int] = {}
        for _, team, site, nbytes in self.held(s, before=end):
            key = (team or "", site)
            held[key] = held.get(key, 0) + int(nbytes or 0)
        days = calendar.monthrange(day.year, day.month)[1]
        written = 0
        at = end - timedelta(microseconds=1)
        for (team, site), nbytes in sorted(held.items()):
            if nbytes <= 0 or site not in self.config.sites:
                continue
            dedupe = f"storage|{day.isoformat()}|{team}|{site}"
            exists = s.scalars(select(CostRecord.id).where(CostRecord.dedupe == dedupe)).first()
            if exists is not None:
                continue
            price = self.config.sites[site].prices.storage_gb_month / days
            self._record(
                s,
                at=at,
                team=team,
                site=site,
                kind="storage",
                resource="storage",
                units=nbytes / GB,
                unit="gb-day",
                unit_price=price,
                action="storage",
                ref=f"{site}:{day.isoformat()}",
                hours=24.0,
                dedupe=dedupe,
            )
            written += 1
        return written

    @staticmethod
    def held(
        s: Session, *, before: datetime | None = None, team: str | None = None
    ) -> list[tuple[str, str | None, str, int]]:
        """(what, team, site, bytes) stored (before ``before``; of ``team``): ``what`` is
        datasets (versions and their copies), models or objects."""
        queries = [
            (
                "objects",
                select(StoredObject.team, StoredObject.site, func.sum(StoredObject.size)),
                StoredObject.created_at,
                StoredObject.team,
            ),
            (
                "datasets",
                select(Dataset.team, DatasetVersion.site, func.sum(DatasetVersion.bytes)).join(
                    Dataset, Dataset.id == DatasetVersion.dataset_id
                ),
                DatasetVersion.created_at,
                Dataset.team,
            ),
            (
                "datasets",
                select(Dataset.team, DatasetCopy.to_site, func.sum(DatasetCopy.bytes))
                .join(DatasetVersion, DatasetVersion.id == DatasetCopy.version_id)
                .join(Dataset, Dataset.id == DatasetVersion.dataset_id),
                DatasetCopy.created_at,
                Dataset.team,
            ),
            (
                "models",
                select(Model.team, ModelVersion.site, func.sum(ModelVersion.onnx_bytes)).join(
                    Model, Model.id == ModelVersion.model_id
                ),
                ModelVersion.created_at,
                Model.team,
            ),
        ]
        out = []
        for what, q, created, owner in queries:
            if before is not None:
                q = q.where(created < before)
            if team is not None:
                q = q.where(owner == team)
            # grouped by what each query selects before its sum: the owner's team and site
            for t, site, nbytes in s.execute(q.group_by(*q.selected_columns[:2])).all():
                out.append((what, t, site, int(nbytes or 0)))
        return out

    # -- budgets -----------------------------------------------------------------------------
    @staticmethod
    def lock_team(s: Session, team: str) -> None:
        """Serialise the budget checks of one team until this transaction ends (PostgreSQL:
        a transaction-scoped advisory lock; SQLite's write transactions already run one at
        a time): two jobs that together cross a budget cannot both start."""
        if s.get_bind().dialect.name == "postgresql":
            s.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"steward-budget:{team}"},
            )

    def training_estimate(
        self,
        site: str,
        cpu_hours: float,
        cpus: int,
        memory_gb: float | None,
        gpus: int,
        max_hours: float,
        spot: bool = False,
    ) -> float:
        """The estimated cost of a training job, in US dollars: its estimated cpu-hours
        (the job is taken to keep its cpus busy, so the wall time is cpu-hours ÷ cpus),
        its reserved memory for that time, and its GPUs for their wall-time limit."""
        prices = self.config.site(site).prices
        cpu_price, gpu_price = _compute_rates(prices, spot)
        wall = cpu_hours / max(cpus, 1)
        return (
            cpu_hours * cpu_price
            + (memory_gb or 0.0) * wall * prices.memory_gb_hour
            + gpus * max_hours * gpu_price
        )

    # -- reading -----------------------------------------------------------------------------
    @staticmethod
    def spent(s: Session, team: str, start: datetime, end: datetime) -> float:
        """US dollars recorded for ``team`` in [start, end)."""
        return float(
            s.execute(
                select(func.coalesce(func.sum(CostRecord.amount), 0.0)).where(
                    CostRecord.team == team, CostRecord.at >= start, CostRecord.at < end
                )
            ).scalar_one()
        )
