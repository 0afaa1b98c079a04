"""An audit of training data for the faults that make a good-looking model untrustworthy.

:func:`audit_training_data` runs four checks on feature columns and a target:

1. **Conflicting duplicates** — rows with identical feature values but different labels.
   No model can fit both; many of them mean label errors or missing features.
2. **Label noise signal** — among rows whose feature values repeat exactly, the share
   carrying the minority label of their group. If the features described each case
   fully this would be 0, so it is a lower bound on label noise in that sense (Frénay &
   Verleysen 2014).
3. **Leakage** — how well each feature *alone* separates the classes, as ROC AUC folded to
   ``max(auc, 1 - auc)``. A single feature at 0.98 or above usually is the label in
   disguise (recorded after the outcome, or derived from it; Kaufman et al. 2012).
   Numeric features are scored by their values — missing values placed first and then
   last, keeping the better, so that missingness that tracks the label is caught too.
   Categorical features are scored by out-of-fold target means (K-fold target
   encoding): an in-sample mean would give an identifier column, with one row per
   category, a perfect and meaningless AUC.
4. **Constant columns** — one value (or only missing values) in every row.

Rows are grouped exactly, not by a hash: each column is dictionary-encoded (missing is
one value, ``-0.0`` equals ``0.0``) and the codes are folded column by column into one
dense id with ``numpy.unique``, so there are no collisions and ids never overflow.

References
----------
B. Frénay and M. Verleysen, "Classification in the Presence of Label Noise: a Survey",
IEEE TNNLS 25(5), 845-869, 2014.
S. Kaufman, S. Rosset, C. Perlich and O. Stitelman, "Leakage in Data Mining: Formulation,
Detection, and Avoidance", ACM TKDD 6(4), 2012.
D. Micci-Barreca, "A preprocessing scheme for high-cardinality categorical attributes in
classification and prediction problems", SIGKDD Explorations 3(1), 2001 (target encoding).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from steward.kernels.fairness.cells import grouped_auc
from steward.kernels.robustness._inputs import (
    ArrayLike,
    RobustnessError,
    check_int,
    check_number,
    codes_of,
    none_if_nan,
)

__all__ = ["DataAudit", "Finding", "Severity", "audit_training_data"]

Severity = Literal["high", "warning", "info"]
IntArray = npt.NDArray[np.int64]


@dataclass
class Finding:
    """One thing the audit found, with a sentence a person can act on.

    Attributes
    ----------
    check : ``conflicting_duplicates``, ``label_noise``, ``leakage``, ``constant_column``,
        ``duplicate_rows`` or ``target``.
    severity : ``high`` (do not train on this as is), ``warning`` (look at it) or
        ``info``.
    message : one sentence: what was found and what to do.
    feature : the column concerned, if one.
    value : the number behind the finding (a share, an AUC), if one.
    rows : example row indices.
    """

    check: str
    severity: Severity
    message: str
    feature: str | None = None
    value: float | None = None
    rows: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "feature": self.feature,
            "value": none_if_nan(self.value),
            "rows": list(self.rows),
        }


@dataclass
class DataAudit:
    """The outcome of :func:`audit_training_data`.

    Attributes
    ----------
    rows, columns : the data's size and column names.
    duplicate_rows : rows whose feature values repeat those of an earlier row.
    conflicting_groups : groups of identical feature rows carrying more than one label.
    conflicting_rows : rows in those groups.
    conflicting_examples : row indices of some of those groups (first groups first).
    label_noise : share of minority-label rows among rows in groups of identical feature
        values (NaN when no feature row repeats).
    feature_auc : column → single-feature ROC AUC folded to ``>= 0.5`` (NaN when it
        cannot be computed: constant column, a target that is not binary).
    leaking : columns at or above the leakage threshold.
    constant_columns : columns with one value in every row.
    findings : everything above that deserves a sentence, most severe first.
    """

    rows: int
    columns: list[str]
    duplicate_rows: int
    conflicting_groups: int
    conflicting_rows: int
    conflicting_examples: list[list[int]]
    label_noise: float
    feature_auc: dict[str, float]
    leaking: list[str]
    constant_columns: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def conflicting_share(self) -> float:
        return self.conflicting_rows / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": list(self.columns),
            "duplicate_rows": self.duplicate_rows,
            "conflicting_groups": self.conflicting_groups,
            "conflicting_rows": self.conflicting_rows,
            "conflicting_share": self.conflicting_share,
            "conflicting_examples": [list(e) for e in self.conflicting_examples],
            "label_noise": none_if_nan(self.label_noise),
            "feature_auc": {k: none_if_nan(v) for k, v in self.feature_auc.items()},
            "leaking": list(self.leaking),
            "constant_columns": list(self.constant_columns),
            "findings": [f.to_dict() for f in self.findings],
        }


def _fold(codes: Sequence[tuple[IntArray, int]], rows: int) -> IntArray:
    """One dense id per distinct combination of codes (exact, never overflows)."""
    ids = np.zeros(rows, dtype=np.int64)
    for c, width in codes:
        _, inverse = np.unique(ids * width + c, return_inverse=True)
        ids = np.asarray(inverse, dtype=np.int64).ravel()
    return ids


def _auc(score: npt.NDArray[np.float64], y: IntArray) -> float:
    """ROC AUC folded to ``max(auc, 1 - auc)``; NaN unless both classes occur."""
    a = float(grouped_auc(np.zeros(y.size, dtype=np.int64), 1, y, score)[0])
    return max(a, 1.0 - a) if not math.isnan(a) else math.nan


def _numeric_auc(values: npt.NDArray[Any], y: IntArray) -> float:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    missing = np.isnan(x)
    if missing.all():
        return math.nan
    if not missing.any():
        return _auc(x, y)
    return max(_auc(np.where(missing, -np.inf, x), y), _auc(np.where(missing, np.inf, x), y))


def _target_encoded_auc(codes: IntArray, k: int, y: IntArray, folds: int, seed: int) -> float:
    """AUC of out-of-fold category means of ``y`` (unseen categories: the fold's prior)."""
    rows = y.size
    fold = np.random.default_rng(seed).permutation(rows) % folds
    cell = fold * k + codes
    fold_cat_n = np.bincount(cell, minlength=folds * k).reshape(folds, k)
    fold_cat_y = np.bincount(cell, weights=y, minlength=folds * k).reshape(folds, k)
    out_n = fold_cat_n.sum(axis=0)[codes] - fold_cat_n[fold, codes]
    out_y = fold_cat_y.sum(axis=0)[codes] - fold_cat_y[fold, codes]
    fold_n = np.bincount(fold, minlength=folds)
    fold_y = np.bincount(fold, weights=y, minlength=folds)
    prior_n = rows - fold_n[fold]
    prior = np.divide(y.sum() - fold_y[fold], prior_n, out=np.full(rows, 0.5), where=prior_n > 0)
    score = np.divide(out_y, out_n, out=prior.copy(), where=out_n > 0)
    return _auc(score, y)


def _column(name: str, values: ArrayLike, rows: int) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.size != rows:
        raise RobustnessError(
            f"columns[{name!r}]: expected {rows:,} values (one per target row); found shape "
            f"{arr.shape}",
            parameter="columns",
        )
    return arr


def _examples(
    ids: IntArray, groups: npt.NDArray[np.bool_], max_groups: int, per_group: int = 10
) -> list[list[int]]:
    """Row indices of the first ``max_groups`` flagged groups, by their first row."""
    if max_groups == 0 or not groups.any():
        return []
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(groups.size))
    first_row = order[starts]  # stable sort: the group's smallest row index
    flagged = np.flatnonzero(groups)
    chosen = flagged[np.argsort(first_row[flagged], kind="stable")][:max_groups]
    ends = np.append(starts[1:], ids.size)
    return [
        sorted(int(r) for r in order[starts[g] : min(ends[g], starts[g] + per_group)])
        for g in chosen.tolist()
    ]


def audit_training_data(
    columns: Mapping[str, ArrayLike],
    target: ArrayLike,
    *,
    categorical: Sequence[str] | None = None,
    leakage_threshold: float = 0.98,
    conflict_threshold: float = 0.01,
    noise_threshold: float = 0.05,
    folds: int = 5,
    seed: int = 0,
    max_examples: int = 5,
) -> DataAudit:
    """Conflicting duplicates, label noise, single-feature leakage and constant columns.

    Parameters
    ----------
    columns : feature name → values (numbers, text, booleans; missing as None or NaN).
    target : the label per row (any type; leakage needs exactly two classes).
    categorical : columns to treat as categories although numeric (e.g. integer codes);
        text, object and other non-numeric columns always are.
    leakage_threshold : folded single-feature AUC at or above which a feature is flagged
        as suspected leakage (severity ``high``).
    conflict_threshold : share of rows in conflicting duplicate groups from which that
        finding is ``high`` (below: ``warning``).
    noise_threshold : label-noise share from which that finding is a ``warning``.
    folds, seed : the out-of-fold split for categorical target means.
    max_examples : conflicting groups to list by row index.

    Examples
    --------
    >>> audit = audit_training_data(
    ...     {"x": [1, 1, 2, 3], "c": ["a", "a", "a", "a"]}, [0, 1, 0, 1])
    >>> audit.conflicting_groups, audit.conflicting_examples, audit.constant_columns
    (1, [[0, 1]], ['c'])
    """
    t = np.asarray(target)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise RobustnessError(
            f"target: expected one label per row; found shape {t.shape}", parameter="target"
        )
    rows = t.size
    if not isinstance(columns, Mapping) or not columns:
        raise RobustnessError(
            "columns: expected a mapping of at least one feature name to values",
            parameter="columns",
        )
    threshold = check_number("leakage_threshold", leakage_threshold, low=0.5, strict=False)
    conflict_high = check_number("conflict_threshold", conflict_threshold, strict=False)
    noise_warn = check_number("noise_threshold", noise_threshold, strict=False)
    n_folds = check_int("folds", folds, low=2)
    seed = check_int("seed", seed)
    n_examples = check_int("max_examples", max_examples)
    as_category = set(categorical or ())
    unknown = sorted(as_category - set(columns))
    if unknown:
        raise RobustnessError(
            f"categorical: {unknown} are not among the columns", parameter="categorical"
        )
    cols = {name: _column(name, v, rows) for name, v in columns.items()}
    t_codes, n_labels, t_missing = codes_of(t)
    if t_missing:
        hits = np.flatnonzero(t_codes == n_labels - 1)
        raise RobustnessError(
            f"target: expected a label in every row; found {hits.size:,} missing (first at "
            f"row {hits[0]}). Drop unlabelled rows before the audit.",
            parameter="target",
            rows=int(hits.size),
            first_row=int(hits[0]),
        )

    encoded = {name: codes_of(arr)[:2] for name, arr in cols.items()}
    findings: list[Finding] = []

    # constant columns
    constant = [n for n, (_, k) in encoded.items() if k <= 1 and rows > 0]
    for n in constant:
        first = cols[n][0]
        first = first.item() if isinstance(first, np.generic) else first
        what = (
            "only missing values"
            if first is None or (isinstance(first, float) and math.isnan(first))
            else f"the same value ({first!r})"
        )
        findings.append(
            Finding(
                "constant_column",
                "warning",
                f"Column {n!r} holds {what} in all {rows:,} rows; it carries no information, "
                "so drop it or check the extract that produced it.",
                feature=n,
            )
        )

    # duplicates, conflicts, label noise
    ids = _fold(list(encoded.values()), rows)
    size = np.bincount(ids)
    pairs, pair_n = np.unique(ids * max(n_labels, 1) + t_codes, return_counts=True)
    pair_group = pairs // max(n_labels, 1)
    labels_in = np.bincount(pair_group, minlength=size.size)
    # pairs are sorted by group and every group has one: the largest label count per group
    modal = (
        np.maximum.reduceat(pair_n, np.searchsorted(pair_group, np.arange(size.size)))
        if rows
        else np.zeros(0, dtype=np.int64)
    )
    repeated = size >= 2
    conflicting = labels_in >= 2
    duplicate_rows = int((size[repeated] - 1).sum())
    conflicting_rows = int(size[conflicting].sum())
    repeated_rows = int(size[repeated].sum())
    label_noise = (
        float((size - modal)[repeated].sum() / repeated_rows) if repeated_rows else math.nan
    )
    examples = _examples(ids, conflicting, n_examples)
    if duplicate_rows:
        findings.append(
            Finding(
                "duplicate_rows",
                "info",
                f"{duplicate_rows:,} rows ({duplicate_rows / rows:.1%}) repeat the feature "
                "values of an earlier row; if they are separate cases that is fine, if they "
                "are copies they weigh those cases twice.",
                value=duplicate_rows / rows,
            )
        )
    if conflicting_rows:
        share = conflicting_rows / rows
        findings.append(
            Finding(
                "conflicting_duplicates",
                "high" if share >= conflict_high else "warning",
                f"{conflicting_rows:,} rows ({share:.2%}) fall in {int(conflicting.sum()):,} "
                "groups of identical feature values with different labels (e.g. rows "
                f"{examples[0] if examples else []}); no model can fit both, so correct the "
                "labels or add the feature that tells them apart.",
                value=share,
                rows=examples[0] if examples else [],
            )
        )
    if repeated_rows and label_noise > 0:
        findings.append(
            Finding(
                "label_noise",
                "warning" if label_noise >= noise_warn else "info",
                f"Among the {repeated_rows:,} rows whose feature values repeat exactly, "
                f"{label_noise:.1%} carry the minority label of their group, a lower bound on "
                "label noise if the features describe each case fully.",
                value=label_noise,
            )
        )

    # single-feature leakage
    feature_auc = dict.fromkeys(cols, math.nan)
    binary = n_labels == 2
    if rows and not binary:
        findings.append(
            Finding(
                "target",
                "info",
                f"The target has {n_labels} distinct value(s); the leakage check needs exactly "
                "two classes and was skipped.",
            )
        )
    if binary:
        for n, arr in cols.items():
            codes, k = encoded[n]
            if n in constant:
                continue
            if n in as_category or arr.dtype.kind not in "fiub":
                feature_auc[n] = _target_encoded_auc(codes, k, t_codes, n_folds, seed)
            else:
                feature_auc[n] = _numeric_auc(arr, t_codes)
    leaking = [n for n, a in feature_auc.items() if not math.isnan(a) and a >= threshold]
    for n in leaking:
        findings.append(
            Finding(
                "leakage",
                "high",
                f"Column {n!r} alone separates the classes with ROC AUC "
                f"{feature_auc[n]:.4f} (threshold {threshold:g}); check that it is known "
                "before the outcome and not derived from it, or drop it.",
                feature=n,
                value=feature_auc[n],
            )
        )

    rank = {"high": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: rank[f.severity])
    return DataAudit(
        rows=rows,
        columns=list(cols),
        duplicate_rows=duplicate_rows,
        conflicting_groups=int(conflicting.sum()),
        conflicting_rows=conflicting_rows,
        conflicting_examples=examples,
        label_noise=label_noise,
        feature_auc=feature_auc,
        leaking=leaking,
        constant_columns=constant,
        findings=findings,
    )
