"""Optional test dependencies: skipped with a reason when missing, except under
``STEWARD_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets), where a missing one fails the run."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REQUIRE = os.environ.get("STEWARD_REQUIRE_SERVICES") == "1"


def module(name: str) -> ModuleType:
    """``pytest.importorskip(name)``, but an ImportError under STEWARD_REQUIRE_SERVICES=1."""
    if REQUIRE:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"STEWARD_REQUIRE_SERVICES=1 but {name!r} is not installed ({exc}); "
                "run 'make test', which installs the dev, demo and ray extras"
            ) from exc
    return pytest.importorskip(name)
