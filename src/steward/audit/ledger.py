"""The ledger on the metadata store: append, query, checkpoint, verify, export."""

from __future__ import annotations

import base64
import json
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from steward.audit.chain import (
    HASHED_FIELDS,
    Problem,
    canonical_json,
    entry_hash,
    sha256_hex,
    walk_chain,
)
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

EXPORT_FORMAT = "steward-audit/1"


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


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return canonical_json(
            {"seq": self.seq, "hash": self.hash, "ts": self.ts, "key_id": self.key_id}
        ).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "ts": self.ts,
            "key_id": self.key_id,
            "signature": self.signature,
        }


@dataclass
class Verification:
    """The outcome of ``verify``: ``ok`` or the first problem found."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problem: Problem | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints": self.checkpoints,
            "problem": self.problem.to_dict() if self.problem else None,
        }


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


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def _check_checkpoints(
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
    hash_at: dict[int, str],
    last_seq: int,
) -> Problem | None:
    """Signed checkpoints must verify and must match the chain as it is now."""
    kid = key_id_of(public_key) if public_key is not None else None
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if public_key is not None:
            if cp.key_id != kid:
                return Problem(
                    cp.seq, "bad_checkpoint", f"checkpoint at {cp.seq} is signed by unknown key"
                )
            try:
                public_key.verify(base64.b64decode(cp.signature), cp.message())
            except (InvalidSignature, ValueError):
                return Problem(
                    cp.seq, "bad_checkpoint", f"checkpoint at entry {cp.seq}: signature is invalid"
                )
        if cp.seq > last_seq:
            return Problem(
                last_seq + 1,
                "truncated",
                f"ledger truncated: a signed checkpoint covers entry {cp.seq} but the ledger "
                f"ends at entry {last_seq}; entries {last_seq + 1}..{cp.seq} are gone",
            )
        if cp.seq > 0 and hash_at.get(cp.seq) != cp.hash:
            return Problem(
                cp.seq,
                "checkpoint_mismatch",
                f"entry {cp.seq} differs from the signed checkpoint taken at {cp.ts}",
            )
    return None


def _verify_rows(
    rows: Iterable[Sequence[Any]],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
) -> Verification:
    wanted = {cp.seq for cp in checkpoints}
    hash_at: dict[int, str] = {}

    def remember(it: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        for row in it:
            if row[0] in wanted:
                hash_at[row[0]] = row[10]
            yield row

    count, last_seq, last_hash, problem = walk_chain(remember(rows))
    if problem is None:
        problem = _check_checkpoints(checkpoints, public_key, hash_at, last_seq)
    return Verification(
        ok=problem is None,
        entries=count,
        head_seq=last_seq,
        head_hash=last_hash,
        checkpoints=len(checkpoints),
        problem=problem,
    )


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

    @staticmethod
    def _checkpoints(session: Session) -> list[Checkpoint]:
        rows = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars()
        return [Checkpoint(r.seq, r.hash, r.ts, r.key_id, r.signature) for r in rows]

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
        """Sign the current head inside the caller's transaction."""
        head = session.execute(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()
        ).scalar_one()
        cp = Checkpoint(
            seq=head.seq,
            hash=head.hash,
            ts=utc_now_iso(),
            key_id=key_id_of(signing_key.public_key()),
            signature="",
        )
        sig = base64.b64encode(signing_key.sign(cp.message())).decode("ascii")
        cp = Checkpoint(cp.seq, cp.hash, cp.ts, cp.key_id, sig)
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
    ) -> Verification:
        """Recompute the chain; check checkpoints (signatures when a key is given)."""
        with self._snapshot() as s:
            cps = {(c.seq, c.signature): c for c in self._checkpoints(s)}
            for c in extra_checkpoints:
                cps.setdefault((c.seq, c.signature), c)
            with closing(self._rows(s)) as rows:
                result = _verify_rows(rows, list(cps.values()), public_key)
            if result.ok:
                head = s.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
                if (head.seq, head.hash) != (result.head_seq, result.head_hash):
                    result.ok = False
                    result.problem = Problem(
                        min(head.seq, result.head_seq) + 1,
                        "truncated",
                        f"the head records entry {head.seq} but the ledger ends at entry "
                        f"{result.head_seq}: entries were removed from the tail",
                    )
            return result

    # -- export ----------------------------------------------------------------------
    def export(self, out: IO[str], public_key_pem: bytes) -> int:
        """Write the ledger as JSON lines: a header, the entries, the checkpoints."""
        header = {
            "type": "header",
            "format": EXPORT_FORMAT,
            "exported_at": utc_now_iso(),
            "public_key": public_key_pem.decode("ascii"),
        }
        out.write(canonical_json(header) + "\n")
        n = 0
        with self._snapshot() as s:
            for row in self._rows(s):
                rec = dict(zip(HASHED_FIELDS, row[:10], strict=True))
                rec["reasons"] = json.loads(rec["reasons"])
                rec["hash"] = row[10]
                rec["type"] = "entry"
                out.write(canonical_json(rec) + "\n")
                n += 1
            for cp in self._checkpoints(s):
                out.write(canonical_json({"type": "checkpoint", **cp.to_dict()}) + "\n")
        return n


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


def verify_export(lines: Iterable[str], public_key_pem: bytes) -> Verification:
    """Verify an exported ledger with the public key alone (no database, no home)."""
    public_key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(public_key, Ed25519PublicKey):
        raise ValidationFailed("public key: expected an Ed25519 public key (PEM)")
    checkpoints: list[Checkpoint] = []

    def rows() -> Iterator[Sequence[Any]]:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationFailed(
                    f"line {lineno}: expected a JSON object; {exc.msg}", line=lineno
                ) from None
            kind = rec.get("type")
            if kind == "entry":
                rec["reasons"] = canonical_json(rec.get("reasons", []))
                try:
                    yield (*(rec[f] for f in HASHED_FIELDS), rec["hash"])
                except KeyError as exc:
                    raise ValidationFailed(
                        f"line {lineno}: entry lacks the field {exc.args[0]!r}", line=lineno
                    ) from None
            elif kind == "checkpoint":
                checkpoints.append(
                    Checkpoint(rec["seq"], rec["hash"], rec["ts"], rec["key_id"], rec["signature"])
                )

    # Checkpoints follow the entries in an export, so collect everything first.
    materialised = list(rows())
    return _verify_rows(materialised, checkpoints, public_key)
