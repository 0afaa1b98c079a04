"""Engines, sessions and transactions on SQLite or PostgreSQL, with migrations on start."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from steward.errors import BypassError, ConfigError, ValidationFailed
from steward.store.guard import governed_writes, writes_open

__all__ = ["Store"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "MERGE", "TRUNCATE")
# What may come before a statement's verb: white space, comments, opening parentheses.
_PREAMBLE = re.compile(r"(?:\s+|\(|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
# A write in or after a WITH clause; SELECT ... FOR [NO KEY] UPDATE is a read.
_WITH_WRITE = re.compile(r"\b(?:INSERT|DELETE|MERGE)\b|(?<!FOR )(?<!KEY )\bUPDATE\b", re.IGNORECASE)


def _is_write(statement: str, context: Any) -> bool:
    # Compiled Core/ORM statements say what they are, whatever SQL they render to
    # (an UPDATE with a CTE renders as "WITH ... UPDATE").
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    preamble = _PREAMBLE.match(statement)
    body = statement[preamble.end() :] if preamble else statement
    verb = body[:8].upper()
    if verb.startswith(_WRITE_VERBS):
        return True
    return verb.startswith("WITH") and _WITH_WRITE.search(body) is not None


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    """The metadata database. ``transaction(write=True)`` for changes, plain for reads."""

    def __init__(self, url: str, *, migrate: bool = True, echo: bool = False) -> None:
        self.url = _normalise_url(url)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif self.dialect == "postgresql":
            kwargs["pool_pre_ping"] = True
        else:
            raise ConfigError(
                [
                    f"STEWARD_DATABASE_URL: expected sqlite:/// or postgresql+psycopg://; "
                    f"found {self.dialect!r}"
                ]
            )
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            self._configure_sqlite(self.engine)
        event.listen(self.engine, "before_cursor_execute", self._guard)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    @staticmethod
    def _configure_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy (not pysqlite) decide when transactions begin, so that
            # write transactions can take the write lock up front (BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("steward_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @staticmethod
    def _guard(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if writes_open() is None and _is_write(statement, context):
            raise BypassError(
                "a write reached the metadata store outside a governed action; "
                "route it through Door.run",
                statement=statement.split(None, 3)[:3],
            )

    def upgrade(self) -> str | None:
        """Apply Alembic migrations up to head; returns the revision now current."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return current
            with governed_writes("db.upgrade"), self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise ConfigError(
                [f"database {self.safe_url}: cannot connect or migrate: {exc.orig}"]
            ) from exc
        return head

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        session = self._sessions()
        if write:
            session.connection(execution_options={"steward_write": True})
        try:
            yield session
            session.commit()
        except DataError as exc:
            # Values the database cannot hold (e.g. NUL in PostgreSQL text) are bad input.
            session.rollback()
            raise ValidationFailed(
                f"a value was refused by the database: {str(exc.orig).splitlines()[0]}",
                reason=str(exc.orig).splitlines()[0],
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
