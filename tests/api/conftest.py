"""Shared fixtures for the API tests: an app client over ``rt`` and a token per user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from steward.api import create_app
from steward.identity import CreatedToken, IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

#: The users of the default configuration (steward.config.home.DEFAULT_CONFIG).
USERS = ("admin", "alice", "bob")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_tokens(rt: Runtime) -> dict[str, CreatedToken]:
    identity = IdentityService(rt)
    return {u: identity.create_token(Principal("admin"), user=u, name="tests") for u in USERS}


@pytest.fixture
def tokens(rt: Runtime) -> dict[str, CreatedToken]:
    """One fresh API token per configured user, issued by the admin."""
    return make_tokens(rt)


@pytest.fixture
def auth(tokens: dict[str, CreatedToken]) -> dict[str, dict[str, str]]:
    """``auth["alice"]`` is the Authorization header for alice's token."""
    return {user: bearer(t.token) for user, t in tokens.items()}


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    """A client without credentials; each test sends the header it means to test."""
    with TestClient(create_app(rt)) as c:
        yield c
