"""The one door: decide, do and record in one transaction; denials recorded too."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.audit import GENESIS, LedgerFilter, canonical_json, sha256_hex
from steward.door import Action
from steward.errors import PolicyDenied
from steward.governance import GovernanceService
from steward.objects import ObjectService
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import StoredObject

ALICE = Principal("alice")
BOB = Principal("bob")


def put_action(digest: str, *, site: str = "eu-fra", jurisdiction: str = "EU") -> Action:
    resource = Resource("Object", digest, {"jurisdiction": jurisdiction, "anonymised": False})
    return Action("object.put", resource, site=site, payload={"digest": digest})


def add_object(session: Session, digest: str, *, site: str = "eu-fra") -> StoredObject:
    row = StoredObject(
        site=site,
        digest=digest,
        size=1,
        jurisdiction="EU",
        anonymised=False,
        label="",
        created_by="alice",
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def object_count(rt: Runtime) -> int:
    with rt.store.transaction() as s:
        return s.execute(select(func.count()).select_from(StoredObject)).scalar_one()


def test_run_does_the_change_and_records_it(rt: Runtime) -> None:
    digest = hashlib.sha256(b"a").hexdigest()
    action = put_action(digest)
    result = rt.door.run(ALICE, action, lambda s: add_object(s, digest).digest)
    assert result == digest
    assert object_count(rt) == 1
    [entry] = rt.ledger.entries()
    assert (entry.seq, entry.actor, entry.action, entry.site, entry.decision) == (
        1,
        "alice",
        "object.put",
        "eu-fra",
        "allow",
    )
    assert entry.resource == f'Object::"{digest}"'
    assert entry.payload_hash == sha256_hex(canonical_json({"digest": digest}))
    assert rt.ledger.head() == (1, entry.hash)


def test_failed_transaction_leaves_neither_change_nor_entry(rt: Runtime) -> None:
    first = hashlib.sha256(b"first").hexdigest()
    rt.door.run(ALICE, put_action(first), lambda s: add_object(s, first))
    head_before = rt.ledger.head()

    second = hashlib.sha256(b"second").hexdigest()

    def do(session: Session) -> None:
        add_object(session, second)  # flushed: the row reached the database
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        rt.door.run(ALICE, put_action(second), do)

    assert object_count(rt) == 1
    with rt.store.transaction() as s:
        digests = s.execute(select(StoredObject.digest)).scalars().all()
    assert digests == [first]
    assert [e.seq for e in rt.ledger.entries()] == [1]
    assert rt.ledger.head() == head_before
    assert rt.ledger.verify().ok is True


def test_failed_record_undoes_the_change(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The change and its entry commit together: if recording fails, the change goes too."""

    def failing_append(session: Session, draft: object) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(rt.ledger, "append", failing_append)
    digest = hashlib.sha256(b"c").hexdigest()
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        rt.door.run(ALICE, put_action(digest), lambda s: add_object(s, digest))
    monkeypatch.undo()
    assert object_count(rt) == 0
    assert rt.ledger.head() == (0, GENESIS)


def test_failed_first_action_leaves_the_genesis_head(rt: Runtime) -> None:
    def do(session: Session) -> None:
        add_object(session, "d" * 64)
        raise ValueError("boom")

    with pytest.raises(ValueError):
        rt.door.run(ALICE, put_action("d" * 64), do)
    assert object_count(rt) == 0
    assert rt.ledger.entries() == []
    assert rt.ledger.head() == (0, GENESIS)


def test_denied_put_is_recorded_and_raises_policy_denied(rt: Runtime) -> None:
    data = b"EU customer records"
    digest = hashlib.sha256(data).hexdigest()
    with pytest.raises(PolicyDenied) as info:
        ObjectService(rt).put(ALICE, data, site="us-east", jurisdiction="EU")
    err = info.value
    assert err.code == "policy_denied"
    assert (err.principal, err.action) == ("alice", "object.put")
    assert err.resource == f'Object::"{digest}"'
    assert [r.policy for r in err.reasons] == ["residency"]
    assert all(r.effect == "forbid" for r in err.reasons)
    assert err.details["reasons"][0]["policy"] == "residency"

    # Recorded as a denial, and nothing stored.
    [entry] = rt.ledger.entries()
    assert (entry.actor, entry.action, entry.site, entry.decision) == (
        "alice",
        "object.put",
        "us-east",
        "deny",
    )
    assert entry.resource == f'Object::"{digest}"'
    forbids = [r["policy"] for r in json.loads(entry.reasons) if r["effect"] == "forbid"]
    assert forbids == ["residency"]
    assert object_count(rt) == 0
    assert not any(p.is_file() for p in (rt.home.sites_dir / "us-east").rglob("*"))
    assert GovernanceService(rt).verify(BOB).ok is True


def test_denied_run_never_calls_do(rt: Runtime) -> None:
    called: list[bool] = []

    def do(session: Session) -> None:
        called.append(True)

    with pytest.raises(PolicyDenied) as info:
        rt.door.run(ALICE, put_action("e" * 64, site="us-east"), do)
    assert called == []
    assert info.value.action == "object.put"
    assert [r.policy for r in info.value.reasons] == ["residency"]
    assert [e.decision for e in rt.ledger.entries(LedgerFilter(decision="deny"))] == ["deny"]


def test_allowed_read_check_records_nothing(rt: Runtime) -> None:
    decision = rt.door.check(BOB, Action("system.read", Resource("System", "objects")))
    assert decision.allowed
    assert rt.ledger.entries() == []


def test_concurrent_actions_form_one_chain(rt: Runtime) -> None:
    threads_n, per_thread = 4, 25
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(per_thread):
                digest = hashlib.sha256(f"{t}-{i}".encode()).hexdigest()
                rt.door.run(ALICE, put_action(digest), lambda s, d=digest: add_object(s, d))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers)
    assert errors == []

    total = threads_n * per_thread
    entries = rt.ledger.entries(LedgerFilter(limit=1000))
    seqs = [e.seq for e in entries]
    assert seqs == list(range(1, total + 1))
    assert len(set(seqs)) == total
    assert object_count(rt) == total
    v = rt.ledger.verify()
    assert v.ok is True
    assert (v.entries, v.head_seq) == (total, total)
    assert rt.ledger.head() == (total, entries[-1].hash)
