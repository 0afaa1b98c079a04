"""Scheduled revalidation: a production model is due after its team's period; re-run by the
service identity (or, asked for, by the caller) on the latest locked holdout version and on
recently labelled traffic; a model that no longer passes raises the revalidation signal,
and the rule rolls it back."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import ALICE, hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets import DatasetService
from steward.deploy import DeployService
from steward.gates import GateService
from steward.monitoring import RevalidationService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.serving.service import Label

ADMIN = Principal("admin")


@pytest.fixture
def production(home: Home) -> Iterator[tuple[Runtime, list[str]]]:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {
        "revalidation": {"every_days": 7, "teams": {"ops": 0}},
        "rules": [
            {"name": "reval", "signal": "revalidation", "actions": ["alert", "rollback"]},
        ],
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = [approved(rt, train, hold, exclude=["afam"]), approved(rt, train, hold, seed=5)]
    deploy = DeployService(rt)
    deploy.deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    deploy.deploy(ADMIN, refs[1], endpoint="credit")
    yield rt, refs
    rt.close()


def _flipped_holdout(rt: Runtime) -> str:
    """A new locked version of the holdout whose outcomes are the opposite: the world the
    model learnt no longer holds."""
    t = hmda().slice(1900)
    flipped = pc.if_else(pc.equal(t.column("deny"), "yes"), "no", "yes")
    t = t.set_column(t.column_names.index("deny"), "deny", flipped.cast(pa.string()))
    return DatasetService(rt).register(ALICE, t, name="hmda-holdout", team="risk", locked=True).ref


def test_due_after_the_teams_period(production: tuple[Runtime, list[str]]) -> None:
    rt, refs = production
    svc = RevalidationService(rt)
    assert svc.due() == []  # just validated
    later = datetime.now(UTC) + timedelta(days=7, minutes=1)
    assert svc.due(later) == [("credit", refs[1])]  # the model the endpoint serves now
    assert svc.due(datetime.now(UTC) + timedelta(days=6)) == []


def test_a_team_with_period_zero_is_never_due(home: Home) -> None:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {"revalidation": {"every_days": 7, "teams": {"risk": 0}}}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        DeployService(rt).deploy(ADMIN, approved(rt, train, hold), endpoint="c", site="eu-fra")
        assert RevalidationService(rt).due(datetime.now(UTC) + timedelta(days=365)) == []
    finally:
        rt.close()


_ACTS = ("model.validate", "alert.open", "deployment.rollback")


def _acts(rt: Runtime, seq: int) -> list[tuple[str, str]]:
    """The ledger's validations, alerts and rollbacks after ``seq`` (actor, action)."""
    return [
        (e.actor, e.action)
        for e in rt.ledger.entries(LedgerFilter(after_seq=seq))
        if e.action in _ACTS
    ]


def test_a_model_that_still_passes_is_revalidated_by_the_caller(
    production: tuple[Runtime, list[str]],
) -> None:
    rt, refs = production
    seq = rt.ledger.head()[0]
    r = RevalidationService(rt).run(ADMIN, "credit")
    assert r.passed and r.model == refs[1] and r.holdout == "hmda-holdout@1"
    assert r.traffic.status == "unknown" and r.alerts == []
    assert _acts(rt, seq) == [("admin", "model.validate")]
    latest = GateService(rt).validations(ADMIN, refs[1])[-1]
    assert latest.id == r.validation and latest.created_by == "admin"


def test_on_its_schedule_the_monitor_revalidates_as_itself(
    production: tuple[Runtime, list[str]],
) -> None:
    rt, refs = production
    seq = rt.ledger.head()[0]
    [r] = RevalidationService(rt).run_due(datetime.now(UTC) + timedelta(days=7, minutes=1))
    assert r.passed and r.model == refs[1]
    assert _acts(rt, seq) == [("steward-monitor", "model.validate")]
    latest = GateService(rt).validations(ADMIN, refs[1])[-1]
    assert latest.id == r.validation and latest.created_by == "steward-monitor"


def test_a_model_that_fails_on_the_new_holdout_is_rolled_back(
    production: tuple[Runtime, list[str]],
) -> None:
    rt, refs = production
    assert _flipped_holdout(rt) == "hmda-holdout@2"
    seq = rt.ledger.head()[0]
    r = RevalidationService(rt).run(ADMIN, "credit")
    assert not r.passed and r.holdout == "hmda-holdout@2"
    assert "performance.roc_auc" in r.failed_checks or "roc_auc" in " ".join(r.failed_checks)
    [alert] = r.alerts
    assert alert.signal == "revalidation" and alert.state == "open"
    assert alert.evidence["validation"] == r.validation
    assert [a["action"] for a in alert.actions] == ["rollback"] and alert.actions[0]["ok"]
    current = DeployService(rt).endpoint(ADMIN, "credit").current
    assert current is not None and current.primary == refs[0]
    assert _acts(rt, seq) == [
        ("admin", "model.validate"),  # asked for by admin: the validation is theirs
        ("steward-monitor", "alert.open"),
        ("steward-monitor", "deployment.rollback"),
    ]


def test_degraded_labelled_traffic_fails_revalidation(
    production: tuple[Runtime, list[str]],
) -> None:
    rt, refs = production
    rows = hmda().slice(1900).to_pylist()
    truth = [r.pop("deny") for r in rows]
    ServingService(rt, refresh=0).score_many(
        ALICE, "credit", [(f"q{i}", {"records": [row]}) for i, row in enumerate(rows)]
    )
    wrong = [
        Label(request_id=f"q{i}", label={"yes": "no", "no": "yes"}[t]) for i, t in enumerate(truth)
    ]
    ServingService(rt, refresh=0).feedback(ALICE, "credit", wrong)
    r = RevalidationService(rt).run(ADMIN, "credit")
    assert r.traffic.status == "degraded" and r.traffic.labelled == len(truth)
    assert r.validation is not None and not r.failed_checks  # the holdout still passes
    assert not r.passed and r.reasons[0].startswith("labelled traffic:")
    assert DeployService(rt).endpoint(ADMIN, "credit").current.primary == refs[0]  # type: ignore[union-attr]


def test_run_due_revalidates_only_what_is_due(production: tuple[Runtime, list[str]]) -> None:
    rt, _ = production
    assert RevalidationService(rt).run_due() == []


def test_cli_revalidate_table_json_and_exit_code(
    production: tuple[Runtime, list[str]], home: Home
) -> None:
    import json

    from typer.testing import CliRunner

    from steward.cli.main import app

    runner = CliRunner()
    env = {"STEWARD_HOME": str(home.root), "STEWARD_USER": "admin", "COLUMNS": "200"}
    ok = runner.invoke(app, ["monitor", "revalidate", "credit"], env=env)
    assert ok.exit_code == 0, ok.stdout
    assert "passes" in ok.stdout and "hmda-holdout@1" in ok.stdout
    assert "labelled traffic: unknown" in ok.stdout
    _flipped_holdout(production[0])
    bad = runner.invoke(app, ["monitor", "revalidate", "credit", "--json"], env=env)
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["passed"] is False and data["holdout"] == "hmda-holdout@2"
    assert data["alerts"][0]["signal"] == "revalidation"
