"""Threat: one data steward moves personal data out of its jurisdiction alone.

Two routes out: declassify a column (say the names are "none"), so that a mask of the
data counts as anonymised and residency lets it go; or copy non-anonymised data across
jurisdictions where a transfer rule allows it at all. Both need a second data steward
(four eyes): the requester never approves their own request, a refusal is on the record,
an approved declassification re-judges the versions already derived and reports copies
already outside the jurisdiction, and an approved copy is good for one copy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from patients import patients, with_stewards

from steward.api import create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets import DatasetService
from steward.datasets.mask import parse_recipe
from steward.errors import Conflict, PolicyDenied
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

ALICE, CAROL, ADMIN = Principal("alice"), Principal("carol"), Principal("admin")


def _last(rt: Runtime) -> tuple[str, str, str, list[str]]:
    e = rt.ledger.entries(LedgerFilter(limit=100_000))[-1]
    return e.actor, e.action, e.decision, [r["policy"] for r in json.loads(e.reasons)]


def _open(home: Home, transfers: list[dict[str, str]] | None) -> Runtime:
    with_stewards(home, transfers=transfers)
    rt = Runtime.open(home)
    DatasetService(rt).register(
        ALICE, pa.Table.from_pylist(patients()), name="patients", team="risk"
    )
    return rt


@pytest.fixture
def steward_rt(home: Home) -> Iterator[Runtime]:
    """Two data stewards (alice, carol); no transfer rule."""
    rt = _open(home, None)
    yield rt
    rt.close()


@pytest.fixture
def transfer_rt(home: Home) -> Iterator[Runtime]:
    """Two data stewards and a rule that allows EU data to the US (with four eyes)."""
    rt = _open(home, [{"origin": "EU", "destination": "US", "basis": "SCCs"}])
    yield rt
    rt.close()


#: drops every identifier but the names, which it hashes: a pseudonymised version
HASH_NAMES = {
    "columns": {
        "full_name": "pseudonymise",
        "titulaire": "drop",
        "kunde": "drop",
        "x1": "drop",
        "email": "drop",
        "ssn": "drop",
        "diagnosis": "drop",
        "age": {"op": "generalise_age", "width": 20},
        "zip": {"op": "generalise_postcode", "keep": 2},
    },
    "enforce_k": True,
}


def test_one_steward_cannot_declassify_alone(steward_rt: Runtime) -> None:
    svc = DatasetService(steward_rt)
    with pytest.raises(PolicyDenied) as denied:
        svc.set_classification(ALICE, "patients@1", {"full_name": "none"})
    assert [r.policy for r in denied.value.reasons] == ["declassify-four-eyes"]
    assert _last(steward_rt) == ("alice", "dataset.classify", "deny", ["declassify-four-eyes"])
    classes = {c.column: c for c in svc.show(ALICE, "patients@1").classification}
    assert classes["full_name"].category == "direct"
    # Admins are bound too: a forbid wins over their permit.
    with pytest.raises(PolicyDenied):
        svc.set_classification(ADMIN, "patients@1", {"diagnosis": "none"})
    # Raising a class needs no second pair of eyes.
    assert svc.set_classification(ALICE, "patients@1", {"charges": "health_condition"})


def test_declassification_needs_another_steward_and_rejudges_derived_versions(
    transfer_rt: Runtime,
) -> None:
    svc = DatasetService(transfer_rt)
    masked = svc.mask(ALICE, "patients@1", recipe=parse_recipe(HASH_NAMES))
    assert masked.version.verdict == "pseudonymised"
    # A copy of it went to the US earlier, under the transfer rule and four eyes.
    ask = svc.request_copy(ALICE, masked.version.ref, to_site="us-east")
    svc.decide_request(CAROL, ask.id, approve=True)
    svc.copy(ALICE, masked.version.ref, to_site="us-east")

    req = svc.request_declassification(ALICE, "patients@1", {"full_name": "none"})
    assert req.state == "pending"
    with pytest.raises(PolicyDenied) as own:
        svc.decide_request(ALICE, req.id, approve=True)
    assert [r.policy for r in own.value.reasons] == ["four-eyes-data"]
    assert _last(transfer_rt) == ("alice", "dataset.approve", "deny", ["four-eyes-data"])
    # Nor may an admin who is no data steward.
    with pytest.raises(PolicyDenied) as admin:
        svc.decide_request(ADMIN, req.id, approve=True)
    assert [r.policy for r in admin.value.reasons] == ["data-approval-steward"]
    assert svc.requests(ALICE, state="pending")[0].id == req.id

    done = svc.decide_request(CAROL, req.id, approve=True, note="names are synthetic")
    assert done.state == "approved" and done.decided_by == "carol"
    classes = {c.column: c for c in svc.show(ALICE, "patients@1").classification}
    assert classes["full_name"].category == "none"
    assert classes["full_name"].overridden_by == "alice"
    # The derived version was judged again against the lowered class ...
    (re,) = done.reverdicts
    assert (re.ref, re.before, re.after) == (masked.version.ref, "pseudonymised", "anonymised")
    assert svc.show(ALICE, masked.version.ref).verdict == "anonymised"
    # ... and the copy already outside the EU is reported.
    assert [(o.ref, o.site, o.jurisdiction) for o in done.outside] == [
        (masked.version.ref, "us-east", "US")
    ]
    with pytest.raises(Conflict):
        svc.decide_request(CAROL, req.id, approve=True)


def test_cross_jurisdiction_copy_needs_a_second_steward_once(transfer_rt: Runtime) -> None:
    svc = DatasetService(transfer_rt)
    masked = svc.mask(ALICE, "patients@1", recipe=parse_recipe(HASH_NAMES))
    ref = masked.version.ref
    # Allowed at all by the transfer rule, but not by one steward alone (admins neither).
    for who in (ALICE, ADMIN):
        with pytest.raises(PolicyDenied) as denied:
            svc.copy(who, ref, to_site="us-east")
        assert [r.policy for r in denied.value.reasons] == ["transfer-four-eyes"]
    req = svc.request_copy(ALICE, ref, to_site="us-east", reason="US model audit")
    with pytest.raises(PolicyDenied):
        svc.decide_request(ALICE, req.id, approve=True)
    svc.decide_request(CAROL, req.id, approve=True)
    copy = svc.copy(ALICE, ref, to_site="us-east")
    assert copy.to_site == "us-east"
    assert _last(transfer_rt)[1:3] == ("dataset.copy", "allow")
    # One approval, one copy: the next copy is refused again.
    with pytest.raises(PolicyDenied):
        svc.copy(ALICE, ref, to_site="us-east")
    assert [r.state for r in svc.requests(ALICE)] == ["used"]


def test_copy_without_a_transfer_rule_cannot_even_be_requested(home: Home) -> None:
    with_stewards(home)  # no transfer rules: residency forbids outright
    rt = Runtime.open(home)
    try:
        svc = DatasetService(rt)
        svc.register(ALICE, pa.Table.from_pylist(patients(60)), name="p", team="risk")
        with pytest.raises(PolicyDenied) as denied:
            svc.copy(ADMIN, "p@1", to_site="us-east")
        assert [r.policy for r in denied.value.reasons] == ["residency"]
        from steward.errors import ValidationFailed

        with pytest.raises(ValidationFailed):
            svc.request_copy(ALICE, "p@1", to_site="us-east")
    finally:
        rt.close()


def test_api_requests_and_approvals_are_four_eyes(steward_rt: Runtime) -> None:
    identity = IdentityService(steward_rt)
    auth = {
        u: {"Authorization": f"Bearer {identity.create_token(ADMIN, user=u, name='t').token}"}
        for u in ("alice", "carol")
    }
    with TestClient(create_app(steward_rt)) as c:
        r = c.post(
            "/v1/datasets/patients@1/classification",
            json={"set": {"ssn": "none"}},
            headers=auth["alice"],
        )
        assert r.status_code == 403 and r.json()["error"] == "policy_denied"
        r = c.post(
            "/v1/datasets/patients@1/requests",
            json={"kind": "declassify", "set": {"ssn": "none"}},
            headers=auth["alice"],
        )
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        own = c.post(f"/v1/dataset-requests/{rid}/approve", json={}, headers=auth["alice"])
        assert own.status_code == 403
        listed = c.get("/v1/dataset-requests?state=pending", headers=auth["carol"]).json()
        assert [x["id"] for x in listed] == [rid]
        ok = c.post(f"/v1/dataset-requests/{rid}/approve", json={}, headers=auth["carol"])
        assert ok.status_code == 200 and ok.json()["state"] == "approved"
