"""Column and table profiles (see the package docstring).

References: Karnin, Lang & Liberty, "Optimal Quantile Approximation in Streams" (KLL,
2016); Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for computing
sample variances" (1979); Apache DataSketches (https://datasketches.apache.org).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CategoricalProfile", "ColumnProfile", "NumericProfile", "TableProfile"]

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _as_float_array(values: Any) -> tuple[np.ndarray, int]:
    """Finite-or-NaN float64 values and the number of missing (null or NaN) ones."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        t = values.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            values = pc.cast(pc.cast(values, pa.timestamp("us")), pa.int64())
        elif pa.types.is_boolean(t):
            values = pc.cast(values, pa.int8())
        arr = np.asarray(
            pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        )
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            arr = arr / 1e6  # seconds since the epoch
    else:
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    missing = ~np.isfinite(arr)
    return arr[~missing], int(missing.sum())


class NumericProfile:
    """Count, missing, min, max, mean, variance and a KLL quantile sketch.

    Examples
    --------
    >>> p = NumericProfile().update([1.0, 2.0, None]).merge(NumericProfile().update([3.0]))
    >>> (p.count, p.nulls, p.mean)
    (3, 1, 2.0)
    """

    def __init__(self, k: int = 200) -> None:
        self.k = k
        self._n = 0
        self._nulls = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._min = math.inf
        self._max = -math.inf
        self._sketch = ds.kll_doubles_sketch(k)

    @property
    def count(self) -> int:
        """Values seen that were present (not null, not NaN)."""
        return self._n

    @property
    def nulls(self) -> int:
        return self._nulls

    @property
    def mean(self) -> float | None:
        return self._mean if self._n else None

    @property
    def variance(self) -> float | None:
        """Population variance."""
        return self._m2 / self._n if self._n else None

    @property
    def min(self) -> float | None:
        return self._min if self._n else None

    @property
    def max(self) -> float | None:
        return self._max if self._n else None

    def _combine(self, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
        if n == 0:
            return
        total = self._n + n
        delta = mean - self._mean
        self._mean += delta * n / total
        self._m2 += m2 + delta * delta * self._n * n / total
        self._n = total
        self._min, self._max = min(self._min, lo), max(self._max, hi)

    def update(self, values: Any) -> NumericProfile:
        arr, missing = _as_float_array(values)
        self._nulls += missing
        if len(arr):
            mean = float(arr.mean())
            self._combine(
                len(arr), mean, float(((arr - mean) ** 2).sum()), float(arr.min()), float(arr.max())
            )
            self._sketch.update(arr)
        return self

    def merge(self, other: NumericProfile) -> NumericProfile:
        self._nulls += other._nulls
        self._combine(other._n, other._mean, other._m2, other._min, other._max)
        if other._n:
            self._sketch.merge(other._sketch)
        return self

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        if not self._n:
            return [math.nan] * len(qs)
        return [float(v) for v in self._sketch.get_quantiles(list(qs))]

    def cdf(self, points: Sequence[float]) -> list[float]:
        if not self._n:
            return [math.nan] * len(points)
        return [float(v) for v in self._sketch.get_cdf(sorted(points))[:-1]]

    def histogram(self, bins: int = 20) -> tuple[list[float], list[int]]:
        """Equal-width bins over [min, max], counts estimated from the sketch."""
        if not self._n:
            return [], []
        lo, hi = self._min, self._max
        if lo == hi:
            return [lo, hi], [self._n]
        edges = list(np.linspace(lo, hi, bins + 1))
        pmf = self._sketch.get_pmf(edges[1:-1])  # bins - 1 split points → bins masses
        counts = [round(m * self._n) for m in pmf]
        return [float(e) for e in edges], counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "n": self._n,
            "nulls": self._nulls,
            "mean": self._mean,
            "m2": self._m2,
            "min": self._min if self._n else None,
            "max": self._max if self._n else None,
            "sketch": _b64(self._sketch.serialize()),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericProfile:
        p = cls(int(d["k"]))
        p._n, p._nulls, p._mean, p._m2 = int(d["n"]), int(d["nulls"]), d["mean"], d["m2"]
        p._min = d["min"] if d["min"] is not None else math.inf
        p._max = d["max"] if d["max"] is not None else -math.inf
        p._sketch = ds.kll_doubles_sketch.deserialize(_unb64(d["sketch"]))
        return p

    def summary(self) -> dict[str, Any]:
        edges, counts = self.histogram()
        qs = self.quantiles(QUANTILES)
        return {
            "count": self._n + self._nulls,
            "nulls": self._nulls,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": math.sqrt(self.variance) if self.variance is not None else None,
            "quantiles": {
                f"p{round(q * 100)}": (v if self._n else None)
                for q, v in zip(QUANTILES, qs, strict=True)
            },
            "histogram": {"edges": edges, "counts": counts},
        }


class CategoricalProfile:
    """Exact counts while there are at most ``cap`` distinct values; beyond, frequent
    items (Misra–Gries, ``lg_max_k``) and an HLL distinct-count estimate."""

    def __init__(self, cap: int = 1000, lg_max_k: int = 10, lg_k: int = 12) -> None:
        self.cap = cap
        self.lg_max_k = lg_max_k
        self.lg_k = lg_k
        self._n = 0
        self._nulls = 0
        self._exact: dict[str, int] | None = {}
        self._freq = ds.frequent_strings_sketch(lg_max_k)
        self._hll = ds.hll_sketch(lg_k)

    @property
    def count(self) -> int:
        return self._n

    @property
    def nulls(self) -> int:
        return self._nulls

    @property
    def exact(self) -> bool:
        return self._exact is not None

    def distinct(self) -> float:
        if self._exact is not None:
            return float(len(self._exact))
        return float(self._hll.get_estimate())

    def _add_counts(self, counts: dict[str, int]) -> None:
        # A loop over distinct values per batch (not rows): the sketches take one item
        # with its weight at a time.
        for value, c in counts.items():
            self._freq.update(value, c)
            self._hll.update(value)
        if self._exact is not None:
            for value, c in counts.items():
                self._exact[value] = self._exact.get(value, 0) + c
            if len(self._exact) > self.cap:
                self._exact = None

    def update(self, values: Any) -> CategoricalProfile:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not isinstance(values, pa.Array):
            values = pa.array([None if v is None else str(v) for v in values], pa.string())
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        nulls = values.null_count
        self._nulls += nulls
        self._n += len(values) - nulls
        vc = pc.value_counts(values.drop_null())
        counts = dict(
            zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True)
        )
        self._add_counts(counts)
        return self

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        self._n += other._n
        self._nulls += other._nulls
        self._freq.merge(other._freq)
        union = ds.hll_union(self.lg_k)
        union.update(self._hll)
        union.update(other._hll)
        self._hll = union.get_result()
        if self._exact is not None and other._exact is not None:
            for v, c in other._exact.items():
                self._exact[v] = self._exact.get(v, 0) + c
            if len(self._exact) > self.cap:
                self._exact = None
        else:
            self._exact = None
        return self

    def frequencies(self, top: int = 20) -> list[tuple[str, int]]:
        if self._exact is not None:
            return sorted(self._exact.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        items = self._freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
        return [(str(i[0]), int(i[1])) for i in items[:top]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cap": self.cap,
            "lg_max_k": self.lg_max_k,
            "lg_k": self.lg_k,
            "n": self._n,
            "nulls": self._nulls,
            "exact": self._exact,
            "freq": _b64(self._freq.serialize()),
            "hll": _b64(self._hll.serialize_compact()),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalProfile:
        p = cls(int(d["cap"]), int(d["lg_max_k"]), int(d["lg_k"]))
        p._n, p._nulls = int(d["n"]), int(d["nulls"])
        p._exact = dict(d["exact"]) if d["exact"] is not None else None
        p._freq = ds.frequent_strings_sketch.deserialize(_unb64(d["freq"]))
        p._hll = ds.hll_sketch.deserialize(_unb64(d["hll"]))
        return p

    def summary(self) -> dict[str, Any]:
        return {
            "count": self._n + self._nulls,
            "nulls": self._nulls,
            "distinct": self.distinct(),
            "distinct_exact": self.exact,
            "top": [list(t) for t in self.frequencies(20)],
        }


def _kind_of(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    return "categorical"


class ColumnProfile:
    """A column's profile; ``kind`` is numeric, datetime (epoch seconds) or categorical."""

    def __init__(self, kind: str) -> None:
        if kind not in ("numeric", "datetime", "categorical"):
            raise ValueError(f"kind: expected numeric, datetime or categorical; found {kind!r}")
        self.kind = kind
        self._inner: NumericProfile | CategoricalProfile = (
            CategoricalProfile() if kind == "categorical" else NumericProfile()
        )

    @property
    def inner(self) -> NumericProfile | CategoricalProfile:
        return self._inner

    def update(self, values: Any) -> ColumnProfile:
        self._inner.update(values)
        return self

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        if other.kind != self.kind:
            raise ValueError(f"cannot merge a {other.kind} profile into a {self.kind} one")
        self._inner.merge(other._inner)  # type: ignore[arg-type]
        return self

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._inner.summary()}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": self._inner.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        p = cls(d["kind"])
        inner = CategoricalProfile if p.kind == "categorical" else NumericProfile
        p._inner = inner.from_dict(d["state"])
        return p


class TableProfile:
    """Profiles of every column of a table, updated batch by batch and mergeable."""

    def __init__(self) -> None:
        self._columns: dict[str, ColumnProfile] = {}
        self._rows = 0

    @property
    def columns(self) -> dict[str, ColumnProfile]:
        return dict(self._columns)

    @property
    def rows(self) -> int:
        return self._rows

    def update(self, batch: pa.RecordBatch | pa.Table) -> TableProfile:
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            prof = self._columns.get(name)
            if prof is None:
                prof = self._columns[name] = ColumnProfile(_kind_of(col.type))
            prof.update(col)
        self._rows += batch.num_rows
        return self

    def merge(self, other: TableProfile) -> TableProfile:
        for name, prof in other._columns.items():
            if name in self._columns:
                self._columns[name].merge(prof)
            else:
                self._columns[name] = ColumnProfile.from_dict(prof.to_dict())
        self._rows += other._rows
        return self

    def summary(self) -> dict[str, Any]:
        return {"rows": self._rows, "columns": {n: p.summary() for n, p in self._columns.items()}}

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self._rows, "columns": {n: p.to_dict() for n, p in self._columns.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableProfile:
        t = cls()
        t._rows = int(d["rows"])
        t._columns = {n: ColumnProfile.from_dict(c) for n, c in d["columns"].items()}
        return t
