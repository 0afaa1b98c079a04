"""An exported ledger is verified by an outside party with the public key alone."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from steward.audit import Ledger, Verification, canonical_json, entry_hash, verify_export
from steward.audit.chain import HASHED_FIELDS
from steward.errors import ValidationFailed
from steward.governance import GovernanceService
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime

ALICE = Principal("alice")
ADMIN = Principal("admin")


def build(rt: Runtime, before: int = 5, after: int = 1) -> None:
    """``before`` puts, a checkpoint at seq ``before`` (its action is the next entry), more puts."""
    objects = ObjectService(rt)
    for i in range(before):
        objects.put(ALICE, f"object {i}".encode(), site="eu-fra", jurisdiction="EU")
    GovernanceService(rt).checkpoint(ADMIN)
    for i in range(before, before + after):
        objects.put(ALICE, f"object {i}".encode(), site="eu-fra", jurisdiction="EU")


def export_lines(rt: Runtime) -> list[str]:
    buf = io.StringIO()
    n = GovernanceService(rt).export(ADMIN, buf)
    lines = buf.getvalue().splitlines(keepends=True)
    assert sum(json.loads(line)["type"] == "entry" for line in lines) == n
    return lines


def records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def entry_line(lines: list[str], seq: int) -> int:
    for i, rec in enumerate(records(lines)):
        if rec["type"] == "entry" and rec["seq"] == seq:
            return i
    raise AssertionError(f"no entry {seq} in the export")


def assert_problem(v: Verification, seq: int, kind: str) -> None:
    assert v.ok is False
    assert v.problem is not None
    assert (v.problem.seq, v.problem.kind) == (seq, kind)


def test_export_is_header_entries_checkpoints_then_a_signed_manifest(rt: Runtime) -> None:
    build(rt)
    lines = export_lines(rt)
    recs = records(lines)
    assert [r["type"] for r in recs] == ["header"] + ["entry"] * 7 + ["checkpoint", "manifest"]
    header = recs[0]
    assert header["format"] == "steward-audit/2"
    assert header["public_key"].encode("ascii") == rt.home.public_key_pem()
    assert [r["seq"] for r in recs[1:-2]] == list(range(1, 8))
    assert isinstance(recs[1]["reasons"], list)  # reasons exported as JSON, not as text
    assert (recs[-2]["seq"], recs[-2]["position"]) == (5, 0)
    manifest = recs[-1]
    head_seq, head_hash = rt.ledger.head()
    assert (manifest["entries"], manifest["head_seq"], manifest["head_hash"]) == (
        7,
        head_seq,
        head_hash,
    )
    assert manifest["checkpoints"] == 1
    assert manifest["newest_checkpoint"]["seq"] == 5
    # The signature covers the canonical JSON of every other field (checked independently).
    body = {k: v for k, v in manifest.items() if k != "signature"}
    rt.home.signing_key().public_key().verify(
        base64.b64decode(manifest["signature"]), canonical_json(body).encode("utf-8")
    )
    assert all(line == canonical_json(json.loads(line)) + "\n" for line in lines)


def test_ledger_export_matches_the_service_export(rt: Runtime) -> None:
    build(rt)
    buf = io.StringIO()
    n = rt.ledger.export(buf, rt.home.public_key_pem(), rt.home.signing_key())
    assert n == 7
    direct = [r for r in records(buf.getvalue().splitlines()) if r["type"] != "header"]
    via_service = [r for r in records(export_lines(rt)) if r["type"] != "header"]
    assert direct == via_service


def test_clean_export_verifies_with_the_public_key_only(rt: Runtime) -> None:
    build(rt)
    lines = export_lines(rt)
    v = verify_export(lines, rt.home.public_key_pem())
    assert v.ok is True
    assert v.problem is None
    assert (v.entries, v.head_seq, v.checkpoints) == (7, 7, 1)
    assert (v.head_seq, v.head_hash) == rt.ledger.head()


def test_export_file_verifies_without_a_home(rt: Runtime, tmp_path: Path) -> None:
    build(rt)
    outside = tmp_path / "auditor"
    outside.mkdir()
    (outside / "ledger.jsonl").write_text("".join(export_lines(rt)), encoding="utf-8")
    (outside / "steward.pub").write_bytes(rt.home.public_key_pem())
    info = GovernanceService.verify_export(outside / "ledger.jsonl", outside / "steward.pub")
    assert info.ok is True
    assert (info.entries, info.head_seq) == (7, 7)


EDITS: list[tuple[str, Any, str]] = [
    ("actor", "mallory", "altered"),
    ("decision", "deny", "altered"),
    ("site", "us-east", "altered"),
    ("reasons", [], "altered"),
    ("ts", "2020-01-01T00:00:00.000000Z", "altered"),
    ("payload_hash", "0" * 64, "altered"),
    ("hash", "f" * 64, "altered"),
    ("prev_hash", "e" * 64, "broken_link"),
]


def test_edited_export_line_names_the_entry(rt: Runtime) -> None:
    """Each field of entry 3 edited in turn (one export, one edit at a time)."""
    build(rt)
    clean = export_lines(rt)
    i = entry_line(clean, 3)
    for field, value, kind in EDITS:
        rec = json.loads(clean[i])
        assert rec[field] != value, field
        rec[field] = value
        lines = [*clean[:i], canonical_json(rec) + "\n", *clean[i + 1 :]]
        v = verify_export(lines, rt.home.public_key_pem())
        assert (v.ok, v.problem and (v.problem.seq, v.problem.kind)) == (False, (3, kind)), field


def test_export_with_a_line_removed_names_it_missing(rt: Runtime) -> None:
    build(rt)
    lines = export_lines(rt)
    del lines[entry_line(lines, 2)]
    assert_problem(verify_export(lines, rt.home.public_key_pem()), 2, "missing")


def test_export_with_its_tail_cut_after_a_checkpoint_is_truncated(rt: Runtime) -> None:
    build(rt)  # checkpoint at 5, entries 1..7
    lines = export_lines(rt)
    kept = [
        line
        for line, rec in zip(lines, records(lines), strict=True)
        if rec["type"] != "entry" or rec["seq"] <= 3
    ]
    assert [r["type"] for r in records(kept)] == [
        "header",
        "entry",
        "entry",
        "entry",
        "checkpoint",
        "manifest",
    ]
    assert_problem(verify_export(kept, rt.home.public_key_pem()), 4, "truncated")


def test_export_with_a_rewritten_and_rehashed_chain_fails_at_the_checkpoint(
    rt: Runtime,
) -> None:
    """Edit entry 2 and recompute every later hash: only the signed checkpoint disagrees."""
    build(rt)
    lines = export_lines(rt)
    prev = json.loads(lines[entry_line(lines, 1)])["hash"]
    for seq in range(2, 8):
        i = entry_line(lines, seq)
        rec = json.loads(lines[i])
        if seq == 2:
            rec["actor"] = "mallory"
        rec["prev_hash"] = prev
        fields = {k: rec[k] for k in HASHED_FIELDS} | {"reasons": canonical_json(rec["reasons"])}
        rec["hash"] = prev = entry_hash(fields)
        lines[i] = canonical_json(rec) + "\n"
    v = verify_export(lines, rt.home.public_key_pem())
    assert_problem(v, 5, "checkpoint_mismatch")
    assert v.entries == 7  # the chain itself walks clean


def test_export_with_a_forged_checkpoint_signature_fails(rt: Runtime) -> None:
    build(rt)
    lines = export_lines(rt)
    rec = json.loads(lines[-2])
    assert rec["type"] == "checkpoint"
    rec["seq"] = 4  # re-point the checkpoint without the private key
    rec["hash"] = json.loads(lines[entry_line(lines, 4)])["hash"]
    lines[-2] = canonical_json(rec) + "\n"
    assert_problem(verify_export(lines, rt.home.public_key_pem()), 4, "bad_checkpoint")


def test_export_fails_with_a_wrong_public_key(rt: Runtime) -> None:
    build(rt)
    other = Ed25519PrivateKey.generate().public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert_problem(verify_export(export_lines(rt), pem), 0, "wrong_key")


def test_export_refuses_a_key_that_is_not_ed25519(rt: Runtime) -> None:
    build(rt, before=1, after=0)
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValidationFailed):
        verify_export(export_lines(rt), pem)


def test_export_with_a_garbled_line_names_the_line(rt: Runtime) -> None:
    build(rt, before=1, after=0)
    lines = export_lines(rt)
    lines[2] = lines[2][:20] + "\n"
    v = verify_export(lines, rt.home.public_key_pem())
    assert_problem(v, 2, "malformed")
    assert v.problem is not None and v.problem.line == 3


def test_export_reads_one_state_while_a_checkpoint_commits(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint taken mid-export must not land in an export that lacks its entries."""
    build(rt, before=2, after=0)  # entries 1..3, a checkpoint at 2
    real_rows = Ledger._rows

    def rows_then_checkpoint(self: Ledger, session: Any) -> Any:
        yield from real_rows(self, session)
        # Meanwhile another action commits entry 4, then a checkpoint signs it.
        ObjectService(rt).put(ALICE, b"meanwhile", site="eu-fra", jurisdiction="EU")
        GovernanceService(rt).checkpoint(ADMIN)

    monkeypatch.setattr(Ledger, "_rows", rows_then_checkpoint)
    lines = export_lines(rt)
    monkeypatch.undo()
    assert rt.ledger.head()[0] == 5
    assert [r["seq"] for r in records(lines) if r["type"] == "checkpoint"] == [2]
    assert records(lines)[-1]["head_seq"] == 3
    v = verify_export(lines, rt.home.public_key_pem())
    assert v.problem is None
    assert (v.ok, v.entries) == (True, 3)
