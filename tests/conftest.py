"""Shared fixtures: a fresh Steward home on SQLite and on PostgreSQL.

Every store-backed test takes ``home`` (or ``rt``) and runs twice: ``sqlite`` and
``postgresql``. Without a reachable PostgreSQL the second variant is skipped with a
visible notice; with ``STEWARD_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets) it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from steward.config import Home, init_home
from steward.runtime import Runtime
from steward.store import Base, Store, governed_writes

PG_ADMIN_URL = os.environ.get(
    "STEWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE = os.environ.get("STEWARD_REQUIRE_SERVICES") == "1"
_skipped_services: set[str] = set()


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    problem = _pg_available()
    if problem is not None:
        msg = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}"
        if REQUIRE:
            pytest.fail(f"STEWARD_REQUIRE_SERVICES=1 but {msg}")
        _skipped_services.add("postgresql")
        pytest.skip(msg)
    name = f"steward_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    eng = create_engine(url)
    with governed_writes("test.reset"), eng.begin() as c:
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if tables and c.dialect.has_table(c, "audit_head"):
            c.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
            c.execute(
                text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
            )
    eng.dispose()


@pytest.fixture(scope="module")
def pg_module_database(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied, for a home one test module shares."""
    _truncate(pg_database)
    return pg_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to head once per session: each test starts from
    a copy (running every migration per test costs more than the test itself)."""
    path = tmp_path_factory.mktemp("template") / "steward.db"
    store = Store(f"sqlite:///{path}")
    store.engine.dispose()  # closing the last connection folds the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "steward.db")
        return f"sqlite:///{tmp_path / 'steward.db'}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A fresh home with the default config (eu-fra, us-east; admin, alice, bob)."""
    monkeypatch.setenv("STEWARD_DATABASE_URL", db_url)
    return init_home(tmp_path / "home")


@pytest.fixture
def rt(home: Home) -> Iterator[Runtime]:
    runtime = Runtime.open(home)
    yield runtime
    runtime.close()


@pytest.fixture
def sqlite_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path) -> Home:
    """A fresh home on SQLite only, for tests that do not touch the store's dialect."""
    monkeypatch.delenv("STEWARD_DATABASE_URL", raising=False)
    home = init_home(tmp_path / "home")
    if not home.sqlite_path.exists():
        shutil.copyfile(sqlite_template, home.sqlite_path)
    return home


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_services:
        terminalreporter.write_sep(
            "!",
            "NOTICE: tests against "
            + ", ".join(sorted(_skipped_services))
            + " were SKIPPED (service not running); set STEWARD_REQUIRE_SERVICES=1 to require them",
            yellow=True,
            bold=True,
        )


@pytest.fixture
def sqlite_rt(sqlite_home: Home) -> Iterator[Runtime]:
    runtime = Runtime.open(sqlite_home)
    yield runtime
    runtime.close()
