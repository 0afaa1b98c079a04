"""Monitoring windows from the prediction log, and drift against the reference profile:
stable traffic, shifted traffic, masked inputs, incremental reading."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.config import Home
from steward.deploy import DeployService
from steward.errors import NotFound
from steward.kernels.drift import table_drift
from steward.kernels.profile import TableProfile
from steward.monitoring import MonitoringService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.serving import ServingService

ADMIN = Principal("admin")
ALICE = Principal("alice")
SHIFTED = ("lvrat", "pirat", "hirat")


def applications(shift: bool) -> list[dict[str, Any]]:
    """All 2,380 HMDA applications; shifted: three ratios 60% higher (a new product)."""
    rows = [{k: v for k, v in r.items() if k != "deny"} for r in hmda().to_pylist()]
    if shift:
        for r in rows:
            for c in SHIFTED:
                r[c] = r[c] * 1.6
    return rows


@pytest.fixture
def served(home: Home) -> Iterator[tuple[Runtime, list[str]]]:
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = [approved(rt, train, hold, exclude=["afam"]), approved(rt, train, hold, seed=4)]
    deploy = DeployService(rt)
    deploy.deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    deploy.deploy(ADMIN, refs[0], endpoint="credit-shift", site="eu-fra")
    deploy.deploy(ADMIN, refs[1], endpoint="credit-afam", site="eu-fra")
    serving = ServingService(rt, refresh=0)
    for name, shift in (("credit", False), ("credit-shift", True), ("credit-afam", False)):
        rows = applications(shift)
        batch = [(f"{name}-{i}", {"records": rows[i : i + 20]}) for i in range(0, len(rows), 20)]
        serving.score_many(ALICE, name, batch, source="http")
    yield rt, refs
    rt.close()


def test_stable_traffic_does_not_drift_and_shifted_traffic_does(
    served: tuple[Runtime, list[str]],
) -> None:
    rt, refs = served
    mon = MonitoringService(rt)
    stable = mon.report(ADMIN, "credit", minutes=60)
    assert stable.rows == 2380 and stable.model == refs[0] and not stable.too_few_rows
    assert stable.dataset_drift is False
    assert stable.reference_rows > 1000  # large reference: Wasserstein and Jensen-Shannon
    methods = {v.column: v.method for v in stable.features}
    assert methods["lvrat"] == "wasserstein" and methods["single"] == "jensenshannon"
    shifted = mon.report(ADMIN, "credit-shift", minutes=60)
    drifted = {v.column for v in shifted.features if v.status == "drifted"}
    assert set(SHIFTED) <= drifted
    assert shifted.drifted == len(drifted) and shifted.tested == 12
    # the same verdicts as the kernel on the traffic itself, profiled in one go
    detail = ModelService(rt).show(ADMIN, refs[0])
    ref = ModelService(rt).reference_profile(ADMIN, refs[0])
    cols = [i["column"] for i in detail.inputs]
    raw = pa.Table.from_pylist(applications(True)).select(cols)
    direct = table_drift(
        TableProfile.from_dict(ref["features"]), TableProfile().update(raw), columns=cols
    )
    assert {c for c, v in direct.columns.items() if v.status == "drifted"} == drifted
    assert shifted.dataset_drift is (len(drifted) / 12 >= 0.5)
    # the predictions move too when the inputs do
    assert shifted.prediction is not None and stable.prediction is not None
    assert shifted.prediction.score is not None and stable.prediction.score is not None
    assert shifted.prediction.score > stable.prediction.score


def test_masked_inputs_are_reported_not_tested(served: tuple[Runtime, list[str]]) -> None:
    rt, _ = served
    report = MonitoringService(rt).report(ADMIN, "credit-afam")
    afam = next(v for v in report.features if v.column == "afam")
    assert afam.status == "not_tested" and "pseudonymise" in (afam.reason or "")
    assert report.tested == 12  # the other inputs


def test_windows_are_read_once_and_merge_incrementally(
    served: tuple[Runtime, list[str]],
) -> None:
    rt, _ = served
    mon = MonitoringService(rt)
    assert mon.ingest("credit") == 2380
    assert mon.ingest("credit") == 0  # the cursor moved
    serving = ServingService(rt, refresh=0)
    serving.score_many(ALICE, "credit", [("late-1", {"records": applications(False)[:30]})])
    assert mon.ingest("credit") == 30
    assert mon.ingest() == 2 * 2380  # every endpoint: the two not read yet
    wins = mon.windows(ADMIN, "credit")
    assert {w.minutes for w in wins} == {60, 1440}
    assert sum(w.rows for w in wins if w.minutes == 60) == 2410
    assert sum(w.rows for w in wins if w.minutes == 1440) == 2410
    with pytest.raises(NotFound, match="no 5-minute window"):
        mon.report(ADMIN, "credit", minutes=5)
    with pytest.raises(NotFound):
        mon.report(ADMIN, "nowhere")


def test_a_small_window_is_not_tested(home: Home) -> None:
    with_suite(home, PERF)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = approved(rt, train, hold, exclude=["afam"])
        DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
        ServingService(rt, refresh=0).score_many(
            ALICE, "credit", [("few", {"records": applications(False)[:40]})]
        )
        report = MonitoringService(rt).run(ADMIN, "credit")[0]
        assert (
            report.too_few_rows
            and report.dataset_drift is None
            and report.features[0].status == "not_tested"
            if report.features
            else report.too_few_rows
        )
        assert "at least 100" in report.notes[0]
    finally:
        rt.close()


def test_cli_monitor_report_json_and_table(served: tuple[Runtime, list[str]], home: Home) -> None:
    from steward.cli.main import app

    runner = CliRunner()
    env = {"STEWARD_HOME": str(home.root), "STEWARD_USER": "admin"}
    out = runner.invoke(
        app, ["monitor", "report", "credit-shift", "--window", "1h", "--json"], env=env
    )
    assert out.exit_code == 0, out.stdout
    data = json.loads(out.stdout)
    assert data["minutes"] == 60 and data["drifted"] >= 3
    table = runner.invoke(app, ["monitor", "run", "credit-shift"], env={**env, "COLUMNS": "200"})
    assert table.exit_code == 0, table.stdout
    assert "lvrat" in table.stdout and "DRIFT" in table.stdout and "wasserstein" in table.stdout
    bad = runner.invoke(app, ["monitor", "report", "credit", "--window", "soon"], env=env)
    assert bad.exit_code == 2 and "expected minutes" in bad.stderr
