"""Column classes of a dataset version, overrides, and what counts as lowering one."""

from __future__ import annotations

from pydantic import BaseModel

from steward.errors import ValidationFailed
from steward.kernels.pii import PII_TYPES

__all__ = ["ColumnClass", "check_overrides", "lowers", "overridden", "sensitive"]


class ColumnClass(BaseModel):
    column: str
    pii_type: str | None
    category: str
    confidence: float
    detector: str
    match_share: float
    sampled: int
    explanation: str
    overridden_by: str | None = None


#: how much a column's class protects; setting a lower rank is a declassification
_RANK = {"none": 0, "quasi": 1, "special": 2, "free_text": 3, "direct": 3}


def _category(cls: str) -> str:
    return "none" if cls == "none" else PII_TYPES[cls].category


def lowers(old: ColumnClass, new: str) -> bool:
    """Whether setting class ``new`` lowers the column's protection (declassifies)."""
    return _RANK[_category(new)] < _RANK.get(old.category, 0)


def sensitive(classes: list[ColumnClass]) -> list[str]:
    """Columns whose values no profile or other metadata may keep."""
    return [c.column for c in classes if c.category in ("direct", "special", "free_text")]


def check_overrides(ref: str, current: list[ColumnClass], overrides: dict[str, str]) -> list[str]:
    """Validate ``overrides`` (column → class or ``"none"``); return the columns whose
    class they lower."""
    by_name = {c.column: c for c in current}
    for col, cls in overrides.items():
        if col not in by_name:
            raise ValidationFailed(
                f"column {col!r} is not in {ref}; expected one of {', '.join(by_name)}",
                column=col,
            )
        if cls != "none" and cls not in PII_TYPES:
            raise ValidationFailed(
                f"class {cls!r} for column {col!r}: expected 'none' or one of "
                f"{', '.join(sorted(PII_TYPES))}",
                column=col,
            )
    return [col for col, cls in overrides.items() if lowers(by_name[col], cls)]


def overridden(c: ColumnClass, cls: str, by: str, *, approved_by: str | None = None) -> ColumnClass:
    """``c`` with class ``cls`` set by ``by`` (and approved by another steward)."""
    approval = f", approved by {approved_by}" if approved_by else ""
    return ColumnClass(
        column=c.column,
        pii_type=None if cls == "none" else cls,
        category=_category(cls),
        confidence=1.0,
        detector="override",
        match_share=c.match_share,
        sampled=c.sampled,
        explanation=(
            f"set to {cls} by {by}{approval} (detector said {c.pii_type or 'none'} via "
            f"{c.detector})"
        ),
        overridden_by=by,
    )
