"""The cost commands: train and deploy dry runs, records as CSV and back in, egress, exit,
forecast and anomalies, with their errors."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import register_split, with_suite
from test_v2 import PERF, approved

from steward.cli.main import app
from steward.config import Home
from steward.runtime import Runtime

runner = CliRunner()


def _env(home: Home, user: str = "admin") -> dict[str, str]:
    return {"STEWARD_HOME": str(home.root), "STEWARD_USER": user, "COLUMNS": "160"}


def test_train_and_deploy_dry_runs(home: Home, tmp_path: Path) -> None:
    with_suite(home, PERF)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = approved(rt, train, hold)
    finally:
        rt.close()
    args = ["train", "--data", train, "--target", "deny", "--objective", "binary"]
    out = runner.invoke(app, [*args, "--dry-run"], env=_env(home, "alice"))
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "cheapest allowed" in out.stdout and "residency" in out.stdout
    assert "team risk's budget $500.00" in out.stdout
    js = runner.invoke(app, [*args, "--dry-run", "--json"], env=_env(home, "alice"))
    est = json.loads(js.stdout)
    assert est["site"] == "eu-fra" and est["cheapest_allowed"] == "eu-fra"
    # nothing was queued
    jobs = json.loads(runner.invoke(app, ["job", "list", "--json"], env=_env(home)).stdout)
    assert len(jobs) == 1  # the one trained above
    dep = runner.invoke(
        app, ["deploy", ref, "--dry-run", "--rate", "100", "--json"], env=_env(home)
    )
    assert dep.exit_code == 0, dep.stdout + dep.stderr
    d = json.loads(dep.stdout)
    assert d["requests_per_second"] == 100 and d["seconds_per_request"] > 0
    assert d["cheapest_allowed"] == "eu-fra"  # us-east: residency
    eu = next(x for x in d["sites"] if x["site"] == "eu-fra")
    cpu_hours = 100 * 730 * 3600 * d["seconds_per_request"] / 3600  # a 730-hour month
    assert abs(d["cpu_hours_per_month"] / cpu_hours - 1) < 1e-9
    assert abs(eu["monthly_usd"] / (cpu_hours * eu["cpu_hour"]) - 1) < 1e-9
    no_rate = runner.invoke(app, ["deploy", ref, "--dry-run"], env=_env(home))
    assert no_rate.exit_code == 2 and "--rate" in no_rate.stderr


def test_records_round_trip_as_csv(home: Home, tmp_path: Path) -> None:
    rt = Runtime.open(home)
    try:
        train, _ = register_split(rt)
        from gatesdata import train_model

        train_model(rt, train)
    finally:
        rt.close()
    out = runner.invoke(app, ["cost", "records", "--team", "risk"], env=_env(home))
    assert out.exit_code == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["kind"] for r in rows} == {"training"} and len(rows) == 2
    path = tmp_path / "bill.csv"
    path.write_text(out.stdout)
    before = json.loads(runner.invoke(app, ["cost", "report", "--json"], env=_env(home)).stdout)
    imp = runner.invoke(app, ["cost", "import", str(path)], env=_env(home))
    assert imp.exit_code == 0 and "imported 2 cost record(s)" in imp.stdout
    after = json.loads(runner.invoke(app, ["cost", "report", "--json"], env=_env(home)).stdout)
    assert abs(after["total"] - 2 * before["total"]) < 1e-12
    denied = runner.invoke(app, ["cost", "import", str(path)], env=_env(home, "alice"))
    assert denied.exit_code != 0 and "policy_denied" in denied.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("at,team\n2026-11-01,risk\n")
    wrong = runner.invoke(app, ["cost", "import", str(bad)], env=_env(home))
    assert wrong.exit_code == 2 and "missing column(s)" in wrong.stderr


def test_egress_exit_forecast_and_anomalies_commands(home: Home) -> None:
    env = _env(home)
    eg = runner.invoke(app, ["cost", "egress", "--json"], env=env)
    assert eg.exit_code == 0 and json.loads(eg.stdout) == []
    ex = runner.invoke(app, ["cost", "exit", "--from", "aws", "--to", "azure"], env=env)
    assert ex.exit_code == 0, ex.stderr
    assert "moving" in ex.stdout and "once; per month" in ex.stdout
    bad = runner.invoke(app, ["cost", "exit", "--from", "aws", "--to", "ibm"], env=env)
    assert bad.exit_code == 2 and "no prices for provider 'ibm'" in bad.stderr
    fc = runner.invoke(app, ["cost", "forecast", "--team", "risk"], env=env)
    assert fc.exit_code == 0, fc.stderr
    assert "budget $500.00" in fc.stdout
    an = runner.invoke(app, ["cost", "anomalies", "--team", "risk", "--json"], env=env)
    assert an.exit_code == 0 and json.loads(an.stdout) == []
    none = runner.invoke(app, ["cost", "forecast"], env=env)
    assert none.exit_code == 2 and "a team or an endpoint" in none.stderr
