"""Running the CLI in-process (Typer's CliRunner) against a home."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from steward.cli import app

runner = CliRunner()


def run(home: Path, *args: str, user: str | None = "admin") -> tuple[int, str, str]:
    env = {"STEWARD_HOME": str(home)}
    if user:
        env["STEWARD_USER"] = user
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr
