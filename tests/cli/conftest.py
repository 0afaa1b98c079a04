"""Fixtures for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import run


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home on SQLite, created with ``steward init``."""
    monkeypatch.delenv("STEWARD_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    code, _, err = run(home, "init", str(home), user=None)
    assert code == 0, err
    return home
