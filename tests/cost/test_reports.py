"""Cost reports reconcile: for any grouping, the rows add up to the total, and the total is
the sum over the records (property test); the API and CSV show the same; idle capacity,
egress and the exit estimate are computed from the records and the price book."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from typer.testing import CliRunner

from steward.api import create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.cost import GROUPS, CostService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import CostRecord, governed_writes

ADMIN = Principal("admin")
TODAY = datetime.now(UTC).date()
FIRST = TODAY.replace(day=1)


def _add(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        for r in rows:
            at = datetime(r["day"].year, r["day"].month, r["day"].day, 12, tzinfo=UTC)
            s.add(
                CostRecord(
                    at=at,
                    day=r["day"].isoformat(),
                    team=r["team"],
                    site=r["site"],
                    kind=r["kind"],
                    resource=r["resource"],
                    units=r["units"],
                    unit="cpu-hour",
                    unit_price=r["price"],
                    amount=r["units"] * r["price"],
                    action="test",
                    ref="t",
                    endpoint=r.get("endpoint"),
                    model=r.get("model"),
                )
            )


record = st.fixed_dictionaries(
    {
        "day": st.integers(0, max(0, (TODAY - FIRST).days)).map(lambda d: FIRST + timedelta(d)),
        "team": st.sampled_from(["risk", "ops", ""]),
        "site": st.sampled_from(["eu-fra", "us-east"]),
        "kind": st.sampled_from(["training", "inference", "storage", "egress"]),
        "resource": st.sampled_from(["cpu", "memory", "storage"]),
        "units": st.floats(0, 1e4, allow_nan=False, allow_infinity=False),
        "price": st.sampled_from([0.0369, 0.0044, 1.459, 0.02]),
        "model": st.sampled_from([None, "m@1", "m@2"]),
        "endpoint": st.sampled_from([None, "credit"]),
    }
)
GROUPINGS = [list(c) for n in (1, 2) for c in combinations(sorted(GROUPS), n)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(record, max_size=40), by=st.sampled_from(GROUPINGS))
def test_any_grouping_adds_up_to_the_sum_of_the_records(
    sqlite_rt: Runtime, rows: list[dict[str, Any]], by: list[str]
) -> None:
    rt = sqlite_rt
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        s.execute(delete(CostRecord))
    _add(rt, rows)
    svc = CostService(rt)
    report = svc.report(ADMIN, by=by)
    expected = sum(r["units"] * r["price"] for r in rows)
    assert report.total == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert sum(r.amount for r in report.rows) == pytest.approx(report.total, rel=1e-12, abs=1e-12)
    assert report.records == len(rows)
    # every group's amount is the sum of its records
    for row in report.rows:
        mine = [
            r for r in rows
            if all(_value(r, b) == row.key[b] for b in by)
        ]  # fmt: skip
        assert row.amount == pytest.approx(sum(r["units"] * r["price"] for r in mine), abs=1e-9)
    # one team's report is its share
    risk = svc.report(ADMIN, by=by, team="risk")
    assert risk.total == pytest.approx(
        sum(r["units"] * r["price"] for r in rows if r["team"] == "risk"), abs=1e-9
    )


def _value(r: dict[str, Any], by: str) -> str | None:
    if by == "day":
        return str(r["day"].isoformat())
    if by == "month":
        return str(r["day"].isoformat()[:7])
    if by == "action":
        return "test"
    v = r.get(by)
    return None if v is None else str(v)


def _sample() -> list[dict[str, Any]]:
    base = {"resource": "cpu", "units": 10.0, "price": 0.0369}
    return [
        {**base, "day": FIRST, "team": "risk", "site": "eu-fra", "kind": "training"},
        {**base, "day": TODAY, "team": "risk", "site": "eu-fra", "kind": "inference",
         "endpoint": "credit", "model": "m@1"},
        {**base, "day": TODAY, "team": "ops", "site": "us-east", "kind": "training",
         "units": 5.0},
    ]  # fmt: skip


def test_api_json_and_csv_agree_with_the_service(rt: Runtime, home: Home) -> None:
    _add(rt, _sample())
    direct = CostService(rt).report(ADMIN, by=["team", "kind"])
    token = IdentityService(rt).create_token(ADMIN).token
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    resp = client.get("/v1/cost/report", params={"by": ["team", "kind"]})
    assert resp.status_code == 200, resp.json()
    assert resp.json()["total"] == pytest.approx(direct.total)
    assert [r["amount"] for r in resp.json()["rows"]] == pytest.approx(
        [r.amount for r in direct.rows]
    )
    bad = client.get("/v1/cost/report", params={"by": "colour"})
    assert bad.status_code == 422 and "colour" in bad.json()["message"]
    bad_day = client.get("/v1/cost/report", params={"since": "yesterday"})
    assert bad_day.status_code == 422
    from steward.cli.main import app

    env = {"STEWARD_HOME": str(home.root), "STEWARD_USER": "admin"}
    out = CliRunner().invoke(
        app, ["cost", "report", "--by", "team", "--by", "kind", "--csv"], env=env
    )
    assert out.exit_code == 0, out.stdout
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert sum(float(r["amount_usd"]) for r in rows) == pytest.approx(direct.total, rel=1e-6)
    js = CliRunner().invoke(app, ["cost", "report", "--json", "--team", "risk"], env=env)
    assert json.loads(js.stdout)["total"] == pytest.approx(2 * 10.0 * 0.0369)
    table = CliRunner().invoke(
        app, ["cost", "report", "--by", "site"], env={**env, "COLUMNS": "150"}
    )
    assert "eu-fra" in table.stdout and "total" in table.stdout


def test_an_unknown_team_or_an_empty_period_is_a_clear_error(rt: Runtime) -> None:
    from steward.errors import NotFound, ValidationFailed

    with pytest.raises(NotFound, match="unknown team 'nobody'"):
        CostService(rt).report(ADMIN, team="nobody")
    with pytest.raises(ValidationFailed, match=r"until .* must be after since"):
        CostService(rt).report(ADMIN, since="2026-11-10", until="2026-11-10")


def test_idle_capacity_is_what_the_capacity_cost_less_what_was_allocated(home: Home) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["sites"]["eu-fra"]["capacity"] = {"cpus": 4}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        _add(rt, _sample())
        since, until = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
        _add(rt, [{"day": since, "team": "risk", "site": "eu-fra", "kind": "training",
                   "resource": "cpu", "units": 24.0, "price": 0.0369}])  # fmt: skip
        r = CostService(rt).report(ADMIN, by=["site"], since=since, until=until)
        [idle] = r.idle
        price = rt.config.sites["eu-fra"].prices.cpu_hour
        assert idle.capacity_usd == pytest.approx(4 * 24 * price)
        assert idle.allocated_usd == pytest.approx(24 * 0.0369)
        assert idle.idle_usd == pytest.approx(idle.capacity_usd - idle.allocated_usd)
        assert idle.idle_share == pytest.approx(0.75)
    finally:
        rt.close()


def test_egress_and_exit_from_aws_to_azure(rt: Runtime) -> None:
    import pyarrow as pa

    from steward.datasets import DatasetService

    ds = DatasetService(rt)
    v = ds.register(
        Principal("alice"), pa.table({"x": [float(i) for i in range(5000)]}), name="d",
        site="eu-fra", team="risk",
    )  # fmt: skip
    _add(rt, [{"day": TODAY, "team": "risk", "site": "eu-fra", "kind": "training",
               "resource": "cpu", "units": 100.0, "price": 0.0369}])  # fmt: skip
    e = CostService(rt).exit(
        ADMIN, from_provider="aws", to_provider="azure", to_region="germanywestcentral",
        team="risk",
    )  # fmt: skip
    gb = v.bytes / 1e9
    assert e.data_gb == pytest.approx(gb) and e.sites == ["eu-fra", "us-east"]
    assert e.egress_usd == pytest.approx(gb * 0.09)  # AWS data out to the internet
    target = rt.config.price_book["azure"]["germanywestcentral"]
    compute = next(x for x in e.lines if x.what == "compute")
    assert compute.current_usd == pytest.approx(100 * 0.0369)
    assert compute.target_usd == pytest.approx(100 * target.cpu_hour)
    assert e.monthly_change_usd == pytest.approx(e.target_monthly_usd - e.current_monthly_usd)
    from steward.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="no prices for provider 'gcp'"):
        CostService(rt).exit(ADMIN, from_provider="aws", to_provider="gcp")
    with pytest.raises(ValidationFailed, match="no site is at provider 'azure'"):
        CostService(rt).exit(ADMIN, from_provider="azure", to_provider="aws")


def test_reading_costs_is_a_read_and_a_viewer_may(rt: Runtime) -> None:
    _add(rt, _sample())
    before = rt.ledger.head()
    CostService(rt).report(Principal("bob"), by=["team"])
    assert rt.ledger.head() == before  # reads leave no entry


def test_importing_spend_from_elsewhere_is_all_or_nothing_and_for_admins(rt: Runtime) -> None:
    from steward.cost import CostRecordInfo
    from steward.errors import PolicyDenied, ValidationFailed

    def row(**over: Any) -> CostRecordInfo:
        base = {
            "at": datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC),
            "team": "risk", "site": "eu-fra", "kind": "training", "resource": "cpu",
            "units": 10.0, "unit": "cpu-hour", "unit_price": 0.05, "amount": 0.5,
            "action": "x", "ref": "bill",
        }  # fmt: skip
        return CostRecordInfo(**{**base, **over})

    svc = CostService(rt)
    with pytest.raises(ValidationFailed, match=r"row 1: amount 9\.0 is not units"):
        svc.import_records(ADMIN, [row(), row(amount=9.0), row(site="mars")])
    assert svc.report(ADMIN).total == 0  # none imported
    with pytest.raises(PolicyDenied):
        svc.import_records(Principal("alice"), [row()])
    seq = rt.ledger.head()[0]
    assert svc.import_records(ADMIN, [row(), row(units=2.0, amount=0.1)]) == 2
    assert svc.report(ADMIN).total == pytest.approx(0.6)
    [entry] = list(rt.ledger.entries(LedgerFilter(after_seq=seq)))
    assert (entry.actor, entry.action) == ("admin", "cost.import")
    recs = svc.records(ADMIN, team="risk")
    assert {r.action for r in recs} == {"cost.import"}
