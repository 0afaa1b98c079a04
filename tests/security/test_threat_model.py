"""docs/security.md's threat model names only tests that exist in tests/security/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tests_here() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests" / "security").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found[path.name] = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    model = text.split("## Threat model", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", model)) - {"test_threat_model"}
    modules = set(re.findall(r"`(test_\w+\.py)`", model))
    tests = _tests_here()
    everything = set().union(*tests.values())
    assert named, "the threat model names no test"
    assert sorted(named - everything) == []
    assert sorted(modules - set(tests)) == []
    # and every module of tests/security/ is in the table
    assert sorted(set(tests) - modules - {"test_threat_model.py"}) == []
