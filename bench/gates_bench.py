"""Gate benchmarks: validating a model on a large locked holdout; fairness against fairlearn.

1. **Time to validate**: ``GateService(rt).validate(principal, model_ref, holdout_ref)`` on
   a fresh SQLite home whose ``steward.yaml`` declares a gate suite with performance
   limits, fairness on two sensitive attributes (with their intersection) and robustness
   (a flip-rate limit). The data is a generated credit table: the first rows are registered
   as training data, the rest as a locked holdout; an ``hgb`` model is trained on the
   former as a real job (inline worker). Each call is timed end to end, with timestamps
   around the steps inside it (see :class:`Spans`) to show where the time goes.
2. **Fairness against fairlearn** on the same holdout and the same decisions (the model's
   ONNX predictions): Steward's ``fairness_report`` for both attributes and their
   intersection against fairlearn's ``MetricFrame`` per attribute and for the pair, plus
   fairlearn's summary functions. Every shared number is checked to agree to 1e-9 before
   the timings are believed.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from backends import _env
from stats import time_once
from steward.config import Home, init_home
from steward.datasets import DatasetService
from steward.gates import GateService
from steward.policy import Principal
from steward.registry import ModelService
from steward.registry.runner import OnnxRunner
from steward.runtime import Runtime
from steward.training import TrainingService, Worker

__all__ = [
    "AGREE_TOLERANCE",
    "SUITE",
    "FairnessCompare",
    "GatesResult",
    "Span",
    "Step",
    "ValidateResult",
    "ValidateRun",
    "bench_gates",
    "breakdown",
    "credit_table",
]

ALICE = Principal("alice")  # registers the data and trains the model
BOB = Principal("bob")  # validates it (a validator other than the producer)
TEAM = "risk"
SUITE_NAME = "credit"
MODEL = "credit-default"
TARGET = "default"
SENSITIVE = ("sex", "race")
MIN_GROUP_SIZE = 30
AGREE_TOLERANCE = 1e-9

#: The gate suite written into the home's steward.yaml. Limits are examples, chosen so
#: that the generated model passes; passing or failing does not change the work done.
SUITE: dict[str, Any] = {
    "objective": "binary",
    "teams": [TEAM],
    "primary": "roc_auc",
    "performance": [
        {"metric": "roc_auc", "min": 0.7},
        {"metric": "brier", "max": 0.2},
        {"metric": "calibration_error", "max": 0.05},
    ],
    "fairness": {
        "sensitive": list(SENSITIVE),
        "min_group_size": MIN_GROUP_SIZE,
        "intersections": True,
        "limits": [
            {"metric": "demographic_parity_ratio", "min": 0.8},
            {"metric": "equalized_odds_difference", "max": 0.1},
        ],
    },
    "robustness": {"epsilon": 0.05, "limits": [{"metric": "flip_rate", "max": 0.05}]},
}

RACE_GROUPS = ("a", "b", "c", "d", "e")
RACE_SHARES = (0.55, 0.25, 0.12, 0.075, 0.005)  # "e" is small: 0.5% of the rows


# -- data ------------------------------------------------------------------------------------
def credit_table(rows: int, seed: int = 11) -> pa.Table:
    """``rows`` x 11 columns: six numeric features, two categorical ones, ``sex`` (two
    groups), ``race`` (five groups, one of them 0.5% of the rows) and a binary ``default``
    (about 30% positive) that depends on the features; income differs by race and the
    outcome slightly by sex, so the groups' rates differ a little."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["female", "male"]), rows, p=[0.48, 0.52])
    race = rng.choice(np.array(RACE_GROUPS), rows, p=RACE_SHARES)
    income = rng.lognormal(10.5, 0.6, rows) * np.where(race == "a", 1.1, 0.95)
    debt = rng.uniform(0.0, 1.0, rows)
    age = rng.integers(18, 80, rows)
    score = np.clip(rng.normal(650.0, 80.0, rows), 300.0, 850.0)
    amount = rng.lognormal(9.0, 0.7, rows)
    months = rng.integers(0, 240, rows)
    region = rng.choice(np.array(["north", "south", "east", "west", "centre", "coast"]), rows)
    purpose = rng.choice(np.array(["car", "home", "study", "business"]), rows)
    logit = (
        -1.0
        + 2.5 * (debt - 0.4)
        - 0.01 * (score - 650.0)
        + 0.4 * np.log(amount / 8000.0)
        - 0.3 * np.log(income / 36000.0)
        - 0.004 * months
        + 0.2 * (purpose == "business")
        + 0.1 * (sex == "male")
    )
    default = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    return pa.table(
        {
            "income": income,
            "debt_ratio": debt,
            "age": pa.array(age.astype(np.int64)),
            "score": score,
            "amount": amount,
            "months": pa.array(months.astype(np.int64)),
            "region": region,
            "purpose": purpose,
            "sex": sex,
            "race": race,
            TARGET: pa.array(default.astype(np.int64)),
        }
    )


def _with_suite(home: Home) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg.setdefault("gates", {})["suites"] = {SUITE_NAME: SUITE}
    home.config_path.write_text(yaml.safe_dump(cfg))


@contextmanager
def _gated_runtime() -> Iterator[Runtime]:
    """A runtime on a fresh SQLite home whose steward.yaml has :data:`SUITE` (written
    after ``init_home``, before ``Runtime.open``)."""
    with (
        tempfile.TemporaryDirectory(prefix="steward-bench-gates-") as tmp,
        _env("STEWARD_DATABASE_URL", None),
    ):
        home = init_home(Path(tmp) / "home")
        _with_suite(home)
        rt = Runtime.open(home)
        try:
            yield rt
        finally:
            rt.close()


# -- instrumentation ---------------------------------------------------------------------------
@dataclass
class Span:
    """One timed call inside a timed validate: the wrapped name, nesting depth
    and perf_counter interval."""

    label: str
    depth: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Spans:
    """Timestamps around named callables while a ``with spans.on(...)`` block runs.

    Each target is ``(owner, attribute)``: a class (the method is wrapped for every
    instance) or a module (the function is wrapped where it is looked up at call time).
    The originals are put back when the block ends. The wrappers add two ``perf_counter``
    calls each; nothing else about the calls changes.
    """

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._depth = 0

    def _wrap(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = self._depth
            self._depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spans.append(Span(label, depth, t0, time.perf_counter()))
                self._depth -= 1

        return timed

    @contextmanager
    def on(self, targets: list[tuple[Any, str]]) -> Iterator[Spans]:
        saved = []
        try:
            for owner, attr in targets:
                original = owner.__dict__[attr]
                saved.append((owner, attr, original))
                if isinstance(original, staticmethod):
                    setattr(owner, attr, staticmethod(self._wrap(original.__func__, attr)))
                else:
                    setattr(owner, attr, self._wrap(original, attr))
            yield self
        finally:
            for owner, attr, original in reversed(saved):
                setattr(owner, attr, original)


def _targets() -> list[tuple[Any, str]]:
    """What is timed inside validate: its steps (GateService's private methods, as
    validate calls them) and the building blocks inside them. These are Steward's
    internals as of this benchmark; if one moves, the breakdown fails loudly (KeyError)
    rather than silently timing nothing."""
    import steward.gates.service as gates_service
    import steward.kernels.fairness as fairness_kernel
    import steward.kernels.robustness as robustness_kernel

    return [
        (DatasetService, "read"),
        (GateService, "_overlap"),
        (GateService, "_training_tables"),
        (OnnxRunner, "predict"),
        (gates_service, "performance"),
        (GateService, "_fairness"),
        (gates_service, "_labels_of"),
        (fairness_kernel, "fairness_report"),
        (GateService, "_robustness"),
        (robustness_kernel, "perturbation_flip_rate"),
        (robustness_kernel, "missing_and_out_of_range"),
        (robustness_kernel, "audit_training_data"),
        (GateService, "_champion"),
    ]


@dataclass
class Step:
    """One row of the breakdown: a timed call (or several consecutive calls of the same
    name under one parent), a parent's remainder (``rest``) or a gap between steps."""

    key: str  # the wrapped name, "rest", or "before" / "onnx_setup" / "between" / "after"
    depth: int
    seconds: float
    calls: int = 1
    parent: str | None = None


def breakdown(spans: list[Span], start: float, end: float) -> list[Step]:
    """The spans of one timed validate as an indented list in call order: nested calls
    under their caller, consecutive calls of one name merged, a ``rest`` row under every
    caller (its time outside the calls timed inside it), and the gaps between the top-level
    steps: before the first, after the last, the one before the ONNX prediction (model
    decrypted, ONNX Runtime session built) and the others summed."""
    ordered = sorted(spans, key=lambda sp: (sp.start, sp.depth))

    def children(lo: float, hi: float, depth: int) -> list[Span]:
        return [sp for sp in ordered if sp.depth == depth and lo <= sp.start and sp.end <= hi]

    def walk(group: list[Span], depth: int, parent: str | None) -> list[Step]:
        out: list[Step] = []
        i = 0
        while i < len(group):
            j = i
            while j + 1 < len(group) and group[j + 1].label == group[i].label:
                j += 1
            same = group[i : j + 1]
            label = same[0].label
            out.append(Step(label, depth, sum(sp.seconds for sp in same), len(same), parent))
            inner = [c for sp in same for c in children(sp.start, sp.end, depth + 1)]
            if inner:
                out += walk(inner, depth + 1, label)
                rest = sum(sp.seconds for sp in same) - sum(c.seconds for c in inner)
                out.append(Step("rest", depth + 1, rest, 1, label))
            i = j + 1
        return out

    top = children(start, end, 0)
    if not top:
        return [Step("after", 0, end - start)]
    steps = [Step("before", 0, top[0].start - start)]
    between = 0.0
    for prev, sp in zip([None, *top[:-1]], top, strict=True):
        gap = 0.0 if prev is None else sp.start - prev.end
        if sp.label == "predict":
            steps.append(Step("onnx_setup", 0, gap))
        else:
            between += gap
        steps += walk([sp], 0, None)
    steps.append(Step("between", 0, between))
    steps.append(Step("after", 0, end - top[-1].end))
    return steps


# -- 1. time to validate -------------------------------------------------------------------------
@dataclass
class ValidateRun:
    """One timed validate: wall and process cpu seconds, and the spans inside it."""

    seconds: float
    cpu_seconds: float  # user + system of this process, all threads
    start: float
    end: float
    spans: list[Span]
    passed: bool

    def steps(self) -> list[Step]:
        return breakdown(self.spans, self.start, self.end)


@dataclass
class ValidateResult:
    holdout_rows: int
    train_rows: int
    columns: int
    features: int
    numeric_features: int
    generate_seconds: float
    register_train_seconds: float
    register_holdout_seconds: float
    train_seconds: float  # submit → job succeeded (inline worker)
    model_ref: str
    estimator: str
    holdout_ref: str
    runs: list[ValidateRun]
    checks: int
    failed: list[str]  # failed checks (of the last run; every run gives the same report)
    fairness_groups: dict[str, int]  # attribute or intersection → groups judged
    too_small: int
    robustness_rows: int
    robustness_detail: dict[str, Any] = field(default_factory=dict)

    @property
    def times(self) -> list[float]:
        return [r.seconds for r in self.runs]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def rows_per_second(self) -> float:
        return self.holdout_rows / self.median

    def steps(self) -> list[Step]:
        """The breakdown with every row's median over the runs (the runs make the same
        calls in the same order; if they ever do not, the median run's breakdown)."""
        each = [r.steps() for r in self.runs]
        shape = [(st.key, st.depth, st.calls, st.parent) for st in each[0]]
        if any([(st.key, st.depth, st.calls, st.parent) for st in e] != shape for e in each):
            middle = sorted(self.runs, key=lambda r: r.seconds)[len(self.runs) // 2]
            return middle.steps()
        return [
            Step(key, depth, statistics.median(e[i].seconds for e in each), calls, parent)
            for i, (key, depth, calls, parent) in enumerate(shape)
        ]


def _train(rt: Runtime, data_ref: str) -> tuple[str, float]:
    svc = TrainingService(rt)
    spec = {
        "name": MODEL,
        "data": [data_ref],
        "target": TARGET,
        "objective": "binary",
        "family": "hgb",
        "exclude": list(SENSITIVE),  # judged on them, not trained on them
        "team": TEAM,
        "seed": 1,
    }
    t0 = time.perf_counter()
    job = svc.submit(ALICE, spec)
    Worker(rt, "inline").run_once(job.id)
    seconds = time.perf_counter() - t0
    done = svc.job(ALICE, job.id)
    if done.state != "succeeded" or done.result_ref is None:
        raise RuntimeError(f"training job {job.id} {done.state}: {done.error_message}")
    return done.result_ref, seconds


def bench_validate(
    rt: Runtime,
    table: pa.Table,
    *,
    train_rows: int,
    runs: int,
    generate_seconds: float,
    log: Callable[[str], None] = print,
) -> ValidateResult:
    ds = DatasetService(rt)
    holdout_rows = table.num_rows - train_rows
    reg_train, train = time_once(
        lambda: ds.register(ALICE, table.slice(0, train_rows), name="credit", team=TEAM)
    )
    reg_hold, hold = time_once(
        lambda: ds.register(
            ALICE, table.slice(train_rows), name="credit-holdout", team=TEAM, locked=True
        )
    )
    log(f"[gates] registered {train.ref} ({train_rows:,} rows), {hold.ref} ({holdout_rows:,})")
    model_ref, train_seconds = _train(rt, train.ref)
    detail = ModelService(rt).show(ALICE, model_ref)
    log(f"[gates] trained {model_ref} ({detail.estimator}) in {train_seconds:.1f} s")

    gates = GateService(rt)
    targets = _targets()
    done: list[ValidateRun] = []
    info = None
    for i in range(runs):
        spans = Spans()
        with spans.on(targets):
            gc.collect()
            cpu0 = os.times()
            t0 = time.perf_counter()
            info = gates.validate(BOB, model_ref, hold.ref)
            t1 = time.perf_counter()
            cpu1 = os.times()
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        done.append(ValidateRun(t1 - t0, cpu, t0, t1, spans.spans, info.passed))
        log(
            f"[gates] validate {model_ref} on {hold.ref}, run {i + 1}/{runs}: {t1 - t0:.2f} s "
            f"({cpu:.1f} cpu-s)"
        )
    assert info is not None
    report = info.report
    fair = report.fairness
    groups = {name: len(a["groups"]) for name, a in fair.get("attributes", {}).items()}
    groups.update({name: len(a["groups"]) for name, a in fair.get("intersections", {}).items()})
    return ValidateResult(
        holdout_rows=report.holdout_rows,
        train_rows=train.rows,
        columns=table.num_columns,
        features=len(detail.inputs),
        numeric_features=sum(i["datatype"] != "BYTES" for i in detail.inputs),
        generate_seconds=generate_seconds,
        register_train_seconds=reg_train,
        register_holdout_seconds=reg_hold,
        train_seconds=train_seconds,
        model_ref=model_ref,
        estimator=detail.estimator,
        holdout_ref=hold.ref,
        runs=done,
        checks=len(report.checks),
        failed=[c.name for c in report.failed],
        fairness_groups=groups,
        too_small=len(fair.get("too_small", [])),
        robustness_rows=int(report.robustness.get("rows", 0)),
        robustness_detail={
            "flips": report.robustness.get("flips", {}),
            "probes": len(report.robustness.get("probes", [])),
            "audit_rows": report.robustness.get("audit", {}).get("rows"),
        },
    )


# -- 2. fairness against fairlearn -----------------------------------------------------------------
@dataclass
class FairnessCompare:
    rows: int
    groups: dict[str, int]  # "sex", "race", "sex × race" → groups
    steward: list[float]  # fairness_report, seconds per run
    fairlearn_frames: list[float]  # the three MetricFrames, per run
    fairlearn_derived: list[float]  # the summaries from the frames' difference/ratio
    fairlearn_functions: list[float]  # the nine summary-function calls (NaN: not timed)
    values_compared: int
    max_abs_diff: float
    fairlearn_version: str
    pandas_version: str

    @property
    def runs(self) -> int:
        return len(self.steward)

    @property
    def function_runs(self) -> list[float]:
        return [t for t in self.fairlearn_functions if not math.isnan(t)]

    @property
    def steward_median(self) -> float:
        return statistics.median(self.steward)

    @property
    def fairlearn_totals(self) -> list[float]:
        """Per run: the three MetricFrames plus the summaries taken from them."""
        return [f + d for f, d in zip(self.fairlearn_frames, self.fairlearn_derived, strict=True)]

    @property
    def fairlearn_median(self) -> float:
        return statistics.median(self.fairlearn_totals)

    @property
    def functions_median(self) -> float:
        return statistics.median(self.function_runs)

    @property
    def ratio(self) -> float:
        return self.fairlearn_median / self.steward_median

    @property
    def documented_median(self) -> float:
        """Frames plus fairlearn's summary functions (which build frames of their own), as
        its documentation calls them: median frames + median functions."""
        return statistics.median(self.fairlearn_frames) + self.functions_median

    @property
    def documented_ratio(self) -> float:
        return self.documented_median / self.steward_median


def _fairlearn_run(
    y: np.ndarray, p: np.ndarray, features: dict[str, Any], *, functions: bool
) -> tuple[dict[str, Any], dict[str, dict[str, float]], dict[str, dict[str, float]], list[float]]:
    """fairlearn's three MetricFrames, the summaries taken from them and (with
    ``functions``) fairlearn's summary functions, each part timed; the function part's time
    is NaN without ``functions``."""
    import fairlearn.metrics as fm
    from sklearn.metrics import accuracy_score

    metrics = {
        "selection_rate": fm.selection_rate,
        "true_positive_rate": fm.true_positive_rate,
        "false_positive_rate": fm.false_positive_rate,
        "accuracy": accuracy_score,
        "count": fm.count,
    }
    gc.collect()
    t0 = time.perf_counter()
    frames = {
        name: fm.MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=feat)
        for name, feat in features.items()
    }
    t1 = time.perf_counter()
    derived = {}
    for name, frame in frames.items():
        diff, ratio = frame.difference(), frame.ratio()
        derived[name] = {
            "demographic_parity_difference": diff["selection_rate"],
            "demographic_parity_ratio": ratio["selection_rate"],
            "equalized_odds_difference": max(
                diff["true_positive_rate"], diff["false_positive_rate"]
            ),
        }
    t2 = time.perf_counter()
    called: dict[str, dict[str, float]] = {}
    if functions:
        for name, feat in features.items():
            called[name] = {
                "demographic_parity_difference": fm.demographic_parity_difference(
                    y, p, sensitive_features=feat
                ),
                "demographic_parity_ratio": fm.demographic_parity_ratio(
                    y, p, sensitive_features=feat
                ),
                "equalized_odds_difference": fm.equalized_odds_difference(
                    y, p, sensitive_features=feat
                ),
            }
    t3 = time.perf_counter()
    return frames, derived, called, [t1 - t0, t2 - t1, t3 - t2 if functions else math.nan]


def _fairlearn_inputs(sex: np.ndarray, race: np.ndarray) -> dict[str, Any]:
    import pandas as pd

    return {
        "sex": sex,
        "race": race,
        "sex × race": pd.DataFrame({"sex": sex, "race": race}),
    }


def _agree(
    report: Any, frames: dict[str, Any], summaries: list[dict[str, Any]]
) -> tuple[int, float]:
    """Raise unless every group's count and rates and every summary agree to
    :data:`AGREE_TOLERANCE`; returns how many numbers were compared and the largest
    difference."""
    from steward.kernels.fairness import FairnessReport

    assert isinstance(report, FairnessReport)
    parts = {**{n: report.attributes[n] for n in SENSITIVE}, "sex × race": report.intersections[0]}
    compared = 0
    worst = 0.0
    for name, attr in parts.items():
        if attr.too_small:
            raise RuntimeError(f"{name}: groups too small to judge; the comparison needs none")
        by_group = frames[name].by_group
        if len(by_group) != len(attr.groups):
            raise RuntimeError(
                f"{name}: fairlearn has {len(by_group)} groups, Steward {len(attr.groups)}"
            )
        for g in attr.groups:
            labels = tuple(g.group[a] for a in attr.attributes)
            row = by_group.loc[labels[0] if len(labels) == 1 else labels]
            if int(row["count"]) != g.count:
                raise RuntimeError(f"{name} {labels}: count {g.count} vs {row['count']}")
            compared += 1
            for m in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"):
                diff = abs(float(getattr(g, m)) - float(row[m]))
                worst = max(worst, diff)
                compared += 1
                if not diff <= AGREE_TOLERANCE:
                    raise RuntimeError(f"{name} {labels} {m}: differ by {diff:.3g}")
        for theirs in summaries:
            for m, value in theirs[name].items():
                diff = abs(float(getattr(attr.summary, m)) - float(value))
                worst = max(worst, diff)
                compared += 1
                if not diff <= AGREE_TOLERANCE:
                    raise RuntimeError(f"{name} {m}: Steward and fairlearn differ by {diff:.3g}")
    return compared, worst


def bench_fairness(
    y: np.ndarray,
    p: np.ndarray,
    sex: np.ndarray,
    race: np.ndarray,
    *,
    runs: int,
    function_runs: int,
    log: Callable[[str], None] = print,
) -> FairnessCompare:
    """Steward's kernel and fairlearn alternately, ``runs`` times each, after a warm-up of
    both on the first 10,000 rows; fairlearn's summary functions are timed in the first
    ``function_runs`` runs only (they cost as much as the frames again). The first run's
    numbers are compared before anything is reported."""
    from importlib.metadata import version

    from steward.kernels.fairness import fairness_report

    def steward(n: int | None = None) -> Any:
        s = slice(None, n)
        return fairness_report(
            y[s],
            p[s],
            {"sex": sex[s], "race": race[s]},
            min_group_size=MIN_GROUP_SIZE,
            intersections=True,
        )

    warm = 10_000
    steward(warm)
    _fairlearn_run(y[:warm], p[:warm], _fairlearn_inputs(sex[:warm], race[:warm]), functions=True)
    features = _fairlearn_inputs(sex, race)
    ours: list[float] = []
    theirs: list[list[float]] = []
    compared, worst = 0, 0.0
    for i in range(runs):
        seconds, report = time_once(steward)
        ours.append(seconds)
        frames, derived, called, spans = _fairlearn_run(y, p, features, functions=i < function_runs)
        theirs.append(spans)
        if i == 0:
            compared, worst = _agree(report, frames, [derived, called] if called else [derived])
        functions = "" if math.isnan(spans[2]) else f", summary functions {spans[2]:.2f} s"
        log(
            f"[gates] fairness run {i + 1}/{runs}: Steward {seconds:.3f} s, fairlearn frames "
            f"{spans[0]:.2f} s{functions}"
        )
    groups = {n: len(report.attributes[n].groups) for n in SENSITIVE}
    groups["sex × race"] = len(report.intersections[0].groups)
    return FairnessCompare(
        rows=int(y.size),
        groups=groups,
        steward=ours,
        fairlearn_frames=[t[0] for t in theirs],
        fairlearn_derived=[t[1] for t in theirs],
        fairlearn_functions=[t[2] for t in theirs],
        values_compared=compared,
        max_abs_diff=worst,
        fairlearn_version=version("fairlearn"),
        pandas_version=version("pandas"),
    )


def _fairness_inputs(
    rt: Runtime, model_ref: str, holdout: pa.Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Truth, the served model's decisions and the two attributes as NumPy arrays: 0/1
    ``int64`` and text (``object``), what both libraries are given."""
    models = ModelService(rt)
    detail = models.show(ALICE, model_ref)
    runner = OnnxRunner(models.onnx(ALICE, model_ref), detail.inputs, detail.classes)
    positive = (detail.classes or [0, 1])[1]
    decided = (np.asarray(runner.predict(holdout).labels) == positive).astype(np.int64)
    truth = (holdout.column(TARGET).to_numpy() == positive).astype(np.int64)
    sex = holdout.column("sex").to_numpy(zero_copy_only=False).astype(object)
    race = holdout.column("race").to_numpy(zero_copy_only=False).astype(object)
    return truth, decided, sex, race


# -- both ------------------------------------------------------------------------------------------
@dataclass
class GatesResult:
    validate: ValidateResult | None = None
    fairness: FairnessCompare | None = None
    problems: dict[str, str] = field(default_factory=dict)  # part → why not measured


def bench_gates(
    *,
    holdout_rows: int,
    train_rows: int,
    validate_runs: int,
    fairness_runs: int,
    fairlearn_function_runs: int,
    log: Callable[[str], None] = print,
) -> GatesResult:
    """Both measurements on one fresh SQLite home and one generated table."""
    result = GatesResult()
    log(f"[gates] credit table: {train_rows:,} training + {holdout_rows:,} holdout rows")
    generate, table = time_once(lambda: credit_table(train_rows + holdout_rows))
    with _gated_runtime() as rt:
        result.validate = bench_validate(
            rt, table, train_rows=train_rows, runs=validate_runs, generate_seconds=generate, log=log
        )
        try:
            import fairlearn  # noqa: F401
            import pandas  # noqa: F401
        except ImportError as exc:
            result.problems["fairness"] = f"fairlearn or pandas is not installed ({exc})"
            log(f"[gates] fairness vs fairlearn NOT MEASURED: {exc}")
            return result
        holdout = table.slice(train_rows)
        y, p, sex, race = _fairness_inputs(rt, result.validate.model_ref, holdout)
    del table
    result.fairness = bench_fairness(
        y, p, sex, race, runs=fairness_runs, function_runs=fairlearn_function_runs, log=log
    )
    f = result.fairness
    log(
        f"[gates] fairness on {f.rows:,} rows: Steward {f.steward_median:.3f} s, fairlearn "
        f"{f.fairlearn_median:.2f} s ({f.ratio:.0f}x; {f.documented_ratio:.0f}x with its "
        f"summary functions); {f.values_compared} numbers agree to {AGREE_TOLERANCE:g}"
    )
    return result
