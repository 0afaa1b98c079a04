"""The audit ledger: a hash chain of every governed action, with signed checkpoints.

Entries are appended in the same transaction as the change they record. ``verify``
recomputes the chain and names the first bad entry; checkpoints (Ed25519 signatures over
the head, each chained to the one before it) catch truncation, rewrites and deleted
checkpoints; the newest checkpoint is also kept outside the database (the witness, for
write-once storage); ``export`` writes JSON lines closed by a signed manifest, which an
outside party verifies with the public key alone (:func:`verify_export`).
"""

from steward.audit.chain import GENESIS, Problem, canonical_json, entry_hash, sha256_hex
from steward.audit.checkpoints import Checkpoint, CheckpointSchedule
from steward.audit.export import EXPORT_FORMAT, verify_export
from steward.audit.ledger import EntryDraft, Ledger, LedgerFilter
from steward.audit.verification import Verification
from steward.audit.witness import read_witness, witness_dir, write_witness

__all__ = [
    "EXPORT_FORMAT",
    "GENESIS",
    "Checkpoint",
    "CheckpointSchedule",
    "EntryDraft",
    "Ledger",
    "LedgerFilter",
    "Problem",
    "Verification",
    "canonical_json",
    "entry_hash",
    "read_witness",
    "sha256_hex",
    "verify_export",
    "witness_dir",
    "write_witness",
]
