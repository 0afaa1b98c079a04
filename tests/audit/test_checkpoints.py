"""The chain of checkpoints, the schedule that takes them, and the witness file."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from steward.audit import Checkpoint, CheckpointSchedule, read_witness, write_witness
from steward.audit.checkpoints import key_id_of
from steward.errors import IntegrityError, NotFound
from steward.governance import GovernanceService
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import governed_writes

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("admin")
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def put(rt: Runtime, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        ObjectService(rt).put(ALICE, f"o{i}".encode(), site="eu-fra", jurisdiction="EU")


def tamper(rt: Runtime, sql: str, **params: object) -> None:
    with governed_writes("test.tamper"), rt.store.engine.begin() as c:
        c.execute(text(sql), params)


# -- the schedule ------------------------------------------------------------------------
def cp_at(seq: int, ts: datetime) -> Checkpoint:
    return Checkpoint(seq, "h", ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "k", "s", 0, "0" * 64)


@pytest.mark.parametrize(
    ("head", "newest", "now", "due"),
    [
        (0, None, T0 + timedelta(days=1), False),  # nothing recorded: never
        (9, None, T0, False),
        (10, None, T0, True),  # N entries
        (3, None, T0 + timedelta(minutes=59), False),
        (3, None, T0 + timedelta(minutes=60), True),  # M minutes since the loop started
        (6, cp_at(5, T0), T0 + timedelta(days=2), False),  # only the checkpoint's own entry
        (7, cp_at(5, T0), T0 + timedelta(minutes=60), True),
        (15, cp_at(5, T0), T0, False),
        (16, cp_at(5, T0), T0, True),
    ],
)
def test_schedule(head: int, newest: Checkpoint | None, now: datetime, due: bool) -> None:
    schedule = CheckpointSchedule(every_entries=10, every_minutes=60)
    reason = schedule.due(head_seq=head, newest=newest, now=now, since=T0)
    assert (reason is not None) is due


# -- chain across checkpoints signed before the chain existed -----------------------------
def test_unchained_checkpoints_come_first_and_are_counted(rt: Runtime) -> None:
    """A checkpoint row from before migration 0011 (no position) verifies as it did; the
    first chained checkpoint counts it and commits to its message."""
    put(rt, 2)
    key = rt.home.signing_key()
    seq, hash_ = rt.ledger.head()
    ts = "2026-11-30T10:00:00.000000Z"
    body = {"seq": seq, "hash": hash_, "ts": ts, "key_id": key_id_of(key.public_key())}
    message = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    sig = base64.b64encode(key.sign(message)).decode()
    tamper(
        rt,
        "INSERT INTO audit_checkpoints (seq, hash, ts, key_id, signature) "
        "VALUES (:s, :h, :t, :k, :g)",
        s=seq,
        h=hash_,
        t=ts,
        k=body["key_id"],
        g=sig,
    )
    put(rt, 1, start=2)
    cp = GovernanceService(rt).checkpoint(ADMIN)
    assert cp.position == 1
    assert cp.prev_checkpoint == Checkpoint(seq, hash_, ts, body["key_id"], sig).digest()
    assert GovernanceService(rt).verify(BOB).ok is True

    tamper(rt, "DELETE FROM audit_checkpoints WHERE position IS NULL")
    v = GovernanceService(rt).verify(BOB)
    assert v.problem is not None
    assert (v.problem.kind, v.problem.checkpoint) == ("checkpoint_missing", 0)


def test_a_checkpoint_restored_into_another_position_breaks_the_chain(rt: Runtime) -> None:
    put(rt, 1)
    GovernanceService(rt).checkpoint(ADMIN)
    put(rt, 1, start=1)
    GovernanceService(rt).checkpoint(ADMIN)
    tamper(rt, "UPDATE audit_checkpoints SET position = 7 WHERE position = 1")
    v = GovernanceService(rt).verify(BOB)
    assert v.problem is not None and v.problem.kind == "bad_checkpoint"  # position is signed


# -- the witness --------------------------------------------------------------------------
def test_verify_reports_the_witness_it_compared(rt: Runtime) -> None:
    put(rt, 2)
    cp = GovernanceService(rt).checkpoint(ADMIN)
    v = GovernanceService(rt).verify(BOB)
    assert v.ok is True
    assert v.witness is not None and v.witness.signature == cp.signature


def test_a_garbled_witness_fails_verification(rt: Runtime) -> None:
    put(rt, 2)
    GovernanceService(rt).checkpoint(ADMIN)
    path = GovernanceService(rt).witness_dir / "ledger-checkpoint.json"
    path.write_text("{not json", encoding="utf-8")
    v = GovernanceService(rt).verify(BOB)
    assert v.ok is False and v.problem is not None and v.problem.kind == "bad_witness"
    with pytest.raises(IntegrityError):
        read_witness(path.parent)


def test_a_forged_witness_fails_verification(rt: Runtime) -> None:
    put(rt, 2)
    cp = GovernanceService(rt).checkpoint(ADMIN)
    path = GovernanceService(rt).witness_dir
    forged = Checkpoint(**{**cp.model_dump(), "seq": cp.seq + 100, "position": 5})
    assert write_witness(path, forged) is True
    v = GovernanceService(rt).verify(BOB)
    assert v.ok is False and v.problem is not None
    assert v.problem.kind in ("bad_checkpoint", "truncated")


def test_witness_dir_is_configurable_relative_to_the_home(rt: Runtime) -> None:
    cfg = rt.config.model_copy(
        update={"audit": rt.config.audit.model_copy(update={"witness_dir": "proofs"})}
    )
    rt.config = cfg
    put(rt, 1)
    GovernanceService(rt).checkpoint(ADMIN)
    assert (rt.home.root / "proofs" / "ledger-checkpoint.json").is_file()


# -- verify-export edge cases ---------------------------------------------------------------
def test_verify_export_of_a_missing_file_is_not_found(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "audit.pub").write_bytes(rt.home.public_key_pem())
    with pytest.raises(NotFound):
        GovernanceService.verify_export(tmp_path / "nope.jsonl", tmp_path / "audit.pub")


def test_verify_export_refuses_a_format_1_file(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "audit.pub").write_bytes(rt.home.public_key_pem())
    old = tmp_path / "old.jsonl"
    old.write_text('{"format":"steward-audit/1","type":"header"}\n', encoding="utf-8")
    v = GovernanceService.verify_export(old, tmp_path / "audit.pub")
    assert v.ok is False and v.problem is not None
    assert v.problem.kind == "unsupported_format"
