"""Alert rules: a drift signal opens one alert (seen again, counted), its actions run once
(an automatic rollback by the service identity, in the ledger with its evidence; a
webhook), a cleared signal resolves it, people acknowledge and resolve."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.audit import LedgerFilter
from steward.cli.main import app
from steward.config import Home
from steward.deploy import DeployService
from steward.errors import Conflict, PolicyDenied
from steward.monitoring import AlertService, MonitoringService, WindowReport
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService

ADMIN, ALICE, BOB = Principal("admin"), Principal("alice"), Principal("bob")
NUMERIC = ("pirat", "hirat", "lvrat", "unemp", "chist", "mhist")


def shifted() -> list[dict[str, Any]]:
    """A new kind of applicant: every ratio and history 60% higher, all self-employed."""
    rows = [{k: v for k, v in r.items() if k != "deny"} for r in hmda().to_pylist()]
    for r in rows:
        for c in NUMERIC:
            r[c] = r[c] * 1.6
        r["selfemp"] = True
    return rows


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def drifting(home: Home, hook: str) -> Iterator[tuple[Runtime, list[str]]]:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {
        "rules": [
            {
                "name": "drift-rollback",
                "signal": "dataset_drift",
                "endpoints": ["credit"],
                "actions": ["alert", "webhook", "rollback"],
                "webhook": hook,
                "severity": "critical",
            },
            {"name": "slow", "signal": "latency"},
        ]
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = [approved(rt, train, hold, exclude=["afam"]), approved(rt, train, hold, seed=5)]
    deploy = DeployService(rt)
    deploy.deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    deploy.deploy(ADMIN, refs[1], endpoint="credit")  # revision 2 serves the new model
    rows = shifted()
    ServingService(rt, refresh=0).score_many(
        ALICE, "credit", [(f"s-{i}", {"records": rows[i : i + 40]}) for i in range(0, 2000, 40)]
    )
    yield rt, refs
    rt.close()


def test_drift_opens_one_alert_and_rolls_back_once(
    drifting: tuple[Runtime, list[str]],
) -> None:
    rt, refs = drifting
    seq = rt.ledger.head()[0]
    reports = MonitoringService(rt).run(ADMIN, "credit")
    hourly = next(r for r in reports if r.minutes == 60)
    assert hourly.model == refs[1] and hourly.dataset_drift is True
    [alert] = [a for a in hourly.alerts if a.rule == "drift-rollback"]
    assert alert.state == "open" and alert.count == 1 and alert.severity == "critical"
    assert {x["action"]: x["ok"] for x in alert.actions} == {"webhook": True, "rollback": True}
    # the endpoint serves the previous model again, and says why
    info = DeployService(rt).endpoint(ADMIN, "credit")
    assert info.current is not None and info.current.primary == refs[0]
    assert info.current.created_by == "steward-monitor"
    assert f"automatic: alert {alert.id}, rule drift-rollback" in info.current.reason
    # on the record: the service identity's decisions, allowed by its policy
    entries = [
        (e.actor, e.action, e.decision) for e in rt.ledger.entries(LedgerFilter(after_seq=seq))
    ]
    assert ("steward-monitor", "alert.open", "allow") in entries
    assert ("steward-monitor", "deployment.rollback", "allow") in entries
    # the webhook got the alert
    assert Hook.received and Hook.received[0]["id"] == alert.id
    assert Hook.received[0]["evidence"]["drifted_share"] >= 0.5
    # seen again: the same alert, counted; no second rollback, no new ledger entry
    seq2 = rt.ledger.head()[0]
    again = AlertService(rt).evaluate("credit", hourly)
    [same] = [a for a in again if a.rule == "drift-rollback"]
    assert same.id == alert.id and same.count == 2 and len(same.actions) == 2
    assert list(rt.ledger.entries(LedgerFilter(after_seq=seq2))) == []


def test_a_cleared_signal_resolves_and_people_ack_or_resolve(
    drifting: tuple[Runtime, list[str]],
) -> None:
    rt, _ = drifting
    hourly = next(r for r in MonitoringService(rt).run(ADMIN, "credit") if r.minutes == 60)
    alerts = AlertService(rt)
    # the drift alert (on a loaded machine the latency rule may fire too)
    [alert] = [
        a for a in alerts.alerts(BOB, endpoint="credit", state="open") if a.rule == "drift-rollback"
    ]
    with pytest.raises(PolicyDenied):
        alerts.acknowledge(ALICE, alert.id)  # scientists do not handle alerts
    acked = alerts.acknowledge(BOB, alert.id, note="looking")
    assert acked.state == "acknowledged" and acked.acknowledged_by == "bob"
    with pytest.raises(Conflict):
        alerts.acknowledge(BOB, alert.id)
    # the same window, tested again without drift: the service resolves it
    calm = WindowReport(
        **{**hourly.model_dump(), "dataset_drift": False, "features": [], "alerts": []}
    )
    [resolved] = [a for a in alerts.evaluate("credit", calm) if a.id == alert.id]
    assert resolved.state == "resolved" and resolved.resolved_by == "steward-monitor"
    with pytest.raises(Conflict):
        alerts.resolve(BOB, alert.id)


def test_latency_over_budget_fires_the_slo_rule(drifting: tuple[Runtime, list[str]]) -> None:
    rt, _ = drifting
    hourly = next(r for r in MonitoringService(rt).run(ADMIN, "credit") if r.minutes == 60)
    slow = WindowReport(
        **{**hourly.model_dump(), "latency_p99_ms": hourly.budget_ms * 2, "alerts": []}
    )
    fired = [a for a in AlertService(rt).evaluate("credit", slow) if a.rule == "slow"]
    assert fired and "over the 50 ms budget" in fired[0].message
    assert fired[0].evidence["p99_ms"] == hourly.budget_ms * 2
    assert datetime.now(UTC) >= fired[0].opened_at


def test_alert_show_lists_each_occurrence_and_the_rollbacks_ledger_entry(
    drifting: tuple[Runtime, list[str]], home: Home
) -> None:
    rt, _ = drifting
    hourly = next(r for r in MonitoringService(rt).run(ADMIN, "credit") if r.minutes == 60)
    [alert] = [a for a in hourly.alerts if a.rule == "drift-rollback"]
    AlertService(rt).evaluate("credit", hourly)  # seen again: a second occurrence
    runner = CliRunner()
    env = {"STEWARD_HOME": str(home.root), "STEWARD_USER": "bob", "COLUMNS": "250"}
    out = runner.invoke(app, ["alert", "show", str(alert.id), "--json"], env=env)
    assert out.exit_code == 0, out.stdout
    shown = json.loads(out.stdout)
    assert [o["number"] for o in shown["occurrences"]] == [1, 2]
    [rollback] = [x for x in shown["actions"] if x["action"] == "rollback"]
    assert rollback["occurrence"] == shown["occurrences"][0]["id"]
    [entry] = rt.ledger.entries(LedgerFilter(action="deployment.rollback"))
    assert entry.seq == rollback["ledger_seq"] and entry.actor == "steward-monitor"
    table = runner.invoke(app, ["alert", "show", str(alert.id)], env=env)
    assert table.exit_code == 0 and f"seq {entry.seq}" in table.stdout
    missing = runner.invoke(app, ["alert", "show", "999999"], env=env)
    assert missing.exit_code != 0
