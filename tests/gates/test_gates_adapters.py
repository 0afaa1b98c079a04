"""A model that fails a gate cannot be approved or promoted: through the CLI, the SDK
(embedded and remote) and the REST API alike."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gatesdata import ALICE, BOB, SUITE, register_split, train_model, with_suite

from steward import Steward
from steward.api import create_app
from steward.config import Home
from steward.errors import GateFailed
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from clitools import run

FAILING = {
    **{k: v for k, v in SUITE.items() if k != "fairness"},
    "performance": [{"metric": "roc_auc", "min": 0.99}],
}


@pytest.fixture
def failed(home: Home) -> Iterator[tuple[Runtime, str, str]]:
    """A model that failed its validation (roc_auc below an impossible 0.99)."""
    with_suite(home, FAILING)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = train_model(rt, train)
    with Steward(home, user="bob") as bob:
        v = bob.validate_model(ref, holdout=hold)
        assert not v.passed and [c.name for c in v.report.failed] == ["roc_auc"]
    yield rt, ref, hold
    rt.close()


def test_sdk_refuses_to_approve_or_promote_a_failed_model(
    failed: tuple[Runtime, str, str], home: Home
) -> None:
    _, ref, _ = failed
    with Steward(home, user="bob") as bob, pytest.raises(GateFailed):
        bob.approve_model(ref)
    with Steward(home, user="admin") as admin, pytest.raises(GateFailed):
        admin.promote_model(ref)


def test_api_refuses_to_approve_or_promote_a_failed_model(
    failed: tuple[Runtime, str, str],
) -> None:
    rt, ref, _ = failed
    bob = IdentityService(rt).create_token(Principal("admin"), user="bob").token
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {bob}"})
    resp = client.post(f"/v1/models/{ref}/approvals", json={"note": "looks fine"})
    assert resp.status_code == 409 and resp.json()["error"] == "gate_failed"
    resp = client.post(f"/v1/models/{ref}/promotions", json={"stage": "production"})
    assert resp.status_code in (403, 409)
    vals = client.get(f"/v1/models/{ref}/validations").json()
    assert [v["passed"] for v in vals] == [False]
    stage = client.get(f"/v1/models/{ref}/stage").json()
    assert stage["stage"] == "failed"


# The in-process CLI opens a client per command and leaves closing it to the process exit;
# on PostgreSQL that leaks connections inside the test process, so the CLI runs on SQLite.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_refuses_to_approve_or_promote_a_failed_model(
    failed: tuple[Runtime, str, str], home: Home
) -> None:
    _, ref, hold = failed
    code, out, err = run(home.root, "model", "approve", ref, "--note", "fine", user="bob")
    assert code == 8 and "failed its gates" in err
    code, out, err = run(home.root, "model", "promote", ref, user="admin")
    assert code == 8 and "failed its gates" in err
    code, out, err = run(home.root, "model", "validate", ref, "--holdout", hold, user="bob")
    assert code == 8 and "FAILED" in out and "roc_auc" in out
    code, out, _ = run(home.root, "model", "validations", ref, "--json", user="bob")
    assert [v["passed"] for v in json.loads(out)] == [False, False]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_whole_path_through_the_cli(home: Home) -> None:
    with_suite(home, {**FAILING, "performance": [{"metric": "roc_auc", "min": 0.6}]})
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
    finally:
        rt.close()
    code, out, err = run(home.root, "model", "validate", ref, "--holdout", hold, user="bob")
    assert code == 0 and "PASSED" in out, err
    code, _, err = run(home.root, "model", "approve", ref, user="alice")
    assert code == 4 and "four-eyes" in err
    code, out, err = run(home.root, "model", "approve", ref, "--note", "ok", user="bob")
    assert code == 0 and "approved" in out, err
    code, out, err = run(home.root, "model", "promote", ref, user="bob")
    assert code == 0 and "production" in out, err
    code, out, _ = run(home.root, "model", "card", ref, user="bob")
    assert "## Validation" in out and "passed on locked holdout" in out
    assert ALICE.name in out or BOB.name in out
