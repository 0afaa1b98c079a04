"""Signed checkpoints, the chain they form, and when the server takes the next one.

A checkpoint is an Ed25519 signature over the ledger's head at one moment. Each checkpoint
also commits to the one before it: ``position`` is how many checkpoints came before it
(0 for the first) and ``prev_checkpoint`` is the sha256 of the previous checkpoint's signed
message (64 zeros for the first). So a deleted checkpoint leaves a gap that the next one
names, even when whoever deleted it also re-hashed the entries; deleting the *newest*
checkpoints leaves no later one to tell, which is what the witness copy outside the
database is for (:mod:`steward.audit.witness`).

Checkpoints signed before the chain existed (``position`` None) verify as they always did
and come first in the chain: the first chained checkpoint commits to their number and to
the newest of them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from steward.audit.chain import GENESIS, Problem, canonical_json, sha256_hex

__all__ = [
    "Checkpoint",
    "CheckpointSchedule",
    "chain_order",
    "check_checkpoints",
    "key_id_of",
    "parse_ts",
    "sign_checkpoint",
]


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def parse_ts(ts: str) -> datetime | None:
    """A ledger time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as an aware datetime, or None."""
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_STR_FIELDS = ("hash", "ts", "key_id", "signature")


@dataclass(frozen=True)
class Checkpoint:
    """A signed head: ``(seq, hash)`` at ``ts``, chained to the checkpoint before it."""

    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str
    position: int | None = None
    prev_checkpoint: str | None = None

    def message(self) -> bytes:
        """The bytes the signature covers (canonical JSON)."""
        body: dict[str, Any] = {
            "seq": self.seq,
            "hash": self.hash,
            "ts": self.ts,
            "key_id": self.key_id,
        }
        if self.position is not None:
            body["position"] = self.position
            body["prev_checkpoint"] = self.prev_checkpoint
        return canonical_json(body).encode("utf-8")

    def digest(self) -> str:
        """What the next checkpoint's ``prev_checkpoint`` holds."""
        return sha256_hex(self.message())

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "ts": self.ts,
            "key_id": self.key_id,
            "signature": self.signature,
            "position": self.position,
            "prev_checkpoint": self.prev_checkpoint,
        }

    @classmethod
    def from_dict(cls, rec: Mapping[str, Any]) -> Checkpoint:
        """Read one from JSON; a ``ValueError`` names the first field that is wrong."""
        seq = rec.get("seq")
        if type(seq) is not int or seq < 0:
            raise ValueError(f"'seq' must be a whole number >= 0; found {seq!r}")
        for name in _STR_FIELDS:
            if not isinstance(rec.get(name), str):
                raise ValueError(f"{name!r} must be a string; found {rec.get(name)!r}")
        position = rec.get("position")
        prev = rec.get("prev_checkpoint")
        if position is not None and (type(position) is not int or position < 0):
            raise ValueError(f"'position' must be a whole number >= 0; found {position!r}")
        if (position is None) != (prev is None) or (prev is not None and not isinstance(prev, str)):
            raise ValueError("'position' and 'prev_checkpoint' go together (both or neither)")
        return cls(seq, rec["hash"], rec["ts"], rec["key_id"], rec["signature"], position, prev)

    def describe(self) -> str:
        where = f"at position {self.position}" if self.position is not None else "(unchained)"
        return f"the checkpoint {where} signed at entry {self.seq} ({self.ts})"


def sign_checkpoint(
    key: Ed25519PrivateKey,
    *,
    seq: int,
    hash_: str,
    ts: str,
    previous: Checkpoint | None,
    position: int,
) -> Checkpoint:
    """Sign the head ``(seq, hash_)`` as the checkpoint at ``position`` after ``previous``."""
    prev = previous.digest() if previous is not None else GENESIS
    unsigned = Checkpoint(seq, hash_, ts, key_id_of(key.public_key()), "", position, prev)
    sig = base64.b64encode(key.sign(unsigned.message())).decode("ascii")
    return Checkpoint(seq, hash_, ts, unsigned.key_id, sig, position, prev)


def chain_order(checkpoints: Iterable[Checkpoint]) -> list[Checkpoint]:
    """Unchained checkpoints by seq first, then chained ones by position."""
    cps = list(checkpoints)
    legacy = sorted((c for c in cps if c.position is None), key=lambda c: (c.seq, c.ts))
    chained = sorted(
        (c for c in cps if c.position is not None), key=lambda c: (c.position or 0, c.seq)
    )
    return legacy + chained


def _signature_problem(cp: Checkpoint, public_key: Ed25519PublicKey) -> Problem | None:
    if cp.key_id != key_id_of(public_key):
        return Problem(
            cp.seq,
            "bad_checkpoint",
            f"{cp.describe()} is signed by key {cp.key_id}, not by the key given "
            f"({key_id_of(public_key)}): a forged checkpoint, or the wrong public key",
            checkpoint=cp.position,
        )
    try:
        public_key.verify(base64.b64decode(cp.signature, validate=True), cp.message())
    except (InvalidSignature, ValueError):
        return Problem(
            cp.seq,
            "bad_checkpoint",
            f"checkpoint at entry {cp.seq}: signature is invalid (the checkpoint was edited "
            "after it was signed)",
            checkpoint=cp.position,
        )
    return None


def _chain_problem(order: Sequence[Checkpoint]) -> Problem | None:
    prev: Checkpoint | None = None
    for i, cp in enumerate(order):
        if cp.position is None:
            prev = cp
            continue
        if cp.position > i:
            gone = f"position {i}" if cp.position == i + 1 else f"positions {i}..{cp.position - 1}"
            return Problem(
                cp.seq,
                "checkpoint_missing",
                f"checkpoint(s) at {gone} missing: {cp.describe()} records {cp.position} "
                f"checkpoint(s) before it, but only {i} remain. Checkpoint rows were deleted; "
                "restore them from a backup or the witness copies",
                checkpoint=i,
            )
        if cp.position < i:
            return Problem(
                cp.seq,
                "checkpoint_chain",
                f"two checkpoints claim position {cp.position} (signed at entries "
                f"{order[i - 1].seq} and {cp.seq}): the ledger was restored from an older "
                "copy and signed again, or checkpoints of two ledgers were mixed",
                checkpoint=cp.position,
            )
        expected = prev.digest() if prev is not None else GENESIS
        if cp.prev_checkpoint != expected:
            before = prev.describe() if prev is not None else "no checkpoint"
            return Problem(
                cp.seq,
                "checkpoint_chain",
                f"{cp.describe()} does not follow {before}: the checkpoint before it was "
                "replaced or removed",
                checkpoint=cp.position,
            )
        prev = cp
    return None


def check_checkpoints(
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
    hash_at: Mapping[int, str],
    last_seq: int,
) -> Problem | None:
    """Signatures, the chain of checkpoints, and each one against the entries as they are.

    ``hash_at`` maps each checkpoint's seq to the stored entry's hash; ``last_seq`` is the
    last entry the chain walk reached.
    """
    order = chain_order(checkpoints)
    if public_key is not None:
        for cp in order:
            problem = _signature_problem(cp, public_key)
            if problem is not None:
                return problem
    newest = max(order, key=lambda c: c.seq, default=None)
    if newest is not None and newest.seq > last_seq:
        return Problem(
            last_seq + 1,
            "truncated",
            f"ledger truncated: a signed checkpoint covers entry {newest.seq} but the ledger "
            f"ends at entry {last_seq}; entries {last_seq + 1}..{newest.seq} are gone",
            checkpoint=newest.position,
        )
    problem = _chain_problem(order)
    if problem is not None:
        return problem
    for cp in sorted(order, key=lambda c: c.seq):
        if cp.seq > 0 and hash_at.get(cp.seq) != cp.hash:
            return Problem(
                cp.seq,
                "checkpoint_mismatch",
                f"entry {cp.seq} differs from the signed checkpoint taken at {cp.ts}",
                checkpoint=cp.position,
            )
    return None


@dataclass(frozen=True)
class CheckpointSchedule:
    """When the server signs the next checkpoint: after ``every_entries`` new entries, or
    ``every_minutes`` after the newest checkpoint if anything was recorded since.

    Pure: the caller passes the head, the newest checkpoint and the time.
    """

    every_entries: int
    every_minutes: float

    def due(
        self, *, head_seq: int, newest: Checkpoint | None, now: datetime, since: datetime
    ) -> str | None:
        """Why a checkpoint is due at ``now``, or None.

        ``since`` is when the clock started for a ledger without a checkpoint (the loop's
        first tick). The checkpoint's own ledger entry follows the head it signs, so it
        does not count as new.
        """
        if newest is None:
            pending, start = head_seq, since
        else:
            pending = head_seq - newest.seq - 1
            start = parse_ts(newest.ts) or since
        if pending <= 0:
            return None
        if pending >= self.every_entries:
            return (
                f"{pending} entries since the last checkpoint "
                f"(audit.checkpoint_every_entries: {self.every_entries})"
            )
        if now - start >= timedelta(minutes=self.every_minutes):
            return (
                f"{pending} entries and {self.every_minutes:g} minutes since the last checkpoint "
                f"(audit.checkpoint_every_minutes)"
            )
        return None
