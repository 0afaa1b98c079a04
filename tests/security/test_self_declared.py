"""Threat: facts that are true because someone said so (issue 16, item 10).

An importer who declares an external model ``--anonymised`` frees it from residency
on their word alone; a scientist who passes ``purpose=gate-evaluation`` reads a locked
holdout that only the gates may read. Each test is that attempt, then what must hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
import yaml
from fastapi.testclient import TestClient

from steward import Steward
from steward.api import create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets import DatasetService
from steward.errors import PolicyDenied
from steward.gates import GateService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.training import TrainingService, Worker

ALICE, ADMIN = Principal("alice"), Principal("admin")


@pytest.fixture
def steward_home(home: Home) -> Home:
    """The default home plus carol, a second data steward (alice is scientist and data
    steward, bob an approver)."""
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"]["carol"] = {"roles": ["data-steward"]}
    home.config_path.write_text(yaml.safe_dump(cfg))
    return home


def _onnx(path: str) -> str:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = np.arange(1, 21, dtype=np.float32).reshape(-1, 1)
    model = to_onnx(LinearRegression().fit(x, x[:, 0] * 2), x[:1])
    with open(path, "wb") as fh:
        fh.write(model.SerializeToString())
    return path


def test_an_importers_anonymised_claim_waits_for_another_data_steward(
    steward_home: Home, tmp_path: object
) -> None:
    onnx = _onnx(str(tmp_path) + "/external.onnx")  # type: ignore[operator]
    with Steward(steward_home, user="alice") as alice:
        info = alice.import_model(
            onnx, name="vendor-score", objective="regression", team="risk", anonymised=True
        )
        # the strictest attributes apply: the site's jurisdiction, not anonymised
        assert (info.jurisdiction, info.anonymised) == ("EU", False)
        assert alice.model(info.ref).anonymised is False
        [pending] = alice.declarations(state="pending")
        assert pending.model == info.ref and pending.declared_anonymised is True
        # so residency still binds it: it cannot be deployed in the US
        rt = alice.runtime
        resource = ModelService.policy_resource(alice.model(info.ref))
        us = rt.policy.decide(ADMIN, "deployment.create", resource, {"site": "us-east"})
        assert "residency" in {r.policy for r in us.reasons if r.effect == "forbid"}
        # the importer cannot approve their own word, though they are a data steward
        with pytest.raises(PolicyDenied) as own:
            alice.approve_declaration(pending.id)
        assert "declaration-four-eyes" in {r["policy"] for r in own.value.details["reasons"]}
    with Steward(steward_home, user="bob") as bob, pytest.raises(PolicyDenied):
        bob.approve_declaration(pending.id)  # an approver, not a data steward
    with Steward(steward_home, user="carol") as carol:
        decided = carol.approve_declaration(pending.id, note="vendor's DPIA checked")
        assert (decided.state, decided.decided_by, decided.anonymised) == (
            "approved",
            "carol",
            True,
        )
        assert carol.model(info.ref).anonymised is True
        [entry] = carol.audit_log(action="model.declaration.approve", decision="allow")
        assert entry.actor == "carol" and entry.resource == f'Model::"{info.ref}"'


def _locked_holdout(rt: Runtime) -> str:
    rows = pa.table({"x": [float(i) for i in range(40)], "y": [i * 3.0 for i in range(40)]})
    hold = DatasetService(rt).register(ALICE, rows, name="sealed", team="risk", locked=True)
    return hold.ref


def test_a_locked_holdout_is_not_read_by_naming_the_gate_purpose(rt: Runtime) -> None:
    ref = _locked_holdout(rt)
    # a scientist of the holdout's own team, through the SDK's service and the API
    with pytest.raises(PolicyDenied) as denied:
        DatasetService(rt).read(ALICE, ref, purpose="gate-evaluation")
    assert denied.value.status == 403
    assert "locked-holdout-read" in {r["policy"] for r in denied.value.details["reasons"]}
    token = IdentityService(rt).create_token(ALICE).token
    api = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    got = api.get(f"/v1/datasets/{ref}/data", params={"purpose": "gate-evaluation"})
    assert got.status_code == 403 and got.json()["error"] == "policy_denied"


@pytest.fixture
def trained(rt: Runtime) -> Iterator[tuple[str, str]]:
    rows = [{"x": float(i), "y": i * 3.0 + (i % 3)} for i in range(1, 121)]
    ds = DatasetService(rt)
    train = ds.register(ALICE, pa.Table.from_pylist(rows[:90]), name="lin", team="risk").ref
    hold = ds.register(
        ALICE, pa.Table.from_pylist(rows[90:]), name="lin-hold", team="risk", locked=True
    ).ref
    spec = {
        "data": [train],
        "target": "y",
        "objective": "regression",
        "family": "linear",
        "team": "risk",
        "name": "lin-model",
    }
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec)
    Worker(rt, "inline").run_once(job.id)
    done = svc.job(ALICE, job.id)
    assert done.result_ref, done.error_message
    yield done.result_ref, hold


def test_the_gates_read_the_holdout_as_their_own_identity_on_the_record(
    rt: Runtime, trained: tuple[str, str]
) -> None:
    model, holdout = trained
    head = rt.ledger.head()[0]

    assert GateService(rt).validate(ADMIN, model, holdout).passed

    reads = [
        (e.actor, e.decision, json.loads(e.reasons))
        for e in rt.ledger.entries(
            LedgerFilter(after_seq=head, action="dataset.read", resource=f'Dataset::"{holdout}"')
        )
    ]
    assert [(actor, decision) for actor, decision, _ in reads] == [("steward-gates", "allow")]
    # the user who asked for the validation is named with the read
    assert any("admin" in r["advice"] and model in r["advice"] for r in reads[0][2])


def _cli(home: Home, user: str, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from steward.cli import app

    env = {"STEWARD_HOME": str(home.root), "STEWARD_USER": user}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout + result.stderr


def test_the_cli_keeps_an_import_strict_until_another_steward_approves(
    steward_home: Home, tmp_path: object
) -> None:
    onnx = _onnx(str(tmp_path) + "/cli.onnx")  # type: ignore[operator]
    code, out = _cli(
        steward_home,
        "alice",
        "model",
        "import",
        onnx,
        "--name",
        "cli-score",
        "--objective",
        "regression",
        "--team",
        "risk",
        "--anonymised",
        "--json",
    )
    assert code == 0, out
    imported = json.loads(out)
    assert imported["anonymised"] is False and imported["pending_declaration"]
    decl = imported["pending_declaration"]
    code, out = _cli(steward_home, "alice", "model", "declarations", "--state", "pending", "--json")
    assert code == 0 and [d["id"] for d in json.loads(out)] == [decl]
    code, out = _cli(steward_home, "alice", "model", "approve-declaration", decl)
    assert code == 4, out  # policy_denied: the importer's own declaration
    code, out = _cli(steward_home, "carol", "model", "approve-declaration", decl, "--json")
    assert code == 0, out
    assert json.loads(out)["anonymised"] is True
