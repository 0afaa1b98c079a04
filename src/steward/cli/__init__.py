"""The ``steward`` command line (Typer): thin over the SDK, ``--json`` on listings."""

from steward.cli.main import app, main

__all__ = ["app", "main"]
