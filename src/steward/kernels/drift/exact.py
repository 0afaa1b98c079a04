"""Drift tests on raw values: the reference computation, and what small references use.

Each function takes a reference and a current sample (numpy, Arrow or a sequence),
drops what is missing (nulls, NaN and, for numeric tests, ±inf — Evidently drops them
before testing too) and returns a :class:`~steward.kernels.drift.results.DriftTest`.

=================  =============================================  =======  ==========
method             statistic                                      kinds    drift when
=================  =============================================  =======  ==========
``ks``             ``D = sup|F_ref - F_cur|``, p-value            numeric  p <= 0.05
``chisquare``      Pearson's chi-square vs scaled reference       both     p < 0.05
``z``              two-proportion z, p-value                      both     p < 0.05
``wasserstein``    ``W1 / max(std_ref, 0.001)``                   numeric  >= 0.1
``jensenshannon``  JS distance of binned shares (natural log)     both     >= 0.1
``psi``            ``sum((p - q) ln(p / q))`` of binned shares    both     >= 0.1
``hellinger``      ``sqrt(1 - sum(sqrt(p q)))`` of binned shares  both     >= 0.1
=================  =============================================  =======  ==========

The numbers agree with ``scipy.stats.ks_2samp``, ``scipy.stats.chisquare``,
``scipy.stats.wasserstein_distance`` and ``scipy.spatial.distance.jensenshannon`` on the
same data (the tests hold them to 1e-9), and the binning, zero handling and normalisation
are Evidently's (see :mod:`steward.kernels.drift._core`).

References
----------
A. N. Kolmogorov (1933) and N. V. Smirnov, "Table for estimating the goodness of fit of
empirical distributions", Ann. Math. Statist. 19(2), 279-281, 1948 (KS).
K. Pearson, "On the criterion that a given system of deviations ...", Phil. Mag. 50,
157-175, 1900 (chi-square).
L. N. Vaserstein, "Markov processes over denumerable products of spaces", Probl. Inf.
Transm. 5(3), 64-72, 1969 (Wasserstein distance).
J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory
37(1), 145-151, 1991 (Jensen–Shannon).
N. Siddiqi, "Credit Risk Scorecards", Wiley, 2006 (population stability index).
E. Hellinger, J. reine angew. Math. 136, 210-271, 1909 (Hellinger distance).
Evidently AI, ``evidently/legacy/calculations/stattests/`` (0.7.x): ``ks_stattest``,
``chisquare_stattest``, ``z_stattest``, ``wasserstein_distance_norm``,
``jensenshannon``, ``psi``, ``hellinger_distance`` and ``utils.get_binned_data``,
https://github.com/evidentlyai/evidently
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from steward.kernels.drift import _core
from steward.kernels.drift._inputs import (
    ArrayLike,
    DriftError,
    category_counts,
    check_threshold,
    finite_values,
)
from steward.kernels.drift.results import (
    DEFAULT_THRESHOLDS,
    METHODS,
    P_VALUE_METHODS,
    Basis,
    DriftTest,
    Method,
    is_drift,
)

__all__ = [
    "chisquare_test",
    "drift_test",
    "hellinger",
    "jensen_shannon",
    "ks_test",
    "psi",
    "wasserstein_norm",
    "z_test",
]

ValueKind = Literal["numeric", "categorical"]


def _threshold(method: Method, threshold: float | None) -> float:
    if threshold is None:
        return DEFAULT_THRESHOLDS[method]
    return check_threshold("threshold", threshold, p_value=method in P_VALUE_METHODS)


def _sample(name: str, values: ArrayLike) -> _core.Sample:
    x = finite_values(name, values)
    if len(x) == 0:
        raise DriftError(
            f"{name}: expected at least one finite value; found none. An empty or "
            f"all-missing column cannot be tested.",
            parameter=name,
        )
    return _core.Sample.of(x)


def _counts(name: str, values: ArrayLike) -> _core.Counts:
    counts = category_counts(name, values)
    n = sum(counts.values())
    if n == 0:
        raise DriftError(
            f"{name}: expected at least one non-missing value; found none. An empty or "
            f"all-missing column cannot be tested.",
            parameter=name,
        )
    return _core.Counts({k: float(v) for k, v in counts.items()}, n)


def _result(
    method: Method,
    statistic: float,
    p_value: float | None,
    threshold: float,
    ref_rows: int,
    cur_rows: int,
    bins: int | None,
    *,
    basis: Basis = "values",
    error: float | None = 0.0,
) -> DriftTest:
    """A test's result, its verdict decided by :func:`is_drift` (one place for both the
    value-based and the profile-based tests)."""
    score = p_value if p_value is not None else statistic
    return DriftTest(
        method=method,
        statistic=statistic,
        p_value=p_value,
        threshold=threshold,
        drifted=is_drift(method, score, threshold),
        reference_rows=ref_rows,
        current_rows=cur_rows,
        bins=bins,
        basis=basis,
        error=error,
    )


def ks_test(
    reference: ArrayLike, current: ArrayLike, *, threshold: float | None = None
) -> DriftTest:
    """Two-sample Kolmogorov–Smirnov test (two-sided; SciPy's exact distribution up to
    10,000 values a side, the asymptotic one beyond).

    Examples
    --------
    >>> r = ks_test([1.0, 2, 3, 4, 5], [6.0, 7, 8, 9, 10])
    >>> (r.statistic, round(r.p_value, 6), r.drifted)
    (1.0, 0.007937, True)
    """
    t = _threshold("ks", threshold)
    ref, cur = _sample("reference", reference), _sample("current", current)
    d, p = _core.ks(ref, cur)
    return _result("ks", d, p, t, ref.n, cur.n, None)


def wasserstein_norm(
    reference: ArrayLike, current: ArrayLike, *, threshold: float | None = None
) -> DriftTest:
    """Wasserstein-1 distance divided by the reference's population standard deviation
    (floored at 0.001): a shift of the whole distribution by ``0.1 σ`` scores 0.1.

    Examples
    --------
    >>> r = wasserstein_norm([0.0, 2.0], [1.0, 3.0])  # shifted by 1 = one std
    >>> (r.statistic, r.drifted)
    (1.0, True)
    """
    t = _threshold("wasserstein", threshold)
    ref, cur = _sample("reference", reference), _sample("current", current)
    w, _ = _core.wasserstein_norm(ref, cur)
    return _result("wasserstein", w, None, t, ref.n, cur.n, None)


def chisquare_test(
    reference: ArrayLike, current: ArrayLike, *, threshold: float | None = None
) -> DriftTest:
    """Pearson's chi-square test of the current category counts against the reference
    shares (``scipy.stats.chisquare(f_obs=current, f_exp=reference * n_cur / n_ref)``).

    Examples
    --------
    >>> r = chisquare_test(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20)
    >>> (r.statistic, r.drifted)
    (36.0, True)
    """
    t = _threshold("chisquare", threshold)
    ref, cur = _counts("reference", reference), _counts("current", current)
    stat, p, k = _core.chisquare(ref, cur)
    return _result("chisquare", stat, p, t, ref.n, cur.n, k)


def z_test(
    reference: ArrayLike, current: ArrayLike, *, threshold: float | None = None
) -> DriftTest:
    """Two-proportion Z-test (pooled variance) of the share of values other than the
    smallest category; for columns with two categories.

    Examples
    --------
    >>> r = z_test([0] * 50 + [1] * 50, [0] * 70 + [1] * 30)
    >>> (round(r.statistic, 4), round(r.p_value, 4), r.drifted)
    (2.8868, 0.0039, True)
    """
    t = _threshold("z", threshold)
    ref, cur = _counts("reference", reference), _counts("current", current)
    z, p, k = _core.ztest(ref, cur)
    return _result("z", z, p, t, ref.n, cur.n, k)


def _shares(
    reference: ArrayLike, current: ArrayLike, kind: ValueKind
) -> tuple[_core.FloatArray, _core.FloatArray, int, int]:
    if kind == "numeric":
        ref, cur = _sample("reference", reference), _sample("current", current)
        p, q = _core.numeric_shares(ref, cur)
        return p, q, ref.n, cur.n
    if kind == "categorical":
        rc, cc = _counts("reference", reference), _counts("current", current)
        _, r, c = _core.share_pair(rc, cc)
        return r / rc.n, c / cc.n, rc.n, cc.n
    raise DriftError(f"kind: expected 'numeric' or 'categorical'; found {kind!r}", parameter="kind")


def jensen_shannon(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    kind: ValueKind = "numeric",
    threshold: float | None = None,
) -> DriftTest:
    """Jensen–Shannon distance (natural log, so in ``[0, sqrt(ln 2)]``) between the
    binned shares of the two samples; zero shares are kept.

    Examples
    --------
    >>> r = jensen_shannon(["a", "a", "b"], ["a", "b", "b"], kind="categorical")
    >>> (round(r.statistic, 6), r.drifted)
    (0.237977, True)
    """
    t = _threshold("jensenshannon", threshold)
    p, q, n, m = _shares(reference, current, kind)
    return _result("jensenshannon", _core.jensen_shannon(p, q), None, t, n, m, len(p))


def psi(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    kind: ValueKind = "numeric",
    threshold: float | None = None,
) -> DriftTest:
    """Population stability index ``sum((p - q) ln(p / q))`` between the binned shares;
    a zero share is replaced by a small one first (Evidently's rule).

    Examples
    --------
    >>> r = psi(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20, kind="categorical")
    >>> (round(r.statistic, 6), r.drifted)
    (0.415888, True)
    """
    t = _threshold("psi", threshold)
    p, q, n, m = _shares(reference, current, kind)
    return _result("psi", _core.psi(p, q), None, t, n, m, len(p))


def hellinger(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    kind: ValueKind = "numeric",
    threshold: float | None = None,
) -> DriftTest:
    """Hellinger distance ``sqrt(1 - sum(sqrt(p q)))``; numeric samples are binned by
    Sturges' rule over the distinct values of both (Evidently's rule).

    Examples
    --------
    >>> r = hellinger(["a", "b"], ["a", "b"], kind="categorical")
    >>> (r.statistic, r.drifted)
    (0.0, False)
    """
    t = _threshold("hellinger", threshold)
    if kind == "numeric":
        ref, cur = _sample("reference", reference), _sample("current", current)
        union = len(np.union1d(ref.values, cur.values))
        h, bins = _core.hellinger_numeric(ref, cur, union)
        return _result("hellinger", h, None, t, ref.n, cur.n, bins)
    p, q, n, m = _shares(reference, current, kind)
    return _result("hellinger", _core.hellinger_categorical(p, q), None, t, n, m, len(p))


def drift_test(
    method: Method,
    reference: ArrayLike,
    current: ArrayLike,
    *,
    kind: ValueKind = "numeric",
    threshold: float | None = None,
) -> DriftTest:
    """Run ``method`` by name on raw values (``kind`` picks numeric binning or categories
    for the methods that take both; ``ks`` and ``wasserstein`` need numbers).

    Examples
    --------
    >>> drift_test("psi", [1, 1, 2], [1, 2, 2], kind="categorical").bins
    2
    """
    if method not in METHODS:
        raise DriftError(
            f"method: expected one of {', '.join(METHODS)}; found {method!r}", parameter="method"
        )
    if kind not in ("numeric", "categorical"):
        raise DriftError(
            f"kind: expected 'numeric' or 'categorical'; found {kind!r}", parameter="kind"
        )
    if method in ("ks", "wasserstein") and kind != "numeric":
        raise DriftError(
            f"method: {method} compares numeric distributions; the column is {kind}. Use "
            f"chisquare, z, jensenshannon, psi or hellinger for categories.",
            parameter="method",
        )
    if method == "ks":
        return ks_test(reference, current, threshold=threshold)
    if method == "wasserstein":
        return wasserstein_norm(reference, current, threshold=threshold)
    if method == "chisquare":
        return chisquare_test(reference, current, threshold=threshold)
    if method == "z":
        return z_test(reference, current, threshold=threshold)
    if method == "jensenshannon":
        return jensen_shannon(reference, current, kind=kind, threshold=threshold)
    if method == "psi":
        return psi(reference, current, kind=kind, threshold=threshold)
    return hellinger(reference, current, kind=kind, threshold=threshold)
