"""Authentication: every route but ``/healthz`` needs a valid, live bearer token.

The route walk reads ``app.routes`` itself, so a route added without the ``Caller``
dependency fails here without anyone having to remember to list it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from starlette.routing import Route

from steward.api import create_app
from steward.audit import sha256_hex
from steward.identity import CreatedToken, IdentityService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import ApiToken, Base, governed_writes

#: Served without a token on purpose: liveness for load balancers and orchestrators.
PUBLIC_API_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/v2"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
}

#: FastAPI's own documentation routes (plain Starlette routes, not API routes). They
#: expose the API's shape, never data; they are listed here so that any *other*
#: non-API route (a mount, a static dashboard, ...) fails the walk until it is decided.
DOCUMENTATION_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def api_calls(app: FastAPI) -> Iterator[tuple[str, str, str]]:
    """(method, route path, concrete URL) for every API route and method of ``app``."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            url = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in sorted(route.methods or ()):
                yield method, route.path, url


def call(
    client: TestClient, method: str, url: str, headers: dict[str, str] | None = None
) -> Response:
    return client.request(method, url, headers=headers or {})


def assert_unauthenticated(resp: Response, where: object) -> None:
    assert resp.status_code == 401, (where, resp.status_code, resp.text)
    body = resp.json()
    assert body["error"] == "unauthenticated", (where, body)
    assert set(body) == {"error", "message", "details"}, (where, body)
    assert body["message"], where
    assert resp.headers.get("www-authenticate") == "Bearer", where


def test_route_walk_sees_every_route(rt: Runtime) -> None:
    """Every entry of ``app.routes`` is either an API route or a known documentation route."""
    app = create_app(rt)
    for route in app.routes:
        if isinstance(route, APIRoute) or dashboard_routes(route):
            continue
        assert isinstance(route, Route) and route.path in DOCUMENTATION_ROUTES, (
            f"{type(route).__name__} {getattr(route, 'path', route)!r} is neither an API route "
            "nor FastAPI's documentation; decide whether it needs a token and test it"
        )
    walked = {(m, p) for m, p, _ in api_calls(app)}
    assert walked >= PUBLIC_API_ROUTES
    assert len(walked) > len(PUBLIC_API_ROUTES)


#: The dashboard's routes served without a session: the sign-in page and form, sign-out
#: (it only clears the cookie) and its static files (CSS, JavaScript, plotly.js).
PUBLIC_UI_ROUTES = {
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("GET", "/ui/static/plotly.min.js"),
    ("GET", "/ui/static/{name}"),
}


def dashboard_routes(route: object) -> list[APIRoute]:
    """The routes of the included dashboard router (FastAPI keeps them in the router), or
    [] if ``route`` is not it. They authenticate with the session cookie, not a bearer
    token: see test_every_dashboard_route_needs_a_session."""
    inner = getattr(getattr(route, "original_router", None), "routes", None)
    if not inner or not all(isinstance(r, APIRoute) and r.path.startswith("/ui") for r in inner):
        return []
    return list(inner)


def test_every_dashboard_route_needs_a_session(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    routes = [r for route in app.routes for r in dashboard_routes(route)]
    assert routes
    rt = app.state.rt
    token = IdentityService(rt).create_token(Principal("admin"), user="bob").token
    for route in routes:
        url = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(route.methods or ()):
            if (method, route.path) in PUBLIC_UI_ROUTES:
                continue
            # a bearer token is not a session: the dashboard sends you to sign in
            for headers in ({}, {"authorization": f"Bearer {token}"}):
                resp = client.request(method, url, headers=headers, follow_redirects=False)
                assert resp.status_code == 303, (method, route.path, resp.status_code)
                assert resp.headers["location"].startswith("/ui/login"), (method, route.path)


def test_every_route_but_healthz_needs_a_token(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    for method, path, url in api_calls(app):
        resp = call(client, method, url)
        if (method, path) in PUBLIC_API_ROUTES:
            assert resp.status_code == 200, (method, path, resp.text)
        else:
            assert_unauthenticated(resp, (method, path))


def test_healthz_reports_the_database(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": True}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer garbage",
        "Bearer stw_",
        "Bearer stw_onlyid",
        "Bearer xyz_0123456789abcdef_secret",
        "Bearer stw__",
        "Basic YWRtaW46YWRtaW4=",
        "stw_0123456789abcdef_secret",  # no scheme at all
        "Bearer",
    ],
)
def test_malformed_tokens_are_rejected_on_every_route(client: TestClient, header: str) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    for method, path, url in api_calls(app):
        if (method, path) in PUBLIC_API_ROUTES:
            continue
        assert_unauthenticated(call(client, method, url, {"Authorization": header}), (method, path))


def test_unknown_token_and_wrong_secret_are_rejected(
    client: TestClient, tokens: dict[str, CreatedToken]
) -> None:
    real = tokens["admin"]
    unknown = f"stw_{'0' * 16}_{real.token.split('_', 2)[2]}"
    wrong_secret = f"stw_{real.id}_{'A' * 43}"
    for token in (unknown, wrong_secret):
        resp = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert_unauthenticated(resp, token)
    # The genuine token still works, so the rejections above were about the token.
    assert (
        client.get("/v1/me", headers={"Authorization": f"Bearer {real.token}"}).json()["name"]
        == "admin"
    )


def test_expired_token_is_rejected_on_every_route(
    rt: Runtime,
    client: TestClient,
    tokens: dict[str, CreatedToken],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the store is changed behind the server's back, as another process would change it;
    # the server trusts a token's row for IdentityService.CACHE_SECONDS (tested below)
    monkeypatch.setattr(IdentityService, "CACHE_SECONDS", 0.0)
    token = tokens["admin"]
    headers = {"Authorization": f"Bearer {token.token}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    # Move the expiry into the past directly in the store: waiting 24 h is not an option.
    with governed_writes("test.expire"), rt.store.transaction(write=True) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    app = client.app
    assert isinstance(app, FastAPI)
    for method, path, url in api_calls(app):
        if (method, path) not in PUBLIC_API_ROUTES:
            assert_unauthenticated(call(client, method, url, headers), (method, path))


def test_revoked_token_is_rejected_on_every_route(
    client: TestClient, tokens: dict[str, CreatedToken], auth: dict[str, dict[str, str]]
) -> None:
    victim = tokens["alice"]
    resp = client.delete(f"/v1/tokens/{victim.id}", headers=auth["admin"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["revoked_at"] is not None
    app = client.app
    assert isinstance(app, FastAPI)
    for method, path, url in api_calls(app):
        if (method, path) not in PUBLIC_API_ROUTES:
            assert_unauthenticated(call(client, method, url, auth["alice"]), (method, path))
    # Other tokens are unaffected.
    assert client.get("/v1/me", headers=auth["bob"]).json()["name"] == "bob"


def test_token_of_a_user_removed_from_the_config_is_rejected(
    rt: Runtime, tokens: dict[str, CreatedToken], auth: dict[str, dict[str, str]]
) -> None:
    cfg_path = rt.home.config_path
    cfg = yaml.safe_load(cfg_path.read_text("utf-8"))
    del cfg["users"]["bob"]
    cfg["teams"]["risk"]["members"].remove("bob")
    cfg_path.write_text(yaml.safe_dump(cfg), "utf-8")
    later = Runtime.open(rt.home)
    try:
        with TestClient(create_app(later)) as c:
            assert_unauthenticated(c.get("/v1/me", headers=auth["bob"]), "bob removed")
            assert c.get("/v1/me", headers=auth["alice"]).json()["name"] == "alice"
    finally:
        later.close()


def test_token_secret_is_stored_only_as_a_sha256_hash(
    rt: Runtime, client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    resp = client.post("/v1/tokens", json={"name": "ci"}, headers=auth["alice"])
    assert resp.status_code == 201, resp.text
    created = resp.json()
    prefix, token_id, secret = created["token"].split("_", 2)
    assert (prefix, token_id) == ("stw", created["id"])
    assert len(secret) >= 32

    with rt.store.transaction() as s:
        row = s.execute(select(ApiToken).where(ApiToken.id == token_id)).scalar_one()
        assert row.secret_hash == sha256_hex(secret)
        assert secret not in row.secret_hash
        # Nothing anywhere in the database holds the secret (ledger payloads included).
        for table in Base.metadata.sorted_tables:
            for record in s.execute(select(table)).all():
                dumped = repr(tuple(record))
                assert secret not in dumped, table.name
                assert created["token"] not in dumped, table.name
    # Nor any file in the home (a SQLite database file, keys, objects).
    for path in Path(rt.home.root).rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path

    # Listing tokens never shows a secret again.
    listed = client.get("/v1/tokens", headers=auth["alice"]).json()
    assert [t["id"] for t in listed if t["id"] == token_id] == [token_id]
    assert all("token" not in t for t in listed)
    assert secret not in client.get("/v1/tokens", headers=auth["alice"]).text


def test_unauthenticated_request_gets_401_before_its_body_is_judged(client: TestClient) -> None:
    """A caller without a token learns nothing about a route's input rules."""
    bad_json = {"content-type": "application/json"}
    for path in ("/v1/tokens", "/v1/policy/explain"):
        assert_unauthenticated(client.post(path, content=b"{not json", headers=bad_json), path)
        # Bytes that are not text at all (FastAPI answers 400 for these, before any check).
        assert_unauthenticated(client.post(path, content=b"\x00" * 9, headers=bad_json), path)
        assert_unauthenticated(client.post(path, json={"expires_in_days": "x"}), path)
    assert_unauthenticated(client.get("/v1/audit/entries", params={"limit": "many"}), "query")


def test_a_change_behind_the_servers_back_takes_effect_within_the_cache_time(
    rt: Runtime, client: TestClient, tokens: dict[str, CreatedToken]
) -> None:
    """A token revoked by another process (here: directly in the store) stops working
    within IdentityService.CACHE_SECONDS; one revoked through this server at once (see
    test_revoked_token_is_rejected_on_every_route)."""
    import time

    token = tokens["admin"]
    headers = {"Authorization": f"Bearer {token.token}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    with governed_writes("test.revoke"), rt.store.transaction(write=True) as s:
        s.execute(
            update(ApiToken).where(ApiToken.id == token.id).values(revoked_at=datetime.now(UTC))
        )
    time.sleep(IdentityService.CACHE_SECONDS + 0.05)
    assert_unauthenticated(client.get("/v1/me", headers=headers), "after the cache time")
