"""Threat: poisoned ground truth switches monitoring off.

Labels that name no class of the model are refused at the feedback API (422 naming the
label and the classes; nothing of the batch is stored). Labels already in the store (as
an older Steward accepted them) and any error while judging one part of an endpoint's
window never stop the monitoring round: drift is still tested, the drift rule still rolls
the endpoint back, and an alert on the endpoint names the problem.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.api import create_app
from steward.config import Home
from steward.deploy import DeployService
from steward.errors import ValidationFailed
from steward.identity import IdentityService
from steward.monitoring import AlertService, MonitoringService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import Label, ServingService
from steward.store import PredictionFeedback, governed_writes

ADMIN, ALICE = Principal("admin"), Principal("alice")
NUMERIC = ("pirat", "hirat", "lvrat", "unemp", "chist", "mhist")
#: the HMDA target's values, as the fixture's data holds them (the model's classes)
CLASSES = sorted({r["deny"] for r in hmda().to_pylist()})
#: labels a careless or hostile client sends: none of them names a class of the model
POISON: list[Any] = ["banana", 7, None, {"deny": "yes"}, "yes please", [1, 0]]


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "deny"} for r in rows]


def _shifted() -> list[dict[str, Any]]:
    """A new kind of applicant: every ratio and history 60% higher, all self-employed."""
    rows = _records(hmda().to_pylist())
    for r in rows:
        for c in NUMERIC:
            r[c] = r[c] * 1.6
        r["selfemp"] = True
    return rows


def _stored(rt: Runtime) -> list[tuple[str, int, Any]]:
    with rt.store.transaction() as s:
        return sorted(
            (f.request_id, f.row, json.loads(f.label))
            for f in s.scalars(select(PredictionFeedback))
        )


@pytest.fixture
def drifting(home: Home) -> Iterator[tuple[Runtime, list[str]]]:
    """Endpoint credit serves a second model (revision 2) on drifted traffic; the rule
    rolls it back on dataset drift."""
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
            },
            {"name": "perf", "signal": "performance"},
        ]
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = [approved(rt, train, hold, exclude=["afam"]), approved(rt, train, hold, seed=5)]
    deploy = DeployService(rt)
    deploy.deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    deploy.deploy(ADMIN, refs[1], endpoint="credit")  # revision 2 serves the new model
    rows = _shifted()
    ServingService(rt, refresh=0).score_many(
        ALICE, "credit", [(f"s-{i}", {"records": rows[i : i + 40]}) for i in range(0, 2000, 40)]
    )
    yield rt, refs
    rt.close()


def _poison_the_store(rt: Runtime) -> None:
    """Labels as an older Steward stored them (it took any JSON), plus text that is not
    JSON at all, for logged answers of the drifting model; and some right-looking ones."""
    now = datetime.now(UTC)
    texts = [json.dumps(p) for p in POISON] + ["not json {"]
    with governed_writes("test.poison"), rt.store.transaction(write=True) as s:
        for row, text in enumerate(texts):
            s.add(
                PredictionFeedback(
                    endpoint="credit", request_id="s-0", row=row, label=text, at=now, by="old"
                )
            )
        for row in range(40):
            s.add(
                PredictionFeedback(
                    endpoint="credit",
                    request_id="s-40",
                    row=row,
                    label=json.dumps(CLASSES[row % 2]),
                    at=now,
                    by="old",
                )
            )


def test_feedback_refuses_labels_that_name_no_class(
    drifting: tuple[Runtime, list[str]],
) -> None:
    rt, _ = drifting
    serving = ServingService(rt, refresh=0)
    good = [Label(request_id="s-80", row=i, label=CLASSES[i % 2]) for i in range(3)]
    for bad in POISON:
        batch = [*good, Label(request_id="s-80", row=3, label=bad)]
        with pytest.raises(ValidationFailed) as err:
            serving.feedback(ALICE, "credit", batch)
        assert err.value.status == 422
        assert err.value.details["label"] == bad
        assert err.value.details["classes"] == CLASSES
    assert _stored(rt) == []  # nothing of a refused batch is stored
    token = IdentityService(rt).create_token(ALICE).token
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    body = {
        "labels": [lb.model_dump() for lb in good]
        + [{"request_id": "s-80", "row": 3, "label": "banana"}]
    }
    resp = client.post("/v1/endpoints/credit/feedback", json=body)
    assert resp.status_code == 422
    details = resp.json()["details"]
    assert details["label"] == "banana" and details["classes"] == CLASSES
    assert _stored(rt) == []
    # the same rows with their classes are taken
    assert serving.feedback(ALICE, "credit", good).accepted == 3
    assert _stored(rt) == [("s-80", i, CLASSES[i % 2]) for i in range(3)]


def test_poisoned_labels_in_the_store_do_not_stop_drift_or_rollback(
    drifting: tuple[Runtime, list[str]],
) -> None:
    rt, refs = drifting
    _poison_the_store(rt)
    rounds = MonitoringService(rt).watch_all()  # one round of the server's monitor
    hourly = next(r for r in rounds["credit"] if r.minutes == 60 and r.model == refs[1])
    assert hourly.dataset_drift is True  # drift was tested
    # the drift rule rolled the endpoint back to the first model
    current = DeployService(rt).endpoint(ADMIN, "credit").current
    assert current is not None and current.primary == refs[0]
    assert current.created_by == "steward-monitor"
    # and an alert on the endpoint names the bad labels and the model's classes
    alerts = AlertService(rt).alerts(ADMIN, endpoint="credit", state="open")
    [labels] = [a for a in alerts if a.signal == "monitoring"]
    assert "banana" in labels.message
    assert all(json.dumps(c) in labels.message for c in CLASSES)
    [problem] = [p for p in labels.evidence["problems"] if p["stage"] == "labels"]
    assert problem["refused"] == len(POISON) + 1 and problem["classes"] == CLASSES
    # the labels that do name a class were still used
    assert hourly.performance is not None and hourly.performance.labelled == 40


def test_an_error_judging_one_window_does_not_stop_drift_or_rollback(
    drifting: tuple[Runtime, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, refs = drifting
    import steward.monitoring.service as monitoring

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("label store unreadable")

    monkeypatch.setattr(monitoring, "assess", broken)
    rounds = MonitoringService(rt).watch_all()
    hourly = next(r for r in rounds["credit"] if r.minutes == 60 and r.model == refs[1])
    assert hourly.dataset_drift is True
    current = DeployService(rt).endpoint(ADMIN, "credit").current
    assert current is not None and current.primary == refs[0]
    alerts = AlertService(rt).alerts(ADMIN, endpoint="credit", state="open")
    [problem] = [a for a in alerts if a.signal == "monitoring"]
    assert "label store unreadable" in problem.message
