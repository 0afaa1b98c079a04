"""Threat: a member of another team reaches into team risk's work.

Mallory (scientist and deployer, team fraud) has every role she needs, but not the team:
she must not read risk's raw objects, download its model, overwrite the ground truth of
its endpoint (directly or with a token she scoped to it herself) or have its model
revalidated. Each refusal is a 403 ``policy_denied`` naming the team boundary. Risk's own
members still do all of it, and a revalidation they ask for is theirs in the ledger.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward import Steward
from steward.api import create_app
from steward.audit import LedgerFilter
from steward.cli.main import app
from steward.config import Home
from steward.deploy import DeployService
from steward.errors import PolicyDenied
from steward.gates import GateService
from steward.identity import IdentityService
from steward.monitoring import RevalidationService
from steward.objects import ObjectService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.serving import Label, ServingService
from steward.store import PredictionFeedback

ADMIN, ALICE, BOB = Principal("admin"), Principal("alice"), Principal("bob")
MALLORY = Principal("mallory")
SECRET = b"risk's raw scoring extract: applicant 17, income 41000, denied"


@dataclass
class Risk:
    rt: Runtime
    model: str
    digest: str
    truth: list[Label]  # the right labels of the logged answers


def _records(start: int, n: int) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "deny"} for r in hmda().slice(start, n).to_pylist()]


@pytest.fixture
def risk(home: Home) -> Iterator[Risk]:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"]["mallory"] = {"roles": ["scientist", "deployer"]}
    cfg["teams"]["fraud"] = {"members": ["mallory"]}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    model = approved(rt, train, hold)
    deploy = DeployService(rt)
    deploy.deploy(ADMIN, model, endpoint="credit", site="eu-fra")
    deploy.deploy(ADMIN, model, endpoint="credit-b", site="eu-fra")
    obj = ObjectService(rt).put(ALICE, SECRET, site="eu-fra", jurisdiction="EU", team="risk")
    serving = ServingService(rt, refresh=0)
    rows = hmda().slice(1900, 4).to_pylist()
    out = serving.predict_records(ALICE, "credit", _records(1900, 4), request_id="r-1")
    serving.predict_records(ALICE, "credit-b", _records(1900, 1), request_id="b-1")
    truth = [
        Label(request_id=out["request_id"], row=i, label=r["deny"]) for i, r in enumerate(rows)
    ]
    serving.feedback(ALICE, "credit", truth)
    yield Risk(rt, model, obj.digest, truth)
    rt.close()


def _stored_labels(rt: Runtime) -> set[tuple[str, str, int, Any, str]]:
    with rt.store.transaction() as s:
        return {
            (f.endpoint, f.request_id, f.row, json.loads(f.label), f.by)
            for f in s.scalars(select(PredictionFeedback))
        }


def _client(rt: Runtime, user: str, endpoint: str | None = None) -> TestClient:
    identity = IdentityService(rt)
    token = identity.create_token(Principal(user), endpoint=endpoint).token
    return TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})


def _team_boundary(exc: PolicyDenied) -> None:
    assert exc.code == "policy_denied"
    assert "team-boundary" in {r.policy for r in exc.reasons}


def _refused_over_http(resp: Any) -> None:
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["error"] == "policy_denied"
    assert "team-boundary" in {r["policy"] for r in body["details"]["reasons"]}


def test_another_team_cannot_read_risks_objects(risk: Risk) -> None:
    rt = risk.rt
    objects = ObjectService(rt)
    with pytest.raises(PolicyDenied) as err:
        objects.get(MALLORY, "eu-fra", risk.digest)
    _team_boundary(err.value)
    with pytest.raises(PolicyDenied):
        objects.info(MALLORY, "eu-fra", risk.digest)
    mallory = _client(rt, "mallory")
    _refused_over_http(mallory.get(f"/v1/objects/eu-fra/{risk.digest}/content"))
    # the refusal is on the record, with her as the actor
    denied = [
        (e.actor, e.action)
        for e in rt.ledger.entries(LedgerFilter(decision="deny"))
        if e.action == "object.read"
    ]
    assert ("mallory", "object.read") in denied
    # risk's own member still reads it
    assert objects.get(ALICE, "eu-fra", risk.digest) == SECRET
    alice = _client(rt, "alice")
    assert alice.get(f"/v1/objects/eu-fra/{risk.digest}/content").content == SECRET


def test_another_team_cannot_download_risks_model(risk: Risk, home: Home, tmp_path: Path) -> None:
    rt = risk.rt
    registry = ModelService(rt)
    with pytest.raises(PolicyDenied) as err:
        registry.onnx(MALLORY, risk.model)
    _team_boundary(err.value)
    _refused_over_http(_client(rt, "mallory").get(f"/v1/models/{risk.model}/onnx"))
    with Steward(home, user="mallory") as sdk, pytest.raises(PolicyDenied):
        sdk.model_onnx(risk.model)
    env = {"STEWARD_HOME": str(home.root), "STEWARD_USER": "mallory", "COLUMNS": "200"}
    stolen = tmp_path / "stolen.onnx"
    cli = CliRunner().invoke(app, ["model", "download", risk.model, "-o", str(stolen)], env=env)
    assert cli.exit_code == PolicyDenied.exit_code and not stolen.exists()
    # the model's own team downloads it: the ONNX file the artifact store holds
    detail = registry.show(ADMIN, risk.model)
    onnx = registry.onnx(ALICE, risk.model)
    assert onnx == rt.artifacts.get_bytes(detail.site, detail.object_digest)
    served = _client(rt, "alice").get(f"/v1/models/{risk.model}/onnx")
    assert served.status_code == 200 and served.content == onnx


def test_another_team_cannot_overwrite_risks_ground_truth(risk: Risk) -> None:
    rt = risk.rt
    before = _stored_labels(rt)
    flipped = [
        Label(request_id=lb.request_id, row=lb.row, label={"yes": "no", "no": "yes"}[lb.label])
        for lb in risk.truth
    ]
    with pytest.raises(PolicyDenied) as err:
        ServingService(rt, refresh=0).feedback(MALLORY, "credit", flipped)
    _team_boundary(err.value)
    body = {"labels": [lb.model_dump() for lb in flipped]}
    _refused_over_http(_client(rt, "mallory").post("/v1/endpoints/credit/feedback", json=body))
    # a token she scoped to risk's endpoint herself gives her no more than she has
    scoped = _client(rt, "mallory", endpoint="credit")
    _refused_over_http(scoped.post("/v1/endpoints/credit/feedback", json=body))
    assert _stored_labels(rt) == before
    # risk's member corrects a label: it replaces the old one, by her
    res = ServingService(rt, refresh=0).feedback(ALICE, "credit", flipped[:1])
    assert (res.accepted, res.replaced) == (1, 1)
    first = risk.truth[0]
    after = _stored_labels(rt)
    assert ("credit", first.request_id, first.row, flipped[0].label, "alice") in after


def test_an_endpoint_scoped_token_posts_feedback_for_its_endpoint_only(risk: Risk) -> None:
    rt = risk.rt
    before = _stored_labels(rt)
    app = _client(rt, "alice", endpoint="credit-b")
    ok = app.post(
        "/v1/endpoints/credit-b/feedback",
        json={"labels": [{"request_id": "b-1", "row": 0, "label": "yes"}]},
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    # the same token on risk's other endpoint: refused at the token's scope
    other = app.post(
        "/v1/endpoints/credit/feedback",
        json={"labels": [{"request_id": "r-1", "row": 0, "label": "yes"}]},
    )
    assert other.status_code == 403 and other.json()["error"] == "policy_denied"
    assert _stored_labels(rt) == before | {("credit-b", "b-1", 0, "yes", "alice")}
    # and another team's user scoping a token to risk's endpoint is refused by the team
    mallory = _client(rt, "mallory", endpoint="credit-b")
    _refused_over_http(
        mallory.post(
            "/v1/endpoints/credit-b/feedback",
            json={"labels": [{"request_id": "b-1", "row": 0, "label": "no"}]},
        )
    )
    assert ("credit-b", "b-1", 0, "yes", "alice") in _stored_labels(rt)


def test_another_team_cannot_have_risks_model_revalidated(risk: Risk) -> None:
    rt = risk.rt
    gates = GateService(rt)
    validations = len(gates.validations(ADMIN, risk.model))
    mallory = _client(rt, "mallory")
    seq = rt.ledger.head()[0]
    with pytest.raises(PolicyDenied) as err:
        RevalidationService(rt).run(MALLORY, "credit")
    _team_boundary(err.value)
    _refused_over_http(mallory.post("/v1/endpoints/credit/monitoring/revalidate"))
    assert len(gates.validations(ADMIN, risk.model)) == validations
    entries = [
        (e.actor, e.action, e.decision) for e in rt.ledger.entries(LedgerFilter(after_seq=seq))
    ]
    assert entries == [("mallory", "model.validate", "deny")] * 2
    # risk's approver asks: the validation is his, in the ledger with him as the actor
    seq = rt.ledger.head()[0]
    result = RevalidationService(rt).run(BOB, "credit")
    assert result.validation is not None
    latest = gates.validations(ADMIN, risk.model)[-1]
    assert latest.id == result.validation and latest.created_by == "bob"
    entries = [
        (e.actor, e.action, e.decision) for e in rt.ledger.entries(LedgerFilter(after_seq=seq))
    ]
    assert ("bob", "model.validate", "allow") in entries
    assert all(
        actor != "steward-monitor" for actor, action, _ in entries if action == "model.validate"
    )
