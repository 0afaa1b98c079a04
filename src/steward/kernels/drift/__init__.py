"""Drift statistics: is a window of data (or of predictions) still like the reference?

Owns the drift kernel (pure computation, no I/O):

- tests on raw values (:mod:`~steward.kernels.drift.exact`) — :func:`ks_test`,
  :func:`chisquare_test`, :func:`z_test`, :func:`wasserstein_norm`,
  :func:`jensen_shannon`, :func:`psi`, :func:`hellinger` and :func:`drift_test` by
  name — each returning a :class:`DriftTest`; the reference computation, agreeing with
  SciPy, and what small references use;
- the same tests between two profiles (:func:`profile_test`): exact while the
  profiles count values exactly, within documented bounds once they are sketches;
- Evidently's default choice of test (:func:`choose`) and the overrides
  (:class:`DriftSettings`, :class:`ColumnSettings`);
- a whole table (:func:`table_drift` → :class:`TableDrift` of :class:`ColumnDrift`),
  with an explicit "not tested" verdict and reason where no test can run;
- change points in a series of window values (:func:`cusum`, :func:`page_hinkley` →
  :class:`ChangePoints`), for gradual drift.

Formulas, defaults, error bounds and where the kernel departs from Evidently are in
``docs/drift.md``. Bad inputs raise :class:`DriftError`, a ``ValueError``.
"""

from steward.kernels.drift._inputs import DriftError
from steward.kernels.drift._ks import ks_2samp_pvalue
from steward.kernels.drift.changepoint import (
    ChangePoint,
    ChangePoints,
    Direction,
    cusum,
    page_hinkley,
)
from steward.kernels.drift.choice import (
    SMALL_REFERENCE_ROWS,
    ColumnSettings,
    DriftSettings,
    Resolved,
    TestKind,
    choose,
)
from steward.kernels.drift.exact import (
    chisquare_test,
    drift_test,
    hellinger,
    jensen_shannon,
    ks_test,
    psi,
    wasserstein_norm,
    z_test,
)
from steward.kernels.drift.profiled import ProfileLike, distinct_values, profile_test
from steward.kernels.drift.results import (
    DEFAULT_THRESHOLDS,
    METHODS,
    P_VALUE_METHODS,
    Basis,
    DriftTest,
    Method,
    is_drift,
)
from steward.kernels.drift.table import ColumnDrift, ColumnStatus, TableDrift, table_drift

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "P_VALUE_METHODS",
    "SMALL_REFERENCE_ROWS",
    "Basis",
    "ChangePoint",
    "ChangePoints",
    "ColumnDrift",
    "ColumnSettings",
    "ColumnStatus",
    "Direction",
    "DriftError",
    "DriftSettings",
    "DriftTest",
    "Method",
    "ProfileLike",
    "Resolved",
    "TableDrift",
    "TestKind",
    "chisquare_test",
    "choose",
    "cusum",
    "distinct_values",
    "drift_test",
    "hellinger",
    "is_drift",
    "jensen_shannon",
    "ks_2samp_pvalue",
    "ks_test",
    "page_hinkley",
    "profile_test",
    "psi",
    "table_drift",
    "wasserstein_norm",
    "z_test",
]
