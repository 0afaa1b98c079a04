"""Mergeable profile of a categorical column: exact counts while few, sketches beyond.

References
----------
Misra & Gries, "Finding repeated elements", Science of Computer Programming, 1982, and
Anderson et al., "A high-performance algorithm for identifying frequent items in data
streams", IMC 2017 (DataSketches' frequent items sketch).
Flajolet, Fusy, Gandouet & Meunier, "HyperLogLog: the analysis of a near-optimal
cardinality estimation algorithm", AofA 2007 (DataSketches' HLL sketch).
"""

from __future__ import annotations

from typing import Any

import datasketches as ds
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels.profile._inputs import (
    ArrayLike,
    b64encode,
    check_int,
    check_state,
    load_sketch,
    string_array,
)

__all__ = ["CategoricalProfile"]

_STATE_KEYS = ("cap", "lg_max_k", "lg_k", "n", "nulls", "exact", "freq", "hll")
_HLL_TYPE = ds.tgt_hll_type.HLL_4  # the smallest serialisation, same accuracy


class CategoricalProfile:
    """Count, nulls, distinct values and frequencies of a categorical column.

    While the column has at most ``cap`` distinct values every count is exact (and the
    distinct count too). Past the cap the profile switches, for good, to a frequent-items
    sketch (Misra–Gries, map of ``2**lg_max_k`` counters: each frequency is within
    ``3.5 / 2**lg_max_k`` of the total, 0.34 % at 10) and an HLL sketch for the distinct
    count (``2**lg_k`` registers: relative standard error about ``1.04 / 2**(lg_k/2)``,
    0.8 % at 14). Values are compared as strings; booleans are ``"true"``/``"false"``.

    Merging is associative: a merged profile is exact exactly when the union of all the
    parts has at most ``cap`` distinct values, whatever the order of the merges.

    Parameters
    ----------
    cap
        Most distinct values counted exactly.
    lg_max_k
        Log2 of the frequent-items map size (3 to 21).
    lg_k
        Log2 of the number of HLL registers (7 to 21).

    Examples
    --------
    >>> p = CategoricalProfile().update(["a", "b", "a", None])
    >>> p.merge(CategoricalProfile().update(["b", "b"])).frequencies()
    [('b', 3), ('a', 2)]
    >>> (p.count, p.nulls, p.distinct)
    (6, 1, 2.0)
    """

    def __init__(self, *, cap: int = 1000, lg_max_k: int = 10, lg_k: int = 14) -> None:
        self.cap = check_int("cap", cap, 0, 10_000_000)
        self.lg_max_k = check_int("lg_max_k", lg_max_k, 3, 21)
        self.lg_k = check_int("lg_k", lg_k, 7, 21)
        self._n = 0
        self._nulls = 0
        self._exact: dict[str, int] | None = {}
        self._freq: ds.frequent_strings_sketch | None = None
        self._hll: ds.hll_sketch | None = None

    # -- read-only state -----------------------------------------------------------
    @property
    def count(self) -> int:
        """Values seen, nulls included."""
        return self._n + self._nulls

    @property
    def nulls(self) -> int:
        return self._nulls

    @property
    def valid(self) -> int:
        """Values that are not null."""
        return self._n

    @property
    def exact(self) -> bool:
        """Whether counts and the distinct count are exact (at most ``cap`` values)."""
        return self._exact is not None

    @property
    def distinct(self) -> float:
        """Number of distinct values: exact while ``exact``, else the HLL estimate."""
        if self._exact is not None:
            return float(len(self._exact))
        assert self._hll is not None
        return float(self._hll.get_estimate())

    def distinct_bounds(self, num_std_devs: int = 2) -> tuple[float, float]:
        """Bounds of the distinct count at 1, 2 or 3 standard deviations."""
        num_std_devs = check_int("num_std_devs", num_std_devs, 1, 3)
        if self._exact is not None:
            return float(len(self._exact)), float(len(self._exact))
        assert self._hll is not None
        return (
            float(self._hll.get_lower_bound(num_std_devs)),
            float(self._hll.get_upper_bound(num_std_devs)),
        )

    def frequency_bounds(self, value: str) -> tuple[int, int]:
        """Lower and upper bound of the count of ``value`` (equal while ``exact``)."""
        if self._exact is not None:
            c = self._exact.get(value, 0)
            return c, c
        assert self._freq is not None
        return int(self._freq.get_lower_bound(value)), int(self._freq.get_upper_bound(value))

    # -- update and merge ----------------------------------------------------------
    def update(self, values: ArrayLike) -> CategoricalProfile:
        """Add a batch of values (Arrow, numpy or a sequence; non-strings as strings)."""
        arr = string_array(values)
        if len(arr) == 0:
            return self
        vc = pc.value_counts(arr)  # one hash pass in Arrow; no loop over rows here
        keys, counts = vc.field("values"), vc.field("counts")
        if pa.types.is_dictionary(keys.type):
            keys = keys.dictionary_decode()
        present = keys.is_valid()
        nulls = len(arr) - int(pc.sum(counts.filter(present)).as_py() or 0)
        self._nulls += nulls
        self._n += len(arr) - nulls
        if keys.null_count:
            keys, counts = keys.filter(present), counts.filter(present)
        self._add(keys.to_pylist(), counts.to_pylist())
        return self

    def _add(self, keys: list[str], counts: list[int]) -> None:
        if self._exact is not None:
            if len(keys) <= self.cap:
                # A loop over the distinct values of the batch (at most `cap`), not rows.
                exact = self._exact
                for key, c in zip(keys, counts, strict=True):
                    exact[key] = exact.get(key, 0) + c
                if len(exact) > self.cap:
                    self._spill()
                return
            self._spill()
        self._feed(keys, counts)

    def _spill(self) -> None:
        """Leave exact mode: the exact counts seed the sketches."""
        assert self._exact is not None
        exact, self._exact = self._exact, None
        self._freq = ds.frequent_strings_sketch(self.lg_max_k)
        self._hll = ds.hll_sketch(self.lg_k, _HLL_TYPE)
        self._feed(list(exact), list(exact.values()))

    def _feed(self, keys: list[str], counts: list[int]) -> None:
        assert self._freq is not None and self._hll is not None
        freq, hll = self._freq, self._hll
        # The sketches take one item at a time: a loop over the distinct values of a
        # batch (value_counts has already collapsed the rows).
        for key, c in zip(keys, counts, strict=True):
            freq.update(key, c)
            hll.update(key)

    def _add_nulls(self, n: int) -> None:
        self._nulls += n

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        """Fold ``other`` into this profile (in place) and return it."""
        if not isinstance(other, CategoricalProfile):
            raise TypeError(f"other: expected a CategoricalProfile; found {type(other).__name__}")
        if other is self:
            other = other.copy()
        self._n += other._n
        self._nulls += other._nulls
        if other._exact is not None:
            self._add(list(other._exact), list(other._exact.values()))
            return self
        if self._exact is not None:
            self._spill()
        assert self._freq is not None and self._hll is not None
        assert other._freq is not None and other._hll is not None
        self._freq.merge(other._freq)
        union = ds.hll_union(self.lg_k)
        union.update(self._hll)
        union.update(other._hll)
        self._hll = union.get_result(_HLL_TYPE)
        return self

    def copy(self) -> CategoricalProfile:
        return CategoricalProfile.from_dict(self.to_dict())

    # -- queries -------------------------------------------------------------------
    def frequencies(self, top: int | None = 20) -> list[tuple[str, int]]:
        """``(value, count)`` pairs, most frequent first (ties by value); ``top=None``
        for all. Exact while ``exact``; past the cap, the heavy hitters the sketch can
        vouch for (no false positives) with their estimated counts."""
        if self._exact is not None:
            pairs = list(self._exact.items())
        else:
            assert self._freq is not None
            items = self._freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
            pairs = [(str(item[0]), int(item[1])) for item in items]
        pairs.sort(key=lambda kv: (-kv[1], kv[0]))
        return pairs if top is None else pairs[:top]

    def summary(self, *, top: int = 20) -> dict[str, Any]:
        """JSON-able statistics (None where undefined)."""
        return {
            "count": self.count,
            "nulls": self._nulls,
            "null_rate": self._nulls / self.count if self.count else None,
            "valid": self._n,
            "distinct": self.distinct,
            "distinct_exact": self.exact,
            "top": [[v, c] for v, c in self.frequencies(top)],
        }

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state; sketches as base64 of their own serialisation."""
        return {
            "type": "categorical",
            "cap": self.cap,
            "lg_max_k": self.lg_max_k,
            "lg_k": self.lg_k,
            "n": self._n,
            "nulls": self._nulls,
            "exact": dict(self._exact) if self._exact is not None else None,
            "freq": b64encode(self._freq.serialize()) if self._freq is not None else None,
            "hll": b64encode(self._hll.serialize_compact()) if self._hll is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalProfile:
        check_state(d, "categorical", _STATE_KEYS)
        p = cls(cap=int(d["cap"]), lg_max_k=int(d["lg_max_k"]), lg_k=int(d["lg_k"]))
        p._n, p._nulls = int(d["n"]), int(d["nulls"])
        if d["exact"] is not None:
            p._exact = {str(k): int(v) for k, v in d["exact"].items()}
            return p
        if d["freq"] is None or d["hll"] is None:
            raise ValueError("categorical state: expected exact counts or both sketches")
        p._exact = None
        p._freq = load_sketch(
            ds.frequent_strings_sketch.deserialize, d["freq"], "categorical state"
        )
        p._hll = load_sketch(ds.hll_sketch.deserialize, d["hll"], "categorical state")
        return p

    def __repr__(self) -> str:
        return (
            f"CategoricalProfile(cap={self.cap}, lg_max_k={self.lg_max_k}, lg_k={self.lg_k}, "
            f"count={self.count}, nulls={self._nulls}, distinct={self.distinct:.0f})"
        )
