"""Deployments: policy decides where and what; revisions, canary, shadow, promote, rollback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
from gatesdata import BOB, SUITE, register_split, train_model, with_suite

from steward.audit import LedgerFilter
from steward.config import Home
from steward.deploy import DeployService, RollbackKeepsModel
from steward.errors import Conflict, NotFound, PolicyDenied, ValidationFailed
from steward.gates import GateService
from steward.kernels.routing import bucket, routes_to_candidate
from steward.policy import Principal
from steward.runtime import Runtime

ADMIN = Principal("admin")
PERF = {k: v for k, v in SUITE.items() if k != "fairness"} | {"champion": {"margin": 1.0}}


@pytest.fixture
def drt(home: Home) -> Iterator[Runtime]:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["sites"]["eu-onprem"] = {
        "provider": "onprem",
        "region": "fra-dc1",
        "jurisdiction": "EU",
        "trust": "private",
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    yield rt
    rt.close()


def approved(rt: Runtime, train: str, hold: str, **over: object) -> str:
    ref = train_model(rt, train, **over)
    assert GateService(rt).validate(BOB, ref, hold).passed
    GateService(rt).decide(BOB, ref, approve=True)
    return ref


def denials(rt: Runtime, after: int) -> list[list[str]]:
    return [
        [r["policy"] for r in json.loads(e.reasons)]
        for e in rt.ledger.entries(LedgerFilter(after_seq=after))
        if e.decision == "deny"
    ]


def test_deploy_canary_promote_and_rollback(drt: Runtime) -> None:
    train, hold = register_split(drt)
    v1 = approved(drt, train, hold)
    v2 = approved(drt, train, hold, seed=5, family="hgb", params={"max_iter": 30})
    svc = DeployService(drt)
    ep = svc.deploy(ADMIN, v1, endpoint="credit", site="eu-fra")
    assert ep.site == "eu-fra" and ep.current and ep.current.primary == v1
    ep = svc.deploy(ADMIN, v2, endpoint="credit", strategy="canary", percent=10)
    cur = ep.current
    assert cur and (cur.revision, cur.strategy, cur.primary, cur.candidate, cur.percent) == (
        2,
        "canary",
        v1,
        v2,
        10,
    )
    ep = svc.promote(ADMIN, "credit")
    assert ep.current and (ep.current.strategy, ep.current.primary) == ("direct", v2)
    # revision 2 still serves v2 (as the canary): refused unless asked for
    with pytest.raises(RollbackKeepsModel) as refused:
        svc.rollback(ADMIN, "credit")
    assert refused.value.details["revision"] == 2 and refused.value.details["model"] == v2
    ep = svc.rollback(ADMIN, "credit", allow_same_model=True)  # back to the canary
    assert ep.current and ep.current.revision == 4 and ep.current.strategy == "canary"
    ep = svc.rollback(ADMIN, "credit", to=1)
    assert ep.current and ep.current.primary == v1 and ep.current.candidate is None
    assert [r.reason for r in ep.revisions] == [
        f"deploy {v1}",
        f"canary {v2} at 10%",
        f"promote {v2}",
        "rollback to revision 2",
        "rollback to revision 1",
    ]
    actions = [e.action for e in drt.ledger.entries(LedgerFilter(action="deployment.*"))]
    assert actions == [
        "deployment.create",
        "deployment.create",
        "deployment.promote",
        "deployment.rollback",
        "deployment.rollback",
    ]
    shadow = svc.deploy(ADMIN, v2, endpoint="credit", strategy="shadow")
    assert shadow.current and shadow.current.percent == 100 and shadow.current.candidate == v2


def test_denied_deployments_are_recorded_with_reasons(drt: Runtime) -> None:
    train, hold = register_split(drt)
    unapproved = train_model(drt, train)
    head, _ = drt.ledger.head()
    with pytest.raises(PolicyDenied, match="approved-only"):
        DeployService(drt).deploy(ADMIN, unapproved, endpoint="credit", site="eu-fra")
    ok = approved(drt, train, hold)
    with pytest.raises(PolicyDenied, match="residency"):  # EU personal data, US site
        DeployService(drt).deploy(ADMIN, ok, endpoint="credit-us", site="us-east")
    private = approved(drt, train, hold, private_only=True)
    with pytest.raises(PolicyDenied, match="private-only"):
        DeployService(drt).deploy(ADMIN, private, endpoint="credit-priv", site="eu-fra")
    DeployService(drt).deploy(ADMIN, private, endpoint="credit-priv", site="eu-onprem")
    assert denials(drt, head) == [["approved-only"], ["residency"], ["private-only"]]
    with pytest.raises(PolicyDenied):  # bob approves; he does not deploy
        DeployService(drt).deploy(BOB, ok, endpoint="credit", site="eu-fra")
    with pytest.raises(NotFound):
        DeployService(drt).endpoint(ADMIN, "credit")


def test_bad_requests_are_clear(drt: Runtime) -> None:
    train, hold = register_split(drt)
    ok = approved(drt, train, hold)
    svc = DeployService(drt)
    with pytest.raises(ValidationFailed, match="first deployment is direct"):
        svc.deploy(ADMIN, ok, endpoint="new", strategy="canary", percent=5)
    svc.deploy(ADMIN, ok, endpoint="credit", site="eu-fra")
    with pytest.raises(ValidationFailed, match="between 1 and 99"):
        svc.deploy(ADMIN, ok, endpoint="credit", strategy="canary", percent=0)
    with pytest.raises(Conflict, match="already serves"):
        svc.deploy(ADMIN, ok, endpoint="credit", strategy="canary", percent=5)
    with pytest.raises(Conflict, match="lives at eu-fra"):
        svc.deploy(ADMIN, ok, endpoint="credit", site="eu-onprem")
    with pytest.raises(Conflict, match="no earlier revision"):
        svc.rollback(ADMIN, "credit")
    with pytest.raises(Conflict, match="no canary or shadow"):
        svc.promote(ADMIN, "credit")
    with pytest.raises(ValidationFailed, match="lower-case"):
        svc.deploy(ADMIN, ok, endpoint="Credit API")
    with pytest.raises(NotFound):
        svc.deploy(ADMIN, "nope@1", endpoint="credit")


def test_canary_routing_is_sticky_and_proportional() -> None:
    keys = [f"customer-{i}" for i in range(20_000)]
    share = sum(routes_to_candidate(k, 10) for k in keys) / len(keys)
    assert 0.09 < share < 0.11
    assert all(routes_to_candidate(k, 10) == routes_to_candidate(k, 10) for k in keys[:100])
    # raising the percent only moves keys to the candidate, never back
    assert all(routes_to_candidate(k, 30) for k in keys if routes_to_candidate(k, 10))
    assert {bucket(k) for k in keys} == set(range(100))
    with pytest.raises(ValueError):
        routes_to_candidate("k", 101)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_deploys_promotes_and_rolls_back(drt: Runtime, home: Home) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
    from clitools import run

    train, hold = register_split(drt)
    v1 = approved(drt, train, hold)
    v2 = approved(drt, train, hold, seed=9)
    code, out, err = run(home.root, "deploy", v1, "--endpoint", "credit", "--site", "eu-fra")
    assert code == 0 and "revision 1, direct" in out, err
    code, out, err = run(home.root, "deploy", v1, "--endpoint", "credit-us", "--site", "us-east")
    assert code == 4 and "residency" in err
    code, out, err = run(
        home.root, "deploy", v2, "--endpoint", "credit", "--strategy", "canary", "--percent", "25"
    )
    assert code == 0 and f"+ {v2} (25%)" in out, err
    code, out, err = run(home.root, "deploy", "promote", "credit")
    assert code == 0 and f"revision 3, direct, {v2}" in out, err
    code, out, err = run(home.root, "rollback", "credit", "--to", "1")
    assert code == 0 and f"revision 4, direct, {v1}" in out, err
    code, out, _ = run(home.root, "endpoint", "list", "--json")
    (ep,) = json.loads(out)
    assert ep["current"]["revision"] == 4 and len(ep["revisions"]) == 4
