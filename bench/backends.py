"""Throw-away Steward runtimes: a fresh home on SQLite, or on a fresh PostgreSQL database.

Each backend gets its own home in a temporary directory (configuration, keys, object
roots). For PostgreSQL a database ``steward_bench_<random>`` is created on the server,
``STEWARD_DATABASE_URL`` points at it while ``Runtime.open`` runs, and the database is
dropped afterwards whatever happens.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from steward.config import Home, init_home
from steward.runtime import Runtime

__all__ = ["DEFAULT_PG_ADMIN_URL", "pg_problem", "pg_settings", "runtime_on"]

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_problem(admin_url: str) -> str | None:
    """Why the PostgreSQL server cannot be used, or ``None`` when it can."""
    try:
        eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", exc)
        return str(orig).strip().splitlines()[0]
    return None


def pg_settings(admin_url: str) -> dict[str, str]:
    """The server version and the settings that decide commit latency."""
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as c:
            return {
                name: str(c.execute(text(f"SHOW {name}")).scalar_one())
                for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers")
            }
    finally:
        eng.dispose()


@contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextmanager
def _pg_database(admin_url: str) -> Iterator[str]:
    name = f"steward_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def runtime_on(backend: str, pg_admin_url: str = DEFAULT_PG_ADMIN_URL) -> Iterator[Runtime]:
    """A runtime on a fresh home; ``backend`` is ``sqlite`` or ``postgresql``."""
    with tempfile.TemporaryDirectory(prefix=f"steward-bench-{backend}-") as tmp:
        if backend == "sqlite":
            with _env("STEWARD_DATABASE_URL", None), _open(Path(tmp) / "home") as rt:
                yield rt
        elif backend == "postgresql":
            with (
                _pg_database(pg_admin_url) as url,
                _env("STEWARD_DATABASE_URL", url),
                _open(Path(tmp) / "home") as rt,
            ):
                yield rt
        else:
            raise ValueError(f"backend: expected sqlite or postgresql; found {backend!r}")


@contextmanager
def _open(root: Path) -> Iterator[Runtime]:
    home: Home = init_home(root)
    rt = Runtime.open(home)
    try:
        yield rt
    finally:
        rt.close()
