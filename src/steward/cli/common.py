"""What every CLI command shares: the acting user and server, errors, the client."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from steward.cli.output import err_console
from steward.errors import StewardError
from steward.sdk import Steward

__all__ = ["HomeOpt", "JsonOpt", "client", "handle_errors", "state"]

F = TypeVar("F", bound=Callable[..., Any])

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="STEWARD_HOME", help="Steward home [default: ./.steward]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class _State:
    home: Path | None = None
    user: str | None = None
    url: str | None = None
    token: str | None = None
    clients: list[Steward] = []  # noqa: RUF012 - one process, one command


state = _State()


def handle_errors(fn: F) -> F:
    """Print a Steward error as one clear line (plus details) and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StewardError as exc:
            err_console.print(
                f"[bold red]error[/bold red] {escape(f'[{exc.code}]')}: {escape(exc.message)}"
            )
            raise typer.Exit(exc.exit_code) from None
        finally:
            while state.clients:  # connections and stores the command opened
                state.clients.pop().close()

    return wrapper  # type: ignore[return-value]


def client() -> Steward:
    """The command's client (closed when the command ends, see :func:`handle_errors`)."""
    if state.url:
        sw = Steward(url=state.url, token=state.token)
    else:
        sw = Steward(state.home, user=state.user)
    state.clients.append(sw)
    return sw
