"""Drift of a whole table: every column of a window against the reference profile.

:func:`table_drift` tests each column with the test :class:`DriftSettings` gives it
(Evidently's choice by default), then calls the dataset drifted when at least
``drift_share`` of the *tested* columns drift (Evidently: half of all columns, which
are all tested there because it refuses to run otherwise).

A column that cannot be tested is reported as ``not_tested`` with the reason, never
with a made-up number: missing from the window, an empty window, nothing but missing
values on either side, a kind that changed (numbers then, text now), a kind with no test
(nested, binary), skipped by the settings (datetime columns by default). Not-tested
columns count neither as drifted nor as stable.

Examples
--------
>>> import pyarrow as pa
>>> from steward.kernels.profile import TableProfile
>>> ref = TableProfile().update(pa.table({"x": [1.0, 2, 3, 4, 5, 6, 7], "c": list("aabbaab")}))
>>> cur = TableProfile().update(pa.table({"x": [9.0, 9, 8, 9, 8, 9, 9]}))
>>> d = table_drift(ref, cur)
>>> (d.columns["x"].status, d.columns["x"].test.method, d.columns["c"].reason)
('drifted', 'ks', 'missing from the current window')
>>> (d.tested, d.drifted, d.dataset_drift)
(1, 1, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from steward.kernels.drift._inputs import DriftError
from steward.kernels.drift.choice import DriftSettings, choose
from steward.kernels.drift.profiled import distinct_in, prepare, run
from steward.kernels.drift.results import DriftTest
from steward.kernels.profile import CategoricalProfile, ColumnProfile, NumericProfile, TableProfile

__all__ = ["ColumnDrift", "ColumnStatus", "TableDrift", "table_drift"]

ColumnStatus: TypeAlias = Literal["drifted", "stable", "not_tested"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict.

    Attributes
    ----------
    column : its name.
    kind : its profile kind in the reference (``missing`` if the reference lacks it).
    status : ``drifted``, ``stable`` or ``not_tested``.
    test : the test's result (None when not tested).
    reason : why it was not tested (None when tested).
    source : where the method came from: ``column``, ``kind`` or ``all`` settings, or
        the ``default`` choice (None when not tested).
    """

    column: str
    kind: str
    status: ColumnStatus
    test: DriftTest | None = None
    reason: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "status": self.status,
            "test": self.test.to_dict() if self.test is not None else None,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True)
class TableDrift:
    """Per-column verdicts and the dataset's.

    Attributes
    ----------
    columns : column → :class:`ColumnDrift`, in the order asked for.
    drift_share : the share of drifted columns at which the dataset drifts.
    reference_rows, current_rows : the two profiles' row counts.
    """

    columns: Mapping[str, ColumnDrift]
    drift_share: float
    reference_rows: int
    current_rows: int

    @property
    def tested(self) -> int:
        return sum(c.status != "not_tested" for c in self.columns.values())

    @property
    def drifted(self) -> int:
        return sum(c.status == "drifted" for c in self.columns.values())

    @property
    def share(self) -> float | None:
        """Drifted share of the tested columns (None when none was tested)."""
        return self.drifted / self.tested if self.tested else None

    @property
    def dataset_drift(self) -> bool:
        """At least ``drift_share`` of the tested columns drifted (False if none was
        tested: no evidence is not drift)."""
        share = self.share
        return share is not None and share >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.status == "drifted"]

    @property
    def not_tested(self) -> dict[str, str]:
        """Column → reason, for the columns not tested."""
        return {n: c.reason or "" for n, c in self.columns.items() if c.status == "not_tested"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "tested": self.tested,
            "drifted": self.drifted,
            "share": self.share,
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "columns": {n: c.to_dict() for n, c in self.columns.items()},
        }


def _valid(p: ColumnProfile, numeric: bool) -> int:
    inner = p.profile
    if numeric and isinstance(inner, NumericProfile):
        return inner.finite
    return inner.valid


def _column(
    name: str,
    ref_table: TableProfile,
    cur_table: TableProfile,
    settings: DriftSettings,
) -> ColumnDrift:
    ref = ref_table.columns.get(name)
    if ref is None:
        return ColumnDrift(name, "missing", "not_tested", reason="not in the reference profile")
    kind = ref.kind

    def skip(reason: str) -> ColumnDrift:
        return ColumnDrift(name, kind, "not_tested", reason=reason)

    if kind == "other":
        return skip("no drift test for this column type (nested, binary or time of day)")
    how = settings.resolve(name, kind)
    if how.skip:
        if kind == "datetime" and settings.columns.get(name) is None:
            return skip(
                "datetime columns are not tested by default (time moves on in every "
                "window); set a method for the column or for datetime columns to test it"
            )
        return skip("skipped by the drift settings")
    if cur_table.rows == 0:
        return skip("empty window: the current profile has no rows")
    cur = cur_table.columns.get(name)
    if cur is None:
        return skip("missing from the current window")
    numeric = how.kind == "numeric"
    if _valid(ref, numeric) == 0:
        what = "finite values" if numeric else "non-missing values"
        return skip(f"no {what} in the reference ({ref.count:,} rows, {ref.nulls:,} missing)")
    if _valid(cur, numeric) == 0:
        what = "finite values" if numeric else "non-missing values"
        return skip(f"no {what} in the current window ({cur.count:,} rows, {cur.nulls:,} missing)")
    if cur.kind != kind and {cur.kind, kind} != {"numeric", "datetime"}:
        return skip(f"kind changed from {kind} in the reference to {cur.kind} in the window")
    ref_inner, cur_inner = ref.profile, cur.profile
    assert isinstance(ref_inner, NumericProfile | CategoricalProfile)
    assert isinstance(cur_inner, NumericProfile | CategoricalProfile)
    try:
        pair = prepare(how.kind, ref_inner, cur_inner)
    except DriftError as exc:
        return skip(str(exc))
    method = how.method
    if method is None:
        distinct = distinct_in(pair)
        method = choose(
            how.kind,
            pair.a.n,
            distinct,
            small_reference_rows=settings.small_reference_rows,
        )
    test = run(method, pair, how.threshold_for(method, settings))
    status: ColumnStatus = "drifted" if test.drifted else "stable"
    return ColumnDrift(name, kind, status, test=test, source=how.source)


def table_drift(
    reference: TableProfile,
    current: TableProfile,
    settings: DriftSettings | None = None,
    columns: Sequence[str] | None = None,
) -> TableDrift:
    """Test every column of ``current`` against ``reference``.

    Parameters
    ----------
    reference
        The model's reference profile (training data, or its predictions there).
    current
        The window's profile.
    settings
        Methods, thresholds and the drift share; Evidently's defaults when None.
    columns
        The columns to test, in order (default: every column of the reference, e.g.
        the features and the prediction).

    Returns
    -------
    TableDrift
        Per-column verdicts, the drifted share of tested columns and the dataset's
        verdict.
    """
    if not isinstance(reference, TableProfile):
        raise DriftError(
            f"reference: expected a TableProfile; found {type(reference).__name__}",
            parameter="reference",
        )
    if not isinstance(current, TableProfile):
        raise DriftError(
            f"current: expected a TableProfile; found {type(current).__name__}",
            parameter="current",
        )
    settings = settings if settings is not None else DriftSettings()
    if columns is None:
        names = list(reference.columns)
    elif isinstance(columns, str):
        raise DriftError(
            "columns: expected a sequence of column names; found a single string",
            parameter="columns",
        )
    else:
        names = list(dict.fromkeys(columns))
    results = {n: _column(n, reference, current, settings) for n in names}
    return TableDrift(
        columns=MappingProxyType(results),
        drift_share=settings.drift_share,
        reference_rows=reference.rows,
        current_rows=current.rows,
    )
