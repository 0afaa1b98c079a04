"""Threat: gate shopping (issue 16, item 1).

A model fails its team's suite; someone (its producer included) re-validates it under a
lenient suite or on an easier holdout, or validates it themselves, and the latest
validation makes it approvable. Configuration decides which suite and holdout apply;
anything else is recorded, reported as not applicable, and never counts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from clitools import run
from gatesdata import ALICE, BOB, hmda, train_model

from steward.api import create_app
from steward.config import Home
from steward.datasets import DatasetService
from steward.errors import GateFailed
from steward.gates import GateService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.registry import ModelService
from steward.registry.card import render_markdown
from steward.runtime import Runtime

CAROL = Principal("carol")
ADMIN = Principal("admin")
TRAIN_ROWS, SPLIT = 1900, 2140  # HMDA: 2,380 rows; two disjoint locked holdouts after these

#: the team's suite: no linear model on HMDA reaches this ROC AUC, so it fails
TEAM_STRICT: dict[str, Any] = {
    "objective": "binary",
    "teams": ["risk"],
    "primary": "roc_auc",
    "performance": [{"metric": "roc_auc", "min": 0.999}],
}
#: a suite for any binary model that anything passes
LENIENT: dict[str, Any] = {
    "objective": "binary",
    "primary": "roc_auc",
    "performance": [{"metric": "roc_auc", "min": 0.5}],
}
TEAM_PASSABLE: dict[str, Any] = {**TEAM_STRICT, "performance": [{"metric": "roc_auc", "min": 0.6}]}


def configure(home: Home, suites: dict[str, Any], **gates: Any) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["gates"] = {"suites": suites, **gates}
    cfg["users"]["carol"] = {"roles": ["approver"]}
    cfg["teams"]["risk"]["members"].append("carol")
    home.config_path.write_text(yaml.safe_dump(cfg))


def reconfigure(home: Home, suites: dict[str, Any], **gates: Any) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["gates"] = {"suites": suites, **gates}
    home.config_path.write_text(yaml.safe_dump(cfg))


def register(rt: Runtime) -> tuple[str, str, str]:
    """Training data and two disjoint locked holdouts of team risk."""
    t = hmda()
    ds = DatasetService(rt)
    train = ds.register(ALICE, t.slice(0, TRAIN_ROWS), name="hmda", team="risk").ref
    hold = ds.register(
        ALICE,
        t.slice(TRAIN_ROWS, SPLIT - TRAIN_ROWS),
        name="hmda-holdout",
        team="risk",
        locked=True,
    ).ref
    other = ds.register(ALICE, t.slice(SPLIT), name="easy-holdout", team="risk", locked=True).ref
    return train, hold, other


@pytest.fixture
def shop(home: Home) -> Iterator[tuple[Runtime, str, str, str]]:
    configure(home, {"credit-risk": TEAM_STRICT, "binary-default": LENIENT})
    rt = Runtime.open(home)
    train, hold, other = register(rt)
    ref = train_model(rt, train)  # trained by alice: she is its producer
    yield rt, ref, hold, other
    rt.close()


def test_a_lenient_suite_never_makes_a_failed_model_approvable(
    shop: tuple[Runtime, str, str, str], home: Home
) -> None:
    rt, ref, hold, _ = shop
    gates = GateService(rt)
    failed = gates.validate(BOB, ref, hold)
    assert not failed.passed
    shopped = gates.validate(CAROL, ref, hold, suite="binary-default")
    assert shopped.passed  # the lenient suite passes: recorded, but it must not count
    with pytest.raises(GateFailed):
        gates.decide(BOB, ref, approve=True)
    with pytest.raises(GateFailed):
        gates.promote(ADMIN, ref)
    assert ModelService(rt).show(ALICE, ref).stage == "failed"
    assert not shopped.applicable and "credit-risk" in (shopped.applicable_reason or "")
    assert not shopped.counts and shopped.report.applicable is False
    assert failed.applicable and failed.report.applicable_suite == "credit-risk"

    # through the API too: the listing says which counts and why
    bob = IdentityService(rt).create_token(ADMIN, user="bob").token
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {bob}"})
    listed = client.get(f"/v1/models/{ref}/validations").json()
    assert [(v["suite"], v["applicable"]) for v in listed] == [
        ("credit-risk", True),
        ("binary-default", False),
    ]
    assert client.post(f"/v1/models/{ref}/approvals", json={"note": "ok"}).status_code == 409
    assert client.get(f"/v1/models/{ref}/stage").json()["stage"] == "failed"


def test_the_producers_own_validation_never_counts(home: Home) -> None:
    configure(home, {"credit-risk": TEAM_PASSABLE})
    rt = Runtime.open(home)
    try:
        train, hold, _ = register(rt)
        ref = train_model(rt, train)
        gates = GateService(rt)
        own = gates.validate(ALICE, ref, hold)  # alice trained it
        assert own.passed
        with pytest.raises(GateFailed):
            gates.decide(BOB, ref, approve=True)
        assert ModelService(rt).show(ALICE, ref).stage == "candidate"
        assert own.by_producer and not own.counts
        # someone else's validation under the same suite counts
        theirs = gates.validate(CAROL, ref, hold)
        assert theirs.counts
        assert gates.decide(BOB, ref, approve=True).stage == "approved"
    finally:
        rt.close()


def test_approval_rests_on_the_newest_applicable_validation_not_the_latest(
    home: Home,
) -> None:
    configure(home, {"credit-risk": TEAM_PASSABLE, "binary-default": LENIENT})
    rt = Runtime.open(home)
    try:
        train, hold, _ = register(rt)
        ref = train_model(rt, train)
        gates = GateService(rt)
        applicable = gates.validate(BOB, ref, hold)
        later = gates.validate(CAROL, ref, hold, suite="binary-default")
        assert applicable.passed and later.passed
        info = gates.decide(BOB, ref, approve=True)
        assert [a.validation for a in info.approvals] == [applicable.id]
        assert info.validation is not None and info.validation.id == applicable.id
    finally:
        rt.close()


def test_another_holdout_than_the_pinned_one_never_counts(home: Home) -> None:
    configure(home, {"credit-risk": TEAM_PASSABLE}, holdout_by_team={"risk": "hmda-holdout"})
    rt = Runtime.open(home)
    try:
        train, hold, other = register(rt)
        ref = train_model(rt, train)
        gates = GateService(rt)
        shopped = gates.validate(BOB, ref, other)
        assert shopped.passed and not shopped.applicable
        assert "hmda-holdout" in (shopped.applicable_reason or "")
        with pytest.raises(GateFailed):
            gates.decide(BOB, ref, approve=True)
        # without --holdout the pinned one (its newest version) is used, and counts
        pinned = gates.validate(BOB, ref)
        assert pinned.holdout == hold and pinned.counts
        assert gates.decide(CAROL, ref, approve=True).stage == "approved"
    finally:
        rt.close()


def test_a_model_name_suite_and_holdout_take_precedence_over_the_team(home: Home) -> None:
    configure(
        home,
        {"credit-risk": TEAM_PASSABLE, "deny-model": {**TEAM_PASSABLE, "models": ["hmda-deny"]}},
        holdout_by_team={"risk": "easy-holdout"},
        holdout_by_model={"hmda-deny": "hmda-holdout"},
    )
    rt = Runtime.open(home)
    try:
        train, hold, other = register(rt)
        ref = train_model(rt, train)
        team_level = GateService(rt).validate(BOB, ref, other, suite="credit-risk")
        assert not team_level.applicable
        assert len(team_level.report.not_applicable) == 2  # suite and holdout both
        assert team_level.report.applicable_suite == "deny-model"
        assert team_level.report.applicable_holdout == hold
    finally:
        rt.close()


def test_a_validation_goes_stale_when_another_suite_comes_to_apply(home: Home) -> None:
    configure(home, {"credit-risk": TEAM_PASSABLE})
    rt = Runtime.open(home)
    train, hold, _ = register(rt)
    ref = train_model(rt, train)
    assert GateService(rt).validate(BOB, ref, hold).passed
    rt.close()
    # a stricter suite naming the model now applies; the old validation no longer counts
    reconfigure(
        home, {"credit-risk": TEAM_PASSABLE, "deny-model": {**TEAM_STRICT, "models": ["hmda-deny"]}}
    )
    rt = Runtime.open(home)
    try:
        with pytest.raises(GateFailed, match="stale"):
            GateService(rt).decide(CAROL, ref, approve=True)
        (v,) = GateService(rt).validations(BOB, ref)
        assert not v.current and "deny-model" in (v.stale_reason or "")
    finally:
        rt.close()


def test_a_validation_goes_stale_when_another_holdout_comes_to_apply(home: Home) -> None:
    configure(home, {"credit-risk": TEAM_PASSABLE}, holdout_by_team={"risk": "hmda-holdout"})
    rt = Runtime.open(home)
    train, hold, _ = register(rt)
    ref = train_model(rt, train)
    assert GateService(rt).validate(BOB, ref, hold).counts
    rt.close()
    reconfigure(home, {"credit-risk": TEAM_PASSABLE}, holdout_by_team={"risk": "easy-holdout"})
    rt = Runtime.open(home)
    try:
        with pytest.raises(GateFailed, match="stale"):
            GateService(rt).decide(CAROL, ref, approve=True)
    finally:
        rt.close()


# The in-process CLI opens a client per command and leaves closing it to the process exit;
# on PostgreSQL that leaks connections inside the test process, so the CLI runs on SQLite.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_failed_shows_everywhere_until_an_applicable_validation_passes(
    shop: tuple[Runtime, str, str, str], home: Home
) -> None:
    rt, ref, hold, _ = shop
    gates = GateService(rt)
    gates.validate(BOB, ref, hold)
    gates.validate(CAROL, ref, hold, suite="binary-default")  # passes; does not count
    assert [h["to"] for h in gates.stage_info(BOB, ref).history] == ["failed"]
    code, out, _ = run(home.root, "model", "stage", ref, user="bob")
    assert code == 0 and f"{ref}: failed" in out
    code, out, _ = run(home.root, "model", "show", ref, user="bob")
    assert code == 0 and "[failed]" in out
    detail = ModelService(rt).show(BOB, ref)
    assert "Stage: **failed**" in render_markdown(detail.ref, detail.stage, detail.card)
    assert detail.card["validation"]["suite"] == "credit-risk"  # not the shopped one
    token = IdentityService(rt).create_token(ADMIN, user="bob").token
    ui = TestClient(create_app(rt))
    ui.post("/ui/login", data={"token": token, "next": "/ui"})
    page = ui.get(f"/ui/models/{ref}").text
    assert "stage: failed" in page
    ui.close()

    # the team relaxes its suite: a passing applicable validation lifts the stage
    reconfigure(home, {"credit-risk": TEAM_PASSABLE, "binary-default": LENIENT})
    relaxed = Runtime.open(home)
    try:
        assert GateService(relaxed).validate(BOB, ref, hold).passed
        info = GateService(relaxed).stage_info(BOB, ref)
        assert info.stage == "validated"
        assert [h["to"] for h in info.history] == ["failed", "validated"]
    finally:
        relaxed.close()
