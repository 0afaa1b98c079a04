"""Budgets that bite: a training job whose estimate would cross a hard budget is refused
before it starts (QuotaExceeded with the budget, spent, committed and estimated amounts;
a denial in the ledger; no job); two jobs racing for the last of a budget cannot both
start; serving only alerts unless the team's budget blocks it; dry runs estimate."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import ALICE, BOB, hmda, register_split, train_model, with_suite
from test_v2 import PERF

from steward.audit import LedgerFilter
from steward.config import Home
from steward.deploy import DeployService
from steward.errors import QuotaExceeded
from steward.gates import GateService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.store import Job
from steward.training import TrainingService

ADMIN = Principal("admin")
GPU_JOB = {
    "data": ["hmda@1"],
    "target": "deny",
    "objective": "binary",
    "family": "linear",
    "name": "hmda-gpu",
    "resources": {"gpus": 1, "max_hours": 10},
}


def _budget(home: Home, usd: float, **extra: Any) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    team = cfg["teams"]["risk"]
    team["budget"] = {"monthly_usd": usd, **extra}
    team["quotas"]["gpu_hours_per_month"] = 1000
    home.config_path.write_text(yaml.safe_dump(cfg))


def _jobs(rt: Runtime) -> int:
    with rt.store.transaction() as s:
        return int(s.execute(select(func.count()).select_from(Job)).scalar_one())


def test_a_job_over_the_hard_budget_is_refused_before_it_starts(home: Home) -> None:
    _budget(home, 20.0)
    rt = Runtime.open(home)
    try:
        register_split(rt)
        svc = TrainingService(rt)
        gpu_hour = rt.config.sites["eu-fra"].prices.gpu_hour
        first = svc.submit(ALICE, GPU_JOB)  # 10 GPU-hours reserved: $14.59 committed
        assert first.state == "queued"
        seq = rt.ledger.head()[0]
        with pytest.raises(QuotaExceeded) as info:
            svc.submit(ALICE, GPU_JOB)
        d = info.value.details
        assert d["quota"] == "budget" and d["budget"] == 20.0 and d["spent"] == 0.0
        assert d["committed"] == pytest.approx(10 * gpu_hour, rel=1e-6)
        assert d["estimated"] == pytest.approx(10 * gpu_hour, rel=1e-3)
        assert "budget of $20.00" in info.value.message and info.value.status == 429
        assert _jobs(rt) == 1  # nothing queued
        [entry] = list(rt.ledger.entries(LedgerFilter(after_seq=seq)))
        assert (entry.action, entry.decision) == ("model.train", "deny")
        assert "quota:budget" in str(entry.reasons)
        # the dry run says so before anyone tries
        est = svc.estimate(ALICE, GPU_JOB)
        assert est.budget is not None and not est.budget.within and est.budget.hard
        assert est.cost_usd == pytest.approx(d["estimated"])
        assert est.cheapest_allowed == "eu-fra"
        assert {c.site: c.allowed for c in est.sites} == {"eu-fra": True, "us-east": False}
        assert _jobs(rt) == 1  # a dry run queues nothing
    finally:
        rt.close()


def test_a_soft_budget_only_warns(home: Home) -> None:
    _budget(home, 20.0, hard=False)
    rt = Runtime.open(home)
    try:
        register_split(rt)
        svc = TrainingService(rt)
        svc.submit(ALICE, GPU_JOB)
        svc.submit(ALICE, GPU_JOB)
        assert _jobs(rt) == 2
    finally:
        rt.close()


def test_two_racing_jobs_cannot_both_take_the_last_of_a_budget(home: Home) -> None:
    """Four submissions at once, each $14.59, against $20: exactly one starts (the check
    holds a per-team lock: an advisory lock on PostgreSQL, the write lock on SQLite)."""
    _budget(home, 20.0)
    rt = Runtime.open(home)
    try:
        register_split(rt)
        n = 4
        barrier = threading.Barrier(n)
        results: list[str] = []

        def submit() -> None:
            svc = TrainingService(rt)
            barrier.wait()
            try:
                svc.submit(ALICE, GPU_JOB)
                results.append("queued")
            except QuotaExceeded:
                results.append("refused")

        threads = [threading.Thread(target=submit) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(results) == ["queued"] + ["refused"] * (n - 1)
        assert _jobs(rt) == 1
    finally:
        rt.close()


def test_serving_alerts_unless_the_budget_blocks_it(home: Home) -> None:
    with_suite(home, PERF)
    _budget(home, 0.000001, serving="block")
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        cfg_budget = rt.config.teams["risk"].budget
        assert cfg_budget is not None and cfg_budget.serving == "block"
        # train before the budget is spent (the job itself spends it)
        ref = train_model(rt, train)
        assert GateService(rt).validate(BOB, ref, hold).passed
        GateService(rt).decide(BOB, ref, approve=True)
        DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
        row = {k: v for k, v in hmda().to_pylist()[0].items() if k != "deny"}
        with pytest.raises(QuotaExceeded, match="budget blocks serving"):
            ServingService(rt, refresh=0).predict_records(ALICE, "credit", [row])
    finally:
        rt.close()


def test_serving_is_not_cut_off_by_a_budget_by_default(home: Home) -> None:
    with_suite(home, PERF)
    _budget(home, 0.000001)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        assert GateService(rt).validate(BOB, ref, hold).passed
        GateService(rt).decide(BOB, ref, approve=True)
        DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
        row = {k: v for k, v in hmda().to_pylist()[0].items() if k != "deny"}
        out = ServingService(rt, refresh=0).predict_records(ALICE, "credit", [row])
        assert out["predictions"]
    finally:
        rt.close()
