"""Threat: fairness that passes because nothing was compared (issue 16, item 12).

With one group large enough to judge, a disparity is 0 and a ratio 1 by construction: a
gate reading those numbers passes a model nobody judged. Such an attribute is reported
"not judged" and fails the gate unless the suite explicitly allows it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
from gatesdata import ALICE, BOB, hmda, register_split, train_model, with_suite

from steward.config import Home
from steward.errors import GateFailed
from steward.gates import GateService
from steward.kernels.fairness import fairness_report
from steward.registry import ModelService
from steward.runtime import Runtime

TRAIN_ROWS = 1900  # register_split's default: the holdout is every row after these


def _afam_counts() -> dict[str, int]:
    """Group sizes of ``afam`` in the holdout, counted with pandas from the fixture."""
    counts = hmda().slice(TRAIN_ROWS).to_pandas()["afam"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _suite(min_group_size: int, **fairness: Any) -> dict[str, Any]:
    return {
        "objective": "binary",
        "primary": "roc_auc",
        "performance": [{"metric": "roc_auc", "min": 0.5}],
        "fairness": {
            "sensitive": ["afam", "single"],
            "min_group_size": min_group_size,
            "intersections": False,
            # limits any judged attribute meets: only "not judged" can fail this suite
            "limits": [
                {"metric": "demographic_parity_ratio", "min": 0.0},
                {"metric": "equalized_odds_difference", "max": 1.0},
            ],
            **fairness,
        },
    }


def _one_group_judged() -> int:
    """A minimum group size that leaves exactly one afam group large enough."""
    counts = sorted(_afam_counts().values())
    assert len(counts) == 2 and counts[0] < counts[1]
    return counts[0] + 1


def test_an_attribute_with_one_judgeable_group_fails_the_gate(home: Home) -> None:
    with_suite(home, _suite(_one_group_judged()))
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt, TRAIN_ROWS)
        ref = train_model(rt, train)
        info = GateService(rt).validate(BOB, ref, hold)
        assert not info.passed
        assert [c.name for c in info.report.failed] == ["afam: judged"]
        assert info.report.fairness["not_judged"] == ["afam"]
        with pytest.raises(GateFailed):
            GateService(rt).decide(BOB, ref, approve=True)
        assert ModelService(rt).show(ALICE, ref).stage == "failed"
    finally:
        rt.close()


def test_the_suite_may_allow_unjudged_attributes_explicitly(home: Home) -> None:
    with_suite(home, _suite(_one_group_judged(), allow_unjudged=True))
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt, TRAIN_ROWS)
        ref = train_model(rt, train)
        info = GateService(rt).validate(BOB, ref, hold)
        assert info.passed
        judged = [c for c in info.report.checks if c.name == "afam: judged"]
        assert [(c.passed, c.value) for c in judged] == [(None, 1.0)]
        assert info.report.fairness["not_judged"] == ["afam"]
        assert info.report.fairness["attributes"]["single"]["judged"] is True
    finally:
        rt.close()


def test_the_kernel_says_when_an_attribute_was_not_judged() -> None:
    rng = np.random.default_rng(7)
    n = 200
    y_true = rng.integers(0, 2, n)
    y_pred = rng.integers(0, 2, n)
    sex = np.array(["f"] * 190 + ["m"] * 10, dtype=object)  # "m" is below 30 rows
    region = np.array(["north"] * 100 + ["south"] * 100, dtype=object)
    report = fairness_report(y_true, y_pred, {"sex": sex, "region": region}, min_group_size=30)
    assert report.not_judged() == ["sex"]
    assert report.attributes["sex"].judged is False
    assert report.attributes["region"].judged is True
    assert report.to_dict()["attributes"]["sex"]["judged"] is False
