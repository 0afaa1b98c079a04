"""Threat: the ledger defeated by deleting its proofs (issue 16, item 8).

Someone with write access to the database rewrites history and then removes what would
give them away: the signed checkpoint rows, the newest ones, or the tail of the ledger
with them. Someone handing over an export cuts its tail, strips its checkpoints or hands
over an empty file. Each test is that attack, then what verification must say.

Tampering uses raw SQL under ``governed_writes`` (the store refuses any other write), as
an attacker with database credentials would. Expected hashes and signatures are computed
here with hashlib, json and cryptography, not with Steward's own chain code.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from steward.cli import app
from steward.config import Home
from steward.governance import GovernanceService
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import governed_writes

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("admin")
HASHED = (
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


# -- independent arithmetic (the documented definitions, not Steward's code) ----------------
def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# -- building and tampering -----------------------------------------------------------------
def put(rt: Runtime, n: int, *, start: int = 0) -> None:
    objects = ObjectService(rt)
    for i in range(start, start + n):
        objects.put(ALICE, f"object {i}".encode(), site="eu-fra", jurisdiction="EU")


def tamper(rt: Runtime, sql: str, **params: Any) -> None:
    with governed_writes("attack"), rt.store.engine.begin() as c:
        c.execute(text(sql), params)


def stored(rt: Runtime) -> dict[int, dict[str, Any]]:
    cols = ", ".join((*HASHED, "hash"))
    with rt.store.engine.connect() as c:
        rows = c.execute(text(f"SELECT {cols} FROM audit_entries ORDER BY seq"))
        return {r.seq: dict(r._mapping) for r in rows}


def rewrite_and_rehash(rt: Runtime, seq: int, actor: str) -> None:
    """Edit one entry, then recompute every later link and the head, as a careful attacker
    would: the chain walks clean afterwards."""
    tamper(rt, "UPDATE audit_entries SET actor = :a WHERE seq = :s", a=actor, s=seq)
    rows = stored(rt)
    prev = rows[seq - 1]["hash"] if seq > 1 else "0" * 64
    for s in sorted(k for k in rows if k >= seq):
        fields = {k: rows[s][k] for k in HASHED} | {"prev_hash": prev}
        prev = sha256(canonical(fields))
        tamper(
            rt,
            "UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE seq = :s",
            p=fields["prev_hash"],
            h=prev,
            s=s,
        )
    tamper(rt, "UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1", s=max(rows), h=prev)


def three_checkpoints(rt: Runtime) -> list[Any]:
    """Entries with a checkpoint after each batch: signed at entries 2, 5 and 8."""
    cps = []
    for batch in range(3):
        put(rt, 2, start=batch * 2)
        cps.append(GovernanceService(rt).checkpoint(ADMIN))
    assert [c.seq for c in cps] == [2, 5, 8]
    return cps


def with_audit_settings(home: Home, settings: dict[str, Any]) -> Runtime:
    """Reopen the home with an ``audit:`` section added to steward.yaml."""
    text_ = home.config_path.read_text(encoding="utf-8")
    lines = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in settings.items())
    home.config_path.write_text(text_ + "\naudit:\n" + lines, encoding="utf-8")
    return Runtime.open(home)


def verify(rt: Runtime) -> Any:
    return GovernanceService(rt).verify(BOB)


# -- checkpoints chained to each other -------------------------------------------------------
def test_each_checkpoint_signs_the_previous_ones_hash_and_count(rt: Runtime) -> None:
    cps = three_checkpoints(rt)
    public = rt.home.signing_key().public_key()
    prev = "0" * 64
    for count_before, cp in enumerate(cps):
        message = canonical(
            {
                "seq": cp.seq,
                "hash": cp.hash,
                "ts": cp.ts,
                "key_id": cp.key_id,
                "position": count_before,
                "prev_checkpoint": prev,
            }
        )
        public.verify(base64.b64decode(cp.signature), message.encode("utf-8"))
        prev = sha256(message)


def test_a_deleted_checkpoint_row_is_named(rt: Runtime) -> None:
    three_checkpoints(rt)
    # the second checkpoint taken (one before it) disappears; nothing else changes
    tamper(rt, "DELETE FROM audit_checkpoints WHERE seq = 5")
    v = verify(rt)
    assert v.ok is False and v.problem is not None
    assert (v.problem.kind, v.problem.checkpoint) == ("checkpoint_missing", 1)


def test_deleting_checkpoints_after_rehashing_the_chain_is_caught(rt: Runtime) -> None:
    """Rewrite entry 3, re-hash everything after it, delete every checkpoint that covers
    it (the ones at entries 5 and 8): the chain walks clean and the checkpoint that is left
    (at entry 2) still matches; only the chain of checkpoints and the witness know."""
    three_checkpoints(rt)
    rewrite_and_rehash(rt, 3, "mallory")
    tamper(rt, "DELETE FROM audit_checkpoints WHERE seq >= 3")
    v = verify(rt)
    assert v.ok is False and v.problem is not None
    # the first checkpoint gone (the witness still holds the newest, at position 2)
    assert (v.problem.kind, v.problem.checkpoint) == ("checkpoint_missing", 1)


def test_deleting_every_checkpoint_and_rehashing_is_caught(rt: Runtime) -> None:
    three_checkpoints(rt)
    rewrite_and_rehash(rt, 1, "mallory")
    tamper(rt, "DELETE FROM audit_checkpoints")
    v = verify(rt)
    assert v.ok is False and v.problem is not None
    assert v.problem.kind in ("checkpoint_missing", "checkpoint_mismatch")


# -- the witness outside the database --------------------------------------------------------
def test_deleting_the_newest_checkpoint_is_caught_by_the_witness(
    home: Home, tmp_path: Path
) -> None:
    worm = tmp_path / "worm-share"  # outside the home, as a WORM mount would be
    rt = with_audit_settings(home, {"witness_dir": str(worm)})
    try:
        three_checkpoints(rt)
        witness = json.loads((worm / "ledger-checkpoint.json").read_text("utf-8"))
        assert witness["checkpoint"]["seq"] == 8
        assert verify(rt).ok is True
        tamper(rt, "DELETE FROM audit_checkpoints WHERE seq = 8")
        v = verify(rt)
        assert v.ok is False and v.problem is not None
        assert (v.problem.kind, v.problem.checkpoint, v.problem.seq) == (
            "checkpoint_missing",
            2,
            8,
        )
    finally:
        rt.close()


def test_a_ledger_cut_back_behind_the_witness_fails(rt: Runtime) -> None:
    """Remove the tail and the checkpoints over it, move the head back: the database is
    self-consistent again (the remaining checkpoint at entry 2 matches), but the witness
    holds a checkpoint at entry 8."""
    three_checkpoints(rt)
    rows = stored(rt)
    tamper(rt, "DELETE FROM audit_entries WHERE seq > 3")
    tamper(rt, "DELETE FROM audit_checkpoints WHERE seq > 3")
    tamper(rt, "UPDATE audit_head SET seq = 3, hash = :h WHERE id = 1", h=rows[3]["hash"])
    v = verify(rt)
    assert v.ok is False and v.problem is not None
    assert (v.problem.kind, v.problem.seq) == ("truncated", 4)


def test_witness_write_is_atomic_and_never_goes_back(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from steward.errors import Unavailable

    put(rt, 2)
    first = GovernanceService(rt).checkpoint(ADMIN)
    path = rt.home.root / "witness" / "ledger-checkpoint.json"
    before = path.read_bytes()
    assert json.loads(before)["checkpoint"]["signature"] == first.signature

    real_replace = os.replace

    def crash_in_witness(src: Any, dst: Any) -> None:
        if Path(dst).parent == path.parent:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    put(rt, 1, start=2)
    monkeypatch.setattr(os, "replace", crash_in_witness)
    with pytest.raises(Unavailable):
        GovernanceService(rt).checkpoint(ADMIN)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old witness is whole: no half-written file
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger-checkpoint.json"]

    # an older checkpoint never replaces a newer witness
    from steward.audit import Checkpoint, write_witness

    newest = GovernanceService(rt).checkpoint(ADMIN)
    assert write_witness(path.parent, Checkpoint(**first.model_dump())) is False
    assert json.loads(path.read_bytes())["checkpoint"]["signature"] == newest.signature


# -- automatic checkpoints ---------------------------------------------------------------------
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_the_server_signs_a_checkpoint_after_n_entries(home: Home) -> None:
    rt = with_audit_settings(home, {"checkpoint_every_entries": 5, "checkpoint_every_minutes": 60})
    try:
        from steward.governance import Checkpointer

        loop = Checkpointer(rt)
        put(rt, 4)
        assert loop.tick(T0) is None  # 4 entries: not yet
        put(rt, 1, start=4)
        cp = loop.tick(T0 + timedelta(seconds=1))
        assert cp is not None and cp.seq == 5
        signed = [e for e in rt.ledger.entries() if e.action == "audit.checkpoint"]
        assert [(e.seq, e.actor, e.decision) for e in signed] == [(6, "steward-monitor", "allow")]
        witness = json.loads((rt.home.root / "witness" / "ledger-checkpoint.json").read_text())
        assert witness["checkpoint"]["signature"] == cp.signature
        # its own entry is not news: nothing more to sign
        assert loop.tick(T0 + timedelta(seconds=2)) is None
        assert verify(rt).ok is True
    finally:
        rt.close()


def test_the_server_signs_a_checkpoint_after_m_minutes_of_activity(home: Home) -> None:
    rt = with_audit_settings(
        home, {"checkpoint_every_entries": 1000, "checkpoint_every_minutes": 30}
    )
    try:
        from steward.governance import Checkpointer

        loop = Checkpointer(rt)
        put(rt, 2)
        assert loop.tick(T0) is None
        assert loop.tick(T0 + timedelta(minutes=29)) is None
        first = loop.tick(T0 + timedelta(minutes=30))
        assert first is not None and first.seq == 2
        signed_at = datetime.fromisoformat(first.ts.replace("Z", "+00:00"))
        # quiet ledger: no new checkpoint however long we wait
        assert loop.tick(signed_at + timedelta(hours=5)) is None
        put(rt, 1, start=2)
        assert loop.tick(signed_at + timedelta(minutes=29)) is None
        second = loop.tick(signed_at + timedelta(minutes=30))
        assert second is not None and second.seq == 4
    finally:
        rt.close()


def test_the_checkpoint_loop_runs_until_stopped_on_injected_time(home: Home) -> None:
    rt = with_audit_settings(home, {"checkpoint_every_entries": 3})
    try:
        from steward.governance import Checkpointer

        put(rt, 3)
        stop = threading.Event()
        ticks: list[datetime] = []

        def clock() -> datetime:
            ticks.append(T0 + timedelta(seconds=len(ticks)))
            if len(ticks) == 2:
                stop.set()
            return ticks[-1]

        Checkpointer(rt, clock=clock).serve(stop, poll_seconds=0)
        assert len(ticks) == 2
        assert [c.seq for c in GovernanceService(rt).checkpoints(BOB)] == [3]
    finally:
        rt.close()


# -- exports -------------------------------------------------------------------------------------
def export(rt: Runtime) -> list[str]:
    buf = io.StringIO()
    GovernanceService(rt).export(BOB, buf)
    return buf.getvalue().splitlines(keepends=True)


def kinds(lines: list[str]) -> list[str]:
    return [json.loads(line)["type"] for line in lines]


def library_verdict(rt: Runtime, lines: list[str] | bytes, tmp_path: Path) -> Any:
    data = lines if isinstance(lines, bytes) else "".join(lines).encode("utf-8")
    (tmp_path / "ledger.jsonl").write_bytes(data)
    (tmp_path / "audit.pub").write_bytes(rt.home.public_key_pem())
    return GovernanceService.verify_export(tmp_path / "ledger.jsonl", tmp_path / "audit.pub")


def cli_verdict(tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """``steward audit verify-export`` on the files ``library_verdict`` wrote, with no home."""
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "verify-export",
            str(tmp_path / "ledger.jsonl"),
            "--public-key",
            str(tmp_path / "audit.pub"),
            "--json",
        ],
        env={"STEWARD_HOME": str(tmp_path / "no-home")},
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"verify-export crashed:\n{tb}")
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)


def refused(rt: Runtime, lines: list[str] | bytes, tmp_path: Path, kind: str) -> Any:
    """Refused by the library and by the CLI (exit 9), with the same problem."""
    v = library_verdict(rt, lines, tmp_path)
    assert v.ok is False and v.problem is not None
    assert v.problem.kind == kind, v.problem
    assert v.problem.message  # says what was found
    code, out = cli_verdict(tmp_path)
    assert code == 9
    assert out["ok"] is False and out["problem"]["kind"] == kind
    return v


def test_a_clean_export_verifies_by_library_and_cli(rt: Runtime, tmp_path: Path) -> None:
    three_checkpoints(rt)
    lines = export(rt)
    assert kinds(lines)[-1] == "manifest"
    assert library_verdict(rt, lines, tmp_path).ok is True
    code, out = cli_verdict(tmp_path)
    assert (code, out["ok"], out["entries"]) == (0, True, 9)


def test_an_empty_export_is_refused(rt: Runtime, tmp_path: Path) -> None:
    refused(rt, [], tmp_path, "empty")
    refused(rt, ["\n", "  \n"], tmp_path, "empty")


def test_an_export_with_its_tail_cut_is_refused(rt: Runtime, tmp_path: Path) -> None:
    three_checkpoints(rt)
    lines = export(rt)
    first_cp = kinds(lines).index("checkpoint")
    for keep in (len(lines) - 1, first_cp, first_cp - 2):  # manifest, checkpoints, entries
        v = refused(rt, lines[:keep], tmp_path, "truncated")
        assert v.problem.line == keep


def test_an_export_with_entries_cut_but_the_manifest_kept_is_refused(
    rt: Runtime, tmp_path: Path
) -> None:
    three_checkpoints(rt)  # the newest checkpoint signs entry 8; entry 9 is its own record
    lines = export(rt)
    entries = [i for i, k in enumerate(kinds(lines)) if k == "entry"]
    cut = [line for i, line in enumerate(lines) if i != entries[-1]]
    refused(rt, cut, tmp_path, "truncated")


def test_an_export_with_its_checkpoints_removed_is_refused(rt: Runtime, tmp_path: Path) -> None:
    three_checkpoints(rt)
    lines = export(rt)
    without_all = [line for line, k in zip(lines, kinds(lines), strict=True) if k != "checkpoint"]
    refused(rt, without_all, tmp_path, "no_checkpoint")
    cps = [i for i, k in enumerate(kinds(lines)) if k == "checkpoint"]
    for gone in (cps[1], cps[-1]):  # a middle one, the newest one
        v = refused(rt, lines[:gone] + lines[gone + 1 :], tmp_path, "checkpoint_missing")
        assert v.problem.checkpoint == cps.index(gone)


def test_an_export_without_any_checkpoint_is_refused(rt: Runtime, tmp_path: Path) -> None:
    put(rt, 3)
    lines = export(rt)
    assert "checkpoint" not in kinds(lines)
    refused(rt, lines, tmp_path, "no_checkpoint")


def test_an_export_with_an_altered_manifest_is_refused(rt: Runtime, tmp_path: Path) -> None:
    three_checkpoints(rt)
    lines = export(rt)
    at = kinds(lines).index("manifest")
    manifest = json.loads(lines[at])
    for field, value in (("entries", manifest["entries"] - 1), ("checkpoints", 2)):
        forged = dict(manifest, **{field: value})
        refused(rt, [*lines[:at], canonical(forged) + "\n"], tmp_path, "bad_manifest")


def test_an_export_verified_with_a_wrong_key_says_so(rt: Runtime, tmp_path: Path) -> None:
    three_checkpoints(rt)
    lines = export(rt)
    library_verdict(rt, lines, tmp_path)
    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "audit.pub").write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    v = GovernanceService.verify_export(tmp_path / "ledger.jsonl", tmp_path / "audit.pub")
    assert v.ok is False and v.problem is not None and v.problem.kind == "wrong_key"
    code, out = cli_verdict(tmp_path)
    assert (code, out["problem"]["kind"]) == (9, "wrong_key")


GARBAGE: list[tuple[str, Any]] = [
    ("half a line", lambda line: line[: len(line) // 2] + "\n"),
    ("a JSON list", lambda line: "[1, 2, 3]\n"),
    ("a JSON string", lambda line: '"entry"\n'),
    ("a checkpoint without fields", lambda line: '{"type": "checkpoint"}\n'),
    ("an entry with a text seq", lambda line: line.replace('"seq":3,', '"seq":"3",')),
    ("an unknown record", lambda line: '{"type": "note", "text": "hi"}\n'),
]


@pytest.mark.parametrize("how", [g[1] for g in GARBAGE], ids=[g[0] for g in GARBAGE])
def test_an_export_with_a_garbage_line_is_refused_without_a_traceback(
    rt: Runtime, tmp_path: Path, how: Any
) -> None:
    three_checkpoints(rt)
    lines = export(rt)
    at = next(i for i, line in enumerate(lines) if json.loads(line).get("seq") == 3)
    v = refused(rt, [*lines[:at], how(lines[at]), *lines[at + 1 :]], tmp_path, "malformed")
    assert v.problem.line == at + 1


def test_a_binary_file_is_refused_without_a_traceback(rt: Runtime, tmp_path: Path) -> None:
    three_checkpoints(rt)
    refused(rt, b"\x89PNG\r\n\x1a\n\x00\xff\xfe garbage\n", tmp_path, "malformed")
