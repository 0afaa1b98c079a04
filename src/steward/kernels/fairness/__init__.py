"""Group fairness of a binary classifier: the numbers the fairness gates check.

Owns the fairness kernel (pure computation, no I/O). :func:`fairness_report` takes truth,
decisions, optional scores and a mapping of sensitive attributes, and returns a
:class:`FairnessReport`:

- per group of each attribute (:class:`GroupMetrics`): count, confusion counts,
  selection rate, TPR, FPR, FNR, accuracy, base rate and, with scores, ROC AUC;
- per attribute (:class:`FairnessSummary`): demographic parity and equalised odds
  differences and ratios and the accuracy difference, defined as fairlearn defines them
  (``method="between_groups"``), with the groups at the extremes (:class:`Disparity`);
- the same for the intersection of every pair of attributes;
- groups and cells below ``min_group_size`` listed as :class:`SmallGroup` and left out
  of every summary.

Everything is counted with ``numpy.bincount`` over dense group codes, so a million rows
take a fraction of a second. Definitions, NaN rules and where they differ from fairlearn
are in the design note of :mod:`steward.kernels.fairness.report`. Bad inputs raise
:class:`FairnessError`, a ``ValueError``.
"""

from steward.kernels.fairness._inputs import MISSING, FairnessError
from steward.kernels.fairness.cells import grouped_auc
from steward.kernels.fairness.report import (
    DISPARITY_METRICS,
    AttributeReport,
    Disparity,
    FairnessReport,
    FairnessSummary,
    GroupMetrics,
    SmallGroup,
    fairness_report,
)

__all__ = [
    "DISPARITY_METRICS",
    "MISSING",
    "AttributeReport",
    "Disparity",
    "FairnessError",
    "FairnessReport",
    "FairnessSummary",
    "GroupMetrics",
    "SmallGroup",
    "fairness_report",
    "grouped_auc",
]
