"""The chain's arithmetic: canonical JSON, entry hashes and the verification walk.

Kept free of database code so that an exported ledger is verified by the very same
function that verifies the live one.

The hash of an entry is ``sha256(canonical_json(fields))`` where ``fields`` holds
``seq, ts, actor, action, resource, site, decision, reasons, payload_hash, prev_hash``
and ``reasons`` is itself the canonical JSON text of the reasons list. Canonical JSON
is UTF-8, keys sorted, no insignificant white space (``separators=(",", ":")``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "Problem",
    "canonical_json",
    "entry_hash",
    "sha256_hex",
    "walk_chain",
]

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq",
    "ts",
    "actor",
    "action",
    "resource",
    "site",
    "decision",
    "reasons",
    "payload_hash",
    "prev_hash",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def entry_hash(fields: Mapping[str, Any]) -> str:
    """Hash of one entry; ``fields['reasons']`` is the canonical JSON text."""
    return sha256_hex(canonical_json({k: fields[k] for k in HASHED_FIELDS}))


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a ledger: the entry it concerns and what was found.

    ``checkpoint`` is the position of the checkpoint concerned (how many came before it),
    when the problem is about a checkpoint; ``line`` is the line of an export file.
    """

    seq: int
    kind: str
    message: str
    checkpoint: int | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "message": self.message,
            "checkpoint": self.checkpoint,
            "line": self.line,
        }


_SORTED = sorted(HASHED_FIELDS)
_ORDER = [HASHED_FIELDS.index(k) for k in _SORTED]
_KEYS = ['"' + k + '":' for k in _SORTED]
_encode_str = json.encoder.encode_basestring


def _fast_canonical(row: Sequence[Any]) -> str | None:
    """Canonical JSON of one row's hashed fields, without the generic encoder.

    Byte-identical to :func:`canonical_json` for str, int and None values (what a
    ledger holds); returns None for anything else, so the caller falls back.
    """
    parts = []
    for key, i in zip(_KEYS, _ORDER, strict=True):
        v = row[i]
        t = type(v)
        if t is str:
            parts.append(key + _encode_str(v))
        elif t is int:
            parts.append(key + int.__repr__(v))
        elif v is None:
            parts.append(key + "null")
        else:
            return None
    return "{" + ",".join(parts) + "}"


def walk_chain(rows: Iterable[Sequence[Any]]) -> tuple[int, int, str, Problem | None]:
    """Walk rows ordered by seq, each as the tuple ``HASHED_FIELDS + (hash,)``.

    Returns ``(count, last_seq, last_hash, problem)``; stops at the first problem.
    """
    expected_seq = 1
    prev_hash = GENESIS
    prev_prev_hash: str | None = None
    count = 0
    dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    sha = hashlib.sha256
    for row in rows:
        seq = row[0]
        if seq != expected_seq:
            if seq > expected_seq:
                missing = (
                    f"entry {expected_seq}"
                    if seq == expected_seq + 1
                    else f"entries {expected_seq}..{seq - 1}"
                )
                return (
                    count,
                    expected_seq - 1,
                    prev_hash,
                    Problem(expected_seq, "missing", f"{missing} missing: deleted from the ledger"),
                )
            return (
                count,
                expected_seq - 1,
                prev_hash,
                Problem(seq, "out_of_order", f"entry {seq} appears after entry {expected_seq - 1}"),
            )
        if row[9] != prev_hash:
            if prev_prev_hash is not None and row[9] == prev_prev_hash:
                return (
                    count,
                    seq - 1,
                    prev_hash,
                    Problem(
                        seq - 1,
                        "inserted",
                        f"entry {seq - 1} was inserted: entry {seq} links past it "
                        f"to entry {seq - 2}",
                    ),
                )
            return (
                count,
                seq - 1,
                prev_hash,
                Problem(
                    seq,
                    "broken_link",
                    f"entry {seq} does not link to entry {seq - 1} (prev_hash differs): "
                    f"entry {seq} was edited or moved, or entry {seq - 1} was re-hashed",
                ),
            )
        text = _fast_canonical(row)
        if text is None:
            text = dumps(dict(zip(HASHED_FIELDS, row[:10], strict=True)))
        recomputed = sha(text.encode("utf-8")).hexdigest()
        if recomputed != row[10]:
            return (
                count,
                seq - 1,
                prev_hash,
                Problem(
                    seq, "altered", f"entry {seq} was altered: its content does not match its hash"
                ),
            )
        prev_prev_hash = prev_hash
        prev_hash = row[10]
        expected_seq += 1
        count += 1
    return count, expected_seq - 1, prev_hash, None
