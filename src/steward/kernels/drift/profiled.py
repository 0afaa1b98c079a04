"""Drift tests between two profiles: what monitoring runs, on a stream and at scale.

A reference profile is kept with each model version; a window's profile is merged from
partial profiles of workers, stream consumers or edge nodes. :func:`profile_test` runs
any method of :mod:`steward.kernels.drift.exact` on two profiles, with the same code:

- a numeric profile becomes a weighted sample: its exact value counts while it has at
  most ``cap`` distinct values, else the items its KLL sketch retained with their
  weights (exact too while the sketch has not compacted). Moments and extremes are
  always exact, so Wasserstein's divisor and the bins' range are exact;
- a categorical profile gives its exact counts while it has at most ``cap`` categories,
  else the frequent items its Misra–Gries sketch vouches for, with one more bucket for
  the count it cannot attribute.

When both sides are exact the result is the one raw values give (``basis="profile"``,
``error=0``). Otherwise (``basis="sketch"``) ``error`` bounds ``|statistic - exact|``
with the sketches' 99 % confidence, where a bound is known:

- ``ks``: ``ε_ref + ε_cur`` (each profile's ``rank_error``): every CDF value is within
  its ε, so the largest CDF gap is within their sum. This is the allowance Apache
  DataSketches' own KS test makes;
- ``wasserstein``: ``2 (ε_ref + ε_cur) (max - min) / σ_ref`` — a worst case, far above
  the errors measured. From sketches W1 is estimated as the smaller of
  ``max(P + N, |Δmean|)`` and ``|Δmean| + 2 min(P, N)``, where ``P`` and ``N`` are the
  sketched CDFs' positive and negative parts of ``∫ (F_ref - F_cur) dx`` and ``Δmean``
  is exact (profiles keep exact moments): ``W1 = |Δmean| + 2 min(P, N)`` holds exactly,
  and sketch noise inflates ``P + N``. Each estimate is within ``(ε_ref + ε_cur)
  (max - min)`` or twice that of W1 (the CDF error integrated over the range). On
  shifted columns near the 0.1 threshold the measured error falls from about 0.005 with
  ``P + N`` alone to under 0.0005;
- ``jensenshannon`` and ``hellinger``: both are metrics, so the error is at most the
  distance between each side's sketched and exact shares; with ``B`` bins the shares'
  total variation is at most ``B ε`` (two CDF errors per bin, halved), and
  ``JS <= sqrt(ln 2 · TV)``, ``H <= sqrt(TV)``. Worst case again;
- ``psi``, and any test on a categorical profile past its cap: None (no useful bound;
  pooling categories can only lower JS and Hellinger, by the data-processing
  inequality).

The errors measured on 200,000-row columns are in ``docs/drift.md``.

References
----------
Z. Karnin, K. Lang and E. Liberty, "Optimal Quantile Approximation in Streams", FOCS
2016 (the KLL sketch and its rank error).
Apache DataSketches, "Kolmogorov-Smirnov test" (``datasketches.ks_test``; the threshold
``c(α) sqrt((n+m)/(n m)) + ε_1 + ε_2``), https://datasketches.apache.org/docs/KLL/KLLSketch.html
J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory
37(1), 1991 (JS divergence at most ``ln 2`` times the total variation).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np

from steward.kernels.drift import _core
from steward.kernels.drift._inputs import DriftError, check_threshold
from steward.kernels.drift.exact import _result
from steward.kernels.drift.results import (
    DEFAULT_THRESHOLDS,
    METHODS,
    P_VALUE_METHODS,
    DriftTest,
    Method,
)
from steward.kernels.profile import CategoricalProfile, ColumnProfile, NumericProfile

__all__ = [
    "Prepared",
    "ProfileLike",
    "category_counts_of",
    "distinct_in",
    "distinct_values",
    "numeric_sample",
    "prepare",
    "profile_test",
    "run",
]

ProfileLike: TypeAlias = "ColumnProfile | NumericProfile | CategoricalProfile"
_ITEM = np.dtype([("item", np.float64), ("weight", np.float64)])
ValueKind = Literal["numeric", "categorical"]


def _inner(name: str, p: ProfileLike) -> NumericProfile | CategoricalProfile:
    if isinstance(p, ColumnProfile):
        inner = p.profile
        if isinstance(inner, NumericProfile | CategoricalProfile):
            return inner
        raise DriftError(
            f"{name}: a column of kind {p.kind!r} keeps only counts; expected a numeric, "
            f"datetime or categorical column",
            parameter=name,
        )
    if isinstance(p, NumericProfile | CategoricalProfile):
        return p
    raise DriftError(
        f"{name}: expected a ColumnProfile, NumericProfile or CategoricalProfile; found "
        f"{type(p).__name__}",
        parameter=name,
    )


def _empty(name: str) -> DriftError:
    return DriftError(
        f"{name}: the profile holds no value to test (an empty window, or only missing values)",
        parameter=name,
    )


def numeric_sample(name: str, p: NumericProfile) -> _core.Sample:
    """The weighted sample a numeric profile stands for (see the module note)."""
    n = p.finite
    if n == 0:
        raise _empty(name)
    lo, hi = float(p.min or 0.0), float(p.max or 0.0)
    mean = float(p.mean or 0.0)
    std = math.sqrt(p.var(ddof=0) or 0.0)
    if p.distinct is not None:
        pairs = p.frequencies(top=None)
        values = np.array([v for v, _ in pairs], dtype=np.float64)
        counts = np.array([c for _, c in pairs], dtype=np.float64)
        order = np.argsort(values)
        d = len(values)
        return _core.Sample(values[order], counts[order], n, mean, std, lo, hi, d, d)
    sketch = p.sketch
    # The sketch yields (item, weight) pairs: one step per retained item (about 600 at
    # k=200, 2,900 at k=1000), never one per value.
    items = np.fromiter(sketch, dtype=_ITEM, count=sketch.num_retained)
    values, inverse = np.unique(items["item"], return_inverse=True)
    weights = np.bincount(inverse, weights=items["weight"]).astype(np.float64)
    if not sketch.is_estimation_mode():
        d = len(values)  # every value is still in the sketch, each with weight 1
        return _core.Sample(values, weights, n, mean, std, lo, hi, d, d)
    return _core.Sample(
        values,
        weights,
        n,
        mean,
        std,
        lo,
        hi,
        distinct=None,
        distinct_floor=max(p.cap + 1, len(values)),
        rank_error=p.rank_error,
        pmf_error=p.pmf_error,
        ties=len(values) < len(items),
    )


def category_counts_of(name: str, p: NumericProfile | CategoricalProfile) -> _core.Counts:
    """Category counts of a categorical profile, or of a numeric one read as categories
    (exact while it keeps value counts; the sketch's retained items otherwise)."""
    if isinstance(p, CategoricalProfile):
        if p.valid == 0:
            raise _empty(name)
        if p.exact:
            exact: dict[Hashable, float] = {k: float(c) for k, c in p.frequencies(top=None)}
            return _core.Counts(exact, p.valid)
        heavy: dict[Hashable, float] = {k: float(c) for k, c in p.frequencies(top=None)}
        other = max(float(p.valid) - sum(heavy.values()), 0.0)
        err = 3.5 / 2**p.lg_max_k * p.valid
        hint = math.ceil(p.distinct)
        return _core.Counts(heavy, p.valid, other=other, error=err, distinct_hint=hint)
    s = numeric_sample(name, p)
    counts: dict[Hashable, float] = dict(zip(s.values.tolist(), s.weights.tolist(), strict=True))
    return _core.Counts(counts, s.n, error=s.pmf_error * s.n)


def distinct_values(
    reference: ProfileLike, current: ProfileLike, *, kind: ValueKind | None = None
) -> int:
    """Distinct non-missing values of reference and current together — exact while both
    profiles count values exactly, else a lower bound (which exceeds the profiles' caps,
    enough to choose a test). Evidently's ``nunique`` of both samples."""
    ref, cur = _inner("reference", reference), _inner("current", current)
    return distinct_in(prepare(kind, ref, cur))


@dataclass(frozen=True)
class Prepared:
    """Both sides of a column, ready for any test: two samples or two sets of counts."""

    kind: ValueKind
    a: _core.Sample | _core.Counts
    b: _core.Sample | _core.Counts


def prepare(
    kind: ValueKind | None,
    ref: NumericProfile | CategoricalProfile,
    cur: NumericProfile | CategoricalProfile,
) -> Prepared:
    """Read both profiles once (as numbers or as categories)."""
    if kind is None:
        kind = "categorical" if isinstance(ref, CategoricalProfile) else "numeric"
    if kind == "numeric":
        if not isinstance(ref, NumericProfile) or not isinstance(cur, NumericProfile):
            raise DriftError(
                "reference, current: a numeric test needs two numeric (or datetime) "
                f"profiles; found {type(ref).__name__} and {type(cur).__name__}",
                parameter="current" if isinstance(ref, NumericProfile) else "reference",
            )
        return Prepared(kind, numeric_sample("reference", ref), numeric_sample("current", cur))
    if kind == "categorical":
        return Prepared(
            kind, category_counts_of("reference", ref), category_counts_of("current", cur)
        )
    raise DriftError(f"kind: expected 'numeric' or 'categorical'; found {kind!r}", parameter="kind")


def distinct_in(pair: Prepared) -> int:
    """Distinct values of both prepared sides (see :func:`distinct_values`)."""
    a, b = pair.a, pair.b
    if isinstance(a, _core.Sample) and isinstance(b, _core.Sample):
        union = len(np.union1d(a.values, b.values))
        if a.distinct is not None and b.distinct is not None:
            return union
        return max(union, a.distinct_floor, b.distinct_floor)
    assert isinstance(a, _core.Counts) and isinstance(b, _core.Counts)
    keys = len(set(a.counts) | set(b.counts))
    if a.exact and b.exact:
        return keys
    return max(keys + (1 if a.other or b.other else 0), a.distinct_hint, b.distinct_hint)


def _tv_bound(s: _core.Sample, bins: int) -> float:
    return min(1.0, bins * s.rank_error) if not s.exact else 0.0


def profile_test(
    method: Method,
    reference: ProfileLike,
    current: ProfileLike,
    *,
    kind: ValueKind | None = None,
    threshold: float | None = None,
) -> DriftTest:
    """Run ``method`` between a reference and a current profile.

    Parameters
    ----------
    method
        One of :data:`~steward.kernels.drift.results.METHODS`.
    reference, current
        Column profiles (or the numeric/categorical profiles inside them).
    kind
        ``numeric`` or ``categorical``: how to read the values. Defaults to the
        profiles' own kind (datetime columns are numeric, in epoch seconds); a numeric
        profile can be read as categories (its exact value counts).
    threshold
        The method's threshold; Evidently's default when None.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = NumericProfile().update(rng.normal(0, 1, 5000))
    >>> cur = NumericProfile().update(rng.normal(0.5, 1, 5000))
    >>> r = profile_test("wasserstein", ref, cur)
    >>> (r.basis, r.drifted, round(r.statistic, 1))
    ('sketch', True, 0.5)
    """
    if method not in METHODS:
        raise DriftError(
            f"method: expected one of {', '.join(METHODS)}; found {method!r}", parameter="method"
        )
    t = (
        DEFAULT_THRESHOLDS[method]
        if threshold is None
        else check_threshold("threshold", threshold, p_value=method in P_VALUE_METHODS)
    )
    ref, cur = _inner("reference", reference), _inner("current", current)
    return run(method, prepare(kind, ref, cur), t)


def run(method: Method, pair: Prepared, threshold: float) -> DriftTest:
    """Run ``method`` on prepared sides with a checked ``threshold``."""
    a, b = pair.a, pair.b
    if isinstance(a, _core.Sample) and isinstance(b, _core.Sample):
        return _numeric(method, a, b, threshold)
    if method in ("ks", "wasserstein"):
        raise DriftError(
            f"method: {method} compares numeric distributions; the column is read as "
            f"categories. Use chisquare, z, jensenshannon, psi or hellinger.",
            parameter="method",
        )
    assert isinstance(a, _core.Counts) and isinstance(b, _core.Counts)
    return _categorical(method, a, b, threshold)


def _done(
    method: Method,
    statistic: float,
    p_value: float | None,
    threshold: float,
    n: int,
    m: int,
    bins: int | None,
    exact: bool,
    error: float | None,
) -> DriftTest:
    return _result(
        method,
        statistic,
        p_value,
        threshold,
        n,
        m,
        bins,
        basis="profile" if exact else "sketch",
        error=0.0 if exact else error,
    )


def _numeric(method: Method, a: _core.Sample, b: _core.Sample, t: float) -> DriftTest:
    exact = a.exact and b.exact
    eps = a.rank_error + b.rank_error
    if method == "ks":
        d, p = _core.ks(a, b)
        return _done(method, d, p, t, a.n, b.n, None, exact, eps)
    if method == "wasserstein":
        w, norm = _core.wasserstein_norm(a, b)
        if exact:
            return _done(method, w, None, t, a.n, b.n, None, exact, 0.0)
        # W1 = |Δmean| + 2 min(P, N), P and N the parts where each CDF is above the
        # other. The profiles' means are exact; the sketches' noise inflates the sum
        # P + N (a |noise| integrated over the range) and the crossing part min(P, N)
        # alike. Both estimates are at least |Δmean| (as W1 is); the smaller is the
        # less inflated. See the module note for the bound and docs/drift.md for the
        # errors measured.
        pos, neg = _core.wasserstein_parts(a, b)
        shift = abs(b.mean - a.mean)
        w = min(max(pos + neg, shift), shift + 2.0 * min(pos, neg)) / norm
        span = max(a.hi, b.hi) - min(a.lo, b.lo)
        return _done(method, w, None, t, a.n, b.n, None, exact, 2.0 * eps * span / norm)
    if method == "hellinger":
        union = len(np.union1d(a.values, b.values))
        known = a.distinct is not None and b.distinct is not None
        if not known and not (a.ties or b.ties):
            # Past the cap with no repeated value retained: a continuous column, whose
            # values are (almost) all distinct.
            union = max(union, a.n + b.n)
        h, bins = _core.hellinger_numeric(a, b, union)
        err = math.sqrt(_tv_bound(a, bins)) + math.sqrt(_tv_bound(b, bins)) if known else None
        return _done(method, h, None, t, a.n, b.n, bins, exact, err)
    if method in ("chisquare", "z"):
        ca = _core.Counts(dict(zip(a.values.tolist(), a.weights.tolist(), strict=True)), a.n)
        cb = _core.Counts(dict(zip(b.values.tolist(), b.weights.tolist(), strict=True)), b.n)
        stat, p, k = _core.chisquare(ca, cb) if method == "chisquare" else _core.ztest(ca, cb)
        return _done(method, stat, p, t, a.n, b.n, k, exact, None)
    p_, q_ = _core.numeric_shares(a, b)
    bins = len(p_)
    if method == "jensenshannon":
        js = _core.jensen_shannon(p_, q_)
        err = math.sqrt(math.log(2) * _tv_bound(a, bins)) + math.sqrt(
            math.log(2) * _tv_bound(b, bins)
        )
        return _done(method, js, None, t, a.n, b.n, bins, exact, err)
    return _done(method, _core.psi(p_, q_), None, t, a.n, b.n, bins, exact, None)


def _categorical(method: Method, a: _core.Counts, b: _core.Counts, t: float) -> DriftTest:
    exact = a.exact and b.exact
    if method == "chisquare":
        stat, p, k = _core.chisquare(a, b)
        return _done(method, stat, p, t, a.n, b.n, k, exact, None)
    if method == "z":
        z, p, k = _core.ztest(a, b)
        return _done(method, z, p, t, a.n, b.n, k, exact, None)
    _, r, c = _core.share_pair(a, b)
    p_, q_ = r / a.n, c / b.n
    if method == "jensenshannon":
        stat = _core.jensen_shannon(p_, q_)
    elif method == "psi":
        stat = _core.psi(p_, q_)
    else:
        stat = _core.hellinger_categorical(p_, q_)
    return _done(method, stat, None, t, a.n, b.n, len(r), exact, None)
