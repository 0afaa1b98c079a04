"""Group fairness of a binary classifier's decisions across sensitive attributes.

Design note
-----------
**Per-group metrics.** For the rows of a group, with ``tp, fp, fn, tn`` the confusion
counts of decisions against truth (1 = positive/favourable outcome):

- selection rate ``(tp + fp) / n`` — fairlearn's ``selection_rate``;
- true positive rate (recall) ``tp / (tp + fn)`` — fairlearn's ``true_positive_rate``;
- false positive rate ``fp / (fp + tn)`` — fairlearn's ``false_positive_rate``;
- false negative rate ``fn / (tp + fn)``, accuracy ``(tp + tn) / n`` and the base rate
  (share positive in truth) ``(tp + fn) / n``;
- ROC AUC of the scores, when scores are given and both classes occur in the group.

**Summaries** are fairlearn's with ``method="between_groups"`` (``MetricFrame.difference``
and ``.ratio``): for a metric, the *difference* is the largest group value minus the
smallest and the *ratio* the smallest divided by the largest. Demographic parity
compares selection rates (``demographic_parity_difference/ratio``); equalised odds
(Hardt, Price & Srebro 2016: decisions independent of the group given the true label,
i.e. equal TPR and FPR) is the larger of the TPR and FPR differences and the smaller of
their ratios (``equalized_odds_difference/ratio`` with ``agg="worst_case"``). The groups
at both extremes are named; ties go to the first group in label order.

**Small groups.** A group (or intersection cell) with fewer than ``min_group_size``
rows is not judged: it is listed with its count in ``too_small``, gets no metrics and
takes no part in any summary. The threshold is a parameter, not a law: 30 rows give a
rate a standard error of up to 0.09, which is already wide; gates may want more.

**Not judged.** A disparity compares groups: an attribute (or intersection) with fewer
than two groups of ``min_group_size`` rows has a difference of 0 and a ratio of 1 (or
NaN) by construction, which says nothing about fairness. ``AttributeReport.judged`` is
false for it and ``FairnessReport.not_judged()`` names such attributes, so that a gate
can fail closed instead of reading 0 as "fair".

**Empty denominators.** A rate whose denominator is zero — TPR and FNR in a group with
no positives in truth, FPR in a group with no negatives, AUC unless both classes occur
— is NaN (``None`` in ``to_dict``). A group whose value is NaN is left out of that
metric's difference and ratio (and listed in the disparity's ``undefined_groups``);
the metric's summary is NaN only when no group has a value. A ratio whose largest
value is 0 is 0/0, NaN, as in fairlearn. An equalised-odds summary is NaN only when
both its TPR and FPR parts are.

This is where the kernel departs from fairlearn 0.15: there, TPR and FPR go through
scikit-learn's ``confusion_matrix(normalize="true")``, which turns 0/0 into 0, so a group
with no positives has a TPR of 0 and can set the equalised-odds difference on its own;
and ``equalized_odds_ratio`` takes Python's ``min`` of the two ratios, which returns NaN
or not depending on which of the two is NaN. Whenever every judged group has a defined
value, the numbers are fairlearn's to the last bit (the tests hold them to 1e-12).

References
----------
M. Hardt, E. Price and N. Srebro, "Equality of Opportunity in Supervised Learning",
NeurIPS 2016, https://arxiv.org/abs/1610.02413 (equalised odds).
Fairlearn, "Common fairness metrics" and ``fairlearn.metrics`` (0.15),
https://fairlearn.org/v0.15/user_guide/assessment/common_fairness_metrics.html
S. Weerts et al., "Fairlearn: Assessing and Improving Fairness of AI Systems", JMLR 24
(257), 2023.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from steward.kernels._common import none_if_nan
from steward.kernels.fairness._inputs import (
    ArrayLike,
    FairnessError,
    check_binary,
    check_min_group_size,
    check_scores,
    encode_groups,
)
from steward.kernels.fairness.cells import RATES, Cells, grouped_auc, partition, rates

__all__ = [
    "DISPARITY_METRICS",
    "AttributeReport",
    "Disparity",
    "FairnessReport",
    "FairnessSummary",
    "GroupMetrics",
    "SmallGroup",
    "fairness_report",
]

#: metrics whose spread across groups is summarised (``roc_auc`` only with scores)
DISPARITY_METRICS: tuple[str, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "accuracy",
    "roc_auc",
)


@dataclass
class GroupMetrics:
    """Counts and rates of one group (or intersection cell, or the whole population).

    Attributes
    ----------
    group : attribute name → label (empty for the whole population).
    count : rows in the group.
    true_positives, false_positives, false_negatives, true_negatives : confusion counts.
    selection_rate, true_positive_rate, false_positive_rate, false_negative_rate,
    accuracy, base_rate : rates as defined in the module's design note; NaN when the
        denominator is empty.
    roc_auc : ROC AUC of the scores in the group; NaN without scores or unless both
        classes occur.
    """

    group: dict[str, str]
    count: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    selection_rate: float
    true_positive_rate: float
    false_positive_rate: float
    false_negative_rate: float
    accuracy: float
    base_rate: float
    roc_auc: float = math.nan

    def metric(self, name: str) -> float:
        """The value of a metric by name (one of ``DISPARITY_METRICS`` or ``base_rate``)."""
        if name not in (*DISPARITY_METRICS, "base_rate"):
            raise KeyError(f"unknown metric {name!r}; expected one of {DISPARITY_METRICS}")
        value: float = getattr(self, name)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": dict(self.group),
            "count": self.count,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            **{m: none_if_nan(getattr(self, m)) for m in (*RATES, "roc_auc")},
        }


@dataclass
class SmallGroup:
    """A group with rows but fewer than ``min_group_size``: listed, not judged."""

    group: dict[str, str]
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"group": dict(self.group), "count": self.count}


@dataclass
class Disparity:
    """How far one metric spreads across the judged groups (fairlearn's
    ``between_groups``).

    Attributes
    ----------
    metric : the metric's name.
    difference : highest minus lowest value (NaN when no group has a value).
    ratio : lowest divided by highest (NaN when no group has a value or the highest is 0).
    lowest, highest : the extreme values.
    lowest_group, highest_group : the groups holding them (``None`` when undefined).
    groups_compared : groups with a value.
    undefined_groups : judged groups left out because their value is NaN.
    """

    metric: str
    difference: float
    ratio: float
    lowest: float
    highest: float
    lowest_group: dict[str, str] | None
    highest_group: dict[str, str] | None
    groups_compared: int
    undefined_groups: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "difference": none_if_nan(self.difference),
            "ratio": none_if_nan(self.ratio),
            "lowest": none_if_nan(self.lowest),
            "highest": none_if_nan(self.highest),
            "lowest_group": self.lowest_group,
            "highest_group": self.highest_group,
            "groups_compared": self.groups_compared,
            "undefined_groups": [dict(g) for g in self.undefined_groups],
        }


@dataclass
class FairnessSummary:
    """Headline disparities over the judged groups of one attribute (or intersection).

    Attributes
    ----------
    demographic_parity_difference, demographic_parity_ratio : spread of selection rates.
    equalized_odds_difference : the larger of the TPR and FPR differences.
    equalized_odds_ratio : the smaller of the TPR and FPR ratios.
    equalized_odds_difference_from, equalized_odds_ratio_from : which of
        ``true_positive_rate`` / ``false_positive_rate`` gave them (``None`` if NaN).
    accuracy_difference : spread of accuracy.
    groups_judged : groups with at least ``min_group_size`` rows.
    disparities : metric name → :class:`Disparity`, for every metric summarised.
    """

    demographic_parity_difference: float
    demographic_parity_ratio: float
    equalized_odds_difference: float
    equalized_odds_ratio: float
    equalized_odds_difference_from: str | None
    equalized_odds_ratio_from: str | None
    accuracy_difference: float
    groups_judged: int
    disparities: dict[str, Disparity] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "demographic_parity_difference": none_if_nan(self.demographic_parity_difference),
            "demographic_parity_ratio": none_if_nan(self.demographic_parity_ratio),
            "equalized_odds_difference": none_if_nan(self.equalized_odds_difference),
            "equalized_odds_ratio": none_if_nan(self.equalized_odds_ratio),
            "equalized_odds_difference_from": self.equalized_odds_difference_from,
            "equalized_odds_ratio_from": self.equalized_odds_ratio_from,
            "accuracy_difference": none_if_nan(self.accuracy_difference),
            "groups_judged": self.groups_judged,
            "disparities": {k: d.to_dict() for k, d in self.disparities.items()},
        }


@dataclass
class AttributeReport:
    """Groups of one sensitive attribute, or cells of an intersection of two.

    Attributes
    ----------
    attributes : the attribute names (one, or two for an intersection).
    groups : metrics of every judged group, in label order.
    too_small : groups with rows but fewer than ``min_group_size``, in label order.
    summary : disparities over ``groups``.
    """

    attributes: tuple[str, ...]
    groups: list[GroupMetrics]
    too_small: list[SmallGroup]
    summary: FairnessSummary

    @property
    def judged(self) -> bool:
        """Whether the attribute was judged at all: a disparity needs at least two groups
        of ``min_group_size`` rows. With one (or none), every difference is 0 or NaN and
        every ratio 1 or NaN by construction: that is "not judged", not "fair"."""
        return self.summary.groups_judged >= 2

    @property
    def name(self) -> str:
        """``"race"``, or ``"race × sex"`` for an intersection."""
        return " × ".join(self.attributes)

    def group(self, *labels: str) -> GroupMetrics:
        """The judged group with these labels (one per attribute, in order)."""
        want = dict(zip(self.attributes, labels, strict=True))
        for g in self.groups:
            if g.group == want:
                return g
        raise KeyError(f"{self.name}: no judged group {want}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "attributes": list(self.attributes),
            "groups": [g.to_dict() for g in self.groups],
            "too_small": [s.to_dict() for s in self.too_small],
            "summary": self.summary.to_dict(),
            "judged": self.judged,
        }


@dataclass
class FairnessReport:
    """The outcome of :func:`fairness_report`.

    Attributes
    ----------
    rows : rows assessed.
    min_group_size : smallest group that was judged.
    scored : whether scores were given (ROC AUC per group).
    overall : metrics of the whole population.
    attributes : attribute name → its :class:`AttributeReport`, in the order given.
    intersections : one :class:`AttributeReport` per pair of attributes.
    """

    rows: int
    min_group_size: int
    scored: bool
    overall: GroupMetrics
    attributes: dict[str, AttributeReport] = field(default_factory=dict)
    intersections: list[AttributeReport] = field(default_factory=list)

    def intersection(self, a: str, b: str) -> AttributeReport:
        """The intersection of attributes ``a`` and ``b`` (in either order)."""
        for r in self.intersections:
            if set(r.attributes) == {a, b} and a != b:
                return r
        raise KeyError(f"no intersection of {a!r} and {b!r}")

    def too_small(self) -> dict[str, list[SmallGroup]]:
        """Every attribute's and intersection's unjudged groups, by report name."""
        out = {r.name: r.too_small for r in self.attributes.values() if r.too_small}
        out.update({r.name: r.too_small for r in self.intersections if r.too_small})
        return out

    def not_judged(self) -> list[str]:
        """Attributes (not intersections) with fewer than two groups large enough to
        judge, in the order given."""
        return [name for name, r in self.attributes.items() if not r.judged]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "min_group_size": self.min_group_size,
            "scored": self.scored,
            "overall": self.overall.to_dict(),
            "attributes": {k: r.to_dict() for k, r in self.attributes.items()},
            "intersections": [r.to_dict() for r in self.intersections],
        }


def _disparity(
    metric: str, values: npt.NDArray[np.float64], groups: Sequence[dict[str, str]]
) -> Disparity:
    defined = ~np.isnan(values)
    undefined = [groups[int(i)] for i in np.flatnonzero(~defined)]
    if not defined.any():
        nan = math.nan
        return Disparity(metric, nan, nan, nan, nan, None, None, 0, undefined)
    masked_low = np.where(defined, values, np.inf)
    masked_high = np.where(defined, values, -np.inf)
    lo, hi = int(np.argmin(masked_low)), int(np.argmax(masked_high))
    low, high = float(values[lo]), float(values[hi])
    ratio = low / high if high != 0 else math.nan
    return Disparity(
        metric, high - low, ratio, low, high, groups[lo], groups[hi], int(defined.sum()), undefined
    )


def _worst(a: Disparity, b: Disparity, attr: str, largest: bool) -> tuple[float, str | None]:
    """The larger (or smaller) of two disparities' ``attr``, ignoring NaN."""
    x, y = getattr(a, attr), getattr(b, attr)
    if math.isnan(x) and math.isnan(y):
        return math.nan, None
    if math.isnan(y) or (not math.isnan(x) and (x >= y if largest else x <= y)):
        return x, a.metric
    return y, b.metric


def _summary(groups: list[GroupMetrics], scored: bool) -> FairnessSummary:
    labels = [g.group for g in groups]
    metrics = [m for m in DISPARITY_METRICS if scored or m != "roc_auc"]
    disp = {
        m: _disparity(m, np.array([g.metric(m) for g in groups], dtype=np.float64), labels)
        for m in metrics
    }
    tpr, fpr = disp["true_positive_rate"], disp["false_positive_rate"]
    eod, eod_from = _worst(tpr, fpr, "difference", largest=True)
    eor, eor_from = _worst(tpr, fpr, "ratio", largest=False)
    return FairnessSummary(
        demographic_parity_difference=disp["selection_rate"].difference,
        demographic_parity_ratio=disp["selection_rate"].ratio,
        equalized_odds_difference=eod,
        equalized_odds_ratio=eor,
        equalized_odds_difference_from=eod_from,
        equalized_odds_ratio_from=eor_from,
        accuracy_difference=disp["accuracy"].difference,
        groups_judged=len(groups),
        disparities=disp,
    )


def _group_metrics(
    group: dict[str, str],
    confusion: npt.NDArray[np.int64],
    rate: Mapping[str, npt.NDArray[np.float64]],
    auc: npt.NDArray[np.float64] | None,
    i: int,
) -> GroupMetrics:
    tn, fp, fn, tp = (int(v) for v in confusion[i])
    return GroupMetrics(
        group=group,
        count=tn + fp + fn + tp,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
        roc_auc=float(auc[i]) if auc is not None else math.nan,
        **{m: float(rate[m][i]) for m in RATES},
    )


def _attribute_report(
    names: tuple[str, ...],
    labels: Sequence[list[str]],
    cells: Cells,
    y_true: npt.NDArray[np.int64],
    y_score: npt.NDArray[np.float64] | None,
    score_order: npt.NDArray[np.int64] | None,
    min_group_size: int,
) -> AttributeReport:
    counts = cells.counts
    judged = counts >= min_group_size
    rate = rates(cells.confusion)
    auc = None
    if y_score is not None:
        # AUC only for judged cells: rows of small cells go to one extra id
        k = int(judged.sum())
        remap = np.full(counts.size, k, dtype=np.int64)
        remap[judged] = np.arange(k, dtype=np.int64)
        auc = np.full(counts.size, np.nan)
        auc[judged] = grouped_auc(remap[cells.row_cell], k + 1, y_true, y_score, score_order)[:k]

    def group_of(i: int) -> dict[str, str]:
        return {n: labels[k][int(cells.keys[i, k])] for k, n in enumerate(names)}

    groups = [
        _group_metrics(group_of(i), cells.confusion, rate, auc, i)
        for i in np.flatnonzero(judged).tolist()
    ]
    small = [SmallGroup(group_of(i), int(counts[i])) for i in np.flatnonzero(~judged).tolist()]
    return AttributeReport(names, groups, small, _summary(groups, y_score is not None))


def fairness_report(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    sensitive: Mapping[str, ArrayLike],
    *,
    y_score: ArrayLike | None = None,
    min_group_size: int = 30,
    intersections: bool = True,
) -> FairnessReport:
    """Per-group metrics and fairlearn-style disparities of binary decisions.

    Parameters
    ----------
    y_true : 0/1 (or boolean) truth, 1 the positive outcome.
    y_pred : 0/1 (or boolean) decisions.
    sensitive : attribute name → group label per row (text, numbers or booleans; Arrow
        arrays too). Missing values form the group ``"(missing)"``.
    y_score : optional scores (probabilities of class 1, or any real score: only their
        order matters) for per-group ROC AUC.
    min_group_size : groups and intersection cells with fewer rows are listed as too
        small and left out of every summary.
    intersections : also report every pair of attributes.

    Returns
    -------
    FairnessReport

    Examples
    --------
    >>> r = fairness_report(
    ...     [1, 0, 1, 0, 1, 0], [1, 0, 1, 1, 0, 1],
    ...     {"sex": ["f", "f", "f", "m", "m", "m"]}, min_group_size=3)
    >>> s = r.attributes["sex"].summary
    >>> s.demographic_parity_difference, s.equalized_odds_difference
    (0.0, 1.0)
    >>> tpr = s.disparities["true_positive_rate"]
    >>> tpr.lowest_group, tpr.highest_group
    ({'sex': 'm'}, {'sex': 'f'})
    """
    truth = check_binary("y_true", y_true)
    rows = truth.size
    decisions = check_binary("y_pred", y_pred, rows)
    scores = None if y_score is None else check_scores("y_score", y_score, rows)
    m = check_min_group_size(min_group_size)
    if not isinstance(sensitive, Mapping):
        raise FairnessError(
            "sensitive: expected a mapping of attribute name to group labels, e.g. "
            f"{{'sex': [...]}}; found {type(sensitive).__name__}",
            parameter="sensitive",
        )
    encoded: dict[str, tuple[npt.NDArray[np.int64], list[str]]] = {}
    for name, values in sensitive.items():
        if not isinstance(name, str) or not name:
            raise FairnessError(
                f"sensitive: attribute names must be non-empty text; found {name!r}",
                parameter="sensitive",
            )
        encoded[name] = encode_groups(f"sensitive[{name!r}]", values, rows)

    everyone = partition([], [], truth, decisions)
    order = None if scores is None else np.asarray(np.argsort(scores), dtype=np.int64)
    overall_auc = (
        None if scores is None else grouped_auc(everyone.row_cell, 1, truth, scores, order)
    )
    overall = (
        _group_metrics({}, everyone.confusion, rates(everyone.confusion), overall_auc, 0)
        if rows
        else GroupMetrics({}, 0, 0, 0, 0, 0, *([math.nan] * 6))
    )
    report = FairnessReport(rows, m, scores is not None, overall)
    for name, (codes, labels) in encoded.items():
        cells = partition([codes], [len(labels)], truth, decisions)
        report.attributes[name] = _attribute_report(
            (name,), [labels], cells, truth, scores, order, m
        )
    if intersections:
        for a, b in combinations(encoded, 2):
            (ca, la), (cb, lb) = encoded[a], encoded[b]
            cells = partition([ca, cb], [len(la), len(lb)], truth, decisions)
            report.intersections.append(
                _attribute_report((a, b), [la, lb], cells, truth, scores, order, m)
            )
    return report
