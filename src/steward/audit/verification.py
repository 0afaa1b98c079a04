"""The outcome of a verification, and the walk shared by the live ledger and exports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from steward.audit.chain import Problem, walk_chain
from steward.audit.checkpoints import Checkpoint, check_checkpoints

__all__ = ["Verification", "verify_rows"]


@dataclass
class Verification:
    """The outcome of ``verify``: ``ok`` or the first problem found.

    ``witness`` is the checkpoint the witness file held when the live ledger was
    verified (None for exports, or when there is no witness yet).
    """

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problem: Problem | None = None
    witness: Checkpoint | None = None

    def fail(self, problem: Problem) -> Verification:
        self.ok = False
        self.problem = problem
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints": self.checkpoints,
            "problem": self.problem.to_dict() if self.problem else None,
            "witness": self.witness.to_dict() if self.witness else None,
        }


def verify_rows(
    rows: Iterable[Sequence[Any]],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
) -> Verification:
    """Walk the chain, then check every checkpoint against it."""
    wanted = {cp.seq for cp in checkpoints}
    hash_at: dict[int, str] = {}

    def remember(it: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        for row in it:
            if row[0] in wanted:
                hash_at[row[0]] = row[10]
            yield row

    count, last_seq, last_hash, problem = walk_chain(remember(rows))
    if problem is None:
        problem = check_checkpoints(checkpoints, public_key, hash_at, last_seq)
    return Verification(
        ok=problem is None,
        entries=count,
        head_seq=last_seq,
        head_hash=last_hash,
        checkpoints=len(checkpoints),
        problem=problem,
    )
