"""What a model does with a missing value, a value far outside its training range, or a
category it never saw.

:func:`missing_and_out_of_range` takes a batch of real rows as named inputs (the shape
ONNX Runtime takes: name → array of shape ``(rows,)`` or ``(rows, 1)``), runs the model on
it once as the baseline, then once per probe with one feature overwritten in every row:

- ``missing``: NaN (float inputs only; an integer input cannot hold NaN and is skipped);
- ``below_min``: ``min - iqr_multiple * IQR`` of the feature's training values;
- ``above_max``: ``max + iqr_multiple * IQR``;
- ``unseen_category``: a label that was not in training, for every text input.

For each probe it records whether the model answered (no exception), whether its outputs
are finite and its probabilities valid (in ``[0, 1]``, rows summing to 1), and how far
the decisions moved: the share of rows whose decision changed and the total variation
distance between the decision distributions. The model is a callable the caller
provides; this module never imports a model runtime.

The spread used is the interquartile range (robust to the outliers the probes imitate);
for a feature whose IQR is 0 the full range is used, and 1 if that is 0 too.

References
----------
E. Breck, S. Cai, E. Nielsen, M. Salib and D. Sculley, "The ML Test Score: A Rubric for
ML Production Readiness and Technical Debt Reduction", IEEE Big Data 2017 (tests of model
behaviour on invalid and extreme inputs).
J. W. Tukey, "Exploratory Data Analysis", 1977 (fences at multiples of the IQR).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from steward.kernels.robustness._inputs import (
    ArrayLike,
    RobustnessError,
    check_number,
    differs,
    none_if_nan,
)

__all__ = [
    "PROBE_KINDS",
    "FeatureRange",
    "PredictRows",
    "ProbeReport",
    "ProbeResult",
    "missing_and_out_of_range",
    "training_ranges",
]

ProbeKind = Literal["missing", "below_min", "above_max", "unseen_category"]
#: the probes of numeric features, in report order
PROBE_KINDS: tuple[ProbeKind, ...] = ("missing", "below_min", "above_max")

#: a model: named inputs → decisions, or ``(decisions, probabilities or None)``
PredictRows = Callable[[dict[str, npt.NDArray[Any]]], Any]


@dataclass(frozen=True)
class FeatureRange:
    """Training range of a numeric feature: extremes and quartiles of its finite values."""

    minimum: float
    maximum: float
    q1: float
    q3: float

    @classmethod
    def from_values(cls, values: ArrayLike, name: str = "values") -> FeatureRange:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        arr = arr[np.isfinite(arr)]
        if arr.size == 0:
            raise RobustnessError(
                f"{name}: expected at least one finite value to take a range from",
                parameter=name,
            )
        q1, q3 = np.quantile(arr, [0.25, 0.75])
        return cls(float(arr.min()), float(arr.max()), float(q1), float(q3))

    @property
    def spread(self) -> float:
        """The IQR, or the range when the IQR is 0, or 1 when both are."""
        for s in (self.q3 - self.q1, self.maximum - self.minimum):
            if s > 0:
                return s
        return 1.0

    def below(self, multiple: float) -> float:
        return self.minimum - multiple * self.spread

    def above(self, multiple: float) -> float:
        return self.maximum + multiple * self.spread

    def to_dict(self) -> dict[str, float]:
        return {"minimum": self.minimum, "maximum": self.maximum, "q1": self.q1, "q3": self.q3}


def training_ranges(columns: Mapping[str, ArrayLike]) -> dict[str, FeatureRange]:
    """:class:`FeatureRange` of every column (numeric columns only)."""
    return {name: FeatureRange.from_values(v, name) for name, v in columns.items()}


@dataclass
class ProbeResult:
    """What the model did with one probe.

    Attributes
    ----------
    feature, kind : the input overwritten and how.
    value : the value fed (after conversion to the input's type; NaN for ``missing``).
    skipped : why the probe was not run (``None`` when it was).
    answered : the model returned without an exception (``None`` if skipped).
    error : the exception, or what was wrong with the output (``None`` if nothing).
    finite : every numeric output is finite (``None`` if not answered or skipped).
    valid_probabilities : probabilities in ``[0, 1]`` with rows summing to 1 (``None``
        when the model gives no probabilities or did not answer).
    decisions_changed : share of rows whose decision differs from the baseline.
    decision_shift : total variation distance between the decision distributions
        (0: same distribution, 1: disjoint).
    """

    feature: str
    kind: ProbeKind
    value: float | str | None
    skipped: str | None = None
    answered: bool | None = None
    error: str | None = None
    finite: bool | None = None
    valid_probabilities: bool | None = None
    decisions_changed: float | None = None
    decision_shift: float | None = None

    @property
    def ok(self) -> bool:
        """Skipped, or answered with finite outputs and valid probabilities."""
        if self.skipped is not None:
            return True
        return (
            bool(self.answered)
            and self.error is None
            and self.finite is not False
            and self.valid_probabilities is not False
        )

    def to_dict(self) -> dict[str, Any]:
        value = none_if_nan(self.value) if isinstance(self.value, float) else self.value
        return {
            "feature": self.feature,
            "kind": self.kind,
            "value": value,
            "skipped": self.skipped,
            "answered": self.answered,
            "error": self.error,
            "finite": self.finite,
            "valid_probabilities": self.valid_probabilities,
            "decisions_changed": self.decisions_changed,
            "decision_shift": self.decision_shift,
            "ok": self.ok,
        }


@dataclass
class ProbeReport:
    """The outcome of :func:`missing_and_out_of_range`.

    Attributes
    ----------
    rows : rows in the batch.
    iqr_multiple : how far outside the training range the out-of-range probes went.
    baseline_finite, baseline_valid_probabilities : the same checks on the clean batch.
    baseline_decisions : decision (as text) → share of rows on the clean batch.
    probes : one :class:`ProbeResult` per probe.
    """

    rows: int
    iqr_multiple: float
    baseline_finite: bool
    baseline_valid_probabilities: bool | None
    baseline_decisions: dict[str, float]
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def failures(self) -> list[ProbeResult]:
        return [p for p in self.probes if not p.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "iqr_multiple": self.iqr_multiple,
            "baseline_finite": self.baseline_finite,
            "baseline_valid_probabilities": self.baseline_valid_probabilities,
            "baseline_decisions": dict(self.baseline_decisions),
            "probes": [p.to_dict() for p in self.probes],
            "failures": len(self.failures),
        }


@dataclass
class _Outputs:
    decisions: npt.NDArray[Any]
    finite: bool
    valid_probabilities: bool | None
    problem: str | None = None


def _all_finite(a: npt.NDArray[Any]) -> bool:
    if a.dtype.kind in "fc":
        return bool(np.isfinite(a).all())
    return True  # integer, boolean and text outputs cannot be NaN or infinite


def _outputs(raw: object, rows: int, tolerance: float) -> _Outputs:
    """Decisions and checks of one model output (``decisions`` or ``(decisions, proba)``)."""
    proba_raw = None
    # a pair of arrays (ONNX Runtime returns a list [labels, probabilities]); a list of
    # two scalars is two decisions
    if isinstance(raw, tuple | list) and len(raw) == 2 and all(np.ndim(r) >= 1 for r in raw):
        raw, proba_raw = raw
    decisions = np.asarray(raw)
    problem = None
    if decisions.size != rows:
        problem = f"returned {decisions.size} decisions for {rows} rows"
        decisions = np.full(rows, np.nan)
    decisions = decisions.reshape(rows) if decisions.size == rows else decisions
    finite = _all_finite(decisions)
    valid: bool | None = None
    if proba_raw is not None:
        proba = np.asarray(proba_raw)
        if proba.dtype.kind not in "fiub" or proba.shape[:1] != (rows,) or proba.ndim > 2:
            problem = problem or f"returned probabilities of shape {proba.shape} for {rows} rows"
            valid = False
        else:
            p = proba.astype(np.float64)
            finite = finite and bool(np.isfinite(p).all())
            with np.errstate(invalid="ignore"):
                valid = bool(((p >= -tolerance) & (p <= 1 + tolerance)).all())
                if p.ndim == 2 and p.shape[1] > 1:
                    valid = valid and bool((np.abs(p.sum(axis=1) - 1) <= tolerance).all())
    return _Outputs(decisions, finite, valid, problem)


def _distribution(d: npt.NDArray[Any]) -> dict[str, float]:
    labels, counts = np.unique(d.astype(str), return_counts=True)
    return {str(k): float(c) / d.size for k, c in zip(labels, counts, strict=True)}


def _shift(base: dict[str, float], other: dict[str, float]) -> float:
    keys = set(base) | set(other)
    return 0.5 * sum(abs(base.get(k, 0.0) - other.get(k, 0.0)) for k in keys)


def _column(name: str, values: ArrayLike) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 0 or arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 1):
        raise RobustnessError(
            f"batch[{name!r}]: expected shape (rows,) or (rows, 1), one feature per named "
            f"input; found {arr.shape}. Feed a matrix input from named columns in the "
            "predict_rows wrapper.",
            parameter="batch",
        )
    return arr


def _probe_value(
    arr: npt.NDArray[Any], kind: ProbeKind, rng: FeatureRange | None, multiple: float, text: str
) -> tuple[Any, str | None]:
    """The value to write for a probe, or ``(None, why it cannot be run)``."""
    k = arr.dtype.kind
    if kind == "unseen_category":
        return text, None
    if k not in "fiu":
        return None, f"input type {arr.dtype} is not numeric"
    if kind == "missing":
        return (np.nan, None) if k == "f" else (None, f"integer input ({arr.dtype}) has no NaN")
    assert rng is not None
    value = rng.below(multiple) if kind == "below_min" else rng.above(multiple)
    if k == "f":
        return arr.dtype.type(value), None
    info = np.iinfo(arr.dtype)
    v = math.floor(value) if kind == "below_min" else math.ceil(value)
    return arr.dtype.type(min(max(v, info.min), info.max)), None


def missing_and_out_of_range(
    predict_rows: PredictRows,
    batch: Mapping[str, ArrayLike],
    ranges: Mapping[str, FeatureRange],
    *,
    iqr_multiple: float = 10.0,
    kinds: Sequence[ProbeKind] = PROBE_KINDS,
    unseen_category: str | None = "__steward_unseen__",
    tolerance: float = 1e-4,
) -> ProbeReport:
    """Run the model on probe batches with one feature missing, far out of range or unseen.

    Parameters
    ----------
    predict_rows : the model: named inputs (the batch with one input overwritten) →
        decisions, or a pair ``(decisions, probabilities)`` with probabilities of shape
        ``(rows,)`` or ``(rows, classes)``. Any exception it raises is recorded as the
        probe's failure (except on the clean batch, where it raises RobustnessError).
    batch : input name → values of real rows, shape ``(rows,)`` or ``(rows, 1)``; their
        dtypes are kept (float32 stays float32, text stays text).
    ranges : numeric input name → its :class:`FeatureRange` in training (see
        :func:`training_ranges`); these inputs get the ``kinds`` probes.
    iqr_multiple : out-of-range probes sit this many IQRs beyond min and max.
    kinds : which numeric probes to run.
    unseen_category : label fed to every text input as the ``unseen_category`` probe
        (``None``: no such probe).
    tolerance : slack for probabilities (float32 outputs sum to 1 only approximately).

    Examples
    --------
    >>> def model(b):
    ...     x = b["x"].astype(float)
    ...     if np.isnan(x).any():
    ...         raise ValueError("NaN in input")
    ...     return (x > 0).astype(int)
    >>> r = missing_and_out_of_range(
    ...     model, {"x": np.array([-1.0, 1.0])}, {"x": FeatureRange(-2, 2, -1, 1)})
    >>> [(p.kind, p.value, p.ok, p.decisions_changed) for p in r.probes]
    [('missing', nan, False, None), ('below_min', -22.0, True, 0.5), ('above_max', 22.0, True, 0.5)]
    """
    multiple = check_number("iqr_multiple", iqr_multiple, strict=False)
    tol = check_number("tolerance", tolerance, strict=False)
    bad_kinds = [k for k in kinds if k not in PROBE_KINDS]
    if bad_kinds or isinstance(kinds, str):
        raise RobustnessError(
            f"kinds: expected a list drawn from {list(PROBE_KINDS)}; found {kinds!r}",
            parameter="kinds",
        )
    columns = {name: _column(name, v) for name, v in batch.items()}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise RobustnessError(
            "batch: expected named inputs of one length, at least one row; found "
            f"{len(columns)} inputs of lengths {sorted(lengths)}",
            parameter="batch",
        )
    rows = lengths.pop()
    unknown = [n for n in ranges if n not in columns]
    if unknown:
        raise RobustnessError(
            f"ranges: {unknown} are not inputs of the batch; it has {list(columns)}",
            parameter="ranges",
        )
    try:
        baseline = _outputs(predict_rows(dict(columns)), rows, tol)
    except Exception as exc:  # the model is foreign code: any exception means "cannot run"
        raise RobustnessError(
            f"predict_rows fails on the unperturbed batch ({type(exc).__name__}: {exc}); "
            "fix the model or the batch before probing it",
            parameter="predict_rows",
        ) from exc
    if baseline.problem is not None:
        raise RobustnessError(
            f"predict_rows on the unperturbed batch {baseline.problem}", parameter="predict_rows"
        )
    base_dist = _distribution(baseline.decisions)
    plan: list[tuple[str, ProbeKind]] = [(n, k) for n in ranges for k in kinds]
    if unseen_category is not None:
        plan += [(n, "unseen_category") for n, a in columns.items() if a.dtype.kind in "OUS"]

    results = []
    for name, kind in plan:
        # One model call per probe: the loop is over probes, each vectorised over rows.
        arr = columns[name]
        value, skip = _probe_value(arr, kind, ranges.get(name), multiple, unseen_category or "")
        shown = value.item() if isinstance(value, np.generic) else value
        result = ProbeResult(name, kind, shown if skip is None else None, skipped=skip)
        results.append(result)
        if skip is not None:
            continue
        probe = arr.copy() if arr.dtype.kind != "U" else arr.astype(object)
        probe[...] = value
        try:
            out = _outputs(predict_rows({**columns, name: probe}), rows, tol)
        except Exception as exc:  # foreign code: every exception is the probe's finding
            result.answered = False
            result.error = f"{type(exc).__name__}: {str(exc)[:500]}"
            continue
        result.answered = True
        result.error = out.problem
        if out.problem is None:
            result.finite = out.finite
            result.valid_probabilities = out.valid_probabilities
            result.decisions_changed = float(differs(baseline.decisions, out.decisions).mean())
            result.decision_shift = _shift(base_dist, _distribution(out.decisions))
    return ProbeReport(
        rows=rows,
        iqr_multiple=multiple,
        baseline_finite=baseline.finite,
        baseline_valid_probabilities=baseline.valid_probabilities,
        baseline_decisions=base_dist,
        probes=results,
    )
