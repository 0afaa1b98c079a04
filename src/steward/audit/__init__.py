"""The audit ledger: a hash chain of every governed action, with signed checkpoints.

Entries are appended in the same transaction as the change they record. ``verify``
recomputes the chain and names the first bad entry; checkpoints (Ed25519 signatures
over the head) catch truncation; ``export`` writes JSON lines that an outside party
verifies with the public key alone (:func:`verify_export`).
"""

from steward.audit.chain import GENESIS, Problem, canonical_json, entry_hash, sha256_hex
from steward.audit.ledger import (
    Checkpoint,
    EntryDraft,
    Ledger,
    LedgerFilter,
    Verification,
    verify_export,
)

__all__ = [
    "GENESIS",
    "Checkpoint",
    "EntryDraft",
    "Ledger",
    "LedgerFilter",
    "Problem",
    "Verification",
    "canonical_json",
    "entry_hash",
    "sha256_hex",
    "verify_export",
]
