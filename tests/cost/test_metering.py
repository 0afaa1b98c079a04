"""Metering: training jobs, validations, predictions (HTTP and stream), copies between
sites and storage write cost records at the site's prices, by OpenCost's
max(requested, used) × duration × rate."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import ALICE, BOB, hmda, register_split, train_model, with_suite
from test_v2 import PERF

from steward.config import Home
from steward.datasets import DatasetService
from steward.deploy import DeployService
from steward.gates import GateService
from steward.metering import GB, Usage
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.store import CostRecord, Job, governed_writes

ADMIN = Principal("admin")


def _records(rt: Runtime, **where: str) -> list[CostRecord]:
    with rt.store.transaction() as s:
        q = select(CostRecord).order_by(CostRecord.id)
        for k, v in where.items():
            q = q.where(getattr(CostRecord, k) == v)
        out = list(s.scalars(q))
        s.expunge_all()
        return out


def test_a_training_job_pays_max_of_reserved_and_used_cpu(rt: Runtime) -> None:
    train, _ = register_split(rt)
    ref = train_model(rt, train, resources={"cpus": 2, "memory_gb": 4})
    with rt.store.transaction() as s:
        job = s.scalars(select(Job).where(Job.result_ref == ref)).one()
        wall, cpu, peak, job_id = job.wall_seconds, job.cpu_seconds, job.peak_memory_bytes, job.id
    recs = {r.resource: r for r in _records(rt, kind="training")}
    assert set(recs) == {"cpu", "memory"}
    prices = rt.config.sites["eu-fra"].prices
    hours = wall / 3600
    cpu_rec = recs["cpu"]
    assert cpu_rec.units == pytest.approx(max(2 * hours, cpu / 3600), rel=1e-9)
    assert cpu_rec.unit_price == prices.cpu_hour and cpu_rec.site == "eu-fra"
    assert cpu_rec.amount == pytest.approx(cpu_rec.units * prices.cpu_hour, rel=1e-12)
    assert (cpu_rec.team, cpu_rec.action, cpu_rec.ref) == ("risk", "model.train", job_id)
    assert cpu_rec.requested == 2 and cpu_rec.model == "hmda-deny"
    mem = recs["memory"]
    assert mem.units == pytest.approx(max(4.0, peak / GB) * hours, rel=1e-9)
    assert mem.unit_price == prices.memory_gb_hour


def test_gpus_are_reserved_whole_and_spot_is_cheaper(rt: Runtime) -> None:
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        on_demand = rt.meter.usage(
            s, Usage(wall_seconds=1800, gpus=2), team="risk", site="eu-fra",
            kind="training", action="model.train", ref="j-1",
        )  # fmt: skip
        spot = rt.meter.usage(
            s, Usage(wall_seconds=1800, gpus=2, spot=True), team="risk", site="eu-fra",
            kind="training", action="model.train", ref="j-2",
        )  # fmt: skip
        got = {(r.ref, r.resource): (r.units, r.unit_price, r.amount) for r in on_demand + spot}
    prices = rt.config.sites["eu-fra"].prices
    assert prices.spot is not None and prices.spot.gpu_hour is not None
    assert got[("j-1", "gpu")] == (1.0, prices.gpu_hour, prices.gpu_hour)
    assert got[("j-2", "gpu")] == (1.0, prices.spot.gpu_hour, prices.spot.gpu_hour)
    assert ("j-1", "cpu") not in got  # nothing reserved, nothing used


def test_a_validation_is_metered_at_the_models_site(home: Home) -> None:
    with_suite(home, PERF)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        v = GateService(rt).validate(BOB, ref, hold)
        [rec] = _records(rt, kind="validation")
        assert (rec.ref, rec.model, rec.team, rec.site) == (v.id, ref, "risk", "eu-fra")
        assert rec.resource == "cpu" and rec.units > 0 and rec.action == "model.validate"
    finally:
        rt.close()


def test_predictions_add_up_per_endpoint_model_source_and_hour(home: Home) -> None:
    with_suite(home, PERF)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        GateService(rt).validate(BOB, ref, hold)
        GateService(rt).decide(BOB, ref, approve=True)
        DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
        rows = [{k: v for k, v in r.items() if k != "deny"} for r in hmda().to_pylist()[:200]]
        serving = ServingService(rt, refresh=0)
        for source in ("http", "http", "stream"):
            serving.score_many(
                ALICE,
                "credit",
                [(f"{source}-{i}-{id(rows)}-{source}", {"records": rows[i : i + 10]})
                 for i in range(0, 200, 10)],
                source=source,
            )  # fmt: skip
        recs = _records(rt, endpoint="credit")
        assert {r.kind for r in recs} == {"inference", "stream"}
        assert len(recs) == 2  # one record per kind for this hour: the flushes add up
        with rt.store.transaction() as s:
            from steward.store import Prediction

            logged = {
                src: float(sec) / 1000.0
                for src, sec in s.execute(
                    select(Prediction.source, func.sum(Prediction.latency_ms))
                    .where(Prediction.endpoint == "credit")
                    .group_by(Prediction.source)
                ).all()
            }
        price = rt.config.sites["eu-fra"].prices.cpu_hour
        for r in recs:
            src = "stream" if r.kind == "stream" else "http"
            # each request's scoring time, logged with every row of it
            assert r.units * 3600 > 0 and r.units * 3600 <= logged[src] + 1e-9
            assert r.amount == pytest.approx(r.units * price, rel=1e-9)
            assert (r.team, r.site, r.model, r.action) == (
                "risk",
                "eu-fra",
                ref,
                "endpoint.predict",
            )
    finally:
        rt.close()


def test_a_copy_between_sites_is_egress_at_the_source_price(home: Home) -> None:
    """eu-fra (AWS) to an Azure site in the EU: another provider, the internet price."""
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["sites"]["eu-ams"] = {"provider": "azure", "region": "westeurope", "jurisdiction": "EU"}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        ds = DatasetService(rt)
        t = pa.table({"id": list(range(500)), "amount": [float(i) for i in range(500)]})
        v = ds.register(Principal("alice"), t, name="usage", site="eu-fra", team="risk")
        copy = ds.copy(Principal("alice"), v.ref, to_site="eu-ams")
        [rec] = _records(rt, kind="egress")
        assert (rec.site, rec.dest, rec.team, rec.ref) == ("eu-fra", "eu-ams", "risk", v.ref)
        assert rec.units == pytest.approx(copy.bytes / GB)
        assert rec.unit_price == rt.config.egress_price("eu-fra", "eu-ams") == 0.09
    finally:
        rt.close()


def test_storage_accrues_once_a_day_at_the_months_rate(rt: Runtime) -> None:
    ds = DatasetService(rt)
    t = pa.table({"id": list(range(2000)), "x": [float(i) for i in range(2000)]})
    v = ds.register(Principal("alice"), t, name="held", site="eu-fra", team="risk")
    day = datetime.now(UTC).date()
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        assert rt.meter.storage_day(s, day) == 1
        assert rt.meter.storage_day(s, day) == 0  # once
    [rec] = _records(rt, kind="storage")
    days = 30 if day.month in (4, 6, 9, 11) else (31 if day.month != 2 else 28)
    if day.month == 2 and day.year % 4 == 0:
        days = 29
    assert rec.units == pytest.approx(v.bytes / GB)
    assert rec.unit_price == pytest.approx(rt.config.sites["eu-fra"].prices.storage_gb_month / days)
    assert rec.day == day.isoformat() and rec.team == "risk"
    # the day before the data existed holds nothing
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        assert rt.meter.storage_day(s, day - timedelta(days=3)) == 0


def test_accrual_covers_every_complete_day_since_the_last(rt: Runtime) -> None:
    from steward.cost import CostService

    ds = DatasetService(rt)
    t = pa.table({"id": list(range(100))})
    ds.register(Principal("alice"), t, name="held", site="eu-fra", team="risk")
    today = datetime.now(UTC).date() + timedelta(days=4)  # four days on
    assert CostService(rt).accrue_storage(today) == 1  # first run: yesterday only
    assert CostService(rt).accrue_storage(today + timedelta(days=3)) == 3
    days = sorted(r.day for r in _records(rt, kind="storage"))
    assert days == [(today + timedelta(days=i)).isoformat() for i in (-1, 0, 1, 2)]
    assert date.fromisoformat(days[-1]) < today + timedelta(days=3)
