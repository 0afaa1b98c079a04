"""The default policy pack: residency, four eyes, locked holdouts, roles, team boundary."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from steward.config import parse_config
from steward.config.home import DEFAULT_CONFIG
from steward.policy import Decision, PolicyEngine, Principal, Resource

CONFIG = """
version: 1
default_site: eu-fra
sites:
  eu-fra: {provider: aws, region: eu-central-1, jurisdiction: EU}
  us-east: {provider: aws, region: us-east-1, jurisdiction: US}
teams:
  risk: {members: [alice, bob, carol]}
  fraud: {members: [dave]}
users:
  admin: {roles: [admin]}
  alice: {roles: [scientist, data-steward]}
  bob: {roles: [approver]}
  carol: {roles: [approver]}
  dave: {roles: [scientist]}
  vic: {roles: [viewer]}
"""


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(parse_config(yaml.safe_load(CONFIG)))


def _obj(**attrs: Any) -> Resource:
    return Resource("Object", "obj-1", {"jurisdiction": "EU", "team": "risk", **attrs})


def _policies(decision: Decision) -> set[str]:
    return {r.policy for r in decision.reasons}


def _denied_by(decision: Decision, policy: str) -> None:
    assert decision.allowed is False
    assert policy in _policies(decision)
    assert all(r.effect == "forbid" for r in decision.reasons)


# -- residency -----------------------------------------------------------------------


def test_eu_object_at_us_site_is_denied_by_residency(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("alice"), "object.put", _obj(), {"site": "us-east"})
    assert d.allowed is False
    assert _policies(d) == {"residency"}
    (reason,) = d.reasons
    assert reason.effect == "forbid"
    assert "EU" in reason.advice
    assert "us-east" in reason.advice
    assert "{" not in reason.advice  # every placeholder was filled in
    assert d.principal == 'User::"alice"'
    assert d.action == "object.put"
    assert d.resource == 'Object::"obj-1"'


def test_eu_object_at_eu_site_is_allowed(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("alice"), "object.put", _obj(), {"site": "eu-fra"})
    assert d.allowed is True
    assert "residency" not in _policies(d)
    assert all(r.effect == "permit" for r in d.reasons)
    assert _policies(d) & {"role-scientist", "role-data-steward"}


def test_anonymised_eu_object_at_us_site_is_allowed(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("alice"), "object.put", _obj(anonymised=True), {"site": "us-east"})
    assert d.allowed is True


def test_us_object_at_eu_site_is_denied(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("alice"), "object.put", _obj(jurisdiction="US"), {"site": "eu-fra"})
    _denied_by(d, "residency")


def test_residency_applies_to_training_and_registration(engine: PolicyEngine) -> None:
    ds = Resource("Dataset", "loans", {"jurisdiction": "EU", "team": "risk"})
    for action in ("dataset.register", "model.train"):
        _denied_by(engine.decide(Principal("alice"), action, ds, {"site": "us-east"}), "residency")
        assert engine.decide(Principal("alice"), action, ds, {"site": "eu-fra"}).allowed


def test_admin_is_still_bound_by_residency(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("admin"), "object.put", _obj(), {"site": "us-east"})
    _denied_by(d, "residency")
    assert engine.decide(Principal("admin"), "object.put", _obj(), {"site": "eu-fra"}).allowed


# -- four eyes -----------------------------------------------------------------------


def _model(*producers: str) -> Resource:
    return Resource(
        "Model", "loans-v3", {"jurisdiction": "EU", "team": "risk", "producers": list(producers)}
    )


def test_approving_your_own_model_is_denied_by_four_eyes(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("bob"), "model.approve", _model("alice", "bob"))
    assert d.allowed is False
    assert _policies(d) == {"four-eyes"}
    assert 'Model::"loans-v3"' in d.reasons[0].advice


def test_another_approver_may_approve(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("carol"), "model.approve", _model("alice", "bob"))
    assert d.allowed is True
    assert "role-approver" in _policies(d)


def test_admin_cannot_approve_their_own_model(engine: PolicyEngine) -> None:
    _denied_by(engine.decide(Principal("admin"), "model.approve", _model("admin")), "four-eyes")
    assert engine.decide(Principal("admin"), "model.approve", _model("alice")).allowed


def test_scientist_cannot_approve(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("alice"), "model.approve", _model("bob"))
    assert d.allowed is False
    assert d.reasons == []


def test_four_eyes_with_default_config() -> None:
    engine = PolicyEngine(parse_config(yaml.safe_load(DEFAULT_CONFIG)))
    _denied_by(engine.decide(Principal("bob"), "model.approve", _model("bob")), "four-eyes")
    assert engine.decide(Principal("bob"), "model.approve", _model("alice")).allowed


# -- locked holdouts -----------------------------------------------------------------


def test_training_on_a_locked_dataset_is_denied(engine: PolicyEngine) -> None:
    ds = Resource("Dataset", "holdout", {"jurisdiction": "EU", "team": "risk", "locked": True})
    d = engine.decide(Principal("alice"), "model.train", ds, {"site": "eu-fra"})
    assert d.allowed is False
    assert _policies(d) == {"locked-holdout"}
    assert 'Dataset::"holdout"' in d.reasons[0].advice


def test_training_on_an_unlocked_dataset_is_allowed(engine: PolicyEngine) -> None:
    ds = Resource("Dataset", "train", {"jurisdiction": "EU", "team": "risk", "locked": False})
    assert engine.decide(Principal("alice"), "model.train", ds, {"site": "eu-fra"}).allowed


def test_admin_cannot_train_on_a_locked_dataset(engine: PolicyEngine) -> None:
    ds = Resource("Dataset", "holdout", {"jurisdiction": "EU", "locked": True})
    d = engine.decide(Principal("admin"), "model.train", ds, {"site": "eu-fra"})
    _denied_by(d, "locked-holdout")


# -- roles ---------------------------------------------------------------------------


def test_viewer_cannot_put_objects_default_deny(engine: PolicyEngine) -> None:
    vic_obj = Resource("Object", "obj-2", {"jurisdiction": "EU"})
    d = engine.decide(Principal("vic"), "object.put", vic_obj, {"site": "eu-fra"})
    assert d.allowed is False
    assert d.reasons == []
    assert d.errors == []


def test_viewer_can_read(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("vic"), "object.read", _obj(team=None), {"site": "eu-fra"})
    assert d.allowed is True
    assert _policies(d) == {"role-read"}


def test_viewer_outside_the_team_cannot_read_its_objects(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("vic"), "object.read", _obj(), {"site": "eu-fra"})
    assert d.allowed is False
    assert _policies(d) == {"team-boundary"}


def test_approver_cannot_train(engine: PolicyEngine) -> None:
    ds = Resource("Dataset", "train", {"jurisdiction": "EU", "team": "risk"})
    d = engine.decide(Principal("bob"), "model.train", ds, {"site": "eu-fra"})
    assert d.allowed is False
    assert d.reasons == []


def test_users_manage_only_their_own_tokens(engine: PolicyEngine) -> None:
    own = Resource("Token", "t1", {"owner": "vic"})
    other = Resource("Token", "t2", {"owner": "alice"})
    assert engine.decide(Principal("vic"), "token.revoke", own).allowed
    assert not engine.decide(Principal("vic"), "token.revoke", other).allowed
    assert engine.decide(Principal("admin"), "token.revoke", other).allowed


# -- team boundary -------------------------------------------------------------------


def test_user_outside_the_team_is_denied(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("dave"), "object.put", _obj(team="risk"), {"site": "eu-fra"})
    assert d.allowed is False
    assert _policies(d) == {"team-boundary"}
    assert "risk" in d.reasons[0].advice


def test_team_member_is_allowed(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("dave"), "object.put", _obj(team="fraud"), {"site": "eu-fra"})
    assert d.allowed is True


def test_admin_is_not_bound_by_the_team_boundary(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("admin"), "object.put", _obj(team="fraud"), {"site": "eu-fra"})
    assert d.allowed is True
    assert "team-boundary" not in _policies(d)


def test_approver_outside_the_team_cannot_approve(engine: PolicyEngine) -> None:
    model = Resource("Model", "fraud-v1", {"jurisdiction": "EU", "team": "fraud", "producers": []})
    _denied_by(engine.decide(Principal("bob"), "model.approve", model), "team-boundary")


def test_several_forbids_are_all_reported(engine: PolicyEngine) -> None:
    ds = Resource("Dataset", "holdout", {"jurisdiction": "EU", "team": "fraud", "locked": True})
    d = engine.decide(Principal("alice"), "model.train", ds, {"site": "us-east"})
    assert d.allowed is False
    assert _policies(d) == {"residency", "locked-holdout", "team-boundary"}
