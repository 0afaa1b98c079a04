"""Which test a column gets, with which threshold: Evidently's defaults and overrides.

By default (:func:`choose`) the test is the one Evidently's ``DataDriftPreset`` picks
(``get_stattest`` → ``_get_default_stattest`` in
``evidently/legacy/calculations/stattests/registry.py``):

- reference of at most 1,000 rows (non-missing values): ``ks`` for a numeric column
  with more than 5 distinct values; otherwise, and for categorical columns,
  ``chisquare`` with more than 2 distinct values and ``z`` with 1 or 2;
- reference of more than 1,000 rows: ``wasserstein`` for a numeric column with more
  than 5 distinct values; ``jensenshannon`` otherwise and for categorical columns.

"Distinct values" counts reference and current together (``nunique`` of both), missing
values left out. Thresholds default to 0.05 for p-values and 0.1 for distances; a
dataset drifts when at least half the tested columns do.

:class:`DriftSettings` overrides any of it — per column, per kind of column, for every
column, and per method's threshold — and says which columns are not tested (datetime
columns by default: time moves on in every window, and Evidently leaves them out too).

Examples
--------
>>> choose("numeric", reference_rows=800, distinct_values=40)
'ks'
>>> choose("categorical", reference_rows=50_000, distinct_values=2)
'jensenshannon'
>>> s = DriftSettings.from_dict({"numeric": {"method": "psi", "threshold": 0.2},
...                              "columns": {"age": {"method": "ks"}}})
>>> s.resolve("age", "numeric").method, s.resolve("income", "numeric").threshold
('ks', 0.2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from steward.kernels.drift._inputs import DriftError, check_int, check_number, check_threshold
from steward.kernels.drift.results import DEFAULT_THRESHOLDS, METHODS, P_VALUE_METHODS, Method

__all__ = [
    "FEW_VALUES",
    "SMALL_REFERENCE_ROWS",
    "ColumnSettings",
    "DriftSettings",
    "Resolved",
    "TestKind",
    "choose",
]

#: how a column's values are compared: as numbers or as categories
TestKind: TypeAlias = Literal["numeric", "categorical"]
#: Evidently's boundary between a small reference and a large one
SMALL_REFERENCE_ROWS = 1000
#: a numeric column with at most this many distinct values is tested as categories
FEW_VALUES = 5
_NUMERIC_ONLY: frozenset[Method] = frozenset({"ks", "wasserstein"})
_PROFILE_KINDS = ("numeric", "datetime", "categorical")


def choose(
    kind: str,
    reference_rows: int,
    distinct_values: int,
    *,
    small_reference_rows: int = SMALL_REFERENCE_ROWS,
) -> Method:
    """Evidently's default test for a column.

    Parameters
    ----------
    kind
        ``numeric`` (or ``datetime``, tested as numbers) or ``categorical``.
    reference_rows
        Non-missing values in the reference.
    distinct_values
        Distinct non-missing values of reference and current together.
    small_reference_rows
        The largest reference that counts as small (1,000 in Evidently).
    """
    reference_rows = check_int("reference_rows", reference_rows)
    distinct_values = check_int("distinct_values", distinct_values)
    if kind not in ("numeric", "datetime", "categorical"):
        raise DriftError(
            f"kind: expected 'numeric', 'datetime' or 'categorical'; found {kind!r}",
            parameter="kind",
        )
    numeric = kind != "categorical"
    if reference_rows <= small_reference_rows:
        if numeric and distinct_values > FEW_VALUES:
            return "ks"
        return "chisquare" if distinct_values > 2 else "z"
    if numeric and distinct_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def _method(where: str, value: object) -> Method | None:
    if value is None:
        return None
    if value not in METHODS:
        raise DriftError(
            f"{where}: expected one of {', '.join(METHODS)}; found {value!r}", parameter=where
        )
    return value


def _check_pair(where: str, method: Method | None, threshold: float | None) -> float | None:
    if threshold is None:
        return None
    name = f"{where}.threshold" if where else "threshold"
    if method is None:
        return check_number(name, threshold, low=0.0)
    return check_threshold(name, threshold, p_value=method in P_VALUE_METHODS)


@dataclass(frozen=True)
class ColumnSettings:
    """Overrides for one column, or for every column of one kind.

    Attributes
    ----------
    method : the test to run instead of the default choice.
    threshold : the threshold to use instead of the method's. Without a ``method``
        here it applies to whatever test the column gets (as Evidently's per-column
        and per-type thresholds do), so set both when the choice may vary.
    kind : read the column's values as ``numeric`` or ``categorical`` whatever its
        profile kind (e.g. a small integer code as categories; a numeric profile has
        exact value counts while it has at most ``cap`` distinct values).
    skip : leave the column out of the drift verdict (reported as not tested).
    """

    method: Method | None = None
    threshold: float | None = None
    kind: TestKind | None = None
    skip: bool = False

    def __post_init__(self) -> None:
        _method("method", self.method)
        object.__setattr__(self, "threshold", _check_pair("", self.method, self.threshold))
        if self.kind not in (None, "numeric", "categorical"):
            raise DriftError(
                f"kind: expected 'numeric' or 'categorical'; found {self.kind!r}",
                parameter="kind",
            )
        if self.kind == "categorical" and self.method in _NUMERIC_ONLY:
            raise DriftError(
                f"method: {self.method} compares numeric distributions; it cannot read a "
                f"column as categories. Use chisquare, z, jensenshannon, psi or hellinger.",
                parameter="method",
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "settings") -> ColumnSettings:
        if not isinstance(d, Mapping):
            raise DriftError(
                f"{where}: expected a mapping; found {type(d).__name__}", parameter=where
            )
        unknown = sorted(set(d) - {"method", "threshold", "kind", "skip"})
        if unknown:
            raise DriftError(
                f"{where}: unknown keys {unknown}; expected method, threshold, kind or skip",
                parameter=where,
            )
        method = _method(f"{where}.method", d.get("method"))
        skip = d.get("skip", False)
        if not isinstance(skip, bool):
            raise DriftError(
                f"{where}.skip: expected true or false; found {skip!r}", parameter=f"{where}.skip"
            )
        threshold = _check_pair(where, method, d.get("threshold"))
        try:
            return cls(method, threshold, d.get("kind"), skip)
        except DriftError as exc:
            raise DriftError(f"{where}: {exc}", parameter=f"{where}.{exc.parameter}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "kind": self.kind,
            "skip": self.skip,
        }


@dataclass(frozen=True)
class Resolved:
    """What one column gets: whether it is tested, how its values are read, the method
    (None: choose by default once the profiles are known), the threshold (None: the
    method's) and where the choice came from (``column``, ``kind``, ``all`` or
    ``default``)."""

    skip: bool
    kind: TestKind
    method: Method | None
    threshold: float | None
    source: Literal["column", "kind", "all", "default"]

    def threshold_for(self, method: Method, settings: DriftSettings) -> float:
        """The threshold ``method`` runs with for this column."""
        if self.threshold is not None:
            return self.threshold
        return settings.thresholds.get(method, DEFAULT_THRESHOLDS[method])


@dataclass(frozen=True)
class DriftSettings:
    """How a model's drift is tested: Evidently's defaults unless overridden.

    Attributes
    ----------
    method, threshold : for every column (Evidently's ``DataDriftPreset(method=...,
        threshold=...)``).
    numeric, categorical, datetime : for every column of that profile kind. Datetime
        columns are skipped unless their settings (or a column's) say otherwise.
    columns : column name → settings, the most specific.
    thresholds : method → default threshold, replacing Evidently's (0.05 for
        ``ks``/``chisquare``/``z``, 0.1 for the distances).
    drift_share : the dataset drifts when at least this share of the tested columns
        drift (0.5).
    small_reference_rows : the largest reference that counts as small (1,000).

    A column's method comes from the first of ``columns[name]``, its kind's settings,
    ``method`` and the default choice; its threshold from the first of
    ``columns[name].threshold``, the kind's ``threshold``, ``threshold``,
    ``thresholds[method]`` and the method's default. "Its kind" is the kind it is read
    as: a numeric column read as categories (``kind: categorical``) takes the
    ``categorical`` settings' method and threshold.
    """

    method: Method | None = None
    threshold: float | None = None
    numeric: ColumnSettings = ColumnSettings()
    categorical: ColumnSettings = ColumnSettings()
    datetime: ColumnSettings = ColumnSettings(skip=True)
    columns: Mapping[str, ColumnSettings] = field(default_factory=dict)
    thresholds: Mapping[Method, float] = field(default_factory=dict)
    drift_share: float = 0.5
    small_reference_rows: int = SMALL_REFERENCE_ROWS

    def __post_init__(self) -> None:
        _method("method", self.method)
        object.__setattr__(self, "threshold", _check_pair("", self.method, self.threshold))
        for name in ("numeric", "categorical", "datetime"):
            if not isinstance(getattr(self, name), ColumnSettings):
                raise DriftError(
                    f"{name}: expected ColumnSettings; found {type(getattr(self, name)).__name__}",
                    parameter=name,
                )
        cols = dict(self.columns)
        for name, cs in cols.items():
            if not isinstance(cs, ColumnSettings):
                raise DriftError(
                    f"columns[{name!r}]: expected ColumnSettings; found {type(cs).__name__}",
                    parameter="columns",
                )
        object.__setattr__(self, "columns", MappingProxyType(cols))
        ths: dict[Method, float] = {}
        for m, t in dict(self.thresholds).items():
            method = _method("thresholds", m)
            assert method is not None
            ths[method] = check_threshold(f"thresholds.{m}", t, p_value=method in P_VALUE_METHODS)
        object.__setattr__(self, "thresholds", MappingProxyType(ths))
        share = check_number("drift_share", self.drift_share, low=0.0, high=1.0)
        object.__setattr__(self, "drift_share", share)
        object.__setattr__(
            self,
            "small_reference_rows",
            check_int("small_reference_rows", self.small_reference_rows),
        )

    def resolve(self, column: str, profile_kind: str) -> Resolved:
        """The settings that apply to ``column`` of profile kind ``profile_kind``
        (``numeric``, ``datetime`` or ``categorical``)."""
        if profile_kind not in _PROFILE_KINDS:
            raise DriftError(
                f"profile_kind: expected one of {', '.join(_PROFILE_KINDS)}; found "
                f"{profile_kind!r}",
                parameter="profile_kind",
            )
        by_profile: ColumnSettings = getattr(self, profile_kind)
        col = self.columns.get(column)
        skip = col.skip if col is not None else by_profile.skip
        natural: TestKind = "categorical" if profile_kind == "categorical" else "numeric"
        kind: TestKind = (col.kind if col is not None else None) or by_profile.kind or natural
        # Methods and thresholds for a kind apply to the columns read as that kind: a
        # numeric column read as categories takes the categorical settings.
        by_kind: ColumnSettings = by_profile if kind == natural else getattr(self, kind)
        method: Method | None
        source: Literal["column", "kind", "all", "default"]
        if col is not None and col.method is not None:
            method, source = col.method, "column"
        elif by_kind.method is not None:
            method, source = by_kind.method, "kind"
        elif self.method is not None:
            method, source = self.method, "all"
        else:
            method, source = None, "default"
        threshold = next(
            (
                t
                for t in (
                    col.threshold if col is not None else None,
                    by_kind.threshold,
                    self.threshold,
                )
                if t is not None
            ),
            None,
        )
        if method is not None:
            if kind == "categorical" and method in _NUMERIC_ONLY:
                raise DriftError(
                    f"columns[{column!r}]: method {method} compares numeric distributions; "
                    f"the column is read as categories. Set a test on categories for it.",
                    parameter="method",
                )
            if threshold is not None:
                threshold = check_threshold(
                    f"columns[{column!r}].threshold", threshold, p_value=method in P_VALUE_METHODS
                )
        return Resolved(skip, kind, method, threshold, source)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftSettings:
        """Settings from a plain mapping (e.g. ``steward.yaml``'s ``drift`` section)::

        method: null            # for every column; null = Evidently's choice
        threshold: null
        numeric: {method: wasserstein, threshold: 0.15}
        categorical: {method: psi}
        datetime: {skip: true}
        columns:
          age: {method: ks, threshold: 0.01}
          zip_code: {skip: true}
          n_children: {kind: categorical}
        thresholds: {jensenshannon: 0.2}
        drift_share: 0.5
        small_reference_rows: 1000
        """
        if not isinstance(d, Mapping):
            raise DriftError(
                f"drift settings: expected a mapping; found {type(d).__name__}",
                parameter="settings",
            )
        known = {
            "method",
            "threshold",
            "numeric",
            "categorical",
            "datetime",
            "columns",
            "thresholds",
            "drift_share",
            "small_reference_rows",
        }
        unknown = sorted(set(d) - known)
        if unknown:
            raise DriftError(
                f"drift settings: unknown keys {unknown}; expected some of {sorted(known)}",
                parameter=unknown[0],
            )
        kinds = {
            k: ColumnSettings.from_dict(d[k], where=k)
            for k in ("numeric", "categorical", "datetime")
            if d.get(k) is not None
        }
        columns = d.get("columns") or {}
        if not isinstance(columns, Mapping):
            raise DriftError(
                f"columns: expected a mapping of column name to settings; found "
                f"{type(columns).__name__}",
                parameter="columns",
            )
        thresholds = d.get("thresholds") or {}
        if not isinstance(thresholds, Mapping):
            raise DriftError(
                f"thresholds: expected a mapping of method to threshold; found "
                f"{type(thresholds).__name__}",
                parameter="thresholds",
            )
        method = _method("method", d.get("method"))
        return cls(
            method=method,
            threshold=_check_pair("", method, d.get("threshold")),
            columns={
                str(n): ColumnSettings.from_dict(c, where=f"columns.{n}")
                for n, c in columns.items()
            },
            thresholds=dict(thresholds),
            drift_share=d.get("drift_share", 0.5),
            small_reference_rows=d.get("small_reference_rows", SMALL_REFERENCE_ROWS),
            **kinds,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "numeric": self.numeric.to_dict(),
            "categorical": self.categorical.to_dict(),
            "datetime": self.datetime.to_dict(),
            "columns": {n: c.to_dict() for n, c in self.columns.items()},
            "thresholds": dict(self.thresholds),
            "drift_share": self.drift_share,
            "small_reference_rows": self.small_reference_rows,
        }
