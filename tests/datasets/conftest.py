"""Fixtures for the datasets tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from peopledata import people_rows, write_csv


@pytest.fixture
def people_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "people.csv", people_rows())
