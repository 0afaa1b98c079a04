"""The registered schema of a version: types, nullability, ranges, categories; and how
two schemas differ (what counts as a break)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import BaseModel

__all__ = ["ColumnSchema", "SchemaChange", "compare_schemas", "infer_schema", "logical_type"]

MAX_CATEGORIES = 20


class ColumnSchema(BaseModel):
    name: str
    type: str  # integer | number | boolean | string | date | timestamp | other
    arrow_type: str
    nullable: bool
    null_rate: float
    min: float | str | None = None
    max: float | str | None = None
    categories: list[str] | None = None


class SchemaChange(BaseModel):
    column: str
    kind: str  # missing | added | retyped
    expected: str | None
    found: str | None
    breaking: bool


def logical_type(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "string"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return "other"


def infer_schema(schema: pa.Schema, summary: dict[str, dict[str, Any]]) -> list[ColumnSchema]:
    """Schema from the Arrow types and the columns' profile summaries."""
    out = []
    for field in schema:
        s = summary.get(field.name, {})
        count = int(s.get("count", 0) or 0)
        nulls = int(s.get("nulls", 0) or 0)
        kind = logical_type(field.type)
        lo = hi = None
        if kind in ("integer", "number"):
            lo, hi = s.get("min"), s.get("max")
        cats = None
        top = s.get("top") or []
        distinct = s.get("distinct")
        if kind in ("string", "boolean") and distinct is not None and distinct <= MAX_CATEGORIES:
            cats = sorted(str(v) for v, _ in top)
        out.append(
            ColumnSchema(
                name=field.name,
                type=kind,
                arrow_type=str(field.type),
                nullable=nulls > 0,
                null_rate=(nulls / count) if count else 0.0,
                min=lo,
                max=hi,
                categories=cats,
            )
        )
    return out


_WIDENING = {("integer", "number")}


def compare_schemas(old: list[ColumnSchema], new: list[ColumnSchema]) -> list[SchemaChange]:
    """Differences from ``old`` to ``new``. Missing and retyped columns break;
    added columns and integer→number widening do not."""
    before = {c.name: c for c in old}
    after = {c.name: c for c in new}
    changes: list[SchemaChange] = []
    for name, col in before.items():
        if name not in after:
            changes.append(
                SchemaChange(
                    column=name, kind="missing", expected=col.type, found=None, breaking=True
                )
            )
        elif after[name].type != col.type:
            changes.append(
                SchemaChange(
                    column=name,
                    kind="retyped",
                    expected=col.type,
                    found=after[name].type,
                    breaking=(col.type, after[name].type) not in _WIDENING,
                )
            )
    for name, col in after.items():
        if name not in before:
            changes.append(
                SchemaChange(
                    column=name, kind="added", expected=None, found=col.type, breaking=False
                )
            )
    return changes
