"""Checks of a training spec against the data, before any compute: its columns exist,
its target fits the objective and its features have supported types.

Owns :func:`check_spec_against` and its helpers: the type classification of features
(:data:`Kind`, also used to prepare and feed the data) and of targets, close-name
suggestions and listings of columns for the error messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Literal

import pyarrow as pa

from steward.errors import ValidationFailed
from steward.training.spec import TrainingSpec

__all__ = ["check_spec_against"]

Kind = Literal["numeric", "categorical"]


def _feature_kind(t: pa.DataType) -> Kind | None:
    if (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
    ):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "categorical"
    if pa.types.is_dictionary(t) and (
        _feature_kind(t.value_type) == "categorical" or pa.types.is_integer(t.value_type)
    ):
        return "categorical"
    return None


def _is_numeric_target(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _is_label_target(t: pa.DataType) -> bool:
    return _is_numeric_target(t) or pa.types.is_boolean(t) or _feature_kind(t) == "categorical"


def _close(name: str, candidates: Sequence[str]) -> list[str]:
    """Names close to ``name``: a case-insensitive match first, then difflib's."""
    lower = {c.lower(): c for c in reversed(candidates)}
    found = [lower[name.lower()]] if name.lower() in lower else []
    for m in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6):
        if lower[m] not in found:
            found.append(lower[m])
    return found[:3]


def _listing(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_spec_against(spec: TrainingSpec, schema: pa.Schema, rows: int) -> list[str]:
    """Check ``spec`` against the data's schema and row count, before any compute.

    Returns the feature columns the fit will use: ``spec.features``, or every column
    but the target and ``spec.exclude``, in the schema's order. Raises
    :class:`ValidationFailed` (``details["check"]`` names the check) for an unknown
    target, feature or excluded column, an empty dataset, a target whose type does not
    fit the objective, or feature columns of unsupported types. Checks that need the
    values (classes of the target, infinite numbers) happen in :func:`fit`.
    """
    names = list(schema.names)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationFailed(
            f"column names must be unique; found {_listing(dupes)} more than once. "
            "Rename the columns of the dataset.",
            check="duplicate_columns",
            columns=dupes,
        )
    if spec.target not in names:
        close = _close(spec.target, names)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValidationFailed(
            f"target column {spec.target!r} is not in the data; its columns are "
            f"{_listing(names)}.{hint}",
            check="unknown_target",
            column=spec.target,
            expected="a column of the dataset",
            found=names,
            suggestions=close,
            fix="set target to one of the dataset's columns",
        )
    for what, asked in (("features", spec.features or []), ("exclude", spec.exclude)):
        unknown = [c for c in asked if c not in names]
        if unknown:
            nearby = {c: _close(c, names) for c in unknown}
            hints = "; ".join(f"{c!r}: did you mean {s[0]!r}?" for c, s in nearby.items() if s)
            raise ValidationFailed(
                f"{what}: {_listing([repr(c) for c in unknown])} not in the data; its "
                f"columns are {_listing(names)}." + (f" {hints}" if hints else ""),
                check=f"unknown_{what}",
                columns=unknown,
                expected="columns of the dataset",
                found=names,
                suggestions=nearby,
                fix=f"remove the unknown names from {what} or correct their spelling",
            )
    if rows == 0:
        raise ValidationFailed(
            "the dataset is empty: expected at least 2 rows (one to train on, one to "
            "validate); found 0. Register a version that has data.",
            check="empty",
            expected=">= 2 rows",
            found=0,
        )
    target_type = schema.field(spec.target).type
    if spec.objective == "regression" and not _is_numeric_target(target_type):
        raise ValidationFailed(
            f"regression needs a numeric target; column {spec.target!r} is {target_type}. "
            "Use objective binary or multiclass for labels, or pick a numeric target.",
            check="target_type",
            column=spec.target,
            expected="integer, float or decimal",
            found=str(target_type),
        )
    if spec.objective != "regression" and not _is_label_target(target_type):
        raise ValidationFailed(
            f"{spec.objective} classification needs a target of labels (strings, integers "
            f"or booleans); column {spec.target!r} is {target_type}. Pick another target.",
            check="target_type",
            column=spec.target,
            expected="string, integer or boolean labels",
            found=str(target_type),
        )
    if spec.features is not None:
        features = list(spec.features)
    else:
        skip = {spec.target, *spec.exclude}
        features = [n for n in names if n not in skip]
    if not features:
        raise ValidationFailed(
            f"no feature columns: the data has only {_listing(names)}, all of them "
            "the target or excluded. Exclude fewer columns.",
            check="no_features",
            expected="at least one feature column",
            found=[],
        )
    bad = {
        c: str(schema.field(c).type)
        for c in features
        if _feature_kind(schema.field(c).type) is None
    }
    if bad:
        shown = ", ".join(f"{c!r} ({t})" for c, t in bad.items())
        raise ValidationFailed(
            f"unsupported feature types: {shown}. Features must be numeric (integer, "
            "float, decimal, boolean) or categorical (string, dictionary). Exclude these "
            f"columns (exclude: [{', '.join(bad)}]) or derive a numeric column from them.",
            check="feature_types",
            columns=bad,
            expected="numeric or categorical columns",
            found=bad,
            fix=f"exclude: {list(bad)}",
        )
    return features
