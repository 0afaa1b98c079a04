"""The CLI in-process (Typer's CliRunner): exit codes and output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from clitools import run, runner
from sqlalchemy import text

from steward.cli import app
from steward.config import Home
from steward.store import Store, governed_writes


def test_init_creates_home_and_refuses_to_overwrite(cli_home: Path) -> None:
    assert (cli_home / "steward.yaml").exists()
    assert oct((cli_home / "keys" / "master.key").stat().st_mode & 0o777) == "0o600"
    code, _, err = run(cli_home, "init", str(cli_home), user=None)
    assert code == 6 and "conflict" in err


def test_config_check_lists_every_problem(cli_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "sites:\n  eu-fra:\n    provider: aws\n    region: x\n    jurisdiction: Europe\n"
        "  us:\n    provider: ibm\n    region: y\n    jurisdiction: US\n"
        "users:\n  a:\n    roles: [admin]\n"
    )
    code, _, err = run(cli_home, "config", "check", str(bad))
    assert code == 2
    assert "sites.eu-fra.jurisdiction: expected one of EU, US" in err
    assert "found 'Europe'" in err
    assert "sites.us.provider" in err
    code, out, _ = run(cli_home, "config", "check")
    assert code == 0 and "OK" in out


def test_sites_json_is_machine_readable(cli_home: Path) -> None:
    code, out, _ = run(cli_home, "sites", "--json")
    assert code == 0
    assert {s["name"]: s["jurisdiction"] for s in json.loads(out)} == {
        "eu-fra": "EU",
        "us-east": "US",
    }


def test_acting_user_is_required(cli_home: Path) -> None:
    code, _, err = run(cli_home, "sites", user=None)
    assert code == 3 and "STEWARD_USER" in err


def test_object_put_allowed_and_denied_with_reason(cli_home: Path, tmp_path: Path) -> None:
    data = tmp_path / "loans.csv"
    data.write_text("id,income\n1,100\n")
    code, out, _ = run(
        cli_home,
        "object",
        "put",
        str(data),
        "--site",
        "eu-fra",
        "--jurisdiction",
        "EU",
        "--json",
        user="alice",
    )
    assert code == 0
    digest = json.loads(out)["digest"]
    code, _, err = run(
        cli_home,
        "object",
        "put",
        str(data),
        "--site",
        "us-east",
        "--jurisdiction",
        "EU",
        user="alice",
    )
    assert code == 4 and "[residency]" in err
    got = tmp_path / "back.csv"
    code, _, _ = run(cli_home, "object", "get", "eu-fra", digest, "-o", str(got), user="bob")
    assert code == 0 and got.read_text() == data.read_text()


def test_tokens_create_list_revoke(cli_home: Path) -> None:
    code, out, _ = run(cli_home, "token", "create", "--for", "alice", "--json")
    assert code == 0
    tok = json.loads(out)
    assert tok["token"].startswith(f"stw_{tok['id']}_")
    code, out, _ = run(cli_home, "token", "list", "--json", user="alice")
    assert [t["id"] for t in json.loads(out)] == [tok["id"]]
    assert "token" not in json.loads(out)[0]
    code, _, _ = run(cli_home, "token", "create", "--for", "admin", user="alice")
    assert code == 4
    code, out, _ = run(cli_home, "token", "revoke", tok["id"], user="alice")
    assert code == 0 and "revoked" in out


def test_audit_verify_detects_tampering_and_export_verifies(cli_home: Path, tmp_path: Path) -> None:
    run(cli_home, "token", "create")
    run(cli_home, "token", "create")
    code, out, _ = run(cli_home, "audit", "checkpoint", "--json")
    assert code == 0 and json.loads(out)["seq"] == 2
    code, out, _ = run(cli_home, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    export, pub = tmp_path / "ledger.jsonl", tmp_path / "audit.pub"
    assert run(cli_home, "audit", "export", "-o", str(export))[0] == 0
    code, out, _ = run(cli_home, "audit", "public-key")
    pub.write_text(out)
    code, out, _ = run(
        None or cli_home, "audit", "verify-export", str(export), "--public-key", str(pub), user=None
    )
    assert code == 0 and "verified" in out

    store = Store(Home(cli_home).database_url())
    with governed_writes("test.tamper"), store.engine.begin() as c:
        c.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2"))
    store.dispose()
    code, out, _ = run(cli_home, "audit", "verify", "--json")
    assert code == 9
    assert json.loads(out)["problem"]["seq"] == 2


def test_audit_log_filters(cli_home: Path) -> None:
    run(cli_home, "token", "create")
    run(cli_home, "token", "create", "--for", "admin", user="alice")  # denied
    code, out, _ = run(cli_home, "audit", "log", "--decision", "deny", "--json")
    rows = json.loads(out)
    assert code == 0 and [(r["actor"], r["action"]) for r in rows] == [("alice", "token.create")]
    code, _, err = run(cli_home, "audit", "log", "--since", "yesterday")
    assert code == 2 and "since" in err


def test_policy_check_names_file_and_line(cli_home: Path, tmp_path: Path) -> None:
    good = tmp_path / "ok.cedar"
    good.write_text(
        '@id("no-edge")\nforbid (principal, action == Action::"object.put", resource)\n'
        'when { context.site.provider == "edge" };\n'
    )
    assert run(cli_home, "policy", "check", str(good))[0] == 0
    bad = tmp_path / "bad.cedar"
    bad.write_text('// mine\n\n@id("x")\npermit (principal, action, resource)\nwhen { 1 + };\n')
    code, _, err = run(cli_home, "policy", "check", str(bad))
    assert code == 2
    assert f"{bad}:5:" in err


def test_policy_explain_four_eyes(cli_home: Path) -> None:
    code, out, _ = run(
        cli_home,
        "policy",
        "explain",
        "--as",
        "bob",
        "model.approve",
        "model:m1",
        "--attr",
        "producers=bob",
        "--json",
        user="bob",
    )
    assert code == 0
    d = json.loads(out)
    assert d["decision"] == "deny" and [r["policy"] for r in d["reasons"]] == ["four-eyes"]
    code, out, _ = run(
        cli_home,
        "policy",
        "explain",
        "--as",
        "bob",
        "model.approve",
        "model:m1",
        "--attr",
        "producers=alice",
        user="bob",
    )
    assert code == 0 and "ALLOW" in out and "role-approver" in out


def test_db_upgrade_and_current(cli_home: Path) -> None:
    code, out, _ = run(cli_home, "db", "upgrade")
    assert code == 0 and "0014_declarations" in out
    code, out, _ = run(cli_home, "db", "current")
    assert code == 0 and "0014_declarations" in out


def test_missing_home_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "nowhere", "sites")
    assert code == 2 and "steward init" in err


def test_demo_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_DATABASE_URL", "postgresql://must-not-be-used/x")
    result = runner.invoke(app, ["demo", "--home", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "residency" in result.stdout and "four-eyes" in result.stdout
    assert "quota_exceeded" in result.stdout and "gpu-hours" in result.stdout
    assert "gate_failed" in result.stdout and "equalized_odds_difference" in result.stdout
    assert "validated → approved → production" in result.stdout
    assert "Model card: hmda-deny@2" in result.stdout and "## Validation" in result.stdout
    assert "ledger verified" in result.stdout
    # serving: residency and approval bind deployments; canary, rollback, status
    assert "ALLOW credit revision 1: hmda-deny@2 at eu-fra" in result.stdout
    assert "DENY by policy residency" in result.stdout.split("17. admin deploys")[1]
    assert "DENY by policy approved-only" in result.stdout
    assert "a wrong datatype: HTTP 400 [validation_failed]" in result.stdout
    assert "300 labels attached" in result.stdout
    assert "answered by: hmda-deny@2" in result.stdout and "hmda-deny@3" in result.stdout
    assert "credit revision 3: hmda-deny@2 only (direct; rollback to revision 1)" in result.stdout
    assert "vs budget 50 ms" in result.stdout
    # monitoring: shifted traffic, the drift report, the automatic rollback on the record
    monitored = result.stdout.split("25. the monitor's round")[1].split("27. ")[0]
    assert "DRIFT" in monitored and "lvrat" in monitored and "wassers" in monitored
    assert "done: rollback" in monitored
    assert "credit now answers from hmda-deny@2" in monitored
    assert "automatic: alert 1, rule credit-drift-rollback" in monitored
    assert "deployment.rollback" in monitored and "alert.open" in monitored
    # cost: spend per team and kind, a refused job, an imported history, its anomaly, a forecast
    spend = result.stdout.split("29. what this demo spent")[1].split("33. ")[0]
    assert "training" in spend and "validation" in spend and "inference" in spend
    assert "[quota_exceeded] team vision would exceed its budget of $50.00" in spend
    assert "180 records imported" in spend
    assert "(cost_anomaly, open): team risk: spend on" in spend
    assert "forecast for the month" in spend and "budget of $500.00" in spend
    assert os.environ.get("STEWARD_DATABASE_URL") == "postgresql://must-not-be-used/x"
