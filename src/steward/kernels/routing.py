"""Sticky traffic splitting for canary rollouts.

A request key (a customer id, a session id: whatever the caller sends as the routing key)
is hashed to a bucket 0–99; buckets below the canary's percent go to the candidate. The
same key always lands in the same bucket, so a customer sees one model during a rollout,
and raising the percent only moves keys from the primary to the candidate, never back.
"""

from __future__ import annotations

import hashlib

__all__ = ["bucket", "routes_to_candidate"]


def bucket(key: str, salt: str = "") -> int:
    """The key's bucket, 0–99 (BLAKE2b of ``salt`` and ``key``; uniform, stable)."""
    digest = hashlib.blake2b(f"{salt}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def routes_to_candidate(key: str, percent: int, salt: str = "") -> bool:
    """Whether a canary at ``percent`` sends this key to the candidate."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent: expected 0–100; found {percent}")
    return bucket(key, salt) < percent
