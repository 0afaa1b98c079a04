"""The ledger on the metadata store: append, query, checkpoint, verify, export."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from steward.audit.chain import GENESIS, HASHED_FIELDS, Problem, canonical_json, entry_hash
from steward.audit.checkpoints import Checkpoint, key_id_of, sign_checkpoint
from steward.audit.export import EXPORT_FORMAT, manifest_record, verify_export
from steward.audit.verification import Verification, verify_rows
from steward.errors import ValidationFailed
from steward.store import AuditCheckpoint, AuditEntry, AuditHead, Store

__all__ = [
    "Checkpoint",
    "EntryDraft",
    "Ledger",
    "LedgerFilter",
    "Verification",
    "key_id_of",
    "verify_export",
]


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class EntryDraft:
    """What the one door records; the ledger adds seq, time and hashes."""

    actor: str
    action: str
    resource: str
    decision: str
    site: str | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)
    payload_hash: str = ""


@dataclass
class LedgerFilter:
    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    decision: str | None = None
    since: str | None = None
    until: str | None = None
    after_seq: int | None = None
    limit: int = 100


class Ledger:
    """The audit ledger stored in the metadata database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- append ----------------------------------------------------------------------
    def append(self, session: Session, draft: EntryDraft) -> AuditEntry:
        return self.append_many(session, [draft])[0]

    def append_many(self, session: Session, drafts: Sequence[EntryDraft]) -> list[AuditEntry]:
        """Append entries inside the caller's transaction (locks the head row).

        Runs as Core statements on the session's connection: the ORM's unit of work
        costs more than the append itself on this hot path (see docs/benchmarks.md).
        Returns the entries as detached objects.
        """
        conn = session.connection()
        seq, prev = conn.execute(
            select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
        ).one()
        ts = utc_now_iso()
        rows: list[dict[str, Any]] = []
        for d in drafts:
            seq += 1
            fields = {
                "seq": seq,
                "ts": ts,
                "actor": d.actor,
                "action": d.action,
                "resource": d.resource,
                "site": d.site,
                "decision": d.decision,
                "reasons": canonical_json(d.reasons),
                "payload_hash": d.payload_hash,
                "prev_hash": prev,
            }
            prev = entry_hash(fields)
            fields["hash"] = prev
            rows.append(fields)
        if rows:
            conn.execute(insert(AuditEntry), rows)
            conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
        return [AuditEntry(**r) for r in rows]

    # -- read ------------------------------------------------------------------------
    def head(self) -> tuple[int, str]:
        with self.store.transaction() as s:
            h = s.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
            return h.seq, h.hash

    def entries(self, flt: LedgerFilter | None = None) -> list[AuditEntry]:
        f = flt or LedgerFilter()
        q = select(AuditEntry)
        if f.actor:
            q = q.where(AuditEntry.actor == f.actor)
        if f.action:
            if f.action.endswith("*"):
                q = q.where(AuditEntry.action.startswith(f.action[:-1], autoescape=True))
            else:
                q = q.where(AuditEntry.action == f.action)
        if f.resource:
            q = q.where(AuditEntry.resource == f.resource)
        if f.decision:
            q = q.where(AuditEntry.decision == f.decision)
        if f.since:
            q = q.where(AuditEntry.ts >= _normalise_time(f.since, "since"))
        if f.until:
            q = q.where(AuditEntry.ts < _normalise_time(f.until, "until"))
        if f.after_seq is not None:
            q = q.where(AuditEntry.seq > f.after_seq)
        q = q.order_by(AuditEntry.seq).limit(max(1, min(f.limit, 10_000)))
        with self.store.transaction() as s:
            return list(s.execute(q).scalars())

    def checkpoints(self) -> list[Checkpoint]:
        with self.store.transaction() as s:
            return self._checkpoints(s)

    def newest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint that ends the chain (None before the first)."""
        with self.store.transaction() as s:
            return self._newest(s)

    @staticmethod
    def _checkpoints(session: Session) -> list[Checkpoint]:
        rows = session.execute(
            select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
        ).scalars()
        return [_checkpoint_of(r) for r in rows]

    @staticmethod
    def _newest(session: Session) -> Checkpoint | None:
        chained = session.execute(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.position.is_not(None))
            .order_by(AuditCheckpoint.position.desc())
            .limit(1)
        ).scalar_one_or_none()
        if chained is not None:
            return _checkpoint_of(chained)
        legacy = session.execute(
            select(AuditCheckpoint)
            .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return _checkpoint_of(legacy) if legacy is not None else None

    @contextmanager
    def _snapshot(self) -> Iterator[Session]:
        """A read transaction that sees one state of the ledger throughout.

        Entries, checkpoints and the head must come from the same moment, or an action
        committing meanwhile looks like truncation. SQLite's read transaction is already
        a snapshot; PostgreSQL's default READ COMMITTED is not (each statement sees the
        latest commits), so ask for REPEATABLE READ.
        """
        with self.store.transaction() as s:
            if self.store.dialect == "postgresql":
                s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield s

    # -- checkpoint ------------------------------------------------------------------
    def checkpoint(self, session: Session, signing_key: Ed25519PrivateKey) -> Checkpoint:
        """Sign the current head inside the caller's transaction, chained to the newest
        checkpoint (the head row's lock serialises checkpoints as it does appends)."""
        head = session.execute(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()
        ).scalar_one()
        previous = self._newest(session)
        if previous is None:
            position = 0
        elif previous.position is not None:
            position = previous.position + 1
        else:  # the first chained checkpoint counts those signed before the chain existed
            position = session.execute(
                select(func.count()).select_from(AuditCheckpoint)
            ).scalar_one()
        cp = sign_checkpoint(
            signing_key,
            seq=head.seq,
            hash_=head.hash,
            ts=utc_now_iso(),
            previous=previous,
            position=position,
        )
        session.add(AuditCheckpoint(**cp.to_dict()))
        session.flush()
        return cp

    # -- verify ----------------------------------------------------------------------
    def _rows(self, session: Session) -> Generator[Sequence[Any], None, None]:
        cols = [getattr(AuditEntry, f) for f in HASHED_FIELDS] + [AuditEntry.hash]
        result = session.connection().execute(
            select(*cols).order_by(AuditEntry.seq).execution_options(yield_per=20_000)
        )
        try:
            for part in result.partitions():
                yield from part
        finally:
            # A walk that stops at the first problem leaves rows unread: close the
            # (server-side, on PostgreSQL) cursor now rather than at garbage collection.
            result.close()

    def verify(
        self,
        public_key: Ed25519PublicKey | None = None,
        extra_checkpoints: Sequence[Checkpoint] = (),
        *,
        witness: Checkpoint | None = None,
        witness_source: str = "the witness",
    ) -> Verification:
        """Recompute the chain; check checkpoints (signatures when a key is given).

        ``witness`` is the checkpoint kept outside the database (read it *before* calling,
        so that it is never newer than the snapshot verified): it must verify, the ledger
        must reach its entry, and the database must still hold it.
        """
        with self._snapshot() as s:
            stored = self._checkpoints(s)
            # the same checkpoint is the same signed message with the same signature
            in_db = {(c.digest(), c.signature) for c in stored}
            cps = {(c.digest(), c.signature): c for c in stored}
            for c in (*extra_checkpoints, *([witness] if witness is not None else [])):
                cps.setdefault((c.digest(), c.signature), c)
            with closing(self._rows(s)) as rows:
                result = verify_rows(rows, list(cps.values()), public_key)
            result.witness = witness
            p = result.problem
            if (
                p is not None
                and p.kind == "truncated"
                and witness is not None
                and witness.seq > result.head_seq
            ):
                result.fail(
                    Problem(
                        p.seq,
                        p.kind,
                        f"ledger truncated: {witness.describe()} in {witness_source} covers "
                        f"entry {witness.seq}, but the ledger ends at entry {result.head_seq}: "
                        "entries (and the checkpoints over them) were removed, or the database "
                        "was restored from an older copy",
                        checkpoint=witness.position,
                    )
                )
            if result.ok:
                head = s.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
                if (head.seq, head.hash) != (result.head_seq, result.head_hash):
                    result.fail(
                        Problem(
                            min(head.seq, result.head_seq) + 1,
                            "truncated",
                            f"the head records entry {head.seq} but the ledger ends at entry "
                            f"{result.head_seq}: entries were removed from the tail",
                        )
                    )
            if result.ok and witness is not None:
                problem = _witness_problem(witness, in_db, witness_source)
                if problem is not None:
                    result.fail(problem)
            return result

    # -- export ----------------------------------------------------------------------
    def export(self, out: IO[str], public_key_pem: bytes, signing_key: Ed25519PrivateKey) -> int:
        """Write the ledger as JSON lines: a header, the entries, the checkpoints and a
        manifest signed with ``signing_key`` (see :mod:`steward.audit.export`)."""
        header = {
            "type": "header",
            "format": EXPORT_FORMAT,
            "exported_at": utc_now_iso(),
            "public_key": public_key_pem.decode("ascii"),
        }
        out.write(canonical_json(header) + "\n")
        n, head_seq, head_hash = 0, 0, GENESIS
        with self._snapshot() as s:
            for row in self._rows(s):
                rec = dict(zip(HASHED_FIELDS, row[:10], strict=True))
                rec["reasons"] = json.loads(rec["reasons"])
                rec["hash"] = row[10]
                rec["type"] = "entry"
                out.write(canonical_json(rec) + "\n")
                n, head_seq, head_hash = n + 1, row[0], row[10]
            checkpoints = self._checkpoints(s)
            for cp in checkpoints:
                out.write(canonical_json({"type": "checkpoint", **cp.to_dict()}) + "\n")
        manifest = manifest_record(
            entries=n,
            head_seq=head_seq,
            head_hash=head_hash,
            checkpoints=checkpoints,
            signing_key=signing_key,
        )
        out.write(canonical_json(manifest) + "\n")
        return n


def _checkpoint_of(r: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(r.seq, r.hash, r.ts, r.key_id, r.signature, r.position, r.prev_checkpoint)


def _witness_problem(
    witness: Checkpoint, stored: set[tuple[str, str]], source: str
) -> Problem | None:
    """The witness's checkpoint must still be in the database (the chain checks have
    already verified its signature and that the ledger reaches its entry)."""
    if (witness.digest(), witness.signature) in stored:
        return None
    return Problem(
        witness.seq,
        "checkpoint_missing",
        f"{witness.describe()} is in {source} but not in the database: checkpoint rows were "
        "deleted (with the entries they covered rewritten or not). Restore the database from "
        "a backup and compare it with the witness",
        checkpoint=witness.position,
    )


def _normalise_time(value: str, name: str) -> str:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"{name}: expected an ISO 8601 time such as 2026-11-29 or 2026-11-29T10:00:00Z; "
            f"found {value!r}",
            parameter=name,
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError:
        raise ValidationFailed(
            f"{name}: {value!r} is outside the range of dates Steward can compare",
            parameter=name,
        ) from None
