"""Markdown pieces every section of docs/benchmarks.md uses."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["met", "table", "version_of"]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, as lines."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def met(ok: bool) -> str:
    """The verdict on an aim."""
    return "**met**" if ok else "**NOT met**"


def version_of(dist: str) -> str:
    """An installed distribution's version, or ``?``."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"
