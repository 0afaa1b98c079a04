"""The routes: denials carry the policy's reasons, bad input gets one error shape, the
happy paths do what they say, and the OpenAPI document describes all of it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from steward.api import create_app
from steward.audit import verify_export
from steward.identity import CreatedToken
from steward.runtime import Runtime

Headers = dict[str, dict[str, str]]

CSV = b"id,income\n1,52000\n2,61000\n"


def error_of(resp: Response, status: int, code: str) -> dict[str, Any]:
    """The error body, after checking the status and the shape every error shares."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    return body["details"]


def put(client: TestClient, headers: dict[str, str], data: bytes = CSV, **params: str) -> Response:
    query = {"site": "eu-fra", "jurisdiction": "EU", **params}
    return client.post(
        "/v1/objects",
        params=query,
        content=data,
        headers={**headers, "content-type": "application/octet-stream"},
    )


def entries(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    resp = client.get("/v1/audit/entries", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    result: list[dict[str, Any]] = resp.json()
    return result


# -- 403: the policy says no, and says why ---------------------------------------------


def test_approver_cannot_put_objects_default_deny(client: TestClient, auth: Headers) -> None:
    details = error_of(put(client, auth["bob"]), 403, "policy_denied")
    assert details["principal"] == "bob"
    assert details["action"] == "object.put"
    assert str(details["resource"]).startswith('Object::"')
    # No forbid fired: nothing permits an approver to store data (default deny).
    assert details["reasons"] == []
    # The denial is on the record.
    denied = entries(client, auth["admin"], actor="bob", decision="deny")
    assert [(e["action"], e["site"]) for e in denied] == [("object.put", "eu-fra")]


def test_residency_forbids_eu_data_at_a_us_site(client: TestClient, auth: Headers) -> None:
    details = error_of(put(client, auth["alice"], site="us-east"), 403, "policy_denied")
    assert details["principal"] == "alice"
    assert details["action"] == "object.put"
    reasons = details["reasons"]
    assert isinstance(reasons, list) and reasons
    assert reasons[0]["policy"] == "residency"
    assert reasons[0]["effect"] == "forbid"
    assert reasons[0]["advice"]
    # Nothing was stored.
    assert client.get("/v1/objects", params={"site": "us-east"}, headers=auth["admin"]).json() == []
    # The policy's own exemption: an anonymised derivative may go there.
    ok = put(client, auth["alice"], site="us-east", anonymised="true")
    assert ok.status_code == 201, ok.text
    assert ok.json()["anonymised"] is True


def test_residency_binds_admins_too(client: TestClient, auth: Headers) -> None:
    details = error_of(put(client, auth["admin"], site="us-east"), 403, "policy_denied")
    assert [r["policy"] for r in details["reasons"]] == ["residency"]


def test_non_admin_cannot_create_a_token_for_someone_else(
    client: TestClient, auth: Headers
) -> None:
    resp = client.post("/v1/tokens", json={"user": "bob", "name": "sneaky"}, headers=auth["alice"])
    details = error_of(resp, 403, "policy_denied")
    assert details["principal"] == "alice"
    assert details["action"] == "token.create"
    # The same caller may create one for herself.
    own = client.post("/v1/tokens", json={"name": "mine"}, headers=auth["alice"])
    assert own.status_code == 201, own.text
    assert own.json()["user"] == "alice"


def test_non_admin_cannot_list_or_revoke_someone_elses_tokens(
    client: TestClient, auth: Headers, tokens: dict[str, CreatedToken]
) -> None:
    bobs = tokens["bob"].id
    details = error_of(
        client.get("/v1/tokens", params={"user": "bob"}, headers=auth["alice"]),
        403,
        "policy_denied",
    )
    assert details["action"] == "token.read"
    details = error_of(
        client.delete(f"/v1/tokens/{bobs}", headers=auth["alice"]), 403, "policy_denied"
    )
    assert details["action"] == "token.revoke"
    # bob's token is still alive.
    assert client.get("/v1/me", headers=auth["bob"]).status_code == 200


def test_approver_cannot_sign_a_checkpoint(client: TestClient, auth: Headers) -> None:
    details = error_of(
        client.post("/v1/audit/checkpoints", headers=auth["bob"]), 403, "policy_denied"
    )
    assert details["principal"] == "bob"
    assert details["action"] == "audit.checkpoint"
    assert client.get("/v1/audit/checkpoints", headers=auth["bob"]).json() == []


def test_reads_are_open_to_every_role_but_checkpoints_are_admin_work(
    client: TestClient, auth: Headers
) -> None:
    for user in ("alice", "bob"):
        for path in ("/v1/users", "/v1/teams", "/v1/sites", "/v1/audit/verify", "/v1/objects"):
            assert client.get(path, headers=auth[user]).status_code == 200, (user, path)
    details = error_of(
        client.post("/v1/audit/checkpoints", headers=auth["alice"]), 403, "policy_denied"
    )
    assert details["action"] == "audit.checkpoint"


# -- 4xx: bad input, one error shape -------------------------------------------------


def test_malformed_json_is_422_in_the_error_shape(client: TestClient, auth: Headers) -> None:
    for path in ("/v1/tokens", "/v1/policy/explain"):
        resp = client.post(
            path,
            content=b'{"name": "x",',
            headers={**auth["admin"], "content-type": "application/json"},
        )
        details = error_of(resp, 422, "validation_failed")
        errors = details["errors"]
        assert isinstance(errors, list) and errors[0]["type"] == "json_invalid"
        assert errors[0]["loc"][0] == "body"
    # A body that cannot even be decoded as text is refused in the same shape.
    resp = client.post(
        "/v1/tokens",
        content=b"\x00" * 9,
        headers={**auth["admin"], "content-type": "application/json"},
    )
    assert resp.status_code in (400, 422)
    error_of(resp, resp.status_code, resp.json()["error"])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "loc"),
    [
        ("POST", "/v1/tokens", {"json": {"expires_in_days": "soon"}}, ["body", "expires_in_days"]),
        ("POST", "/v1/tokens", {"json": {"expires_in_days": 0}}, ["body", "expires_in_days"]),
        ("POST", "/v1/tokens", {"json": {"expires_in_days": 367}}, ["body", "expires_in_days"]),
        ("POST", "/v1/tokens", {"json": {"name": ""}}, ["body", "name"]),
        ("POST", "/v1/tokens", {"json": {"name": 7}}, ["body", "name"]),
        ("POST", "/v1/tokens", {"json": ["not", "an", "object"]}, ["body"]),
        (
            "POST",
            "/v1/policy/explain",
            {"json": {"action": "x", "resource": "y"}},
            ["body", "as_user"],
        ),
        (
            "POST",
            "/v1/policy/explain",
            {"json": {"as_user": "a", "action": "x", "resource": "y", "attrs": {"k": 1}}},
            ["body", "attrs", "k"],
        ),
        ("GET", "/v1/audit/entries", {"params": {"limit": "many"}}, ["query", "limit"]),
        ("GET", "/v1/audit/entries", {"params": {"limit": 0}}, ["query", "limit"]),
        ("GET", "/v1/audit/entries", {"params": {"decision": "maybe"}}, ["query", "decision"]),
        ("GET", "/v1/audit/entries", {"params": {"after_seq": -1}}, ["query", "after_seq"]),
        ("GET", "/v1/audit/entries", {"params": {"since": "last tuesday"}}, ["query", "since"]),
        (
            "POST",
            "/v1/objects",
            {"params": {"site": "eu-fra", "jurisdiction": "EU", "anonymised": "perhaps"}},
            ["query", "anonymised"],
        ),
        ("POST", "/v1/objects", {"params": {"jurisdiction": "EU"}}, ["query", "site"]),
    ],
)
def test_wrong_types_and_ranges_are_422(
    client: TestClient,
    auth: Headers,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    loc: list[str],
) -> None:
    resp = client.request(method, path, headers=auth["admin"], **kwargs)
    details = error_of(resp, 422, "validation_failed")
    assert details["errors"][0]["loc"] == loc


def test_unknown_site_is_404(client: TestClient, auth: Headers) -> None:
    for resp in (
        put(client, auth["alice"], site="atlantis"),
        client.get("/v1/sites/atlantis", headers=auth["alice"]),
        client.get("/v1/objects", params={"site": "atlantis"}, headers=auth["alice"]),
        client.get(f"/v1/objects/atlantis/{'0' * 64}", headers=auth["alice"]),
        client.get(f"/v1/objects/atlantis/{'0' * 64}/content", headers=auth["alice"]),
    ):
        details = error_of(resp, 404, "not_found")
        assert details["site"] == "atlantis"
        assert set(details["known"]) == {"eu-fra", "us-east"}


def test_unknown_jurisdiction_is_422(client: TestClient, auth: Headers) -> None:
    details = error_of(
        put(client, auth["alice"], jurisdiction="Atlantis"), 422, "validation_failed"
    )
    assert details["parameter"] == "jurisdiction"


def test_unknown_names_are_404(client: TestClient, auth: Headers) -> None:
    details = error_of(put(client, auth["alice"], team="nobody"), 404, "not_found")
    assert details["team"] == "nobody"
    details = error_of(
        client.post("/v1/tokens", json={"user": "mallory"}, headers=auth["admin"]), 404, "not_found"
    )
    assert details["user"] == "mallory"
    details = error_of(
        client.delete("/v1/tokens/feedface", headers=auth["admin"]), 404, "not_found"
    )
    assert details["token"] == "feedface"
    digest = "0" * 64
    details = error_of(
        client.get(f"/v1/objects/eu-fra/{digest}", headers=auth["admin"]), 404, "not_found"
    )
    assert (details["site"], details["digest"]) == ("eu-fra", digest)
    error_of(
        client.get(f"/v1/objects/eu-fra/{digest}/content", headers=auth["admin"]), 404, "not_found"
    )
    error_of(client.get("/v1/no-such-route", headers=auth["admin"]), 404, "not_found")


def test_policy_explain_rejects_what_it_cannot_decide(client: TestClient, auth: Headers) -> None:
    def explain(**body: object) -> Response:
        return client.post("/v1/policy/explain", json=body, headers=auth["admin"])

    base = {"as_user": "alice", "action": "object.read", "resource": "object:x", "site": "eu-fra"}
    details = error_of(explain(**{**base, "resource": "no colon"}), 422, "validation_failed")
    assert details["parameter"] == "resource"
    details = error_of(explain(**{**base, "action": "object.teleport"}), 422, "validation_failed")
    assert details["action"] == "object.teleport"
    details = error_of(explain(**{**base, "as_user": "mallory"}), 404, "not_found")
    assert details["user"] == "mallory"
    details = error_of(explain(**{**base, "site": None}), 422, "validation_failed")
    assert details["parameter"] == "site"


def test_audit_time_filters_at_the_edges_of_the_calendar_are_not_server_errors(
    client: TestClient, auth: Headers
) -> None:
    # Year 1 east of UTC and year 9999 west of UTC fall outside datetime in UTC.
    for name, value in (
        ("since", "0001-01-01T00:00:00+01:00"),
        ("until", "9999-12-31T23:59:59-01:00"),
    ):
        resp = client.get("/v1/audit/entries", params={name: value}, headers=auth["admin"])
        details = error_of(resp, 422, "validation_failed")
        assert details["parameter"] == name
    # In-range edges are fine.
    resp = client.get(
        "/v1/audit/entries",
        params={"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z"},
        headers=auth["admin"],
    )
    assert resp.status_code == 200, resp.text


def test_nul_bytes_are_rejected_not_server_errors(client: TestClient, auth: Headers) -> None:
    """PostgreSQL text cannot hold NUL; a request carrying one is the caller's error."""
    admin = auth["admin"]
    calls = [
        client.delete("/v1/tokens/ab%00cd", headers=admin),
        client.get("/v1/objects/eu-fra/ab%00cd", headers=admin),
        client.get("/v1/objects/eu-fra/ab%00cd/content", headers=admin),
        client.get("/v1/audit/entries", params={"actor": "a\x00b"}, headers=admin),
        client.get("/v1/audit/entries", params={"resource": "a\x00b"}, headers=admin),
        client.post("/v1/tokens", json={"name": "a\x00b"}, headers=admin),
        put(client, admin, label="a\x00b"),
    ]
    for resp in calls:
        # SQLite stores NUL, PostgreSQL refuses it: either is fine, a 500 is not.
        assert resp.status_code < 500, (resp.request.url, resp.text)
        if resp.status_code >= 400:
            assert set(resp.json()) == {"error", "message", "details"}, resp.text


# -- happy paths -----------------------------------------------------------------------


def test_token_lifecycle(client: TestClient, auth: Headers) -> None:
    resp = client.post(
        "/v1/tokens",
        json={"user": "bob", "name": "laptop", "expires_in_days": 30},
        headers=auth["admin"],
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert (created["user"], created["name"], created["created_by"]) == ("bob", "laptop", "admin")
    assert created["revoked_at"] is None
    lifetime = datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(
        created["created_at"]
    )
    assert lifetime == timedelta(days=30)
    new = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/v1/me", headers=new).json()["name"] == "bob"

    # Listed for its owner (and for an admin asking about the owner), without the secret.
    for headers, params in ((new, {}), (auth["admin"], {"user": "bob"})):
        listed = client.get("/v1/tokens", params=params, headers=headers).json()
        ours = [t for t in listed if t["id"] == created["id"]]
        assert len(ours) == 1
        assert "token" not in ours[0]
        assert {t["user"] for t in listed} == {"bob"}

    # Its owner revokes it with the token itself; the token stops working at once.
    resp = client.delete(f"/v1/tokens/{created['id']}", headers=new)
    assert resp.status_code == 200, resp.text
    revoked = resp.json()
    assert revoked["id"] == created["id"] and revoked["revoked_at"] is not None
    assert client.get("/v1/me", headers=new).status_code == 401
    listed = client.get("/v1/tokens", params={"user": "bob"}, headers=auth["admin"]).json()
    assert [t["revoked_at"] for t in listed if t["id"] == created["id"]] == [revoked["revoked_at"]]
    # Revoking again changes nothing (the first revocation time stays).
    again = client.delete(f"/v1/tokens/{created['id']}", headers=auth["admin"])
    assert again.status_code == 200
    assert again.json()["revoked_at"] == revoked["revoked_at"]


def test_put_object_then_info_and_content_round_trip(client: TestClient, auth: Headers) -> None:
    data = bytes(range(256)) * 33 + b"\x00\xff"  # every byte value, not valid UTF-8
    resp = put(client, auth["alice"], data=data, team="risk", label="loans v1")
    assert resp.status_code == 201, resp.text
    info = resp.json()
    assert info["site"] == "eu-fra"
    assert info["size"] == len(data)
    assert len(info["digest"]) == 64
    assert (info["jurisdiction"], info["anonymised"], info["team"], info["label"]) == (
        "EU",
        False,
        "risk",
        "loans v1",
    )
    assert info["created_by"] == "alice"

    got = client.get(f"/v1/objects/eu-fra/{info['digest']}", headers=auth["bob"])
    assert got.status_code == 200 and got.json() == info

    content = client.get(f"/v1/objects/eu-fra/{info['digest']}/content", headers=auth["bob"])
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/octet-stream"
    assert content.content == data

    listed = client.get("/v1/objects", headers=auth["bob"]).json()
    assert info in listed
    assert client.get("/v1/objects", params={"site": "us-east"}, headers=auth["bob"]).json() == []

    # Storing the same bytes again names the same object.
    assert put(client, auth["alice"], data=data, team="risk").json()["digest"] == info["digest"]


def test_audit_entries_filter_by_actor_action_and_decision(
    client: TestClient, auth: Headers
) -> None:
    assert put(client, auth["alice"]).status_code == 201
    assert put(client, auth["bob"], data=b"bob's").status_code == 403
    assert put(client, auth["alice"], site="us-east").status_code == 403
    assert client.post("/v1/audit/checkpoints", headers=auth["admin"]).status_code == 201

    everything = entries(client, auth["admin"], limit=10_000)
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)

    by_alice = entries(client, auth["admin"], actor="alice")
    assert by_alice and {e["actor"] for e in by_alice} == {"alice"}
    assert [(e["action"], e["decision"], e["site"]) for e in by_alice] == [
        ("object.put", "allow", "eu-fra"),
        ("object.put", "deny", "us-east"),
    ]
    puts = entries(client, auth["admin"], action="object.put")
    assert len(puts) == 3 and {e["action"] for e in puts} == {"object.put"}
    denied = entries(client, auth["admin"], decision="deny")
    assert {(e["actor"], e["action"]) for e in denied} == {
        ("bob", "object.put"),
        ("alice", "object.put"),
    }
    residency = next(e for e in denied if e["actor"] == "alice")
    assert [r["policy"] for r in residency["reasons"]] == ["residency"]
    combined = entries(client, auth["admin"], actor="alice", decision="allow", action="object.put")
    assert len(combined) == 1
    assert {e["action"] for e in entries(client, auth["admin"], action="token.*")} == {
        "token.create"
    }
    assert len(entries(client, auth["admin"], limit=1)) == 1
    last = everything[-1]["seq"]
    assert entries(client, auth["admin"], after_seq=last) == []
    assert entries(client, auth["admin"], after_seq=last - 1) == [everything[-1]]


def test_audit_verify_checkpoint_and_list(client: TestClient, auth: Headers) -> None:
    assert put(client, auth["alice"]).status_code == 201
    head = entries(client, auth["admin"], limit=10_000)[-1]
    resp = client.post("/v1/audit/checkpoints", headers=auth["admin"])
    assert resp.status_code == 201, resp.text
    cp = resp.json()
    # It signs the head as it was when asked (its own entry follows it).
    assert (cp["seq"], cp["hash"]) == (head["seq"], head["hash"])
    assert cp["signature"] and cp["key_id"]
    assert client.get("/v1/audit/checkpoints", headers=auth["bob"]).json() == [cp]

    verified = client.get("/v1/audit/verify", headers=auth["bob"])
    assert verified.status_code == 200, verified.text
    v = verified.json()
    assert v["ok"] is True and v["problem"] is None
    # The checkpoint itself is an audited action, so the head has moved past it.
    everything = entries(client, auth["admin"], limit=10_000)
    assert v["entries"] == len(everything)
    assert (v["head_seq"], v["head_hash"]) == (everything[-1]["seq"], everything[-1]["hash"])
    assert v["checkpoints"] == 1


def test_exported_ledger_verifies_with_the_published_key(client: TestClient, auth: Headers) -> None:
    assert put(client, auth["alice"]).status_code == 201
    assert put(client, auth["bob"]).status_code == 403
    assert client.post("/v1/audit/checkpoints", headers=auth["admin"]).status_code == 201

    key = client.get("/v1/audit/public-key", headers=auth["bob"])
    assert key.status_code == 200
    assert key.headers["content-type"].startswith("text/plain")
    assert key.text.startswith("-----BEGIN PUBLIC KEY-----")

    export = client.get("/v1/audit/export", headers=auth["bob"])
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = export.text.splitlines()
    result = verify_export(lines, key.text.encode("ascii"))
    assert result.ok, result.to_dict()
    assert result.to_dict()["entries"] == len(entries(client, auth["admin"], limit=10_000))
    assert result.to_dict()["checkpoints"] == 1

    # Tampering with any recorded field is caught, at that entry.
    records = [json.loads(line) for line in lines]
    target = next(i for i, r in enumerate(records) if r.get("actor") == "bob")
    records[target]["actor"] = "alice"
    forged = [json.dumps(r) for r in records]
    bad = verify_export(forged, key.text.encode("ascii")).to_dict()
    assert bad["ok"] is False
    assert bad["problem"]["seq"] == records[target]["seq"]


def test_policy_explain_is_a_dry_run(rt: Runtime, client: TestClient, auth: Headers) -> None:
    before = rt.ledger.head()
    body = {
        "as_user": "alice",
        "action": "object.put",
        "resource": "object:loans",
        "site": "us-east",
        "attrs": {"jurisdiction": "EU", "anonymised": "false"},
    }
    resp = client.post("/v1/policy/explain", json=body, headers=auth["bob"])
    assert resp.status_code == 200, resp.text
    denied = resp.json()
    assert denied["decision"] == "deny"
    assert denied["action"] == "object.put"
    assert [r["policy"] for r in denied["reasons"] if r["effect"] == "forbid"] == ["residency"]

    resp = client.post("/v1/policy/explain", json={**body, "site": "eu-fra"}, headers=auth["bob"])
    allowed = resp.json()
    assert allowed["decision"] == "allow"
    assert {r["effect"] for r in allowed["reasons"]} == {"permit"}
    assert {"role-scientist", "role-data-steward"} & {r["policy"] for r in allowed["reasons"]}
    assert rt.ledger.head() == before


def test_identity_and_site_reads(client: TestClient, auth: Headers) -> None:
    me = client.get("/v1/me", headers=auth["alice"]).json()
    assert (me["name"], set(me["roles"]), me["teams"]) == (
        "alice",
        {"scientist", "data-steward"},
        ["risk"],
    )
    users = client.get("/v1/users", headers=auth["bob"]).json()
    assert [u["name"] for u in users] == ["admin", "alice", "bob"]
    teams = client.get("/v1/teams", headers=auth["bob"]).json()
    assert teams == [
        {
            "name": "risk",
            "members": ["alice", "bob"],
            "quotas": {"cpu_hours_per_month": 200.0, "gpu_hours_per_month": 0.0},
        }
    ]
    sites = client.get("/v1/sites", headers=auth["bob"]).json()
    assert {s["name"]: s["jurisdiction"] for s in sites} == {"eu-fra": "EU", "us-east": "US"}
    site = client.get("/v1/sites/eu-fra", headers=auth["bob"]).json()
    assert site == next(s for s in sites if s["name"] == "eu-fra")


# -- the OpenAPI document --------------------------------------------------------------

NON_JSON = {
    ("GET", "/v1/audit/public-key"): "text/plain",
    ("GET", "/v1/audit/export"): "application/x-ndjson",
    ("GET", "/v1/objects/{site}/{digest}/content"): "application/octet-stream",
    ("GET", "/v1/datasets/{ref}/data"): "application/vnd.apache.parquet",
    ("GET", "/v1/models/{ref}/onnx"): "application/octet-stream",
    ("GET", "/metrics"): "text/plain",
}


def test_openapi_document_is_valid(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.")
    # Validated against the OpenAPI meta-schema; raises on the first violation.
    schemathesis.openapi.from_dict(doc).validate()


def test_every_route_has_typed_responses(rt: Runtime) -> None:
    app = create_app(rt)
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    seen = set()
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods or ():
            key = (method, route.path)
            seen.add(key)
            op = doc["paths"][route.path][method.lower()]
            ok = {code: r for code, r in op["responses"].items() if code in ("200", "201")}
            assert len(ok) == 1, (key, list(op["responses"]))
            content = next(iter(ok.values()))["content"]
            if key in NON_JSON:
                assert list(content) == [NON_JSON[key]], (key, content)
                continue
            assert route.response_model is not None, key
            assert list(content) == ["application/json"], (key, content)
            schema = content["application/json"]["schema"]
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            assert ref and ref.split("/")[-1] in schemas, (key, schema)
            # Errors are described as the body they really are.
            if route.path in ("/healthz", "/v2", "/v2/health/live", "/v2/health/ready"):
                continue
            assert op["security"] == [{"HTTPBearer": []}], key
            v2 = route.path.startswith("/v2/")
            for code in ("401", "403", "404", "422"):
                err = op["responses"][code]["content"]["application/json"]["schema"]
                # the inference protocol's routes answer {"error": ...} (401 comes first,
                # from authentication, in Steward's own shape)
                body = "V2Error" if v2 and code in ("403", "404") else "ErrorBody"
                assert err == {"$ref": f"#/components/schemas/{body}"}, (key, code)
    assert set(NON_JSON) <= seen
    assert "HTTPValidationError" not in schemas
