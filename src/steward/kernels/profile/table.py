"""Column and table profiles: the kind of each column from its Arrow type, batch updates
and merges of partial table profiles, summaries and JSON state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import pyarrow as pa

from steward.kernels.profile._inputs import QUANTILES, ArrayLike, check_int, check_state
from steward.kernels.profile.categorical import CategoricalProfile
from steward.kernels.profile.numeric import NumericProfile

__all__ = ["FORMAT", "ColumnProfile", "CountProfile", "Kind", "TableProfile", "kind_of"]

#: the ``format`` tag of ``TableProfile.to_dict``; bumped on incompatible changes
FORMAT = "steward.profile/1"

Kind: TypeAlias = Literal["numeric", "datetime", "categorical", "other"]
_KINDS: tuple[Kind, ...] = ("numeric", "datetime", "categorical", "other")
Inner: TypeAlias = "NumericProfile | CategoricalProfile | CountProfile"


def kind_of(t: pa.DataType) -> Kind:
    """Integers, floats, decimals and durations are numeric; dates and timestamps are
    datetime (profiled as seconds since the epoch); strings, booleans and dictionaries
    are categorical; anything else (nested, binary, time of day, null) is other."""
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_duration(t)
    ):
        return "numeric"
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_boolean(t)
        or pa.types.is_dictionary(t)
    ):
        return "categorical"
    return "other"


class CountProfile:
    """Count and nulls only, for columns no other profile understands.

    Examples
    --------
    >>> CountProfile().update([[1, 2], None]).nulls
    1
    """

    def __init__(self) -> None:
        self._n = 0
        self._nulls = 0

    @property
    def count(self) -> int:
        return self._n + self._nulls

    @property
    def nulls(self) -> int:
        return self._nulls

    @property
    def valid(self) -> int:
        return self._n

    def update(self, values: ArrayLike) -> CountProfile:
        if isinstance(values, pa.Array | pa.ChunkedArray):
            nulls = values.null_count
        else:  # a Python sequence: no vectorised null test exists for arbitrary objects
            nulls = sum(v is None for v in values)
        self._nulls += nulls
        self._n += len(values) - nulls
        return self

    def _add_nulls(self, n: int) -> None:
        self._nulls += n

    def merge(self, other: CountProfile) -> CountProfile:
        if not isinstance(other, CountProfile):
            raise TypeError(f"other: expected a CountProfile; found {type(other).__name__}")
        self._n += other._n
        self._nulls += other._nulls
        return self

    def copy(self) -> CountProfile:
        return CountProfile().merge(self)

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "nulls": self._nulls,
            "null_rate": self._nulls / self.count if self.count else None,
            "valid": self._n,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"type": "count", "n": self._n, "nulls": self._nulls}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CountProfile:
        check_state(d, "count", ("n", "nulls"))
        p = cls()
        p._n, p._nulls = int(d["n"]), int(d["nulls"])
        return p


def _empty_summary() -> dict[str, Any]:
    """Every key a column summary has, so that all kinds share one shape."""
    return {
        "kind": None,
        "count": 0,
        "nulls": 0,
        "null_rate": None,
        "valid": 0,
        "infinite": None,
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "quantiles": {label: None for label, _ in QUANTILES},
        "histogram": None,
        "distinct": None,
        "distinct_exact": None,
        "top": [],
    }


_STATE_TYPES: dict[str, type[NumericProfile] | type[CategoricalProfile] | type[CountProfile]] = {
    "numeric": NumericProfile,
    "categorical": CategoricalProfile,
    "count": CountProfile,
}


class ColumnProfile:
    """A column's profile tagged with its ``kind``.

    ``numeric`` and ``datetime`` columns hold a :class:`NumericProfile` (datetimes in
    seconds since the epoch), ``categorical`` ones a :class:`CategoricalProfile`, and
    ``other`` ones a :class:`CountProfile`. Profiles of different kinds merge only when
    one side holds nothing but nulls (a column that was all null in one batch, so Arrow
    typed it ``null``); otherwise the merge raises ``ValueError``.

    Examples
    --------
    >>> c = ColumnProfile("categorical").update(pa.array(["x", None]))
    >>> c.merge(ColumnProfile("other").update(pa.nulls(3))).summary()["nulls"]
    4
    """

    def __init__(self, kind: Kind, profile: Inner | None = None) -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind: expected one of {', '.join(_KINDS)}; found {kind!r}")
        expected = _inner_type(kind)
        if profile is None:
            profile = expected()
        elif not isinstance(profile, expected):
            raise TypeError(
                f"profile: a {kind} column needs a {expected.__name__}; "
                f"found {type(profile).__name__}"
            )
        self._kind: Kind = kind
        self._profile: Inner = profile

    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def profile(self) -> Inner:
        """The kind's profile (live: mutate it only through this column)."""
        return self._profile

    @property
    def numeric(self) -> NumericProfile:
        """The profile of a numeric or datetime column (TypeError otherwise)."""
        if not isinstance(self._profile, NumericProfile):
            raise TypeError(f"column kind is {self._kind}; expected numeric or datetime")
        return self._profile

    @property
    def categorical(self) -> CategoricalProfile:
        """The profile of a categorical column (TypeError otherwise)."""
        if not isinstance(self._profile, CategoricalProfile):
            raise TypeError(f"column kind is {self._kind}; expected categorical")
        return self._profile

    @property
    def count(self) -> int:
        return self._profile.count

    @property
    def nulls(self) -> int:
        return self._profile.nulls

    def update(self, values: ArrayLike) -> ColumnProfile:
        """Add a batch; an Arrow batch of another kind is merged in by the kinds' rule."""
        if isinstance(values, pa.Array | pa.ChunkedArray):
            kind = kind_of(values.type)
            if kind != self._kind:
                return self.merge(ColumnProfile(kind).update(values))
        self._profile.update(values)
        return self

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """Fold ``other`` into this column (in place) and return it."""
        if other is self:
            other = other.copy()
        if other._kind == self._kind:
            # Same kind, hence the same profile class.
            self._profile.merge(other._profile)  # type: ignore[arg-type]
        elif other._profile.valid == 0:
            self._profile._add_nulls(other._profile.nulls)
        elif self._profile.valid == 0:
            nulls = self._profile.nulls
            self._kind, self._profile = other._kind, other._profile.copy()
            self._profile._add_nulls(nulls)
        else:
            raise ValueError(
                f"cannot merge a {other._kind} column profile into a {self._kind} one: "
                f"expected the same kind, or one side with nothing but nulls"
            )
        return self

    def copy(self) -> ColumnProfile:
        return ColumnProfile(self._kind, self._profile.copy())

    def summary(self, *, bins: int = 20, top: int = 20) -> dict[str, Any]:
        """JSON-able statistics with the same keys for every kind (None where n/a)."""
        out = _empty_summary()
        p = self._profile
        if isinstance(p, NumericProfile):
            out.update(p.summary(bins=bins, top=top))
        elif isinstance(p, CategoricalProfile):
            out.update(p.summary(top=top))
        else:
            out.update(p.summary())
        out["kind"] = self._kind
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self._kind, "state": self._profile.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        if not isinstance(d, dict) or "kind" not in d or "state" not in d:
            raise ValueError("column state: expected a dict with 'kind' and 'state'")
        kind = d["kind"]
        if kind not in _KINDS:
            raise ValueError(f"column state: expected kind in {_KINDS}; found {kind!r}")
        state = d["state"]
        inner = _STATE_TYPES.get(str(state.get("type")) if isinstance(state, dict) else "")
        if inner is None:
            raise ValueError(f"column state: unknown profile type in {kind!r} column")
        return cls(kind, inner.from_dict(state))

    def __repr__(self) -> str:
        return f"ColumnProfile({self._kind!r}, {self._profile!r})"


def _inner_type(
    kind: Kind,
) -> type[NumericProfile] | type[CategoricalProfile] | type[CountProfile]:
    if kind in ("numeric", "datetime"):
        return NumericProfile
    return CategoricalProfile if kind == "categorical" else CountProfile


class TableProfile:
    """Profiles of every column of a table, updated batch by batch and mergeable.

    Partial profiles from several workers, stream consumers or edge nodes merge into the
    profile of all their rows (see :class:`NumericProfile` and
    :class:`CategoricalProfile` for what is exact and what is within a sketch's bound).
    A column present in only some parts is kept; its ``count`` says how many rows it had.

    Parameters
    ----------
    k
        KLL accuracy of numeric and datetime columns.
    numeric_cap
        Most distinct numeric values counted exactly.
    categorical_cap
        Most distinct categories counted exactly.
    lg_max_k, lg_k
        Frequent-items and HLL sizes of categorical columns past their cap.

    Examples
    --------
    >>> part = pa.table({"age": [31, None, 45], "city": ["Oslo", "Lyon", "Oslo"]})
    >>> t = TableProfile().update(part).merge(TableProfile().update(part))
    >>> s = t.summary()
    >>> (s["rows"], s["columns"]["age"]["nulls"], s["columns"]["city"]["top"][0])
    (6, 2, ['Oslo', 4])
    """

    def __init__(
        self,
        *,
        k: int = 200,
        numeric_cap: int = 100,
        categorical_cap: int = 1000,
        lg_max_k: int = 10,
        lg_k: int = 14,
    ) -> None:
        self.k = check_int("k", k, 8, 65535)
        self.numeric_cap = check_int("numeric_cap", numeric_cap, 0, 1_000_000)
        self.categorical_cap = check_int("categorical_cap", categorical_cap, 0, 10_000_000)
        self.lg_max_k = check_int("lg_max_k", lg_max_k, 3, 21)
        self.lg_k = check_int("lg_k", lg_k, 7, 21)
        self._rows = 0
        self._columns: dict[str, ColumnProfile] = {}

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def columns(self) -> Mapping[str, ColumnProfile]:
        """Column name → profile, in the order the columns were first seen."""
        return MappingProxyType(self._columns)

    def _params(self) -> dict[str, int]:
        return {
            "k": self.k,
            "numeric_cap": self.numeric_cap,
            "categorical_cap": self.categorical_cap,
            "lg_max_k": self.lg_max_k,
            "lg_k": self.lg_k,
        }

    def _new_column(self, kind: Kind) -> ColumnProfile:
        inner: Inner
        if kind in ("numeric", "datetime"):
            inner = NumericProfile(self.k, cap=self.numeric_cap)
        elif kind == "categorical":
            inner = CategoricalProfile(
                cap=self.categorical_cap, lg_max_k=self.lg_max_k, lg_k=self.lg_k
            )
        else:
            inner = CountProfile()
        return ColumnProfile(kind, inner)

    def update(self, batch: pa.RecordBatch | pa.Table) -> TableProfile:
        """Add a record batch or table. Each column is profiled with numpy and Arrow
        compute kernels; the only Python loop is over columns (and Arrow chunks)."""
        if not isinstance(batch, pa.RecordBatch | pa.Table):
            raise TypeError(
                f"batch: expected a pyarrow RecordBatch or Table; found {type(batch).__name__}"
            )
        names = batch.schema.names
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"batch: expected unique column names; found duplicates {dup}")
        for name, column in zip(names, batch.columns, strict=True):
            kind = kind_of(column.type)
            prof = self._columns.get(name)
            if prof is None:
                self._columns[name] = self._new_column(kind).update(column)
            elif prof.kind == kind:
                prof.update(column)
            else:  # e.g. all null (Arrow type null) in an earlier batch
                prof.merge(self._new_column(kind).update(column))
        self._rows += batch.num_rows
        return self

    def merge(self, other: TableProfile) -> TableProfile:
        """Fold ``other`` into this profile (in place) and return it."""
        if not isinstance(other, TableProfile):
            raise TypeError(f"other: expected a TableProfile; found {type(other).__name__}")
        if other is self:
            other = other.copy()
        for name, prof in other._columns.items():
            mine = self._columns.get(name)
            if mine is None:
                self._columns[name] = prof.copy()
            else:
                mine.merge(prof)
        self._rows += other._rows
        return self

    def copy(self) -> TableProfile:
        return TableProfile.from_dict(self.to_dict())

    def redact(self, columns: Iterable[str]) -> TableProfile:
        """A copy in which ``columns`` keep only their counts (count, nulls, valid).

        For columns holding direct identifiers or special-category data: a profile of
        them would otherwise keep their values (top values, the frequent-items and KLL
        sketches, min, max and quantiles), readable by anyone who may read metadata.
        The redacted columns become kind ``other``; they merge only with columns of
        that kind (or all-null ones), which is what a profile without values can do.

        Examples
        --------
        >>> t = TableProfile().update(pa.table({"name": ["Ann", "Bo"], "n": [1, 2]}))
        >>> s = t.redact(["name"]).summary()["columns"]["name"]
        >>> (s["kind"], s["count"], s["top"])
        ('other', 2, [])
        """
        out = self.copy()
        for name in columns:
            prof = out._columns.get(name)
            if prof is None:
                continue
            counts = CountProfile()
            counts._n, counts._nulls = prof.profile.valid, prof.nulls
            out._columns[name] = ColumnProfile("other", counts)
        return out

    def summary(self, *, bins: int = 20, top: int = 20) -> dict[str, Any]:
        """JSON-able: ``{"rows": n, "columns": {name: column summary}}``; a column
        summary has kind, count, nulls, null_rate, valid, infinite, min, max, mean, std,
        quantiles (p1 … p99), histogram (edges, counts), distinct, distinct_exact and
        top (``[value, count]`` pairs); datetimes are in seconds since the epoch."""
        return {
            "rows": self._rows,
            "columns": {n: c.summary(bins=bins, top=top) for n, c in self._columns.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (sketches as base64 of their own serialisation)."""
        return {
            "format": FORMAT,
            "params": self._params(),
            "rows": self._rows,
            "columns": {n: c.to_dict() for n, c in self._columns.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableProfile:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"profile state: expected format {FORMAT!r}; found {found!r}")
        missing = [k for k in ("params", "rows", "columns") if k not in d]
        if missing:
            raise ValueError(f"profile state: missing keys {missing}")
        t = cls(**{k: int(v) for k, v in d["params"].items()})
        t._rows = int(d["rows"])
        t._columns = {str(n): ColumnProfile.from_dict(c) for n, c in d["columns"].items()}
        return t

    def __repr__(self) -> str:
        return f"TableProfile(rows={self._rows}, columns={list(self._columns)})"
