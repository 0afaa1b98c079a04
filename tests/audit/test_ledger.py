"""The audit ledger's hash chain and checkpoints catch every kind of tampering.

Each test builds a real ledger through the one door, then tampers with the stored
rows the way someone with database access would (raw SQL under ``governed_writes``,
since the store's write guard refuses anything else), and asserts that verification
names the first bad entry and what is wrong with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from steward.audit import (
    GENESIS,
    Checkpoint,
    Verification,
    canonical_json,
    entry_hash,
    read_witness,
)
from steward.audit import verification as verification_module
from steward.audit.chain import HASHED_FIELDS
from steward.governance import GovernanceService
from steward.governance.service import VerificationInfo
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import governed_writes

ALICE = Principal("alice")
BOB = Principal("bob")
ADMIN = Principal("admin")
COLUMNS = (*HASHED_FIELDS, "hash")


# -- helpers -------------------------------------------------------------------------
def put_objects(rt: Runtime, n: int, *, start: int = 0) -> None:
    """Append ``n`` allowed ``object.put`` entries (alice, EU data at eu-fra)."""
    objects = ObjectService(rt)
    for i in range(start, start + n):
        objects.put(ALICE, f"object {i}".encode(), site="eu-fra", jurisdiction="EU")


def rows(rt: Runtime) -> dict[int, dict[str, Any]]:
    """Every stored entry, by seq, as it is in the database."""
    with rt.store.engine.connect() as c:
        result = c.execute(text(f"SELECT {', '.join(COLUMNS)} FROM audit_entries ORDER BY seq"))
        return {r.seq: dict(r._mapping) for r in result}


def tamper(rt: Runtime, sql: str, **params: Any) -> None:
    """Run raw SQL the way an attacker with database access would."""
    with governed_writes("test.tamper"), rt.store.engine.begin() as c:
        c.execute(text(sql), params)


def set_head(rt: Runtime, seq: int, hash_: str) -> None:
    tamper(rt, "UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1", s=seq, h=hash_)


def rehash_from(rt: Runtime, first: int) -> None:
    """Recompute prev_hash and hash of every entry from ``first`` on, and the head."""
    current = rows(rt)
    prev = current[first - 1]["hash"] if first > 1 else GENESIS
    for seq in sorted(s for s in current if s >= first):
        fields = {k: current[seq][k] for k in HASHED_FIELDS}
        fields["prev_hash"] = prev
        prev = entry_hash(fields)
        tamper(
            rt,
            "UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE seq = :s",
            p=fields["prev_hash"],
            h=prev,
            s=seq,
        )
    set_head(rt, max(current), prev)


def verify(rt: Runtime) -> Verification:
    """Verify through the ledger (with the witness) and the service; both must agree."""
    where = GovernanceService(rt).witness_dir
    live = rt.ledger.verify(
        rt.home.signing_key().public_key(),
        witness=read_witness(where),
        witness_source=f"the witness {where}",
    )
    via_service = GovernanceService(rt).verify(BOB)
    assert via_service == VerificationInfo.of(live)
    return live


def assert_problem(v: Verification, seq: int, kind: str) -> None:
    assert v.ok is False
    assert v.problem is not None
    assert (v.problem.seq, v.problem.kind) == (seq, kind)


# -- a clean ledger ----------------------------------------------------------------
def test_empty_ledger_verifies(rt: Runtime) -> None:
    v = verify(rt)
    assert v.ok is True
    assert (v.entries, v.head_seq, v.head_hash, v.checkpoints) == (0, 0, GENESIS, 0)
    assert v.problem is None


def test_clean_ledger_verifies_with_count_and_head(rt: Runtime) -> None:
    put_objects(rt, 5)
    stored = rows(rt)
    assert sorted(stored) == [1, 2, 3, 4, 5]
    v = verify(rt)
    assert v.ok is True
    assert v.problem is None
    assert (v.entries, v.head_seq) == (5, 5)
    assert v.head_hash == stored[5]["hash"]
    assert rt.ledger.head() == (5, stored[5]["hash"])


def test_entries_follow_the_documented_hash_definition(rt: Runtime) -> None:
    """sha256 of canonical JSON of the ten hashed fields; each links to the one before."""
    put_objects(rt, 3)
    prev = GENESIS
    for _, row in sorted(rows(rt).items()):
        fields = {k: row[k] for k in HASHED_FIELDS}
        text_ = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["prev_hash"] == prev
        assert row["hash"] == hashlib.sha256(text_.encode("utf-8")).hexdigest()
        assert row["reasons"] == canonical_json(json.loads(row["reasons"]))
        assert (row["actor"], row["action"], row["site"], row["decision"]) == (
            "alice",
            "object.put",
            "eu-fra",
            "allow",
        )
        prev = row["hash"]


def test_checkpointed_ledger_verifies(rt: Runtime) -> None:
    put_objects(rt, 3)
    cp = GovernanceService(rt).checkpoint(ADMIN)
    assert cp.seq == 3  # signs the head as it was; the checkpoint action itself is entry 4
    put_objects(rt, 2, start=3)
    v = verify(rt)
    assert v.ok is True
    assert (v.entries, v.head_seq, v.checkpoints) == (6, 6, 1)


# -- tampering -----------------------------------------------------------------------
def _changed(field: str, old: Any) -> Any:
    new: Any
    if field == "actor":
        new = "mallory"
    elif field == "action":
        new = "object.delete"
    elif field == "resource":
        new = 'Object::"forged"'
    elif field == "site":
        new = "us-east"
    elif field == "decision":
        new = "deny" if old == "allow" else "allow"
    elif field == "reasons":
        new = json.dumps([*json.loads(old), {"policy": "forged", "effect": "permit", "advice": ""}])
    elif field == "ts":
        new = "2020-01-01T00:00:00.000000Z"
    else:  # the 64-hex fields: payload_hash, prev_hash, hash
        new = hashlib.sha256(old.encode() + b"tampered").hexdigest()
    assert new != old
    return new


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("actor", "altered"),
        ("action", "altered"),
        ("resource", "altered"),
        ("site", "altered"),
        ("decision", "altered"),
        ("reasons", "altered"),
        ("payload_hash", "altered"),
        ("ts", "altered"),
        ("hash", "altered"),
        # A changed link is reported as a broken link, at the edited entry.
        ("prev_hash", "broken_link"),
    ],
)
def test_edit_of_any_hashed_field_is_caught(rt: Runtime, field: str, kind: str) -> None:
    put_objects(rt, 5)
    old = rows(rt)[3][field]
    tamper(rt, f"UPDATE audit_entries SET {field} = :v WHERE seq = 3", v=_changed(field, old))
    assert rows(rt)[3][field] != old
    assert_problem(verify(rt), 3, kind)


def test_edit_with_the_entry_rehashed_breaks_the_next_link(rt: Runtime) -> None:
    put_objects(rt, 5)
    row = rows(rt)[3]
    fields = {k: row[k] for k in HASHED_FIELDS} | {"actor": "mallory"}
    tamper(
        rt,
        "UPDATE audit_entries SET actor = 'mallory', hash = :h WHERE seq = 3",
        h=entry_hash(fields),
    )
    assert_problem(verify(rt), 4, "broken_link")


@pytest.mark.parametrize("seq", [1, 3])
def test_deleted_entry_is_named_missing(rt: Runtime, seq: int) -> None:
    put_objects(rt, 5)
    tamper(rt, "DELETE FROM audit_entries WHERE seq = :s", s=seq)
    assert_problem(verify(rt), seq, "missing")


def test_reordered_entries_are_caught_at_the_first_moved_one(rt: Runtime) -> None:
    """Swap everything but seq between entries 2 and 4."""
    put_objects(rt, 5)
    before = rows(rt)
    movable = [c for c in COLUMNS if c != "seq"]
    assign = ", ".join(f"{c} = :{c}" for c in movable)
    for target, source in ((2, 4), (4, 2)):
        values = {c: before[source][c] for c in movable}
        tamper(rt, f"UPDATE audit_entries SET {assign} WHERE seq = :seq", seq=target, **values)
    after = rows(rt)
    assert after[2]["hash"] == before[4]["hash"] and after[4]["hash"] == before[2]["hash"]
    assert_problem(verify(rt), 2, "broken_link")


@pytest.mark.parametrize("at", [1, 3, 5])
def test_inserted_entry_is_named(rt: Runtime, at: int) -> None:
    """Shift later entries up by one and put a correctly hashed forgery in the gap."""
    put_objects(rt, 5)
    before = rows(rt)
    for seq in range(5, at - 1, -1):  # from the top, so seq stays unique row by row
        tamper(rt, "UPDATE audit_entries SET seq = seq + 1 WHERE seq = :s", s=seq)
    forged = {
        "seq": at,
        "ts": before[at]["ts"],
        "actor": "mallory",
        "action": "object.put",
        "resource": 'Object::"forged"',
        "site": "eu-fra",
        "decision": "allow",
        "reasons": "[]",
        "payload_hash": hashlib.sha256(b"forged").hexdigest(),
        "prev_hash": before[at - 1]["hash"] if at > 1 else GENESIS,
    }
    forged["hash"] = entry_hash(forged)
    tamper(
        rt,
        f"INSERT INTO audit_entries ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in COLUMNS)})",
        **forged,
    )
    set_head(rt, 6, before[5]["hash"])
    after = rows(rt)
    assert sorted(after) == [1, 2, 3, 4, 5, 6]
    assert after[at]["actor"] == "mallory"
    assert after[at + 1]["hash"] == before[at]["hash"]
    assert_problem(verify(rt), at, "inserted")


def test_tail_deleted_without_moving_the_head_is_truncated(rt: Runtime) -> None:
    put_objects(rt, 5)
    tamper(rt, "DELETE FROM audit_entries WHERE seq >= 4")
    assert_problem(verify(rt), 4, "truncated")


def test_tail_truncated_with_the_head_moved_is_caught_by_a_checkpoint(rt: Runtime) -> None:
    put_objects(rt, 5)
    GovernanceService(rt).checkpoint(ADMIN)  # signs seq 5; the action is entry 6
    put_objects(rt, 1, start=5)  # entry 7
    kept = rows(rt)[3]
    tamper(rt, "DELETE FROM audit_entries WHERE seq > 3")
    set_head(rt, 3, kept["hash"])
    assert sorted(rows(rt)) == [1, 2, 3]
    assert_problem(verify(rt), 4, "truncated")


# -- checkpoints -----------------------------------------------------------------------
def _flip_signature(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


def test_tampered_checkpoint_signature_is_bad_checkpoint(rt: Runtime) -> None:
    put_objects(rt, 3)
    cp = GovernanceService(rt).checkpoint(ADMIN)
    tamper(rt, "UPDATE audit_checkpoints SET signature = :s", s=_flip_signature(cp.signature))
    assert_problem(verify(rt), cp.seq, "bad_checkpoint")


def test_checkpoint_with_edited_hash_is_bad_checkpoint(rt: Runtime) -> None:
    """Moving a checkpoint to match a rewritten chain breaks its signature."""
    put_objects(rt, 3)
    cp = GovernanceService(rt).checkpoint(ADMIN)
    tamper(rt, "UPDATE audit_checkpoints SET hash = :h", h=hashlib.sha256(b"x").hexdigest())
    assert_problem(verify(rt), cp.seq, "bad_checkpoint")


def test_checkpoint_signed_by_another_key_is_bad_checkpoint(rt: Runtime) -> None:
    """An attacker who rewrites the chain cannot re-sign with the home's key."""
    put_objects(rt, 3)
    GovernanceService(rt).checkpoint(ADMIN)
    tamper(rt, "DELETE FROM audit_checkpoints")
    with governed_writes("test.tamper"), rt.store.transaction(write=True) as s:
        forged = rt.ledger.checkpoint(s, Ed25519PrivateKey.generate())
    assert_problem(verify(rt), forged.seq, "bad_checkpoint")


def test_rewrite_and_rehash_is_caught_by_a_checkpoint(rt: Runtime) -> None:
    """An attacker who recomputes every hash after an edit passes the chain walk."""
    put_objects(rt, 5)
    cp = GovernanceService(rt).checkpoint(ADMIN)  # at seq 5
    put_objects(rt, 2, start=5)  # entries 7, 8
    tamper(rt, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    rehash_from(rt, 2)
    assert rows(rt)[2]["actor"] == "mallory"
    v = verify(rt)
    assert_problem(v, cp.seq, "checkpoint_mismatch")
    assert v.entries == 8  # the chain itself walked clean; only the checkpoint caught it


def test_rewrite_and_rehash_without_checkpoint_is_not_detectable(rt: Runtime) -> None:
    """Why checkpoints exist: the chain alone cannot tell a consistent rewrite."""
    put_objects(rt, 4)
    tamper(rt, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    rehash_from(rt, 2)
    assert verify(rt).ok is True


def test_extra_checkpoint_kept_outside_catches_a_rewrite(rt: Runtime) -> None:
    """Checkpoints kept elsewhere still bind the chain after the stored ones are deleted."""
    put_objects(rt, 4)
    saved = GovernanceService(rt).checkpoint(ADMIN)
    kept = Checkpoint(**saved.model_dump())
    tamper(rt, "DELETE FROM audit_checkpoints")
    tamper(rt, "UPDATE audit_entries SET actor = 'bob' WHERE seq = 1")
    rehash_from(rt, 1)
    key = rt.home.signing_key().public_key()
    assert rt.ledger.verify(key).ok is True
    v = rt.ledger.verify(key, extra_checkpoints=[kept])
    assert_problem(v, kept.seq, "checkpoint_mismatch")
    assert v.checkpoints == 1


# -- verification while actions commit -------------------------------------------------
def test_verify_reads_one_state_while_an_action_commits(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append that commits mid-verify is no false alarm (PostgreSQL: READ COMMITTED)."""
    put_objects(rt, 2)
    real_walk = verification_module.walk_chain

    def walk_while_another_action_commits(it: Any) -> Any:
        seen = list(it)
        put_objects(rt, 1, start=2)  # another transaction appends entry 3 and moves the head
        return real_walk(seen)

    monkeypatch.setattr(verification_module, "walk_chain", walk_while_another_action_commits)
    v = rt.ledger.verify(rt.home.signing_key().public_key())
    assert v.problem is None
    assert (v.ok, v.entries, v.head_seq) == (True, 2, 2)
    monkeypatch.undo()
    assert rt.ledger.verify().entries == 3
