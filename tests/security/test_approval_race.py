"""Threat: racing the approval check (issue 16, item 6).

Twenty concurrent approvals by one approver used to record several; an approval and a
rejection sent together by one person both landed. One decision per (model version,
validation, approver): decided inside the write transaction and held by a unique
constraint. Each request runs in its own thread with its own Runtime (its own engine and
connections), as separate server processes would.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
from gatesdata import BOB, SUITE, register_split, train_model, with_suite

from steward.config import Home
from steward.errors import Conflict, StewardError
from steward.gates import GateService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import Approval, StageChange
from steward.store.guard import governed_writes

CAROL = Principal("carol")
REQUESTS = 20
PERF_ONLY: dict[str, Any] = {k: v for k, v in SUITE.items() if k not in ("fairness", "champion")}


@pytest.fixture
def validated(home: Home) -> Iterator[tuple[Runtime, str, str]]:
    """A model validated by bob (not its producer) and an approver, carol."""
    with_suite(home, PERF_ONLY)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"]["carol"] = {"roles": ["approver"]}
    cfg["teams"]["risk"]["members"].append("carol")
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = train_model(rt, train)
    v = GateService(rt).validate(BOB, ref, hold)
    assert v.passed
    yield rt, ref, v.id
    rt.close()


def _race(home: Home, ref: str, decisions: list[bool]) -> list[Any]:
    """Send every decision by carol at once, each from its own Runtime."""
    runtimes = [Runtime.open(home) for _ in decisions]
    start = threading.Barrier(len(decisions))
    results: list[Any] = [None] * len(decisions)

    def send(i: int, approve: bool) -> None:
        gates = GateService(runtimes[i])
        start.wait()
        try:
            results[i] = gates.decide(CAROL, ref, approve=approve, note=f"request {i}")
        except StewardError as exc:
            results[i] = exc

    threads = [threading.Thread(target=send, args=(i, a)) for i, a in enumerate(decisions)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        for r in runtimes:
            r.close()
    return results


def _rows(rt: Runtime) -> list[tuple[str, str]]:
    with rt.store.transaction() as s:
        return [
            (a.user, a.decision)
            for a in s.execute(select(Approval).order_by(Approval.id)).scalars()
        ]


def test_twenty_concurrent_approvals_record_one(
    validated: tuple[Runtime, str, str], home: Home
) -> None:
    rt, ref, vid = validated
    results = _race(home, ref, [True] * REQUESTS)
    assert _rows(rt) == [("carol", "approve")]
    landed = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(landed) == 1 and len(refused) == REQUESTS - 1
    assert all(isinstance(e, Conflict) and e.status == 409 for e in refused)
    info = GateService(rt).stage_info(BOB, ref)
    assert info.stage == "approved"
    assert [h["to"] for h in info.history] == ["validated", "approved"]
    assert [(a.user, a.validation) for a in info.approvals] == [("carol", vid)]


def test_concurrent_approve_and_reject_by_one_person_land_once(
    validated: tuple[Runtime, str, str], home: Home
) -> None:
    rt, ref, _ = validated
    results = _race(home, ref, [i % 2 == 0 for i in range(REQUESTS)])
    rows = _rows(rt)
    assert len(rows) == 1
    assert sum(not isinstance(r, Exception) for r in results) == 1
    (decision,) = [d for _, d in rows]
    stage = GateService(rt).stage_info(BOB, ref).stage
    assert stage == {"approve": "approved", "reject": "candidate"}[decision]
    with rt.store.transaction() as s:
        changes = s.execute(select(func.count()).select_from(StageChange)).scalar_one()
    assert changes == 2  # validated, then the one decision's stage


def test_the_database_refuses_a_second_decision(validated: tuple[Runtime, str, str]) -> None:
    rt, ref, vid = validated
    GateService(rt).decide(CAROL, ref, approve=True)
    with rt.store.transaction() as s:
        (mv_id,) = {a.model_version_id for a in s.execute(select(Approval)).scalars()}
    # a writer that skips the service's check (another code path, a replayed request)
    with (
        pytest.raises(IntegrityError),
        governed_writes("model.reject"),
        rt.store.transaction(write=True) as s,
    ):
        s.add(
            Approval(
                model_version_id=mv_id,
                validation_id=vid,
                user="carol",
                decision="reject",
                note="",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
        s.flush()
    assert _rows(rt) == [("carol", "approve")]
