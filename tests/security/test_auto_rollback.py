"""Threat: automatic rollback makes things worse.

A rule rolls an endpoint back when its model drifts. "Back one revision" is not "away from
the drifting model": after a canary was promoted, one step back is the canary (the
drifting model still answers), after a shadow it is the drifting model alone, and when
every earlier revision serves it the monitor would send it 100% of the traffic. Each
automatic rollback must land on the newest revision that serves the alerting model in no
role (last known good) or not roll back at all and say so; it must never bring back a
model a rollback took off within ``monitoring.flap_guard_hours`` (so two drifting models
do not flap); a person's rollback does not land on the model it leaves unless asked. Each
time an alert fires its evidence is kept, and the automatic action's ledger entry names
the occurrence that triggered it.

Times are injected (``now``); the expected revisions come from the sequences built here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import register_split, with_suite
from test_v2 import PERF, approved

from steward.api import create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.deploy import DeployService, EndpointInfo
from steward.errors import Conflict
from steward.identity import IdentityService
from steward.monitoring import AlertInfo, AlertService
from steward.policy import Principal
from steward.runtime import Runtime

ADMIN = Principal("admin")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Models:
    rt: Runtime
    a: str
    b: str
    c: str


def _home(home: Home, **monitoring: Any) -> Home:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {
        "rules": [
            {
                "name": "drift-rollback",
                "signal": "dataset_drift",
                "endpoints": ["credit"],
                "actions": ["alert", "rollback"],
                "severity": "critical",
            }
        ],
        **monitoring,
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    return home


def _models(home: Home) -> Iterator[Models]:
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    a = approved(rt, train, hold)
    b = approved(rt, train, hold, seed=5, exclude=["afam"])
    c = approved(rt, train, hold, seed=7, exclude=["single"])
    yield Models(rt, a, b, c)
    rt.close()


@pytest.fixture
def models(home: Home) -> Iterator[Models]:
    """Three approved models of team risk; the flap guard at its default (24 h)."""
    yield from _models(_home(home))


@pytest.fixture
def guarded6(home: Home) -> Iterator[Models]:
    """The same, with ``monitoring.flap_guard_hours: 6`` in steward.yaml."""
    yield from _models(_home(home, flap_guard_hours=6))


def drift(model: str, share: float = 0.6) -> dict[str, Any]:
    """The evidence a window of ``model``'s traffic gives when its inputs drifted."""
    return {
        "model": model,
        "window_start": "2026-03-02T08:00:00+00:00",
        "window_minutes": 60,
        "rows": 600,
        "drifted_share": share,
        "drifted": [{"column": "lvrat", "method": "wasserstein", "score": share, "threshold": 0.1}],
    }


def fire(rt: Runtime, model: str, now: datetime, share: float = 0.6) -> AlertInfo:
    [alert] = AlertService(rt).apply("credit", {"dataset_drift": drift(model, share)}, now=now)
    return alert


def calm(rt: Runtime, now: datetime) -> None:
    """A window without drift: the open drift alert resolves."""
    AlertService(rt).apply("credit", {"dataset_drift": None}, now=now)


def served(info: EndpointInfo) -> set[str]:
    cur = info.current
    assert cur is not None
    return {cur.primary} | ({cur.candidate} if cur.candidate and cur.percent > 0 else set())


def rollback_action(alert: AlertInfo) -> dict[str, Any]:
    [action] = [x for x in alert.actions if x["action"] == "rollback"]
    return action


# -- last known good ----------------------------------------------------------------------
SEQUENCES = {
    # r1 A · r2 canary B on A · r3 promote B: one step back still serves B (the canary)
    "promoted-canary": (["A", "canary:B", "promote"], "B", 1),
    # r1 B · r2 A · r3 canary B · r4 promote B: the last revision without B is r2
    "b-a-b": (["B", "A", "canary:B", "promote"], "B", 2),
    # r1 A · r2 B · r3 shadow C on B: one step back is B alone
    "shadow-on-drifting": (["A", "B", "shadow:C"], "B", 1),
}


def build(m: Models, steps: list[str]) -> DeployService:
    refs = {"A": m.a, "B": m.b, "C": m.c}
    svc = DeployService(m.rt)
    for i, step in enumerate(steps):
        if step == "promote":
            svc.promote(ADMIN, "credit")
            continue
        kind, _, name = step.rpartition(":")
        strategy = kind or "direct"
        svc.deploy(
            ADMIN,
            refs[name],
            endpoint="credit",
            site="eu-fra" if i == 0 else None,
            strategy=strategy,  # type: ignore[arg-type]
            percent=10 if strategy == "canary" else None,
        )
    return svc


@pytest.mark.parametrize("sequence", list(SEQUENCES))
def test_automatic_rollback_lands_on_the_last_revision_without_the_drifting_model(
    models: Models, sequence: str
) -> None:
    steps, drifting, good = SEQUENCES[sequence]
    svc = build(models, steps)
    bad = {"A": models.a, "B": models.b, "C": models.c}[drifting]
    before = svc.endpoint(ADMIN, "credit").revisions[good - 1]
    alert = fire(models.rt, bad, T0)
    info = svc.endpoint(ADMIN, "credit")
    assert bad not in served(info)  # not as primary, canary or shadow
    assert info.current is not None and info.current.created_by == "steward-monitor"
    assert (info.current.primary, info.current.candidate) == (before.primary, before.candidate)
    action = rollback_action(alert)
    assert action["ok"] is True and action["to"] == good


def test_no_revision_without_the_drifting_model_means_no_rollback(models: Models) -> None:
    # r1 B · r2 canary C on B: every earlier revision serves B; rolling "back" to r1 would
    # send 100% of the traffic to the drifting model
    svc = build(models, ["B", "canary:C"])
    seq = models.rt.ledger.head()[0]
    alert = fire(models.rt, models.b, T0)
    info = svc.endpoint(ADMIN, "credit")
    assert info.current is not None and info.current.revision == 2  # left as it was
    assert len(info.revisions) == 2
    action = rollback_action(alert)
    assert action["ok"] is False and action["code"] == "no_safe_revision"
    assert [s["revision"] for s in action["skipped"]] == [1]
    # the refusal is on the record, as the monitor's, with the reason
    [refused] = [
        e
        for e in models.rt.ledger.entries(LedgerFilter(after_seq=seq))
        if e.action == "deployment.rollback"
    ]
    assert (refused.actor, refused.decision) == ("steward-monitor", "deny")
    assert [r["policy"] for r in json.loads(refused.reasons)] == ["last-known-good"]
    assert action["ledger_seq"] == refused.seq


# -- flap guard ---------------------------------------------------------------------------
def test_flap_guard_does_not_bring_back_a_model_rolled_back_within_24_hours(
    models: Models,
) -> None:
    # r1 A · r2 B; B drifts at T0 and is rolled back (r3 = A)
    svc = build(models, ["A", "B"])
    first = fire(models.rt, models.b, T0)
    assert served(svc.endpoint(ADMIN, "credit")) == {models.a}
    calm(models.rt, T0 + timedelta(minutes=10))
    # two hours later A drifts: the only revision without A serves B, rolled back 2 h ago
    second = fire(models.rt, models.a, T0 + timedelta(hours=2))
    assert second.id != first.id
    info = svc.endpoint(ADMIN, "credit")
    assert info.current is not None and info.current.revision == 3
    assert served(info) == {models.a}  # B is not back
    action = rollback_action(second)
    assert action["ok"] is False and action["code"] == "no_safe_revision"
    assert [(s["revision"], s["model"]) for s in action["skipped"]] == [
        (2, models.b),
        (1, models.a),
    ]


def test_flap_guard_hours_come_from_steward_yaml(guarded6: Models) -> None:
    m = guarded6
    svc = build(m, ["A", "B"])
    fire(m.rt, m.b, T0)  # r3 = A; B rolled back at T0
    calm(m.rt, T0 + timedelta(minutes=10))
    held = fire(m.rt, m.a, T0 + timedelta(hours=5))  # within 6 h: B stays out
    assert served(svc.endpoint(ADMIN, "credit")) == {m.a}
    assert rollback_action(held)["code"] == "no_safe_revision"
    calm(m.rt, T0 + timedelta(hours=5, minutes=10))
    later = fire(m.rt, m.a, T0 + timedelta(hours=7))  # past 6 h: B may serve again
    assert rollback_action(later)["ok"] is True and rollback_action(later)["to"] == 2
    assert served(svc.endpoint(ADMIN, "credit")) == {m.b}


def test_flap_guard_counts_a_persons_rollback(models: Models) -> None:
    # r1 A · r2 B; a person rolls B back (r3 = A); an hour later A drifts
    svc = build(models, ["A", "B"])
    svc.rollback(ADMIN, "credit", now=T0)
    alert = fire(models.rt, models.a, T0 + timedelta(hours=1))
    assert served(svc.endpoint(ADMIN, "credit")) == {models.a}
    assert rollback_action(alert)["code"] == "no_safe_revision"


# -- manual rollback ----------------------------------------------------------------------
def test_manual_rollback_refuses_to_land_on_the_model_it_leaves(models: Models) -> None:
    svc = build(models, ["A", "canary:B", "promote"])
    with pytest.raises(Conflict) as refused:
        svc.rollback(ADMIN, "credit")  # one step back: the canary of B
    assert refused.value.code == "rollback_keeps_model"
    assert refused.value.details["model"] == models.b and refused.value.details["revision"] == 2
    assert served(svc.endpoint(ADMIN, "credit")) == {models.b}
    assert len(svc.endpoint(ADMIN, "credit").revisions) == 3
    # over the API too, as a 409 naming the error; asked for explicitly, it lands there
    token = IdentityService(models.rt).create_token(ADMIN, user="admin", name="t").token
    with TestClient(create_app(models.rt)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        resp = client.post("/v1/endpoints/credit/rollback", json={}, headers=auth)
        assert resp.status_code == 409 and resp.json()["error"] == "rollback_keeps_model"
        resp = client.post(
            "/v1/endpoints/credit/rollback", json={"allow_same_model": True}, headers=auth
        )
        assert resp.status_code == 200
    assert served(svc.endpoint(ADMIN, "credit")) == {models.a, models.b}


# -- evidence and the ledger link ---------------------------------------------------------
def test_each_occurrence_keeps_its_own_evidence(models: Models) -> None:
    build(models, ["A", "canary:C"])  # no revision without A: the rollback is refused
    first = fire(models.rt, models.a, T0, share=0.6)
    again = fire(models.rt, models.a, T0 + timedelta(minutes=1), share=0.9)
    assert again.id == first.id and again.count == 2
    detail = AlertService(models.rt).alert(ADMIN, first.id)
    assert [o.number for o in detail.occurrences] == [1, 2]
    assert [o.evidence["drifted_share"] for o in detail.occurrences] == [0.6, 0.9]
    assert [o.observed_at for o in detail.occurrences] == [T0, T0 + timedelta(minutes=1)]
    # the first occurrence is the one the (refused) rollback answered
    assert rollback_action(again)["occurrence"] == detail.occurrences[0].id


def test_automatic_rollback_ledger_entry_names_its_occurrence(models: Models) -> None:
    build(models, ["A", "B"])
    seq = models.rt.ledger.head()[0]
    alert = fire(models.rt, models.b, T0)
    detail = AlertService(models.rt).alert(ADMIN, alert.id)
    [occurrence] = detail.occurrences
    action = rollback_action(detail)
    assert action["occurrence"] == occurrence.id
    [entry] = [
        e
        for e in models.rt.ledger.entries(LedgerFilter(after_seq=seq))
        if e.action == "deployment.rollback"
    ]
    assert (entry.actor, entry.decision, entry.seq) == (
        "steward-monitor",
        "allow",
        action["ledger_seq"],
    )
    # the occurrence keeps the payload the ledger entry hashed: it names the occurrence
    [kept] = [x for x in occurrence.actions if x["action"] == "rollback"]
    payload = kept["payload"]
    assert payload["evidence"]["occurrence"] == occurrence.id
    assert payload["evidence"]["alert"] == alert.id
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == entry.payload_hash
