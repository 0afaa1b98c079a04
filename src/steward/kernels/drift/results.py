"""What a drift test returns, the methods' names and their default thresholds.

The method names are Evidently's (``ks``, ``chisquare``, ``z``, ``wasserstein``,
``jensenshannon``, ``psi``, ``hellinger``) so that a setting written for one reads the
same in the other. So is the rule deciding drift: a test that returns a p-value drifts
when the p-value is *below* the threshold (``<=`` for ``ks``, ``<`` for ``chisquare``
and ``z``, exactly as in Evidently's code); a distance drifts when it is *at or above*
the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, get_args

from steward.kernels._common import none_if_nan

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "P_VALUE_METHODS",
    "Basis",
    "DriftTest",
    "Method",
    "is_drift",
]

Method: TypeAlias = Literal[
    "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "hellinger"
]
#: every method, in the order the documentation lists them
METHODS: tuple[Method, ...] = get_args(Method)
#: methods whose score is a p-value (drift when it is small)
P_VALUE_METHODS: frozenset[Method] = frozenset({"ks", "chisquare", "z"})
#: Evidently's default threshold of each method
DEFAULT_THRESHOLDS: MappingProxyType[Method, float] = MappingProxyType(
    {
        "ks": 0.05,
        "chisquare": 0.05,
        "z": 0.05,
        "wasserstein": 0.1,
        "jensenshannon": 0.1,
        "psi": 0.1,
        "hellinger": 0.1,
    }
)

#: What a result was computed on: the raw ``values``; a profile's exact counts
#: (``profile``, the same numbers as on the values); or a profile's sketches
#: (``sketch``, within ``error``).
Basis: TypeAlias = Literal["values", "profile", "sketch"]


def is_drift(method: Method, score: float, threshold: float) -> bool:
    """Evidently's verdict: ``p <= t`` for ks, ``p < t`` for chisquare and z, and
    ``score >= t`` for the distances. NaN never drifts."""
    if math.isnan(score):
        return False
    if method == "ks":
        return score <= threshold
    if method in P_VALUE_METHODS:
        return score < threshold
    return score >= threshold


@dataclass(frozen=True)
class DriftTest:
    """The outcome of one drift test between a reference and a current sample.

    Attributes
    ----------
    method : the test (see :data:`METHODS`).
    statistic : the test statistic — KS ``D``, chi-square, ``z``, Wasserstein distance
        divided by the reference standard deviation, Jensen–Shannon distance, PSI or
        Hellinger distance.
    p_value : the p-value for ``ks``, ``chisquare`` and ``z``; None for distances.
    threshold : what the score was compared with.
    drifted : the verdict (:func:`is_drift`).
    reference_rows, current_rows : the non-missing values each side had (nulls, NaN and
        infinities are not part of any test).
    bins : the bins or categories the shares were compared over (None for ``ks`` and
        ``wasserstein``, which compare whole distributions).
    basis : ``values``, ``profile`` (exact counts) or ``sketch`` (approximate).
    error : a bound on ``|statistic - exact statistic|`` (99 % confidence) when computed
        from sketches; 0 when exact; None when no useful bound is known (PSI on
        sketches). See ``docs/drift.md`` for each bound and the errors measured.
    """

    method: Method
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    bins: int | None = None
    basis: Basis = "values"
    error: float | None = 0.0

    @property
    def score(self) -> float:
        """What the threshold is compared with (Evidently's ``drift_score``): the
        p-value for tests, the statistic for distances."""
        return self.p_value if self.p_value is not None else self.statistic

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (an infinite chi-square statistic stays ``inf`` for Python's json)."""
        return {
            "method": self.method,
            "statistic": none_if_nan(self.statistic),
            "p_value": none_if_nan(self.p_value),
            "score": none_if_nan(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "bins": self.bins,
            "basis": self.basis,
            "error": self.error,
        }
