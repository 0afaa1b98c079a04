"""The NATS server with JetStream the stream tests run against.

Like PostgreSQL in tests/conftest.py: without a reachable server (or with JetStream off)
the tests that need it are skipped with a visible notice; with
``STEWARD_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets) they fail.
"""

from __future__ import annotations

import asyncio
import os

import pytest

NATS_URL = os.environ.get("STEWARD_TEST_NATS_URL", "nats://127.0.0.1:4222")
REQUIRE = os.environ.get("STEWARD_REQUIRE_SERVICES") == "1"
_skipped: list[str] = []


def _nats_problem(url: str) -> str | None:
    """Why the NATS server at ``url`` cannot run the stream tests, or ``None``."""
    import nats
    from nats.errors import Error as NatsError

    async def probe() -> str | None:
        async def quiet(_exc: Exception) -> None:
            return None

        try:
            nc = await nats.connect(
                url,
                connect_timeout=2,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                error_cb=quiet,
            )
        except Exception as exc:
            return f"cannot connect ({type(exc).__name__}: {exc})"
        try:
            await nc.jetstream().account_info()
        except (NatsError, TimeoutError) as exc:
            return f"JetStream is not enabled ({type(exc).__name__}); start nats-server with -js"
        finally:
            await nc.close()
        return None

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The URL of a NATS server with JetStream (``STEWARD_TEST_NATS_URL``)."""
    problem = _nats_problem(NATS_URL)
    if problem is not None:
        msg = f"NATS with JetStream not usable at {NATS_URL}: {problem}"
        if REQUIRE:
            pytest.fail(f"STEWARD_REQUIRE_SERVICES=1 but {msg}")
        _skipped.append(msg)
        pytest.skip(msg)
    return NATS_URL


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        terminalreporter.write_sep(
            "!",
            "NOTICE: tests against nats were SKIPPED (service not running); "
            "set STEWARD_REQUIRE_SERVICES=1 to require them",
            yellow=True,
            bold=True,
        )
