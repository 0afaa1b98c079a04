"""Threat: refusals and reads of personal data that leave no trace (issue 16, item 9).

A hostile insider probes what they may do, or reads what they may read, counting on the
ledger to hold only changes and policy denials: a model refused at approval or promotion
because its gates failed left no entry, and reading patients' data or downloading a model
left none either (HIPAA 164.312(b) asks for audit controls that record access).
Each test is the attempt, then what the ledger must show afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from fastapi.testclient import TestClient

from steward.api import create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets import DatasetService
from steward.errors import GateFailed
from steward.gates import GateService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.training import TrainingService, Worker

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("admin")

# Column by column, what the fixture holds (the label comes from here, not from Steward):
# `contact` is a direct identifier (e-mail addresses), `x` and `y` are measurements.
PERSONAL = pa.table(
    {
        "contact": [f"patient{i}@clinic-example.org" for i in range(60)],
        "x": [float(i) for i in range(60)],
    }
)
NOT_PERSONAL = pa.table({"x": [float(i) for i in range(60)], "y": [i * 2.0 for i in range(60)]})


def _entries(rt: Runtime, **flt: Any) -> list[Any]:
    return rt.ledger.entries(LedgerFilter(limit=10_000, **flt))


def _client(rt: Runtime, user: str) -> TestClient:
    token = IdentityService(rt).create_token(Principal(user)).token
    return TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})


def _noisy_model(rt: Runtime) -> tuple[str, str]:
    """A regression model trained by alice on pure noise, and a locked holdout of noise:
    any validation of it fails (r2 far below the default suite's 0.30)."""
    rng = np.random.default_rng(16)
    rows = [{"x": float(i), "y": float(rng.normal(0, 100))} for i in range(160)]
    ds = DatasetService(rt)
    train = ds.register(ALICE, pa.Table.from_pylist(rows[:120]), name="noise", team="risk")
    hold = ds.register(
        ALICE, pa.Table.from_pylist(rows[120:]), name="noise-hold", team="risk", locked=True
    )
    spec = {
        "data": [train.ref],
        "target": "y",
        "objective": "regression",
        "family": "linear",
        "team": "risk",
        "name": "noise-model",
    }
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec)
    Worker(rt, "inline").run_once(job.id)
    done = svc.job(ALICE, job.id)
    assert done.result_ref, done.error_message
    return done.result_ref, hold.ref


def test_gate_refusals_at_approval_and_promotion_are_on_the_record(rt: Runtime) -> None:
    model, holdout = _noisy_model(rt)
    gates = GateService(rt)
    assert not gates.validate(ADMIN, model, holdout).passed
    head = rt.ledger.head()[0]

    with pytest.raises(GateFailed):
        gates.decide(BOB, model, approve=True, note="looks fine to me")
    with pytest.raises(GateFailed):
        gates.promote(ADMIN, model)

    refusals = [
        (e.actor, e.action, e.decision, [r["policy"] for r in _reasons(e)])
        for e in _entries(rt, after_seq=head)
    ]
    assert refusals == [
        ("bob", "model.approve", "deny", ["gate-failed"]),
        ("admin", "model.promote", "deny", ["gate-failed"]),
    ]
    # the reason says what failed, for whoever reads the ledger later
    assert all(model in _reasons(e)[0]["advice"] for e in _entries(rt, after_seq=head))


def _reasons(entry: Any) -> list[dict[str, str]]:
    import json

    out: list[dict[str, str]] = json.loads(entry.reasons)
    return out


def test_reads_of_personal_data_are_on_the_record(rt: Runtime) -> None:
    ds = DatasetService(rt)
    personal = ds.register(ALICE, PERSONAL, name="patients", team="risk").ref
    plain = ds.register(ALICE, NOT_PERSONAL, name="sensors", team="risk").ref
    bob = _client(rt, "bob")
    head = rt.ledger.head()[0]

    assert bob.get(f"/v1/datasets/{personal}/data").status_code == 200
    assert bob.get(f"/v1/datasets/{plain}/data").status_code == 200

    reads = [
        (e.actor, e.action, e.resource, e.decision)
        for e in _entries(rt, after_seq=head, action="dataset.read")
    ]
    # the read of personal data is recorded; the read of measurements need not be
    assert reads == [("bob", "dataset.read", f'Dataset::"{personal}"', "allow")]


def test_model_downloads_are_on_the_record(rt: Runtime) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = np.arange(1, 21, dtype=np.float32).reshape(-1, 1)
    onnx = to_onnx(LinearRegression().fit(x, x[:, 0] * 2), x[:1]).SerializeToString()
    model = ModelService(rt).import_onnx(
        ALICE, onnx, name="scorer", team="risk", objective="regression"
    )
    bob = _client(rt, "bob")
    head = rt.ledger.head()[0]

    got = bob.get(f"/v1/models/{model.ref}/onnx")

    assert got.status_code == 200 and got.content == onnx
    downloads = [(e.actor, e.action, e.decision) for e in _entries(rt, after_seq=head)]
    assert downloads == [("bob", "object.read", "allow")]


@pytest.fixture
def sampled_rt(home: Home) -> Iterator[Runtime]:
    """A home whose read records are sampled at rate 0: only the once-per-period rule
    records a read."""
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["audit"] = {"reads": {"record": "sampled", "sample_rate": 0.0, "period_minutes": 60}}
    home.config_path.write_text(yaml.safe_dump(cfg))
    runtime = Runtime.open(home)
    yield runtime
    runtime.close()


def test_sampled_read_records_keep_each_user_and_resource_once_per_period(
    sampled_rt: Runtime,
) -> None:
    rt = sampled_rt
    ref = DatasetService(rt).register(ALICE, PERSONAL, name="patients", team="risk").ref
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    head = rt.ledger.head()[0]
    ds = DatasetService(rt)
    for user, minutes in [("alice", 0), ("alice", 10), ("bob", 10), ("alice", 59), ("alice", 61)]:
        rt.door.clock = lambda m=minutes: t0 + timedelta(minutes=m)  # type: ignore[misc]
        assert ds.read(Principal(user), ref).num_rows == 60

    recorded = [e.actor for e in _entries(rt, after_seq=head, action="dataset.read")]
    # alice at 0 and at 61 minutes (a new period), bob's first read at 10
    assert recorded == ["alice", "bob", "alice"]
