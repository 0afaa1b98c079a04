"""Exported ledgers: the signed manifest, and verification with the public key alone.

An export (format ``steward-audit/2``) is JSON lines: a ``header``, one ``entry`` per line,
the ``checkpoint``s, and last a ``manifest`` signed with the home's Ed25519 key over the
canonical JSON of its other fields::

    {"type": "manifest", "format": "steward-audit/2", "entries": N, "head_seq": S,
     "head_hash": H, "checkpoints": C, "newest_checkpoint": {"position", "seq", "hash",
     "digest"} | null, "key_id": K, "signature": base64}

The manifest is what makes a cut tail, removed checkpoints or an emptied file detectable:
:func:`verify_export` refuses a file without it, a file whose entries or checkpoints do not
add up to it, and a file without any checkpoint. Every refusal is a :class:`Verification`
with a problem (never an exception), except a public key that is not an Ed25519 PEM
(:class:`~steward.errors.ValidationFailed`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from steward.audit.chain import HASHED_FIELDS, Problem, canonical_json
from steward.audit.checkpoints import Checkpoint, chain_order, key_id_of
from steward.audit.verification import Verification, verify_rows
from steward.errors import ValidationFailed

__all__ = ["EXPORT_FORMAT", "load_public_key", "manifest_record", "verify_export"]

EXPORT_FORMAT = "steward-audit/2"
_OLD_FORMATS = ("steward-audit/1",)
_STR_ENTRY_FIELDS = ("ts", "actor", "action", "resource", "decision", "payload_hash")
_HEX64 = ("prev_hash", "hash")


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or :class:`ValidationFailed` saying what was found."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValidationFailed(
            "public key: expected an Ed25519 public key in PEM form (the output of "
            "'steward audit public-key'); found something else",
            parameter="public_key",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationFailed(
            f"public key: expected an Ed25519 public key (PEM); found a {type(key).__name__}",
            parameter="public_key",
        )
    return key


def _newest(checkpoints: Sequence[Checkpoint]) -> dict[str, Any] | None:
    if not checkpoints:
        return None
    cp = chain_order(checkpoints)[-1]
    return {"position": cp.position, "seq": cp.seq, "hash": cp.hash, "digest": cp.digest()}


def _manifest_message(rec: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in rec.items() if k != "signature"}).encode("utf-8")


def manifest_record(
    *,
    entries: int,
    head_seq: int,
    head_hash: str,
    checkpoints: Sequence[Checkpoint],
    signing_key: Ed25519PrivateKey,
) -> dict[str, Any]:
    """The signed last line of an export."""
    rec: dict[str, Any] = {
        "type": "manifest",
        "format": EXPORT_FORMAT,
        "entries": entries,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "checkpoints": len(checkpoints),
        "newest_checkpoint": _newest(checkpoints),
        "key_id": key_id_of(signing_key.public_key()),
    }
    rec["signature"] = base64.b64encode(signing_key.sign(_manifest_message(rec))).decode("ascii")
    return rec


# -- reading ---------------------------------------------------------------------------
@dataclass
class _Parsed:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    lines: int = 0  # the last non-blank line
    last_seq: int = 0


class _Malformed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _entry_row(rec: dict[str, Any]) -> tuple[Any, ...]:
    for name in (*HASHED_FIELDS, "hash"):
        if name not in rec:
            raise _Malformed(f"the entry lacks the field {name!r}")
    if type(rec["seq"]) is not int:
        raise _Malformed(f"'seq' must be a whole number; found {rec['seq']!r}")
    for name in _STR_ENTRY_FIELDS + _HEX64:
        if not isinstance(rec[name], str):
            raise _Malformed(f"{name!r} must be a string; found {rec[name]!r}")
    if rec["site"] is not None and not isinstance(rec["site"], str):
        raise _Malformed(f"'site' must be a string or null; found {rec['site']!r}")
    if not isinstance(rec["reasons"], list):
        raise _Malformed(f"'reasons' must be a list; found {rec['reasons']!r}")
    fields = {k: rec[k] for k in HASHED_FIELDS} | {"reasons": canonical_json(rec["reasons"])}
    return (*(fields[k] for k in HASHED_FIELDS), rec["hash"])


def _record(raw: str | bytes) -> dict[str, Any]:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Malformed("not UTF-8 text (a binary or corrupted file)") from None
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Malformed(f"expected a JSON object; {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise _Malformed("expected a JSON object; found nesting too deep to read") from None
    if not isinstance(rec, dict):
        raise _Malformed(f"expected a JSON object; found a JSON {type(rec).__name__}")
    return rec


def _parse(lines: Iterable[str | bytes]) -> _Parsed | Problem:
    out = _Parsed()
    seen_header = False
    for lineno, raw in enumerate(lines, start=1):
        try:
            if not raw.strip():
                continue
            rec = _record(raw)
            out.lines = lineno
            kind = rec.get("type")
            if out.manifest is not None:
                raise _Malformed(
                    "a line follows the manifest, which ends an export: something was "
                    "appended to the file"
                )
            if not seen_header:
                if kind != "header":
                    raise _Malformed(
                        f"expected the header first (type 'header', format {EXPORT_FORMAT!r}); "
                        f"found type {kind!r}"
                    )
                fmt = rec.get("format")
                if fmt in _OLD_FORMATS:
                    return Problem(
                        0,
                        "unsupported_format",
                        f"line {lineno}: a {fmt} export has no signed manifest, so a cut tail "
                        "or removed checkpoints cannot be detected. Export the ledger again "
                        "with this version of Steward",
                        line=lineno,
                    )
                if fmt != EXPORT_FORMAT:
                    raise _Malformed(f"expected format {EXPORT_FORMAT!r}; found {fmt!r}")
                seen_header = True
            elif kind == "entry":
                row = _entry_row(rec)
                out.rows.append(row)
                out.last_seq = row[0]
            elif kind == "checkpoint":
                try:
                    out.checkpoints.append(Checkpoint.from_dict(rec))
                except ValueError as exc:
                    raise _Malformed(f"checkpoint: {exc}") from None
            elif kind == "manifest":
                out.manifest = rec
            elif kind == "header":
                raise _Malformed("a second header: two exports were joined")
            else:
                raise _Malformed(
                    f"unknown record type {kind!r}; expected entry, checkpoint or manifest"
                )
        except _Malformed as exc:
            return Problem(
                out.last_seq + 1,
                "malformed",
                f"line {lineno}: {exc.message}. The file is not an intact Steward ledger export",
                line=lineno,
            )
    return out


def _manifest_problem(manifest: dict[str, Any], key: Ed25519PublicKey, line: int) -> Problem | None:
    ints = ("entries", "head_seq", "checkpoints")
    strs = ("head_hash", "key_id", "signature")
    newest = manifest.get("newest_checkpoint")
    if (
        any(type(manifest.get(k)) is not int for k in ints)
        or any(not isinstance(manifest.get(k), str) for k in strs)
        or manifest.get("format") != EXPORT_FORMAT
        or not (newest is None or isinstance(newest, dict))
    ):
        return Problem(
            0,
            "bad_manifest",
            f"line {line}: the manifest lacks a field or has one of the wrong type "
            f"(expected integers {', '.join(ints)}; strings {', '.join(strs)}): it was edited",
            line=line,
        )
    given = key_id_of(key)
    if manifest["key_id"] != given:
        return Problem(
            0,
            "wrong_key",
            f"the manifest is signed by key {manifest['key_id']}, but the public key given is "
            f"{given}: verify with the key of the Steward that exported the file ('steward "
            "audit public-key', kept out of band), or the file was re-signed by someone else",
            line=line,
        )
    try:
        key.verify(
            base64.b64decode(manifest["signature"], validate=True), _manifest_message(manifest)
        )
    except (InvalidSignature, ValueError):
        return Problem(
            0,
            "bad_manifest",
            f"line {line}: the manifest's signature is invalid: the manifest was edited",
            line=line,
        )
    return None


def _against_manifest(v: Verification, parsed: _Parsed, manifest: dict[str, Any]) -> Problem | None:
    m_seq, m_entries, m_hash = manifest["head_seq"], manifest["entries"], manifest["head_hash"]
    if v.head_seq < m_seq or v.entries < m_entries:
        return Problem(
            v.head_seq + 1,
            "truncated",
            f"the manifest signs {m_entries} entries up to entry {m_seq}, but the file holds "
            f"{v.entries} up to entry {v.head_seq}: entries {v.head_seq + 1}..{m_seq} were cut",
        )
    if (v.head_seq, v.entries, v.head_hash) != (m_seq, m_entries, m_hash):
        return Problem(
            v.head_seq,
            "manifest_mismatch",
            f"the file ends at entry {v.head_seq} ({v.entries} entries, hash "
            f"{v.head_hash[:16]}...), but the manifest signs entry {m_seq} ({m_entries} entries, "
            f"hash {m_hash[:16]}...): entries were added or rewritten after the export",
        )
    n = len(parsed.checkpoints)
    if n == 0:
        if manifest["checkpoints"]:
            why = f"the manifest lists {manifest['checkpoints']}: they were removed from the file"
        else:
            why = (
                "the ledger had none when it was exported. Take one ('steward audit checkpoint'; "
                "'steward server' takes them on its own) and export again"
            )
        return Problem(
            v.head_seq,
            "no_checkpoint",
            f"the export holds no signed checkpoint, so nothing outside the file vouches for "
            f"its entries; {why}",
        )
    if _newest(parsed.checkpoints) != manifest["newest_checkpoint"]:
        newest = manifest["newest_checkpoint"] or {}
        return Problem(
            v.head_seq,
            "checkpoint_missing",
            f"the manifest's newest checkpoint (position {newest.get('position')}, entry "
            f"{newest.get('seq')}) is not the file's newest: checkpoints were removed or "
            "replaced",
            checkpoint=newest.get("position"),
        )
    if n != manifest["checkpoints"]:
        return Problem(
            v.head_seq,
            "checkpoint_missing",
            f"the manifest lists {manifest['checkpoints']} checkpoints, but the file holds {n}: "
            "checkpoints were removed",
        )
    return None


def verify_export(lines: Iterable[str | bytes], public_key_pem: bytes) -> Verification:
    """Verify an exported ledger with the public key alone (no database, no home).

    Refuses (a Verification with ``ok`` False and a ``problem``) an empty file, garbage
    lines, a file without its manifest (a cut tail), one whose entries or checkpoints do not
    match the manifest, one without any checkpoint, and one signed by another key.
    """
    key = load_public_key(public_key_pem)
    parsed = _parse(lines)
    if isinstance(parsed, Problem):
        return Verification(False, 0, 0, "", 0, parsed)
    if parsed.lines == 0:
        return Verification(
            False,
            0,
            0,
            "",
            0,
            Problem(
                0,
                "empty",
                "the file is empty: expected a Steward ledger export (a header, the entries, "
                "the checkpoints and a signed manifest). Export again with 'steward audit export'",
            ),
        )
    if parsed.manifest is None:
        return Verification(
            False,
            len(parsed.rows),
            parsed.last_seq,
            "",
            len(parsed.checkpoints),
            Problem(
                parsed.last_seq + 1,
                "truncated",
                f"the file ends at line {parsed.lines} without its signed manifest: its tail "
                "was cut (or the export was interrupted). Do not trust it; export again",
                line=parsed.lines,
            ),
        )
    manifest_line = parsed.lines
    problem = _manifest_problem(parsed.manifest, key, manifest_line)
    if problem is not None:
        return Verification(False, len(parsed.rows), parsed.last_seq, "", 0, problem)
    v = verify_rows(parsed.rows, parsed.checkpoints, key)
    if v.ok:
        problem = _against_manifest(v, parsed, parsed.manifest)
        if problem is not None:
            v.fail(problem)
    return v
