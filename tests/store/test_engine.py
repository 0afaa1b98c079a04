"""The metadata store: WAL on SQLite, migrations at head, and the write guard."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, literal, select, text, update

from steward.audit import GENESIS
from steward.config import Home
from steward.errors import BypassError, ConfigError
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import AuditEntry, AuditHead, Base, Store, StoredObject, governed_writes
from steward.store import engine as engine_module


def migrations_head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def snapshot(rt: Runtime) -> tuple[list[tuple[object, ...]], ...]:
    """Everything a stray write could change: objects, ledger entries, the head."""
    with rt.store.transaction() as s:
        return (
            [tuple(r) for r in s.execute(select(StoredObject.digest, StoredObject.label))],
            [tuple(r) for r in s.execute(select(AuditEntry.seq, AuditEntry.hash))],
            [tuple(r) for r in s.execute(select(AuditHead.seq, AuditHead.hash))],
        )


def seed(rt: Runtime) -> None:
    ObjectService(rt).put(Principal("alice"), b"seed", site="eu-fra", jurisdiction="EU")


# -- SQLite ------------------------------------------------------------------------
def test_sqlite_store_runs_in_wal_mode(sqlite_home: Home) -> None:
    """WAL is SQLite's; PostgreSQL has no journal mode to check."""
    rt = Runtime.open(sqlite_home)
    try:
        assert rt.store.dialect == "sqlite"
        with rt.store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # WAL is a property of the database file: a plain connection sees it too.
        raw = sqlite3.connect(sqlite_home.sqlite_path)
        try:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            raw.close()
    finally:
        rt.close()


# -- migrations --------------------------------------------------------------------
def test_migrations_are_at_head_after_open(rt: Runtime) -> None:
    assert rt.store.current_revision() == migrations_head()
    tables = set(inspect(rt.store.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    with rt.store.transaction() as s:
        head = s.execute(select(AuditHead.id, AuditHead.seq, AuditHead.hash)).all()
    assert [tuple(r) for r in head] == [(1, 0, GENESIS)]


def test_upgrade_is_idempotent_and_keeps_data(rt: Runtime) -> None:
    seed(rt)
    before = snapshot(rt)
    head = migrations_head()
    assert rt.store.upgrade() == head
    assert rt.store.upgrade() == head
    again = Store(rt.store.url)  # a second process starting on the same database
    try:
        assert again.current_revision() == head
    finally:
        again.dispose()
    assert snapshot(rt) == before
    assert rt.ledger.verify().ok is True


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on the same server: a new file, or a new PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server, name = db_url.rsplit("/", 1)
    fresh = f"{name}_fresh"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{fresh}"'))
    try:
        yield f"{server}/{fresh}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_migrates_an_empty_database_once(fresh_url: str) -> None:
    store = Store(fresh_url, migrate=False)
    try:
        assert store.current_revision() is None
        assert store.upgrade() == migrations_head()
        assert store.current_revision() == migrations_head()
        assert store.upgrade() == migrations_head()
        with store.transaction() as s:
            assert s.execute(select(func.count()).select_from(AuditHead)).scalar_one() == 1
    finally:
        store.dispose()


# -- the write guard ---------------------------------------------------------------
def _object(digest: str) -> StoredObject:
    return StoredObject(
        site="eu-fra",
        digest=digest,
        size=1,
        jurisdiction="EU",
        anonymised=False,
        label="",
        created_by="mallory",
        created_at=datetime.now(UTC),
    )


def test_orm_insert_outside_the_door_is_refused(rt: Runtime) -> None:
    seed(rt)
    before = snapshot(rt)
    with pytest.raises(BypassError) as info, rt.store.transaction(write=True) as s:
        s.add(_object("b" * 64))
    assert info.value.code == "bypass"
    assert snapshot(rt) == before


def test_orm_update_outside_the_door_is_refused(rt: Runtime) -> None:
    seed(rt)
    before = snapshot(rt)
    with pytest.raises(BypassError), rt.store.transaction(write=True) as s:
        head = s.execute(select(AuditHead)).scalar_one()
        head.seq = 0
        row = s.execute(select(StoredObject)).scalar_one()
        row.label = "changed"
    assert snapshot(rt) == before


def test_orm_delete_outside_the_door_is_refused(rt: Runtime) -> None:
    seed(rt)
    before = snapshot(rt)
    with pytest.raises(BypassError), rt.store.transaction() as s:
        s.delete(s.execute(select(AuditEntry)).scalar_one())
    assert snapshot(rt) == before


RAW_WRITES = [
    "INSERT INTO audit_entries (seq, ts, actor, action, resource, site, decision, reasons,"
    " payload_hash, prev_hash, hash) VALUES (99, 't', 'm', 'a', 'r', NULL, 'allow', '[]',"
    " 'p', 'q', 'h')",
    "UPDATE audit_head SET seq = 0",
    "update objects set label = 'changed'",
    "  \n DELETE FROM audit_entries",
    "DELETE FROM objects",
]
# The same writes in disguise: comments first, or behind a WITH clause.
DISGUISED_WRITES = [
    "/* maintenance */ DELETE FROM objects",
    "-- maintenance\nDELETE FROM objects",
    "WITH gone AS (SELECT 1 AS x) DELETE FROM objects",
    "with head as (select 0 as seq) update audit_head set seq = (select seq from head)",
]


def assert_refused(rt: Runtime, statements: list[str]) -> None:
    seed(rt)
    before = snapshot(rt)
    for sql in statements:
        with pytest.raises(BypassError), rt.store.engine.begin() as c:
            c.execute(text(sql))
        assert snapshot(rt) == before, sql


def test_raw_sql_write_outside_the_door_is_refused(rt: Runtime) -> None:
    assert_refused(rt, RAW_WRITES)


def test_guard_closes_again_after_a_governed_block(rt: Runtime) -> None:
    with governed_writes("test.open"):
        pass
    with pytest.raises(BypassError), rt.store.engine.begin() as c:
        c.execute(text("DELETE FROM objects"))


def test_reads_outside_the_door_are_allowed(rt: Runtime) -> None:
    seed(rt)
    with rt.store.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_entries")).scalar_one() == 1


# -- configuration -----------------------------------------------------------------
def test_unsupported_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        Store("mysql://db.example/steward", migrate=False)
    assert "mysql" in info.value.problems[0]


def test_postgres_url_uses_psycopg_and_hides_the_password() -> None:
    store = Store("postgresql://steward:s3cret@db.example:5432/steward", migrate=False)
    try:
        assert store.url.startswith("postgresql+psycopg://")
        assert store.dialect == "postgresql"
        assert "s3cret" not in store.safe_url
    finally:
        store.dispose()


# -- writes the guard must see through -----------------------------------------------
def test_core_update_with_a_cte_outside_the_door_is_refused(rt: Runtime) -> None:
    """SQLAlchemy renders this as ``WITH ... UPDATE``: still a write."""
    seed(rt)
    before = snapshot(rt)
    zero = select(literal(0).label("seq")).cte("zero")
    stmt = update(AuditHead).values(seq=select(zero.c.seq).scalar_subquery()).add_cte(zero)
    with pytest.raises(BypassError), rt.store.transaction(write=True) as s:
        s.execute(stmt)
    assert snapshot(rt) == before


def test_disguised_raw_write_outside_the_door_is_refused(rt: Runtime) -> None:
    assert_refused(rt, DISGUISED_WRITES)


def test_locking_and_cte_reads_outside_the_door_are_allowed(rt: Runtime) -> None:
    seed(rt)
    with rt.store.transaction() as s:
        assert s.execute(select(AuditHead.seq).with_for_update()).scalar_one() == 1
        total = s.execute(
            text("WITH e AS (SELECT seq FROM audit_entries) SELECT count(*) FROM e")
        ).scalar_one()
        assert total == 1
