"""The dashboard's session cookie: sealed, tamper-evident, expiring."""

from __future__ import annotations

import os

from steward.ui.session import SessionSealer

TOKEN = "stw_abc_secret"


def test_sealed_cookie_hides_the_token_and_opens_to_it() -> None:
    sealer = SessionSealer(os.urandom(32))
    value = sealer.seal(TOKEN)
    assert TOKEN not in value and "secret" not in value
    assert sealer.open(value) == TOKEN


def test_any_changed_character_is_rejected() -> None:
    sealer = SessionSealer(os.urandom(32))
    value = sealer.seal(TOKEN)
    for i in (0, len(value) // 2, len(value) - 1):
        flipped = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
        assert sealer.open(flipped) is None
    assert sealer.open(value + "AA") is None
    assert sealer.open("") is None and sealer.open(None) is None and sealer.open("%%%") is None


def test_expired_cookie_is_rejected() -> None:
    sealer = SessionSealer(os.urandom(32), lifetime=60)
    value = sealer.seal(TOKEN, now=1_000_000)
    assert sealer.open(value, now=1_000_059) == TOKEN
    assert sealer.open(value, now=1_000_060) is None


def test_a_cookie_of_another_home_does_not_open() -> None:
    assert SessionSealer(os.urandom(32)).open(SessionSealer(os.urandom(32)).seal(TOKEN)) is None


def test_form_token_is_bound_to_the_session() -> None:
    sealer = SessionSealer(os.urandom(32))
    a, b = sealer.seal(TOKEN), sealer.seal(TOKEN)
    assert sealer.csrf_ok(a, sealer.csrf(a))
    assert not sealer.csrf_ok(a, sealer.csrf(b))
    assert not sealer.csrf_ok(a, "")
