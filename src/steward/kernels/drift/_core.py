"""The statistics, computed once for raw values and for profiles alike.

Every numeric test works on a :class:`Sample`: sorted distinct values with their weights
(counts). Raw values give one with integer counts; a profile gives its exact value counts
while it has them, or the items its KLL sketch retained with their weights (a KLL sketch
*is* a weighted sample whose empirical CDF is within the rank error of the data's). Tests
on categories work on :class:`Counts`. So the code that agrees with SciPy on raw values
is the code that runs on profiles.

How each statistic mirrors Evidently (``evidently.legacy.calculations.stattests``, 0.7):

- bins for ``jensenshannon`` and ``psi`` (``get_binned_data``): a numeric column whose
  *reference* has more than 20 distinct values gets equal-width bins over the combined
  range, as many as ``numpy.histogram_bin_edges(reference + current, bins="sturges")``
  makes; otherwise (and for categories) each distinct value of either side is a bin.
  Shares are counts divided by the sample's size;
- ``psi`` replaces a zero share by ``min_nonzero / 10**6`` if the smallest non-zero share
  is at most ``1e-4``, else by ``1e-4`` (each side on its own); ``jensenshannon`` keeps
  zeros;
- ``hellinger`` bins a numeric column by Sturges' rule over the *distinct values* of both
  sides (``histogram_bin_edges(keys, "sturges")``) and keeps zeros;
- ``wasserstein`` divides by ``max(std(reference), 0.001)``, the population standard
  deviation (``ddof=0``, NumPy's default);
- ``chisquare`` compares current counts with reference counts scaled to the current size
  (``scipy.stats.chisquare(f_obs, f_exp)``, ``k - 1`` degrees of freedom);
- ``z`` compares the share of values other than the smallest category.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from steward.kernels.drift._ks import ks_2samp_pvalue

__all__ = [
    "BINNED_DISTINCT",
    "OTHER",
    "Counts",
    "Sample",
    "chisquare",
    "hellinger_categorical",
    "hellinger_numeric",
    "jensen_shannon",
    "ks",
    "numeric_shares",
    "psi",
    "share_pair",
    "sturges_edges",
    "wasserstein_norm",
    "wasserstein_parts",
    "ztest",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: a numeric reference with more distinct values than this is binned (Evidently's 20)
BINNED_DISTINCT = 20
#: the bucket holding what a frequent-items sketch cannot attribute to a category
OTHER = "\x00other"
_STD_FLOOR = 0.001  # Evidently's floor for the reference standard deviation


@dataclass(frozen=True)
class Sample:
    """A numeric sample as sorted distinct ``values`` with ``weights`` summing to ``n``.

    ``mean`` and ``std`` (population) are exact, as are the extremes ``lo``/``hi``
    (a sketch may have dropped them); ``distinct`` is exact or None if unknown, and
    ``distinct_floor`` a lower bound on it. ``rank_error`` and ``pmf_error`` are 0 when
    the weights are exact counts; ``ties`` says whether a sketch retained some value
    more than once (a column with few distinct values).
    """

    values: FloatArray
    weights: FloatArray
    n: int
    mean: float
    std: float
    lo: float
    hi: float
    distinct: int | None
    distinct_floor: int
    rank_error: float = 0.0
    pmf_error: float = 0.0
    ties: bool = False

    @property
    def exact(self) -> bool:
        return self.rank_error == 0.0

    @classmethod
    def of(cls, x: FloatArray) -> Sample:
        """The sample of finite raw values (at least one)."""
        values, counts = np.unique(x, return_counts=True)
        return cls(
            values=values,
            weights=counts.astype(np.float64),
            n=len(x),
            mean=float(np.mean(x)),
            std=float(np.std(x)),
            lo=float(values[0]),
            hi=float(values[-1]),
            distinct=len(values),
            distinct_floor=len(values),
        )


@dataclass(frozen=True)
class Counts:
    """Category → count over ``n`` values; ``other`` is the count no category could be
    credited with (a frequent-items sketch past its cap), ``error`` the bound on each
    count's error (0 when exact) and ``distinct_hint`` an estimate of the number of
    categories when they are not all known (HLL)."""

    counts: Mapping[Hashable, float]
    n: int
    other: float = 0.0
    error: float = 0.0
    distinct_hint: int = 0

    @property
    def exact(self) -> bool:
        return self.error == 0.0 and self.other == 0.0

    @property
    def distinct(self) -> int:
        return len(self.counts) + (1 if self.other > 0 else 0)


# -- numeric samples ---------------------------------------------------------------------
def _cdf_at(s: Sample, points: FloatArray) -> FloatArray:
    """Share of ``s`` at or below each point (the right-continuous empirical CDF)."""
    cum: FloatArray = np.concatenate([[0.0], np.cumsum(s.weights)])
    out: FloatArray = cum[np.searchsorted(s.values, points, side="right")] / cum[-1]
    return out


def ks(ref: Sample, cur: Sample) -> tuple[float, float]:
    """KS statistic ``sup |F_ref - F_cur|`` and its two-sided p-value (SciPy's "auto")."""
    grid = np.union1d(ref.values, cur.values)
    d = float(np.max(np.abs(_cdf_at(ref, grid) - _cdf_at(cur, grid))))
    return d, ks_2samp_pvalue(d, ref.n, cur.n)


def wasserstein_norm(ref: Sample, cur: Sample) -> tuple[float, float]:
    """``W1(ref, cur) / max(std_ref, 0.001)`` and the divisor.

    ``W1 = ∫ |F_ref - F_cur| dx``, summed over the gaps between consecutive distinct
    values of both samples (``scipy.stats.wasserstein_distance``'s own formula)."""
    grid = np.union1d(ref.values, cur.values)
    if len(grid) < 2:
        return 0.0, max(ref.std, _STD_FLOOR)
    gaps = np.diff(grid)
    w1 = float(np.sum(np.abs(_cdf_at(ref, grid[:-1]) - _cdf_at(cur, grid[:-1])) * gaps))
    norm = max(ref.std, _STD_FLOOR)
    return w1 / norm, norm


def wasserstein_parts(ref: Sample, cur: Sample) -> tuple[float, float]:
    """``∫ max(F_ref - F_cur, 0) dx`` and ``∫ max(F_cur - F_ref, 0) dx``.

    Their sum is W1 and their difference ``mean_cur - mean_ref``, so that
    ``W1 = |mean_cur - mean_ref| + 2 min(both)``: the distance is the mean shift plus
    twice the mass by which the CDFs cross."""
    grid = np.union1d(ref.values, cur.values)
    if len(grid) < 2:
        return 0.0, 0.0
    gaps = np.diff(grid)
    diff = _cdf_at(ref, grid[:-1]) - _cdf_at(cur, grid[:-1])
    return float(np.sum(np.clip(diff, 0.0, None) * gaps)), float(
        np.sum(np.clip(-diff, 0.0, None) * gaps)
    )


def sturges_edges(lo: float, hi: float, size: int) -> FloatArray:
    """``numpy.histogram_bin_edges(a, bins="sturges")`` for data of ``size`` values with
    extremes ``lo`` and ``hi``, float arithmetic step for step."""
    first, last = lo, hi
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = float(np.float64(hi - lo) / (np.log2(size) + 1.0))
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1)


def _histogram(s: Sample, edges: FloatArray) -> FloatArray:
    return np.histogram(s.values, bins=edges, weights=s.weights)[0] / s.n


def _value_shares(ref: Sample, cur: Sample) -> tuple[FloatArray, FloatArray]:
    keys = np.union1d(ref.values, cur.values)
    r = np.zeros(len(keys))
    c = np.zeros(len(keys))
    r[np.searchsorted(keys, ref.values)] = ref.weights
    c[np.searchsorted(keys, cur.values)] = cur.weights
    return r / ref.n, c / cur.n


def numeric_shares(ref: Sample, cur: Sample) -> tuple[FloatArray, FloatArray]:
    """Evidently's ``get_binned_data`` for a numeric column (before zero filling)."""
    ref_distinct = ref.distinct if ref.distinct is not None else ref.distinct_floor
    if ref_distinct > BINNED_DISTINCT:
        edges = sturges_edges(min(ref.lo, cur.lo), max(ref.hi, cur.hi), ref.n + cur.n)
        return _histogram(ref, edges), _histogram(cur, edges)
    return _value_shares(ref, cur)


def hellinger_numeric(ref: Sample, cur: Sample, distinct_union: int) -> tuple[float, int]:
    """Hellinger distance over Sturges bins of the distinct values of both samples."""
    edges = sturges_edges(min(ref.lo, cur.lo), max(ref.hi, cur.hi), distinct_union)
    return _hellinger(_histogram(ref, edges), _histogram(cur, edges)), len(edges) - 1


# -- categories --------------------------------------------------------------------------
def share_pair(ref: Counts, cur: Counts) -> tuple[list[Hashable], FloatArray, FloatArray]:
    """Keys of either side (and ``OTHER`` if a sketch left counts unattributed) with the
    counts of each side over them."""
    keys: list[Hashable] = list(ref.counts)
    seen = set(keys)
    keys += [k for k in cur.counts if k not in seen]
    r = np.array([ref.counts.get(k, 0.0) for k in keys], dtype=np.float64)
    c = np.array([cur.counts.get(k, 0.0) for k in keys], dtype=np.float64)
    if ref.other > 0 or cur.other > 0:
        keys.append(OTHER)
        r = np.append(r, ref.other)
        c = np.append(c, cur.other)
    return keys, r, c


def chisquare(ref: Counts, cur: Counts) -> tuple[float, float, int]:
    """Chi-square of current counts against reference counts scaled to the current size:
    statistic, p-value with ``k - 1`` degrees of freedom, and ``k``.

    A category present now but absent from the reference makes the statistic infinite
    (p = 0), as SciPy does. With one category on both sides nothing can have changed:
    statistic 0 and p = 1 (SciPy's p-value with 0 degrees of freedom is NaN; Evidently
    then reports no drift, the same verdict)."""
    _, r, c = share_pair(ref, cur)
    expected = r * (cur.n / ref.n)
    k = len(r)
    if k < 2:
        return 0.0, 1.0, k
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (c - expected) ** 2 / expected, np.where(c > 0, np.inf, 0))
    stat = float(np.sum(terms))
    from scipy import stats  # type: ignore[import-untyped]  # lazily: a heavy import

    return stat, float(stats.chi2.sf(stat, k - 1)), k


def ztest(ref: Counts, cur: Counts) -> tuple[float, float, int]:
    """Two-proportion Z-test of the share of values other than the smallest category:
    ``z``, two-sided p-value and the number of categories.

    ``z = (p_ref - p_cur) / sqrt(P (1 - P) (1/n_ref + 1/n_cur))`` with ``P`` the pooled
    share. One and the same single value on both sides gives ``z = 0``, p = 1."""
    keys, r, c = share_pair(ref, cur)
    if len(ref.counts) == 1 and len(cur.counts) == 1 and list(ref.counts) == list(cur.counts):
        return 0.0, 1.0, 1
    first = min(range(len(keys)), key=lambda i: _sort_key(keys[i]))
    p1 = 1.0 - r[first] / ref.n
    p2 = 1.0 - c[first] / cur.n
    pooled = (p1 * ref.n + p2 * cur.n) / (ref.n + cur.n)
    se = math.sqrt(pooled * (1 - pooled) * (1.0 / ref.n + 1.0 / cur.n))
    z = float((p1 - p2) / se) if se > 0 else 0.0
    from scipy import stats  # lazily: a heavy import

    return z, float(2.0 * stats.norm.sf(abs(z))), len(keys)


def _sort_key(key: Hashable) -> tuple[int, float | str]:
    # Numbers before strings, each in natural order (sorted() would fail on a mix).
    if isinstance(key, int | float) and not isinstance(key, bool):
        return 0, float(key)
    return 1, str(key)


# -- distances on shares -----------------------------------------------------------------
def jensen_shannon(p: FloatArray, q: FloatArray) -> float:
    """``scipy.spatial.distance.jensenshannon(p, q)``: natural logarithm, shares
    normalised to sum to 1, ``sqrt`` of half the summed relative entropies to the
    midpoint."""
    p = p / np.sum(p)
    q = q / np.sum(q)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    return math.sqrt(max(float(np.sum(left) + np.sum(right)) / 2.0, 0.0))


def _fill_zeros(shares: FloatArray) -> FloatArray:
    zero = shares == 0
    if not zero.any() or zero.all():
        return shares
    smallest = float(np.min(shares[~zero]))
    out = shares.copy()
    out[zero] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def psi(p: FloatArray, q: FloatArray) -> float:
    """Population stability index ``sum((p - q) ln(p / q))`` after Evidently's zero
    filling (see the module note)."""
    p, q = _fill_zeros(p), _fill_zeros(q)
    return float(np.sum((p - q) * np.log(p / q)))


def _hellinger(p: FloatArray, q: FloatArray) -> float:
    bc = float(np.clip(np.sum(np.sqrt(p * q)), 0.0, 1.0))  # Bhattacharyya coefficient
    return math.sqrt(1.0 - bc)


def hellinger_categorical(p: FloatArray, q: FloatArray) -> float:
    """``sqrt(1 - sum(sqrt(p q)))`` over the categories of either side."""
    return _hellinger(p, q)
