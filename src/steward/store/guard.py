"""The write guard: state changes only inside a governed action (or a migration).

The one door opens the guard for the length of its transaction; the store's engine
hook refuses INSERT/UPDATE/DELETE statements while it is closed, and the artifact
store refuses to write objects. A forgotten door is a loud bug, not a silent bypass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["governed_writes", "writes_open"]

_open: ContextVar[str | None] = ContextVar("steward_governed_action", default=None)


@contextmanager
def governed_writes(action: str) -> Iterator[None]:
    """Open the guard for ``action`` within this context (thread/task local)."""
    token = _open.set(action)
    try:
        yield
    finally:
        _open.reset(token)


def writes_open() -> str | None:
    """The governed action currently allowed to write, or ``None``."""
    return _open.get()
