"""Forecasts, anomalies and the monitor's cost round: a team's daily spend with a weekly
rhythm, an injected spike yesterday; the spike is found with its impact, the month is
forecast with the day the budget is crossed, and the monitor opens the team's budget and
anomaly alerts (on the Team, by steward-monitor, once) that only the team may acknowledge."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import yaml

from steward.audit import LedgerFilter
from steward.config import Home
from steward.cost import CostService
from steward.errors import NotFound, PolicyDenied, ValidationFailed
from steward.monitoring import AlertService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import CostRecord, governed_writes

ADMIN, BOB, CAROL = Principal("admin"), Principal("bob"), Principal("carol")
TODAY = date(2026, 11, 12)  # a fixed "today": the month has days left to forecast
DAYS = 70


def _series(spike: float = 4.0) -> list[float]:
    """70 days ending yesterday: $10 a day, +$4 on weekends, seeded noise; the last day
    times ``spike``."""
    rng = np.random.default_rng(5)
    out = []
    for i in range(DAYS):
        day = TODAY - timedelta(days=DAYS - i)
        out.append(10.0 + (4.0 if day.weekday() >= 5 else 0.0) + float(rng.normal(0, 0.3)))
    out[-1] *= spike
    return out


def _load(rt: Runtime, series: list[float]) -> None:
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        for i, amount in enumerate(series):
            day = TODAY - timedelta(days=DAYS - i)
            s.add(
                CostRecord(
                    at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                    day=day.isoformat(),
                    team="risk",
                    site="eu-fra",
                    kind="inference",
                    resource="cpu",
                    units=amount / 0.0369,
                    unit="cpu-hour",
                    unit_price=0.0369,
                    amount=amount,
                    action="test",
                    ref="t",
                )
            )


@pytest.fixture
def spending(home: Home) -> Iterator[Runtime]:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"]["carol"] = {"roles": ["approver"]}  # an approver outside team risk
    # a budget the month's spend will cross at this rate, near its end
    cfg["teams"]["risk"]["budget"] = {"monthly_usd": 360.0}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    _load(rt, _series())
    yield rt
    rt.close()


def test_the_injected_spike_is_found_with_its_impact(spending: Runtime) -> None:
    rt = spending
    found = CostService(rt).anomalies(ADMIN, team="risk", today=TODAY)
    yesterday = TODAY - timedelta(days=1)
    spikes = [a for a in found if a.day == yesterday]
    assert spikes, found
    a = spikes[0]
    assert a.direction == "spike" and a.value > a.upper
    assert a.impact == pytest.approx(a.value - a.expected)
    assert a.impact_pct is not None and a.impact_pct > 1.5  # about +300%
    assert len(found) <= 3  # the weekly rhythm itself is not an anomaly


def test_forecast_of_the_month_and_the_crossing_day(spending: Runtime) -> None:
    rt = spending
    f = CostService(rt).forecast(ADMIN, team="risk", today=TODAY)
    month_start = TODAY.replace(day=1)
    assert f.month == month_start.strftime("%Y-%m")
    expected_spent = sum(
        v for i, v in enumerate(_series()) if TODAY - timedelta(days=DAYS - i) >= month_start
    )
    assert f.spent_before_today == pytest.approx(expected_spent)
    assert (
        len(f.forecast)
        == ((month_start.replace(day=28) + timedelta(days=4)).replace(day=1) - TODAY).days
    )
    for p in f.forecast:
        assert 0 <= p.lower <= p.mean <= p.upper
    assert f.projected_total["mean"] == pytest.approx(
        f.spent_before_today + sum(p.mean for p in f.forecast)
    )
    assert f.budget == 360.0 and not f.exceeded_already
    assert f.projected_total["lower"] <= f.projected_total["mean"] <= f.projected_total["upper"]
    assert f.projected_total["mean"] > f.budget  # about $11.6 a day: crossed late in the month
    crossing = f.crossing["mean"]
    assert crossing is not None and TODAY < crossing <= date(2026, 11, 30)
    if crossing is not None:
        # the spend up to the crossing day passes the budget, the day before does not
        k = (crossing - TODAY).days + 1
        assert f.spent_before_today + sum(p.mean for p in f.forecast[:k]) > f.budget
        assert f.spent_before_today + sum(p.mean for p in f.forecast[: k - 1]) <= f.budget


def test_the_monitors_round_opens_team_alerts_once(spending: Runtime) -> None:
    rt = spending
    seq = rt.ledger.head()[0]
    touched = CostService(rt).watch(TODAY)
    signals = {a.signal: a for a in touched}
    assert "cost_anomaly" in signals
    anomaly = signals["cost_anomaly"]
    assert anomaly.team == "risk" and anomaly.endpoint == "" and anomaly.state == "open"
    assert anomaly.evidence["day"] == (TODAY - timedelta(days=1)).isoformat()
    assert "expected" in anomaly.message and "team risk" in anomaly.message
    entries = [
        (e.actor, e.action, e.resource) for e in rt.ledger.entries(LedgerFilter(after_seq=seq))
    ]
    assert ("steward-monitor", "alert.open", 'Team::"risk"') in entries
    spent = CostService(rt).forecast(ADMIN, team="risk", today=TODAY).spent
    budget = rt.config.teams["risk"].budget
    assert budget is not None
    assert ("budget" in signals) == (spent >= 0.8 * budget.monthly_usd)
    # the same day again: nothing new in the ledger, the anomaly is not re-counted
    seq2 = rt.ledger.head()[0]
    again = CostService(rt).watch(TODAY)
    assert list(rt.ledger.entries(LedgerFilter(after_seq=seq2))) == []
    assert all(a.signal != "cost_anomaly" for a in again)
    # the team's alerts are for the team: bob (risk) may acknowledge, carol may not
    alerts = AlertService(rt)
    with pytest.raises(PolicyDenied, match="team-alerts"):
        alerts.acknowledge(CAROL, anomaly.id)
    assert alerts.acknowledge(BOB, anomaly.id, "looking").state == "acknowledged"
    assert [a.id for a in alerts.alerts(ADMIN, team="risk")] >= [anomaly.id]


def test_a_budget_alert_names_the_spend_and_the_share(home: Home) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["teams"]["risk"]["budget"] = {"monthly_usd": 10.0, "soft_share": 0.5}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        _load(rt, [0.0] * (DAYS - 1) + [6.0])  # $6 yesterday
        touched = CostService(rt).watch(TODAY)
        [budget] = [a for a in touched if a.signal == "budget"]
        assert budget.team == "risk" and math.isclose(budget.evidence["share"], 0.6)
        assert "$6.00 spent of its $10.00 budget" in budget.message
    finally:
        rt.close()


def test_whose_spend_must_be_said(spending: Runtime) -> None:
    with pytest.raises(ValidationFailed, match="a team or an endpoint"):
        CostService(spending).forecast(ADMIN)
    with pytest.raises(NotFound, match="endpoint 'nope' not found"):
        CostService(spending).anomalies(ADMIN, endpoint="nope")
