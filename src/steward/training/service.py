"""Training: submit a spec as a governed, placed, quota-checked job; follow and cancel it.

Submission does everything that can fail *before* compute: the spec is validated, the
datasets are looked up, the spec is checked against their schema (unknown columns, a
non-numeric regression target, an empty dataset), a site is chosen (the given one, or
the cheapest site the policy allows, with the reason), the quota is checked, and the job
is queued inside the ``model.train`` action, in the transaction that records it. The
worker (:mod:`steward.training.worker`) does the rest.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.datasets import DatasetDetail, DatasetService
from steward.door import Action
from steward.errors import NotFound, PolicyDenied, QuotaExceeded, ValidationFailed
from steward.metering import month_bounds
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import Job, JobLog
from steward.training.queue import FINAL, JobQueue
from steward.training.spec import TrainingSpec

__all__ = ["JobInfo", "JobLogLine", "TrainingService", "parse_spec"]

#: CPU-seconds per cell (rows × features) by family, before any job of the family ran:
#: deliberately high guesses (the 1,000,000-row hgb benchmark used about 1e-6), replaced
#: by the median of past jobs of the family as soon as one has run.
DEFAULT_RATE = {"linear": 2e-6, "random_forest": 4e-5, "hgb": 1.5e-5, "custom": 4e-5}


class JobInfo(BaseModel):
    id: str
    state: str
    model_name: str
    team: str | None
    site: str
    placement: str
    executor: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    max_attempts: int
    worker: str | None
    progress: dict[str, Any]
    error_code: str | None
    error_message: str | None
    result_ref: str | None
    estimate_cpu_hours: float
    cpu_seconds: float
    wall_seconds: float
    peak_memory_bytes: int
    bytes_read: int
    spec: dict[str, Any]


class JobLogLine(BaseModel):
    seq: int
    attempt: int
    at: datetime
    line: str


def parse_spec(raw: TrainingSpec | dict[str, Any]) -> TrainingSpec:
    """A spec from a mapping, with one line per problem (like the configuration)."""
    if isinstance(raw, TrainingSpec):
        return raw
    try:
        return TrainingSpec.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "spec"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {msg}")
        raise ValidationFailed(
            "the training spec has problems: " + "; ".join(problems), problems=problems
        ) from None


def _arrow_schema(detail: DatasetDetail) -> pa.Schema:
    fields = []
    for c in detail.schema_:
        try:
            typ = pa.type_for_alias(c.arrow_type)
        except (ValueError, KeyError):
            typ = {"timestamp": pa.timestamp("us"), "date": pa.date32()}.get(c.type, pa.null())
        fields.append(pa.field(c.name, typ))
    return pa.schema(fields)


def _code_version() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = out.stdout.strip()
    if out.returncode != 0 or not head:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return head + ("-dirty" if dirty else "")


class SiteCost(BaseModel):
    site: str
    allowed: bool  # may the job run there (the policy's answer)
    cost_usd: float
    cpu_hour: float
    refused_by: list[str] = Field(default_factory=list)


class BudgetState(BaseModel):
    team: str
    monthly_usd: float
    spent: float
    committed: float
    after: float  # spent + committed + this estimate
    hard: bool
    within: bool


class TrainEstimate(BaseModel):
    site: str
    placement: str
    team: str | None
    rows: int
    features: int
    estimate_cpu_hours: float
    cost_usd: float
    cheapest_allowed: str | None
    sites: list[SiteCost]
    budget: BudgetState | None


class TrainingService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.queue = JobQueue(rt.store)

    # -- submit ------------------------------------------------------------------------------
    def submit(
        self,
        principal: Principal,
        raw: TrainingSpec | dict[str, Any],
        *,
        executor: str | None = None,
    ) -> JobInfo:
        spec, views, rows, features, reason = self._prepare(principal, raw)
        site = spec.site
        assert site is not None
        estimate = self._estimate(spec, rows, len(features))
        job_id = "j-" + secrets.token_hex(6)
        resources = [r for _, r, _ in views]
        for extra in resources[1:]:
            self.rt.door.check(principal, Action("model.train", extra, site=site))
        placement = {
            "site": site,
            "reason": reason,
            "code_version": _code_version(),
            "cells": rows * max(1, len(features)),
        }
        action = Action(
            "model.train",
            resources[0],
            site=site,
            payload={
                "job": job_id,
                "spec": spec.model_dump(mode="json"),
                "datasets": [d.fingerprint for d, _, _ in views],
                "placement": reason,
                "estimate_cpu_hours": estimate,
            },
        )
        chosen = executor or self.rt.config.training.executor

        def do(s: Session) -> JobInfo:
            self._check_quota(s, spec, estimate)
            job = Job(
                id=job_id,
                kind="train",
                state="queued",
                spec_json=spec.model_dump_json(),
                model_name=spec.model_name,
                team=spec.team,
                site=site,
                placement=json.dumps(placement, sort_keys=True),
                executor=chosen,
                created_by=principal.name,
                created_at=datetime.now(UTC),
                attempts=0,
                max_attempts=self.rt.config.training.max_attempts,
                cancel_requested=False,
                progress_json="{}",
                estimate_cpu_hours=estimate,
                cpu_seconds=0.0,
                gpu_seconds=0.0,
                wall_seconds=0.0,
                peak_memory_bytes=0,
                bytes_read=0,
            )
            s.add(job)
            s.flush()
            s.add(JobLog(job_id=job_id, attempt=0, at=job.created_at, line=f"queued: {reason}"))
            s.flush()
            return self._info(job)

        # a quota or budget crossed is raised by do() and recorded by the door as a
        # denial with its reason (quota:cpu_hours_per_month, quota:budget, ...)
        return self.rt.door.run(principal, action, do)

    def _prepare(
        self, principal: Principal, raw: TrainingSpec | dict[str, Any]
    ) -> tuple[TrainingSpec, list[tuple[DatasetDetail, Resource, int]], int, list[str], str]:
        """The spec checked against its data and placed: (spec with team and site, the
        data's views, rows, features, the placement's reason)."""
        from steward.training.fit import check_spec_against

        spec = parse_spec(raw)
        spec = spec.model_copy(update={"team": self._team(principal, spec)})
        datasets = DatasetService(self.rt)
        views = [datasets.governed_view(ref) for ref in spec.data]
        first = views[0][0]
        for detail, _, _ in views[1:]:
            if [c.name for c in detail.schema_] != [c.name for c in first.schema_]:
                raise ValidationFailed(
                    f"{detail.ref} has other columns than {first.ref}; training on several "
                    "versions needs the same columns",
                    expected=[c.name for c in first.schema_],
                    found=[c.name for c in detail.schema_],
                )
        rows = sum(d.rows for d, _, _ in views)
        features = check_spec_against(spec, _arrow_schema(first), rows)
        site, reason = self._place(principal, spec, [r for _, r, _ in views])
        return spec.model_copy(update={"site": site}), views, rows, list(features), reason

    def estimate(self, principal: Principal, raw: TrainingSpec | dict[str, Any]) -> TrainEstimate:
        """What a job would cost, where (``steward train --dry-run``): nothing is queued.

        The estimate at every site, whether the policy allows the job there, the cheapest
        allowed one (where the job would go unless the spec names a site), and the team's
        budget after it."""
        spec, views, rows, features, reason = self._prepare(principal, raw)
        cpu_hours = self._estimate(spec, rows, len(features))
        sites = []
        for name in sorted(self.rt.config.sites):
            placed = spec.model_copy(update={"site": name})
            denial = next(
                (
                    d
                    for _, r, _ in views
                    if not (
                        d := self.rt.door.decide(principal, Action("model.train", r, site=name))
                    ).allowed
                ),
                None,
            )
            sites.append(
                SiteCost(
                    site=name,
                    allowed=denial is None,
                    cost_usd=round(self.estimated_cost(placed, cpu_hours), 6),
                    cpu_hour=self.rt.config.sites[name].prices.cpu_hour,
                    refused_by=(
                        sorted({r.policy for r in denial.reasons if r.effect == "forbid"})
                        if denial is not None
                        else []
                    ),
                )
            )
        cost = self.estimated_cost(spec, cpu_hours)
        allowed = [c for c in sites if c.allowed]
        budget = None
        team_budget = self.rt.config.teams[spec.team].budget if spec.team else None
        if spec.team and team_budget is not None:
            start, end = month_bounds(datetime.now(UTC))
            with self.rt.store.transaction() as s:
                spent = self.rt.meter.spent(s, spec.team, start, end)
                committed = self.committed_cost(s, spec.team)
            budget = BudgetState(
                team=spec.team,
                monthly_usd=team_budget.monthly_usd,
                spent=round(spent, 6),
                committed=round(committed, 6),
                after=round(spent + committed + cost, 6),
                hard=team_budget.hard,
                within=spent + committed + cost <= team_budget.monthly_usd,
            )
        return TrainEstimate(
            site=spec.site or "",
            placement=reason,
            team=spec.team,
            rows=rows,
            features=len(features),
            estimate_cpu_hours=cpu_hours,
            cost_usd=round(cost, 6),
            cheapest_allowed=min(allowed, key=lambda c: c.cost_usd).site if allowed else None,
            sites=sites,
            budget=budget,
        )

    def _team(self, principal: Principal, spec: TrainingSpec) -> str | None:
        if spec.team is not None:
            if spec.team not in self.rt.config.teams:
                raise NotFound(
                    f"unknown team {spec.team!r}; expected one of "
                    f"{', '.join(sorted(self.rt.config.teams)) or '(none declared)'}",
                    team=spec.team,
                )
            return spec.team
        teams = self.rt.config.teams_of(principal.name)
        if len(teams) == 1:
            return teams[0]
        raise ValidationFailed(
            f"team: {principal.name} is in {len(teams)} teams ({', '.join(teams) or 'none'}); "
            "say which one trains with --team",
            parameter="team",
            found=teams,
        )

    # -- placement ---------------------------------------------------------------------------
    def _place(
        self, principal: Principal, spec: TrainingSpec, resources: list[Resource]
    ) -> tuple[str, str]:
        if spec.site is not None:
            self.rt.config.site(spec.site)
            return spec.site, f"{spec.site}: named in the spec"
        refused: list[str] = []
        allowed: list[tuple[float, str]] = []
        for name, site in sorted(self.rt.config.sites.items()):
            denial = None
            for r in resources:
                d = self.rt.door.decide(principal, Action("model.train", r, site=name))
                if not d.allowed:
                    denial = d
                    break
            if denial is None:
                allowed.append((site.prices.cpu_hour, name))
            else:
                why = "; ".join(r.policy for r in denial.reasons if r.effect == "forbid")
                refused.append(f"{name} refused ({why or 'no permit'})")
        if not allowed:
            # record the denial at the default site (or the first), with the policy's reasons
            where = self.rt.config.default_site or sorted(self.rt.config.sites)[0]
            self.rt.door.check(principal, Action("model.train", resources[0], site=where))
            raise PolicyDenied(  # pragma: no cover - check above raises
                principal=principal.name,
                action="model.train",
                resource=str(resources[0]),
                reasons=[],
            )
        allowed.sort()
        price, best = allowed[0]
        others = [f"{n} ${p:g}/cpu-hour" for p, n in allowed[1:]]
        reason = f"{best}: the cheapest site the policy allows (${price:g}/cpu-hour)"
        if others:
            reason += "; also allowed: " + ", ".join(others)
        if refused:
            reason += "; " + ", ".join(refused)
        return best, reason

    # -- quota -------------------------------------------------------------------------------
    def _estimate(self, spec: TrainingSpec, rows: int, features: int) -> float:
        """Estimated cpu-hours: the family's cpu-seconds per cell from past succeeded jobs
        (median), else :data:`DEFAULT_RATE`, times rows × features."""
        cells = max(1, rows * max(1, features))
        with self.rt.store.transaction() as s:
            past = s.execute(
                select(Job.cpu_seconds, Job.placement, Job.spec_json)
                .where(Job.state == "succeeded", Job.cpu_seconds > 0)
                .order_by(Job.finished_at.desc())
                .limit(200)
            ).all()
        rates = []
        for cpu, placement, raw in past:
            try:
                family = json.loads(raw).get("family")
                past_cells = json.loads(placement or "{}").get("cells")
            except json.JSONDecodeError:
                continue
            if family == spec.family and past_cells:
                rates.append(cpu / past_cells)
        rate = sorted(rates)[len(rates) // 2] if rates else DEFAULT_RATE[spec.family]
        return round(rate * cells / 3600.0, 6)

    def usage(self, s: Session, team: str | None, now: datetime | None = None) -> dict[str, float]:
        """cpu-hours and gpu-hours of ``team`` this calendar month (UTC): used by finished
        jobs, and committed by queued and running ones (their estimates)."""
        now = now or datetime.now(UTC)
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        used_cpu, used_gpu = s.execute(
            select(
                func.coalesce(func.sum(Job.cpu_seconds), 0.0),
                func.coalesce(func.sum(Job.gpu_seconds), 0.0),
            ).where(Job.team == team, Job.created_at >= start, Job.state.in_(FINAL))
        ).one()
        committed = s.execute(
            select(func.coalesce(func.sum(Job.estimate_cpu_hours), 0.0)).where(
                Job.team == team, Job.created_at >= start, Job.state.in_(("queued", "running"))
            )
        ).scalar_one()
        return {
            "cpu_hours_used": float(used_cpu) / 3600.0,
            "gpu_hours_used": float(used_gpu) / 3600.0,
            "cpu_hours_committed": float(committed),
        }

    def estimated_cost(self, spec: TrainingSpec, estimate_cpu_hours: float) -> float:
        """US dollars a job of ``spec`` (placed at ``spec.site``) is expected to cost."""
        r = spec.resources
        assert spec.site is not None
        return self.rt.meter.training_estimate(
            spec.site, estimate_cpu_hours, r.cpus, r.memory_gb, r.gpus, r.max_hours, r.spot
        )

    def committed_cost(self, s: Session, team: str, now: datetime | None = None) -> float:
        """The estimated cost of the team's queued and running jobs this month."""
        start, _ = month_bounds(now or datetime.now(UTC))
        rows = s.execute(
            select(Job.spec_json, Job.estimate_cpu_hours, Job.site).where(
                Job.team == team, Job.created_at >= start, Job.state.in_(("queued", "running"))
            )
        ).all()
        total = 0.0
        for raw, cpu_hours, site in rows:
            spec = TrainingSpec.model_validate_json(raw).model_copy(update={"site": site})
            total += self.estimated_cost(spec, float(cpu_hours))
        return total

    def _check_budget(self, s: Session, spec: TrainingSpec, estimate: float) -> None:
        assert spec.team is not None
        budget = self.rt.config.teams[spec.team].budget
        if budget is None or not budget.hard:
            return
        start, end = month_bounds(datetime.now(UTC))
        spent = self.rt.meter.spent(s, spec.team, start, end)
        committed = self.committed_cost(s, spec.team)
        cost = self.estimated_cost(spec, estimate)
        if spent + committed + cost > budget.monthly_usd:
            raise QuotaExceeded(
                f"team {spec.team} would exceed its budget of ${budget.monthly_usd:,.2f} this "
                f"month: ${spent:,.2f} spent, ${committed:,.2f} committed by queued or running "
                f"jobs, and this job is estimated at ${cost:,.2f}. Wait for next month, cancel "
                "queued jobs, train on less data or a cheaper site, or ask an admin to raise "
                f"teams.{spec.team}.budget.monthly_usd",
                quota="budget",
                budget=budget.monthly_usd,
                spent=round(spent, 6),
                committed=round(committed, 6),
                estimated=round(cost, 6),
                team=spec.team,
            )

    def _check_quota(self, s: Session, spec: TrainingSpec, estimate: float) -> None:
        if spec.team is None:
            return
        self.rt.meter.lock_team(s, spec.team)
        self._check_budget(s, spec, estimate)
        quotas = self.rt.config.teams[spec.team].quotas
        u = self.usage(s, spec.team)
        cpu_limit = quotas.cpu_hours_per_month
        if cpu_limit is not None:
            so_far = u["cpu_hours_used"] + u["cpu_hours_committed"]
            if so_far + estimate > cpu_limit:
                raise QuotaExceeded(
                    f"team {spec.team} would exceed its quota of {cpu_limit:g} cpu-hours this "
                    f"month: {u['cpu_hours_used']:.3f} used and {u['cpu_hours_committed']:.3f} "
                    f"committed by queued or running jobs, and this job asks for about "
                    f"{estimate:.3f}. Wait for next month, cancel queued jobs, or ask an admin "
                    "to raise teams." + spec.team + ".quotas.cpu_hours_per_month",
                    quota="cpu_hours_per_month",
                    limit=cpu_limit,
                    used=round(u["cpu_hours_used"], 6),
                    committed=round(u["cpu_hours_committed"], 6),
                    requested=estimate,
                    team=spec.team,
                )
        gpu_limit = quotas.gpu_hours_per_month
        gpu_request = spec.resources.gpus * spec.resources.max_hours
        if (
            gpu_limit is not None
            and gpu_request > 0
            and u["gpu_hours_used"] + gpu_request > gpu_limit
        ):
            raise QuotaExceeded(
                f"team {spec.team} would exceed its quota of {gpu_limit:g} gpu-hours this "
                f"month: {u['gpu_hours_used']:.3f} used, and this job reserves "
                f"{gpu_request:g} ({spec.resources.gpus} GPU x {spec.resources.max_hours:g} h)",
                quota="gpu_hours_per_month",
                limit=gpu_limit,
                used=round(u["gpu_hours_used"], 6),
                committed=0.0,
                requested=gpu_request,
                team=spec.team,
            )

    # -- reads -------------------------------------------------------------------------------
    def _read_check(self, principal: Principal) -> None:
        self.rt.door.check(principal, Action("system.read", Resource("System", "jobs")))

    @staticmethod
    def _info(job: Job) -> JobInfo:
        return JobInfo(
            id=job.id,
            state=job.state,
            model_name=job.model_name,
            team=job.team,
            site=job.site,
            placement=(json.loads(job.placement).get("reason", "") if job.placement else ""),
            executor=job.executor,
            created_by=job.created_by,
            created_at=job.created_at or datetime.now(UTC),
            started_at=job.started_at,
            finished_at=job.finished_at,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            worker=job.worker,
            progress=json.loads(job.progress_json or "{}"),
            error_code=job.error_code,
            error_message=job.error_message,
            result_ref=job.result_ref,
            estimate_cpu_hours=job.estimate_cpu_hours,
            cpu_seconds=job.cpu_seconds,
            wall_seconds=job.wall_seconds,
            peak_memory_bytes=job.peak_memory_bytes,
            bytes_read=job.bytes_read,
            spec=json.loads(job.spec_json),
        )

    def _job(self, s: Session, job_id: str) -> Job:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(
                f"job {job_id!r} not found; list them with 'steward job list'", job=job_id
            )
        return job

    def jobs(
        self, principal: Principal, *, state: str | None = None, limit: int = 100
    ) -> list[JobInfo]:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            q = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
            if state is not None:
                q = q.where(Job.state == state)
            return [self._info(j) for j in s.execute(q).scalars()]

    def job(self, principal: Principal, job_id: str) -> JobInfo:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            return self._info(self._job(s, job_id))

    def logs(self, principal: Principal, job_id: str, *, after: int = 0) -> list[JobLogLine]:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            self._job(s, job_id)
            rows = s.execute(
                select(JobLog).where(JobLog.job_id == job_id, JobLog.id > after).order_by(JobLog.id)
            ).scalars()
            return [
                JobLogLine(seq=r.id, attempt=r.attempt, at=r.at or datetime.now(UTC), line=r.line)
                for r in rows
            ]

    def cancel(self, principal: Principal, job_id: str) -> JobInfo:
        with self.rt.store.transaction() as s:
            job = self._job(s, job_id)
            resource = Resource("Job", job.id, {"owner": job.created_by, "team": job.team})
            state = job.state
        if state in FINAL:
            raise ValidationFailed(
                f"job {job_id} has already ended ({state}); nothing to cancel",
                job=job_id,
                state=state,
            )

        def do(s: Session) -> JobInfo:
            job = self._job(s, job_id)
            self.queue.request_cancel(s, job)
            s.flush()
            return self._info(job)

        return self.rt.door.run(principal, Action("job.cancel", resource), do)

    # -- running -----------------------------------------------------------------------------
    def run_pending(self, job_id: str | None = None, *, executor: str | None = None) -> str | None:
        """Run one queued job (``job_id`` if given) in this process; see :class:`Worker`."""
        from steward.training.worker import Worker

        worker = Worker(self.rt, executor)
        with worker.exclusive():
            return worker.run_once(job_id)


def load_spec_file(path: Path) -> dict[str, Any]:
    """A spec from a YAML or JSON file (clear errors, no partial reads)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValidationFailed(
            f"cannot read the spec file {path}: {e.strerror}", path=str(path)
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationFailed(f"{path} is not valid YAML{where}", path=str(path)) from None
    if not isinstance(data, dict):
        raise ValidationFailed(
            f"{path}: expected a mapping of spec fields (data, target, objective, ...)",
            path=str(path),
        )
    return data
