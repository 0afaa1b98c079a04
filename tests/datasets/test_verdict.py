"""The verdict of a masked table (``judge``) and what lowers a column's class."""

from __future__ import annotations

import pyarrow as pa
import pytest

from steward.datasets.classes import ColumnClass, lowers
from steward.datasets.mask import judge
from steward.kernels.profile import TableProfile


def _cls(column: str, pii: str | None, category: str) -> dict[str, object]:
    return {"column": column, "pii_type": pii, "category": category}


CLASSES = [
    _cls("email", "email", "direct"),
    _cls("dx", "icd10_code", "special"),
    _cls("age", "age", "quasi"),
]
TABLE = pa.table({"dx": ["E11"] * 6, "age": ["30-39"] * 6, "y": list(range(6))})


@pytest.mark.parametrize(
    "applied,verdict",
    [
        ({"email": "drop", "dx": "drop"}, "anonymised"),
        ({"email": "redact", "dx": "generalise_numeric"}, "anonymised"),
        ({"email": "pseudonymise", "dx": "drop"}, "pseudonymised"),
        ({"email": "tokenise", "dx": "drop"}, "pseudonymised"),
        ({"email": "partial_mask", "dx": "drop"}, "pseudonymised"),
        ({"email": "drop"}, "identifiable"),  # the diagnosis kept as it is
        ({"dx": "drop"}, "identifiable"),  # the e-mail kept
        ({"email": "pseudonymise", "dx": "pseudonymise"}, "pseudonymised"),
    ],
)
def test_verdict_follows_what_was_done_to_each_class(applied: dict[str, str], verdict: str) -> None:
    out = judge(CLASSES, applied, TABLE, 5)
    assert out.verdict == verdict, out.reasons
    assert (out.reasons == []) == (verdict == "anonymised")


def test_k_below_the_minimum_is_identifiable_and_full_suppression_is_flagged() -> None:
    small = pa.table({"age": ["30-39", "40-49", "40-49"]})
    out = judge(CLASSES, {"email": "drop", "dx": "drop"}, small, 2)
    assert out.verdict == "identifiable" and out.k_report["k"] == 1
    gone = pa.table({"age": pa.array([None, None, None], pa.string())})
    out = judge(CLASSES, {"email": "drop", "dx": "drop"}, gone, 2)
    assert out.verdict == "anonymised" and out.k_by_suppression_only and out.warnings


def test_a_generalised_special_column_counts_for_k() -> None:
    t = pa.table({"dx": ["E", "E", "I"], "age": ["30-39"] * 3})
    out = judge(CLASSES, {"email": "drop", "dx": "generalise_numeric"}, t, 2)
    assert out.k_report["quasi_identifiers"] == ["dx", "age"] and out.k_report["k"] == 1


def _col(category: str) -> ColumnClass:
    return ColumnClass(
        column="c",
        pii_type=None,
        category=category,
        confidence=1.0,
        detector="t",
        match_share=1.0,
        sampled=1,
        explanation="",
    )


@pytest.mark.parametrize(
    "old,new,lowered",
    [
        ("direct", "none", True),
        ("direct", "health_condition", True),
        ("special", "age", True),
        ("quasi", "none", True),
        ("direct", "email", False),
        ("none", "person_name", False),
        ("quasi", "icd10_code", False),
        ("none", "none", False),
    ],
)
def test_lowering_a_class_is_a_declassification(old: str, new: str, lowered: bool) -> None:
    assert lowers(_col(old), new) is lowered


def test_redacted_profile_keeps_counts_and_no_values() -> None:
    t = pa.table({"name": ["Ann", "Bo", None], "n": [1.0, 2.0, 3.0]})
    state = TableProfile().update(t).redact(["name"])
    s = state.summary()["columns"]
    assert (s["name"]["count"], s["name"]["nulls"], s["name"]["top"]) == (3, 1, [])
    assert "Ann" not in str(state.to_dict())
    assert s["n"]["max"] == 3.0
