"""The p-value of the two-sample Kolmogorov–Smirnov statistic from ``(D, n, m)`` alone.

Profiles keep no values, so the p-value cannot come from ``scipy.stats.ks_2samp``; it
comes from the statistic's distribution under the null hypothesis, chosen as
``ks_2samp(method="auto", alternative="two-sided")`` chooses it:

- **exact** when both samples have at most 10,000 values: the share of the
  ``C(n + m, n)`` equally likely lattice paths from ``(0, 0)`` to ``(n, m)`` that leave
  the band ``|x/n - y/m| < D`` (Hodges 1958). Paths are counted row by row: the
  counts in row ``x`` are a cumulative sum of row ``x - 1`` over the band, so each row
  costs one ``numpy.cumsum`` over the band's width. Rows are rescaled as they go and the
  scale kept as a logarithm, so nothing overflows;
- **asymptotic** otherwise: the one-sample distribution at ``n m / (n + m)`` values
  (``scipy.stats.kstwo``), Smirnov's limit, as SciPy does.

``D`` is first rounded to the lattice ``h / lcm(n, m)`` it lives on, as SciPy does.

References
----------
J. L. Hodges Jr., "The significance probability of the Smirnov two-sample test", Arkiv
för Matematik 3(5), 469-486, 1958.
SciPy, ``scipy.stats.ks_2samp`` (1.17), method ``"auto"``,
https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats.ks_2samp.html
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EXACT_MAX_N", "ks_2samp_pvalue"]

#: the largest sample size for which the exact distribution is used (SciPy's MAX_AUTO_N)
EXACT_MAX_N = 10_000


def ks_2samp_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value ``P(D_{n,m} >= d)`` of the two-sample KS statistic.

    Parameters
    ----------
    d
        The observed statistic, in ``[0, 1]``.
    n, m
        The two sample sizes (at least 1 each).

    Examples
    --------
    >>> round(ks_2samp_pvalue(0.5, 10, 10), 6)  # scipy.stats.ks_2samp gives the same
    0.167821
    """
    if n < 1 or m < 1:
        raise ValueError(f"n, m: expected sample sizes of at least 1; found {n}, {m}")
    d = min(max(float(d), 0.0), 1.0)
    if max(n, m) <= EXACT_MAX_N:
        return _exact(d, n, m)
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    from scipy import stats  # type: ignore[import-untyped]  # lazily: a heavy import

    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def _exact(d: float, n: int, m: int) -> float:
    a, b = min(n, m), max(n, m)  # rows over the smaller sample: fewer Python iterations
    g = math.gcd(a, b)
    ag, bg = a // g, b // g
    lcm = ag * b
    h = round(d * lcm)
    if h == 0:
        return 1.0
    # Row x holds the number of paths to (x, y) that stayed inside, for y in [lo, hi]:
    # the y with |x*bg - y*ag| < h.
    hi = min((h - 1) // ag, b)
    row = np.ones(hi + 1)
    lo = 0
    log_scale = 0.0
    for x in range(1, a + 1):
        new_lo = max((x * bg - h) // ag + 1, 0)
        new_hi = min((x * bg + h - 1) // ag, b)
        if new_hi < new_lo:
            return 1.0  # every path leaves the band
        seg = np.zeros(new_hi - new_lo + 1)
        take = row[new_lo - lo : min(new_hi, hi) - lo + 1]
        seg[: len(take)] = take
        row = np.cumsum(seg)
        top = row[-1]
        if top <= 0.0:
            return 1.0
        row /= top
        log_scale += math.log(top)
        lo, hi = new_lo, new_hi
    # (a, b) is always inside, and the last entry of the last row is 1 after scaling.
    log_paths = math.lgamma(a + b + 1) - math.lgamma(a + 1) - math.lgamma(b + 1)
    inside = math.exp(log_scale + math.log(row[-1]) - log_paths)
    return float(min(max(1.0 - inside, 0.0), 1.0))
