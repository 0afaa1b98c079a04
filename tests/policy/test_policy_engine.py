"""PolicyEngine mechanics: requests, batches, user policy files, refusal to start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from steward.config import Home, StewardConfig, parse_config
from steward.errors import ConfigError, NotFound, ValidationFailed
from steward.policy import PolicyEngine, Principal, Resource

CONFIG = """
version: 1
default_site: eu-fra
sites:
  eu-fra: {provider: aws, region: eu-central-1, jurisdiction: EU}
  us-east: {provider: aws, region: us-east-1, jurisdiction: US}
  eu-dc: {provider: onprem, region: fra-dc1, jurisdiction: EU, trust: private}
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

NO_PRIVATE_PUTS = """\
// Our own rule: nothing is uploaded to private sites through Steward.

@id("no-private-puts")
@advice("{context.site} is a {context.site.trust} site; upload to a public site")
forbid (principal, action == Action::"object.put", resource)
when { context.site.trust == "private" };
"""


@pytest.fixture(scope="module")
def config() -> StewardConfig:
    return parse_config(yaml.safe_load(CONFIG))


@pytest.fixture(scope="module")
def engine(config: StewardConfig) -> PolicyEngine:
    return PolicyEngine(config)


def _obj(id_: str = "obj-1", **attrs: Any) -> Resource:
    return Resource("Object", id_, {"jurisdiction": "EU", "team": "risk", **attrs})


def test_engine_loads_the_whole_pack(engine: PolicyEngine) -> None:
    ids = set(engine.policy_ids)
    assert {"residency", "four-eyes", "locked-holdout", "team-boundary", "role-admin"} <= ids
    assert len(engine.policy_ids) == len(ids)
    assert all(src.builtin for src in engine.sources)


def test_engine_from_a_fresh_home(sqlite_home: Home) -> None:
    engine = PolicyEngine(sqlite_home.load_config(), sqlite_home.policies_dir)
    d = engine.decide(Principal("alice"), "object.put", _obj(), {"site": "us-east"})
    assert d.allowed is False
    assert [r.policy for r in d.reasons] == ["residency"]


def test_unknown_user_is_not_found(engine: PolicyEngine) -> None:
    with pytest.raises(NotFound) as info:
        engine.decide(Principal("mallory"), "object.put", _obj(), {"site": "eu-fra"})
    assert info.value.details["user"] == "mallory"


def test_unknown_site_is_not_found(engine: PolicyEngine) -> None:
    with pytest.raises(NotFound) as info:
        engine.decide(Principal("alice"), "object.put", _obj(), {"site": "mars"})
    assert info.value.details["site"] == "mars"


def test_unknown_action_is_a_validation_error(engine: PolicyEngine) -> None:
    with pytest.raises(ValidationFailed) as info:
        engine.decide(Principal("alice"), "object.fly", _obj(), {"site": "eu-fra"})
    assert info.value.details["action"] == "object.fly"
    assert info.value.details["resource"] == 'Object::"obj-1"'


def test_decision_to_dict(engine: PolicyEngine) -> None:
    d = engine.decide(Principal("alice"), "object.put", _obj(), {"site": "us-east"})
    body = d.to_dict()
    assert body["decision"] == "deny"
    assert body["principal"] == 'User::"alice"'
    assert body["reasons"][0]["policy"] == "residency"
    assert body["reasons"][0]["effect"] == "forbid"


def _batch() -> list[tuple[Principal, str, Resource, dict[str, Any]]]:
    model_bob = Resource(
        "Model", "m-1", {"jurisdiction": "EU", "team": "risk", "producers": ["bob"]}
    )
    holdout = Resource("Dataset", "d-1", {"jurisdiction": "EU", "team": "risk", "locked": True})
    return [
        (Principal("alice"), "object.put", _obj("o-1"), {"site": "us-east"}),
        (Principal("alice"), "object.put", _obj("o-2"), {"site": "eu-fra"}),
        (Principal("alice"), "object.put", _obj("o-3", anonymised=True), {"site": "us-east"}),
        (Principal("bob"), "model.approve", model_bob, {}),
        (Principal("carol"), "model.approve", model_bob, {}),
        (Principal("alice"), "model.train", holdout, {"site": "eu-fra"}),
        (Principal("vic"), "object.put", _obj("o-4"), {"site": "eu-fra"}),
        (Principal("dave"), "object.put", _obj("o-5"), {"site": "eu-fra"}),
        (Principal("admin"), "object.put", _obj("o-6", team="fraud"), {"site": "eu-fra"}),
        (Principal("admin"), "object.put", _obj("o-7"), {"site": "us-east"}),
    ]


def _summary(d: Any) -> tuple[bool, set[str]]:
    return d.allowed, {r.policy for r in d.reasons}


def test_decide_many_matches_decide(engine: PolicyEngine) -> None:
    batch = _batch()
    many = engine.decide_many(batch)
    one_by_one = [engine.decide(*req) for req in batch]
    assert [_summary(d) for d in many] == [_summary(d) for d in one_by_one]
    assert [d.allowed for d in many] == [
        False,
        True,
        True,
        False,
        True,
        False,
        False,
        False,
        True,
        False,
    ]
    assert [d.resource for d in many] == [str(r) for _, _, r, _ in batch]
    assert [r.advice for r in many[0].reasons] == [r.advice for r in one_by_one[0].reasons]


def test_decide_many_same_id_with_different_attributes(engine: PolicyEngine) -> None:
    # The same object described twice must not let the first description decide both.
    batch = [
        (Principal("alice"), "object.put", _obj("o-1", anonymised=True), {"site": "us-east"}),
        (Principal("alice"), "object.put", _obj("o-1", anonymised=False), {"site": "us-east"}),
        (Principal("alice"), "object.put", _obj("o-1", jurisdiction="US"), {"site": "us-east"}),
    ]
    many = engine.decide_many(batch)
    assert [d.allowed for d in many] == [engine.decide(*r).allowed for r in batch]
    assert [d.allowed for d in many] == [True, False, True]


def test_decide_many_empty_and_unknown_user(engine: PolicyEngine) -> None:
    assert engine.decide_many([]) == []
    with pytest.raises(NotFound):
        engine.decide_many([(Principal("mallory"), "object.put", _obj(), {"site": "eu-fra"})])


def test_user_policy_file_takes_effect(config: StewardConfig, tmp_path: Path) -> None:
    obj = _obj()
    before = PolicyEngine(config, tmp_path)
    assert before.decide(Principal("alice"), "object.put", obj, {"site": "eu-dc"}).allowed

    (tmp_path / "org.cedar").write_text(NO_PRIVATE_PUTS, encoding="utf-8")
    engine = PolicyEngine(config, tmp_path)
    assert "no-private-puts" in engine.policy_ids
    assert any(not s.builtin and s.name.endswith("org.cedar") for s in engine.sources)

    d = engine.decide(Principal("alice"), "object.put", obj, {"site": "eu-dc"})
    assert d.allowed is False
    (reason,) = d.reasons
    assert reason.policy == "no-private-puts"
    assert reason.advice == "eu-dc is a private site; upload to a public site"
    # a forbid in a user file binds admins too, and leaves other sites alone
    assert not engine.decide(Principal("admin"), "object.put", obj, {"site": "eu-dc"}).allowed
    assert engine.decide(Principal("alice"), "object.put", obj, {"site": "eu-fra"}).allowed


def test_missing_policy_dir_is_just_the_pack(config: StewardConfig, tmp_path: Path) -> None:
    engine = PolicyEngine(config, tmp_path / "does-not-exist")
    assert all(src.builtin for src in engine.sources)


def test_only_cedar_files_are_loaded(config: StewardConfig, tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("not cedar {", encoding="utf-8")
    (tmp_path / "draft.cedar.bak").write_text("forbid (", encoding="utf-8")
    engine = PolicyEngine(config, tmp_path)
    assert all(src.builtin for src in engine.sources)


def test_engine_refuses_to_start_with_a_bad_policy_file(
    config: StewardConfig, tmp_path: Path
) -> None:
    (tmp_path / "good.cedar").write_text(NO_PRIVATE_PUTS, encoding="utf-8")
    (tmp_path / "broken.cedar").write_text(
        '// broken\n@id("x")\nforbid (principal, action, resource) when { 1 + };\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        PolicyEngine(config, tmp_path)
    assert info.value.path == str(tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{tmp_path / 'broken.cedar'}:3: ")


def test_engine_refuses_a_policy_that_reuses_a_pack_id(
    config: StewardConfig, tmp_path: Path
) -> None:
    (tmp_path / "org.cedar").write_text(
        NO_PRIVATE_PUTS.replace("no-private-puts", "residency"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        PolicyEngine(config, tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{tmp_path / 'org.cedar'}:3: ")
    assert "residency" in problem
