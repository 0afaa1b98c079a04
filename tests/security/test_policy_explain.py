"""Threat: a dry run that does not tell the truth (issue 16, item 11).

``steward policy explain`` is what people (and auditors) use to learn whether an action
would be allowed and why. If it invents the resource's attributes, it says DENY where the
real action is allowed (and names the wrong policy where it is refused), so people learn
to ignore it or to route around the policy; and an advice that shows ``{resource.x}``
tells nobody what to do. Each test compares the dry run with the real action.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
import yaml

from steward import Steward
from steward.config import Home
from steward.datasets import DatasetService
from steward.errors import PolicyDenied
from steward.policy import Principal, Resource
from steward.policy.entities import RESOURCE_ATTRS
from steward.registry import ModelService
from steward.runtime import Runtime

ALICE, EVE = Principal("alice"), Principal("eve")
UNFILLED = re.compile(r"\{[A-Za-z_][A-Za-z_.]*\}")


@pytest.fixture
def two_teams(home: Home) -> Iterator[Runtime]:
    """The default home (team risk: alice, bob) plus team ops with eve, a scientist."""
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"]["eve"] = {"roles": ["scientist"]}
    cfg["teams"]["ops"] = {"members": ["eve"]}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    yield rt
    rt.close()


def _forbids(reasons: list[object]) -> set[str]:
    out = set()
    for r in reasons:
        policy, effect = (
            (r["policy"], r["effect"]) if isinstance(r, dict) else (r.policy, r.effect)  # type: ignore[attr-defined]
        )
        if effect == "forbid":
            out.add(policy)
    return out


def test_explain_decides_on_the_real_dataset(two_teams: Runtime) -> None:
    rt = two_teams
    rows = pa.table({"x": [float(i) for i in range(30)], "y": [i * 2.0 for i in range(30)]})
    ref = DatasetService(rt).register(ALICE, rows, name="loans", team="risk", site="eu-fra").ref
    # the real reads: alice (team risk) may, eve (team ops) may not
    assert DatasetService(rt).read(ALICE, ref).num_rows == 30
    with pytest.raises(PolicyDenied) as real_denial:
        DatasetService(rt).read(EVE, ref)

    with Steward(rt.home.root, user="admin") as admin:
        allowed = admin.explain("dataset.read", f"dataset:{ref}", as_user="alice", site="eu-fra")
        denied = admin.explain("dataset.read", f"dataset:{ref}", as_user="eve", site="eu-fra")

    assert allowed.decision == "allow", allowed.reasons
    assert denied.decision == "deny"
    assert _forbids(list(denied.reasons)) == _forbids(real_denial.value.details["reasons"])
    assert _forbids(list(denied.reasons)) == {"team-boundary"}


def test_explain_names_the_policy_that_really_refuses_a_model(rt: Runtime) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = np.arange(1, 21, dtype=np.float32).reshape(-1, 1)
    onnx = to_onnx(LinearRegression().fit(x, x[:, 0]), x[:1]).SerializeToString()
    model = ModelService(rt).import_onnx(
        ALICE, onnx, name="vendor", team="risk", objective="regression", site="eu-fra"
    )
    # what the real deployment decision sees (a candidate: not yet approved)
    real = rt.policy.decide(
        Principal("admin"),
        "deployment.create",
        ModelService.policy_resource(model),
        {"site": "eu-fra"},
    )
    with Steward(rt.home.root, user="admin") as admin:
        dry = admin.explain("deployment.create", f"model:{model.ref}", site="eu-fra")

    assert dry.decision == "deny" and not real.allowed
    assert _forbids(list(dry.reasons)) == _forbids(list(real.reasons)) == {"approved-only"}
    assert dry.resource_found is True and dry.attributes["stage"] == "candidate"


def test_no_advice_shows_an_unfilled_placeholder(rt: Runtime) -> None:
    # what people see: a dry run on a model that does not exist (yet), so without the
    # attributes its advice names
    with Steward(rt.home.root, user="admin") as admin:
        d = admin.explain("deployment.create", "model:not-yet@1", site="us-east")
    assert d.decision == "deny" and d.reasons
    assert not any(UNFILLED.search(r.advice) for r in d.reasons), d.reasons
    assert d.resource_found is False
    # every advice of the pack, filled for resources of every type without attributes,
    # with and without a site
    for policy in rt.policy.policy_ids:
        for type_ in RESOURCE_ATTRS:
            for ctx in ({}, {"site": "us-east"}):
                advice = rt.policy.advice(policy, Resource(type_, "x"), ctx)
                assert not UNFILLED.search(advice), (policy, type_, ctx, advice)


def test_user_policy_advice_is_filled_or_named(home: Home) -> None:
    (home.root / "policies" / "ours.cedar").write_text(
        '@id("no-night-reads")\n'
        '@advice("{principal} may not read {resource} for {context.purpose} at '
        '{context.site.region} ({resource.team})")\n'
        'forbid (principal, action == Action::"dataset.read", resource)\n'
        'when { context.purpose == "night" };\n'
    )
    rt = Runtime.open(home)
    try:
        d = rt.policy.decide(
            ALICE,
            "dataset.read",
            Resource("Dataset", "d@1", {"jurisdiction": "EU"}),
            {"site": "eu-fra", "purpose": "night"},
        )
    finally:
        rt.close()
    [advice] = [r.advice for r in d.reasons if r.policy == "no-night-reads"]
    assert not UNFILLED.search(advice), advice
    assert advice.startswith('User::"alice" may not read Dataset::"d@1" for night at ')
