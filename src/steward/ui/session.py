"""The dashboard's session cookie: the user's API token, sealed with AES-GCM.

The cookie holds ``nonce || AES-GCM(token, expiry)`` under a key derived from the home's
master key for this purpose only: unreadable in the browser, tamper-evident (a changed
byte fails authentication) and bound to this home. Every request re-authenticates the
token, so revoking it (``steward token revoke``) ends the session at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["COOKIE", "SESSION_SECONDS", "SessionSealer"]

COOKIE = "steward_session"
SESSION_SECONDS = 8 * 3600
_AAD = b"steward-ui-session/v1"


class SessionSealer:
    """Seal a token into a cookie value, and open one (None if tampered or expired)."""

    def __init__(self, key: bytes, *, lifetime: int = SESSION_SECONDS) -> None:
        if len(key) != 32:
            raise ValueError(f"key: expected 32 bytes; found {len(key)}")
        self._aead = AESGCM(key)
        self._mac_key = hashlib.sha256(b"steward-ui-csrf" + key).digest()
        self.lifetime = lifetime

    def seal(self, token: str, *, now: float | None = None) -> str:
        exp = int((time.time() if now is None else now) + self.lifetime)
        nonce = os.urandom(12)
        plain = json.dumps({"t": token, "exp": exp}).encode()
        sealed = nonce + self._aead.encrypt(nonce, plain, _AAD)
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, value: str | None, *, now: float | None = None) -> str | None:
        """The token inside ``value``; None if it is missing, altered or expired."""
        if not value or len(value) > 4096:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            # only the canonical spelling: the last character's unused bits would
            # otherwise let several cookie strings open to the same token
            if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != value:
                return None
            plain = self._aead.decrypt(raw[:12], raw[12:], _AAD)
            data = json.loads(plain)
        except (binascii.Error, ValueError, InvalidTag):
            return None
        exp, token = data.get("exp"), data.get("t")
        if not isinstance(exp, int) or not isinstance(token, str):
            return None
        if exp <= (time.time() if now is None else now):
            return None
        return token

    def csrf(self, value: str) -> str:
        """The form token that proves a POST came from a page of this session."""
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, value: str, given: str) -> bool:
        return hmac.compare_digest(self.csrf(value), given)
