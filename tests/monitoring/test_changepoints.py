"""Change points over the window series: a loan-to-value ratio that moves up by a twentieth
of its standard deviation and stays there — too little for any one window's test to call
drift — is caught by CUSUM on the series of its window means; the other features raise no
alarm; the alarm opens an event alert. A stationary series raises none."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.config import Home
from steward.deploy import DeployService
from steward.monitoring import MonitoringService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.store import Prediction, governed_writes

ADMIN, ALICE = Principal("admin"), Principal("alice")
HOURS, ROWS, SHIFT_FROM = 30, 2000, 18
#: lvrat times this from SHIFT_FROM on: its mean moves by about 0.03 reference std
FACTOR = 1.008


def _replay(rt: Runtime, factor: float) -> datetime:
    """30 hourly windows of 2,000 rows drawn (with replacement) from the training rows,
    lvrat multiplied by ``factor`` from hour SHIFT_FROM; returns the first hour."""
    pool = [{k: v for k, v in r.items() if k != "deny"} for r in hmda().slice(0, 1900).to_pylist()]
    rng = random.Random(11)
    serving = ServingService(rt, refresh=0)
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first -= timedelta(hours=HOURS)
    for h in range(HOURS):
        rows = [dict(r) for r in rng.choices(pool, k=ROWS)]
        if h >= SHIFT_FROM:
            for r in rows:
                r["lvrat"] *= factor
        serving.score_many(ALICE, "credit", [(f"h{h}", {"records": rows})], source="http")
        with governed_writes("test"), rt.store.transaction(write=True) as s:
            s.execute(
                update(Prediction)
                .where(Prediction.request_id == f"h{h}")
                .values(at=first + timedelta(hours=h, minutes=30))
            )
    return first


def test_a_slow_rise_is_a_change_point_and_stays_an_alert(home: Home) -> None:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {
        "windows_minutes": [60],
        "rules": [{"name": "gradual", "signal": "change_point"}],
        "min_rows": 100,
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = approved(rt, train, hold, exclude=["afam"])
        DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
        first = _replay(rt, FACTOR)
        mon = MonitoringService(rt)
        [report] = mon.run(ADMIN, "credit")
        assert report.series_windows == HOURS
        lvrat = [c for c in report.change_points if c.column == "lvrat"]
        assert lvrat, report.change_points
        alarm = lvrat[0]
        assert alarm.method == "cusum" and alarm.direction == "up"
        shift = first + timedelta(hours=SHIFT_FROM)
        assert shift <= alarm.window_start <= shift + timedelta(hours=10)
        assert shift - timedelta(hours=2) <= alarm.change_start <= alarm.window_start
        # no single window's test calls lvrat drifted
        for w in mon.windows(ADMIN, "credit"):
            one = mon.report(ADMIN, "credit", start=w.start)
            assert next(f for f in one.features if f.column == "lvrat").status == "stable"
        # the untouched features raise no alarm (the prediction follows lvrat: allowed)
        assert {c.column for c in report.change_points} <= {"lvrat", "(prediction)"}
        # an alarm in the latest window opens an event alert; later windows do not close it
        if any(c.latest for c in report.change_points):
            [alert] = [a for a in report.alerts if a.signal == "change_point"]
            assert alert.state == "open" and "lvrat" in alert.message
    finally:
        rt.close()


@pytest.mark.parametrize("method", ["page_hinkley", "cusum"])
def test_a_stationary_series_raises_no_alarm(home: Home, method: str) -> None:
    """The same 30 hours without the ramp: no change point, with either detector."""
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {"windows_minutes": [60], "change_points": {"method": method}}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = approved(rt, train, hold, exclude=["afam"])
        DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
        _replay(rt, 1.0)
        [report] = MonitoringService(rt).run(ADMIN, "credit")
        assert report.series_windows == HOURS and report.change_points == []
    finally:
        rt.close()
