"""Printing for the CLI: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "print_json", "print_table"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, ensure_ascii=False) + "\n")


def print_table(
    rows: Sequence[BaseModel], columns: Sequence[str], *, title: str | None = None
) -> None:
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        data = row.model_dump(mode="json")
        table.add_row(*(_cell(data.get(c)) for c in columns))
    if not rows:
        console.print(f"[dim](no {title or 'rows'})[/dim]")
        return
    console.print(table)


def print_rows(
    rows: Sequence[Sequence[str]], columns: Sequence[str], *, title: str | None = None
) -> None:
    """A table of ready-made cells (for views that combine several fields)."""
    if not rows:
        console.print(f"[dim](no {title or 'rows'})[/dim]")
        return
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)
