"""Training benchmarks: job overhead, training throughput, single-row inference latency.

1. **Job overhead** (``process`` executor, fresh SQLite home): tiny jobs go through
   ``TrainingService.submit`` and ``Worker.run_once`` one after another, and every step
   is timestamped with ``time.perf_counter`` in the benchmark process: the worker's
   progress callbacks (the child's phases are relayed over its pipe and reported by the
   worker as they arrive), and a wrapper around the executor that notes when
   ``execute`` is entered (the data is read, the process is about to be spawned) and
   when it returns (the outcome has arrived and the child is gone).
2. **Throughput** on a generated 1,000,000-row loans table: one ``hgb`` job on the
   ``process`` executor and one on a local Ray (``RayExecutor``), each submitted and run
   as a real job; the job's own metering (cpu-seconds, wall time, peak memory) is read
   back from ``TrainingService.job``.
3. **Single-row latency** of the model the ``process`` job registered: its ONNX, as
   stored (decrypted by ``ModelService.onnx``), in ONNX Runtime, against the same
   scikit-learn pipeline fitted again here with fit.py's own builders, checked to give
   the same probabilities before anything is timed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from backends import runtime_on
from stats import Sample, measure, percentile
from steward.datasets import DatasetService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.training import JobInfo, TrainingService, Worker
from steward.training.executors import (
    Executor,
    ProcessExecutor,
    Progress,
    ShouldStop,
    TaskOutcome,
    TrainTask,
)

__all__ = [
    "LatencyResult",
    "OverheadJob",
    "OverheadResult",
    "ThroughputRun",
    "TrainingResult",
    "bench_training",
]

ALICE = Principal("alice")
SITE = "eu-fra"
TEAM = "risk"
ONNX_TOLERANCE = 1e-4  # the default training.onnx_tolerance
SAME_MODEL_ROWS = 20_000  # validation rows on which ONNX and scikit-learn are compared
MODEL = "loans-hgb"


# -- data ------------------------------------------------------------------------------------
def tiny_table(rows: int, seed: int = 1) -> pa.Table:
    """``rows`` x 4 columns: two numeric features, one categorical, a binary target."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0.0, 1.0, rows)
    x2 = rng.uniform(0.0, 1.0, rows)
    grade = rng.choice(np.array(["a", "b", "c"]), rows)
    logit = 1.5 * x1 - 2.0 * (x2 - 0.5) + np.where(grade == "a", 0.8, 0.0)
    y = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    return pa.table({"x1": x1, "x2": x2, "grade": grade, "y": pa.array(y.astype(np.int64))})


LOAN_COLUMNS = 10


def loans_table(rows: int, seed: int = 7) -> pa.Table:
    """``rows`` x 10 columns: 7 numeric features (one with 2% nulls), 2 categorical ones and
    a binary ``default`` (about 11% positive) that depends on most of them, with an
    interaction and a non-linear term, so a boosted model has something to learn."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(8.0, 0.8, rows)
    rate = rng.uniform(0.02, 0.25, rows)
    term = rng.choice(np.array([12, 24, 36, 48, 60]), rows)
    utilisation = rng.beta(2.0, 5.0, rows)
    balance = rng.gamma(2.0, 2000.0, rows)
    score = np.clip(rng.normal(650.0, 80.0, rows), 300.0, 850.0)
    tenure = rng.integers(0, 241, rows)
    regions = np.array(["north", "south", "east", "west", "centre", "coast", "alps", "isles"])
    region = rng.choice(regions, rows)
    channel = rng.choice(np.array(["branch", "online", "broker", "phone"]), rows)
    region_effect = dict(zip(regions, np.linspace(-0.4, 0.5, len(regions)), strict=True))
    logit = (
        -2.6
        + 3.0 * (utilisation - 0.3)
        + 8.0 * (rate - 0.13)
        - 0.012 * (score - 650.0)
        + 0.3 * np.log(amount / 3000.0)
        + 0.004 * (term - 36)
        - 0.003 * tenure
        + np.vectorize(region_effect.__getitem__)(region)
        + 0.9 * ((utilisation > 0.5) & (channel == "online"))
        + 0.5 * np.sin(balance / 1500.0)
    )
    default = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    missing = rng.random(rows) < 0.02
    return pa.table(
        {
            "amount": amount,
            "rate": rate,
            "term": pa.array(term.astype(np.int64)),
            "utilisation": utilisation,
            "balance": balance,
            "score": pa.array(score, mask=missing),
            "tenure": pa.array(tenure.astype(np.int64)),
            "region": region,
            "channel": channel,
            "default": pa.array(default.astype(np.int64)),
        }
    )


def _spec(ref: str, name: str, target: str, family: str) -> dict[str, Any]:
    return {
        "name": name,
        "data": [ref],
        "target": target,
        "objective": "binary",
        "family": family,
        "site": SITE,
        "team": TEAM,
    }


# -- instrumentation ---------------------------------------------------------------------------
class Marks:
    """perf_counter timestamps by name; the first one of each name is kept."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.at.setdefault(name, time.perf_counter())

    def progress(self, _job_id: str, phase: str, _fraction: float) -> None:
        self.mark(f"progress:{phase}")


class TimedExecutor:
    """An executor that marks when the worker hands it the task (the data has been read;
    for ``process`` the child is about to be spawned) and when the outcome is back (for
    ``process`` the child has been reaped)."""

    def __init__(self, inner: Executor, marks: Marks) -> None:
        self.inner = inner
        self.name = inner.name
        self.marks = marks

    def execute(self, task: TrainTask, progress: Progress, should_stop: ShouldStop) -> TaskOutcome:
        self.marks.mark("execute")
        try:
            return self.inner.execute(task, progress, should_stop)
        finally:
            self.marks.mark("outcome")

    def close(self) -> None:
        self.inner.close()


def _run_job(
    rt: Runtime, spec: dict[str, Any], executor: Executor, marks: Marks, *, executor_name: str
) -> JobInfo:
    """Submit ``spec`` and run it at once with a worker on ``executor``; marks ``submit``,
    ``queued`` (submit returned), ``execute`` and ``outcome`` (see :class:`TimedExecutor`),
    ``progress:<phase>`` and ``registered`` (run_once returned: the job is committed)."""
    svc = TrainingService(rt)
    worker = Worker(rt, TimedExecutor(executor, marks), on_progress=marks.progress)
    marks.mark("submit")
    job = svc.submit(ALICE, spec, executor=executor_name)
    marks.mark("queued")
    ran = worker.run_once(job.id)
    marks.mark("registered")
    if ran != job.id:
        raise RuntimeError(f"the worker ran {ran!r}, expected job {job.id}")
    done = svc.job(ALICE, job.id)
    if done.state != "succeeded":
        raise RuntimeError(f"job {job.id} {done.state}: {done.error_code}: {done.error_message}")
    return done


# -- 1. job overhead ---------------------------------------------------------------------------
@dataclass
class OverheadJob:
    """One tiny job's steps, in seconds (perf_counter differences)."""

    submit: float  # TrainingService.submit, start to return
    queued_to_read: float  # submit returned → worker's "reading data" (reap, claim)
    read_to_spawn: float  # "reading data" → executor.execute entered (read, decrypt, log)
    spawn_to_start: float  # execute entered → first progress from the child ("prepare")
    fit: float  # child "prepare" → child "done" (the whole fit() call)
    done_to_outcome: float  # child "done" → execute returned (pickle, pipe, child reaped)
    outcome_to_registered: float  # execute returned → run_once returned (registered)
    total: float  # submit start → run_once returned
    metered_wall: float  # the job's wall_seconds (run_task inside the child)
    db_queued_to_started: float  # JobInfo.started_at - created_at (database clock)

    @property
    def queue_to_start(self) -> float:
        return self.queued_to_read + self.read_to_spawn + self.spawn_to_start

    @property
    def finish_to_registered(self) -> float:
        return self.outcome_to_registered


@dataclass
class OverheadResult:
    rows: int
    columns: int
    family: str
    warmup: int
    jobs: list[OverheadJob]

    def stat(self, name: str) -> tuple[float, float]:
        """(median, p90) of one span over the timed jobs."""
        values = [getattr(j, name) for j in self.jobs]
        return statistics.median(values), percentile(values, 0.90)


def bench_overhead(
    rt: Runtime, jobs: int, rows: int, warmup: int = 1, log: Callable[[str], None] = print
) -> OverheadResult:
    table = tiny_table(rows)
    ref = DatasetService(rt).register(ALICE, table, name="tiny", team=TEAM).ref
    spec = _spec(ref, "tiny", "y", "linear")
    out: list[OverheadJob] = []
    for i in range(warmup + jobs):
        marks = Marks()
        job = _run_job(rt, spec, ProcessExecutor(), marks, executor_name="process")
        if i < warmup:
            continue
        t = marks.at
        start = job.started_at or job.created_at
        out.append(
            OverheadJob(
                submit=t["queued"] - t["submit"],
                queued_to_read=t["progress:reading data"] - t["queued"],
                read_to_spawn=t["execute"] - t["progress:reading data"],
                spawn_to_start=t["progress:prepare"] - t["execute"],
                fit=t["progress:done"] - t["progress:prepare"],
                done_to_outcome=t["outcome"] - t["progress:done"],
                outcome_to_registered=t["registered"] - t["outcome"],
                total=t["registered"] - t["submit"],
                metered_wall=job.wall_seconds,
                db_queued_to_started=(start - job.created_at).total_seconds(),
            )
        )
    result = OverheadResult(
        rows=table.num_rows, columns=table.num_columns, family="linear", warmup=warmup, jobs=out
    )
    med, p90 = result.stat("queue_to_start")
    fmed, fp90 = result.stat("finish_to_registered")
    log(
        f"[training] {jobs} tiny jobs: queue→start median {med * 1e3:.0f} ms (p90 "
        f"{p90 * 1e3:.0f}), finish→registered median {fmed * 1e3:.0f} ms (p90 {fp90 * 1e3:.0f})"
    )
    return result


# -- 2. throughput -------------------------------------------------------------------------------
@dataclass
class ThroughputRun:
    executor: str
    rows: int
    submit: float
    end_to_end: float  # submit start → run_once returned (job succeeded, model registered)
    outcome_to_registered: float  # executor returned → run_once returned
    wall_seconds: float  # metered: run_task in the training process
    cpu_seconds: float
    peak_memory_bytes: int
    bytes_read: int
    where: str
    result_ref: str
    metrics: dict[str, float]
    phases: dict[str, float] = field(default_factory=dict)  # from the child's progress
    onnx_sha256: str = ""
    onnx_canonical_sha256: str = ""  # the same with opset_import sorted (see _canonical)

    @property
    def rows_per_second_metered(self) -> float:
        return self.rows / self.wall_seconds

    @property
    def rows_per_second_end_to_end(self) -> float:
        return self.rows / self.end_to_end


@dataclass
class ThroughputResult:
    rows: int
    columns: int
    generate_seconds: float
    register_seconds: float
    dataset_ref: str
    parquet_bytes: int
    runs: dict[str, list[ThroughputRun]]  # executor → its runs, in order
    problems: dict[str, str] = field(default_factory=dict)  # executor → why not measured
    ray_warmup_seconds: float | None = None  # a tiny job on the fresh Ray, end to end
    ray_warmup_where: str | None = None
    ray_init_seconds: float | None = None

    def median(self, executor: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs[executor])

    def spread(self, executor: str, attr: str) -> tuple[float, float]:
        values = [getattr(r, attr) for r in self.runs[executor]]
        return min(values), max(values)


_PHASE_ORDER = ("prepare", "fit", "convert", "check", "metrics", "profile", "done")


def _phase_seconds(marks: Marks) -> dict[str, float]:
    at = {p: marks.at[f"progress:{p}"] for p in _PHASE_ORDER if f"progress:{p}" in marks.at}
    names = [p for p in _PHASE_ORDER if p in at]
    return {a: at[b] - at[a] for a, b in itertools.pairwise(names)}


def _throughput_run(
    rt: Runtime, spec: dict[str, Any], executor: Executor, name: str, rows: int
) -> ThroughputRun:
    marks = Marks()
    job = _run_job(rt, spec, executor, marks, executor_name=name)
    assert job.result_ref is not None
    onnx = ModelService(rt).onnx(ALICE, job.result_ref)
    where = _where(rt, job.id)
    return ThroughputRun(
        executor=name,
        rows=rows,
        submit=marks.at["queued"] - marks.at["submit"],
        end_to_end=marks.at["registered"] - marks.at["submit"],
        outcome_to_registered=marks.at["registered"] - marks.at["outcome"],
        wall_seconds=job.wall_seconds,
        cpu_seconds=job.cpu_seconds,
        peak_memory_bytes=job.peak_memory_bytes,
        bytes_read=job.bytes_read,
        where=where,
        result_ref=job.result_ref,
        metrics=ModelService(rt).show(ALICE, job.result_ref).metrics,
        phases=_phase_seconds(marks),
        onnx_sha256=hashlib.sha256(onnx).hexdigest(),
        onnx_canonical_sha256=hashlib.sha256(_canonical(onnx)).hexdigest(),
    )


def _canonical(blob: bytes) -> bytes:
    """The ONNX model with its ``opset_import`` entries sorted by domain.

    skl2onnx lists the opsets in an order that follows Python's string hashing, which
    differs from process to process (``PYTHONHASHSEED``); two otherwise identical exports
    from two training processes can differ in that order alone.
    """
    import onnx

    model = onnx.load_model_from_string(blob)
    ordered = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, ver in ordered:
        model.opset_import.add(domain=domain, version=ver)
    return bytes(model.SerializeToString())


def _where(rt: Runtime, job_id: str) -> str:
    """Where the job ran, from its ``ran in ...`` log line."""
    logs = TrainingService(rt).logs(ALICE, job_id)
    return next((ln.line[len("ran in ") :] for ln in logs if ln.line.startswith("ran in ")), "?")


def _ray_problem() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        return f"Ray is not installed ({exc}); pip install 'steward[ray]'"
    return None


def _runs(
    rt: Runtime,
    result: ThroughputResult,
    executor: Executor,
    name: str,
    runs: int,
    log: Callable[[str], None],
) -> None:
    # Every job has the same spec, model name included (it is the ONNX graph's name), so
    # that the exports of all runs on both executors can be compared byte for byte.
    spec = _spec(result.dataset_ref, MODEL, "default", "hgb")
    for i in range(runs):
        log(f"[training] hgb on {result.rows:,} rows, {name} executor, run {i + 1}/{runs}")
        run = _throughput_run(rt, spec, executor, name, result.rows)
        result.runs.setdefault(name, []).append(run)
        log(f"[training]   {run.wall_seconds:.1f} s metered, {run.end_to_end:.1f} s end to end")


def bench_throughput(
    rt: Runtime, rows: int, runs: int, log: Callable[[str], None] = print
) -> tuple[ThroughputResult, pa.Table]:
    """``runs`` jobs per executor on one registered dataset (the process ones first, then
    Ray's, so that Ray's processes are not running during the others); returns the result
    and the dataset as the jobs read it."""
    t0 = time.perf_counter()
    table = loans_table(rows)
    generated = time.perf_counter() - t0
    t0 = time.perf_counter()
    info = DatasetService(rt).register(ALICE, table, name="loans", team=TEAM)
    registered = time.perf_counter() - t0
    del table
    log(f"[training] loans table {rows:,} x {LOAN_COLUMNS} registered as {info.ref}")
    data = DatasetService(rt).read_bytes(ALICE, info.ref, site=SITE, purpose="training")
    result = ThroughputResult(
        rows=info.rows,
        columns=info.columns,
        generate_seconds=generated,
        register_seconds=registered,
        dataset_ref=info.ref,
        parquet_bytes=len(data),
        runs={},
    )

    _runs(rt, result, ProcessExecutor(), "process", runs, log)
    problem = _ray_problem()
    if problem is None:
        problem = _ray_runs(rt, result, runs, log)
    if problem is not None:
        result.problems["ray"] = problem
        log(f"[training] Ray NOT MEASURED: {problem}")
    return result, pq.read_table(pa.BufferReader(data))


def _ray_runs(
    rt: Runtime, result: ThroughputResult, runs: int, log: Callable[[str], None]
) -> str | None:
    import ray

    from steward.training.executors import RayExecutor

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    log("[training] starting a local Ray (2 CPUs, site:eu-fra)")
    t0 = time.perf_counter()
    try:
        ray.init(
            num_cpus=2,
            resources={f"site:{SITE}": 1},
            include_dashboard=False,
            log_to_driver=False,
        )
    except Exception as exc:  # Ray raises many types; any means "no Ray here"
        return f"ray.init failed: {type(exc).__name__}: {exc}"
    try:
        result.ray_init_seconds = time.perf_counter() - t0
        executor = RayExecutor()
        # A running cluster keeps its workers; the first task on a fresh one also starts
        # a worker process and imports Steward in it. One tiny job takes that first.
        tiny = DatasetService(rt).register(ALICE, tiny_table(500), name="tiny-ray", team=TEAM)
        marks = Marks()
        warm = _run_job(
            rt, _spec(tiny.ref, "tiny-ray", "y", "linear"), executor, marks, executor_name="ray"
        )
        result.ray_warmup_seconds = marks.at["registered"] - marks.at["submit"]
        result.ray_warmup_where = _where(rt, warm.id)
        _runs(rt, result, executor, "ray", runs, log)
    finally:
        ray.shutdown()
    return None


# -- 3. single-row latency ---------------------------------------------------------------------
@dataclass
class LatencyResult:
    model_ref: str
    estimator: str
    train_rows: int
    features: int
    numeric: int
    categorical: int
    refit_seconds: float
    iterations: int  # boosting iterations (trees per class) of the refitted estimator
    same_rows: int  # validation rows compared in one batch
    same_max_diff: float  # max |p_onnx - p_sklearn| over them
    single_rows: int  # distinct one-row inputs the timed calls cycle through
    single_max_diff: float  # the same on every one-row input, as timed
    onnx: Sample
    sklearn: Sample
    estimator_only: Sample  # diagnostic: the bare estimator on an encoded numpy row
    onnx_bytes: int

    @property
    def ratio(self) -> float:
        return self.sklearn.median_ms / self.onnx.median_ms

    @property
    def p99_ratio(self) -> float:
        return self.sklearn.p99_ms / self.onnx.p99_ms


def _refit(spec_dict: dict[str, Any], table: pa.Table) -> tuple[Any, Any, float]:
    """The scikit-learn pipeline a job with this spec fits, fitted again here.

    fit.py's own (private) builders, called in the order ``steward.training.fit.fit``
    calls them, so the preprocessing, estimator, parameters, float32 casts, split and
    seed are the job's by construction rather than by copy; whether the result is the
    same model is then checked against the registered ONNX, not assumed.
    """
    from threadpoolctl import threadpool_limits

    from steward.training.fit import (
        _build_estimator,
        _float32_thresholds,
        _pipeline,
        _prepare,
        check_spec_against,
    )
    from steward.training.spec import TrainingSpec

    spec = TrainingSpec.model_validate(spec_dict)
    features = check_spec_against(spec, table.schema, table.num_rows)
    _, estimator = _build_estimator(spec)
    data = _prepare(spec, table, features)
    kinds = dict(zip(data.names, data.kinds, strict=True))
    numeric = [n for n in data.names if kinds[n] == "numeric"]
    categorical = [n for n in data.names if kinds[n] != "numeric"]
    pipeline = _pipeline(spec, estimator, numeric, categorical)
    t0 = time.perf_counter()
    with threadpool_limits(limits=spec.resources.cpus):
        pipeline.fit(data.x_train, data.y_train)
    seconds = time.perf_counter() - t0
    _float32_thresholds(estimator)
    return pipeline, data, seconds


def _feeds(x: pa.Table, kinds: list[str]) -> dict[str, np.ndarray]:
    """ONNX Runtime inputs for the rows of ``x``: one ``[n, 1]`` array per feature."""
    out = {}
    for name, kind, col in zip(x.column_names, kinds, x.columns, strict=True):
        if kind == "numeric":
            out[name] = np.asarray(col.to_numpy(), dtype=np.float32).reshape(-1, 1)
        else:
            out[name] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object).reshape(-1, 1)
    return out


def bench_latency(
    rt: Runtime,
    model_ref: str,
    table: pa.Table,
    *,
    calls: int,
    repeats: int,
    warmup: int,
    rows: int = 1000,
    log: Callable[[str], None] = print,
) -> LatencyResult:
    import onnxruntime as ort
    import pandas as pd
    from threadpoolctl import threadpool_limits

    models = ModelService(rt)
    detail = models.show(ALICE, model_ref)
    blob = models.onnx(ALICE, model_ref)
    log(f"[training] refit {detail.estimator} on {table.num_rows:,} rows for scikit-learn")
    pipeline, data, refit_seconds = _refit(detail.spec, table)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(blob, sess_options=opts, providers=["CPUExecutionProvider"])

    # The same model? Probabilities of both on validation rows, in one batch.
    n_same = min(SAME_MODEL_ROWS, data.x_val.num_rows)
    x_same = data.x_val.slice(0, n_same)
    p_onnx = np.asarray(session.run(None, _feeds(x_same, data.kinds))[1], dtype=np.float64)
    p_skl = np.asarray(pipeline.predict_proba(x_same), dtype=np.float64)
    same_diff = float(np.abs(p_onnx - p_skl).max())
    if same_diff > ONNX_TOLERANCE:
        raise RuntimeError(
            f"the refitted pipeline is not the registered model: probabilities differ by "
            f"{same_diff:.3g} on {n_same:,} validation rows (tolerance {ONNX_TOLERANCE:g})"
        )

    # One-row inputs as each side's user holds them: ONNX Runtime gets one [1, 1] array
    # per input (what a server builds from a request), scikit-learn a one-row pandas
    # DataFrame built from the record (``pd.DataFrame([record])``).
    n = min(rows, data.x_val.num_rows)
    x_rows = data.x_val.slice(0, n)
    records = x_rows.to_pylist()
    feeds = [_feeds(x_rows.slice(i, 1), data.kinds) for i in range(n)]
    frames = [pd.DataFrame([r]) for r in records]
    encoded = [np.asarray(pipeline[:-1].transform(f)) for f in frames]
    estimator = pipeline[-1]

    single_diff = 0.0
    with threadpool_limits(limits=1):
        for i in range(n):
            a = session.run(None, feeds[i])[1][0]
            b = pipeline.predict_proba(frames[i])[0]
            single_diff = max(single_diff, float(np.abs(np.asarray(a, np.float64) - b).max()))
        if single_diff > ONNX_TOLERANCE:
            raise RuntimeError(
                f"one-row predictions differ by {single_diff:.3g} between ONNX Runtime and "
                f"scikit-learn (tolerance {ONNX_TOLERANCE:g})"
            )

        def onnx_call(i: int) -> None:
            session.run(None, feeds[i % n])

        def sklearn_call(i: int) -> None:
            pipeline.predict_proba(frames[i % n])

        def estimator_call(i: int) -> None:
            estimator.predict_proba(encoded[i % n])

        log(f"[training] single-row latency, {repeats} x {calls:,} calls each")
        timed = {
            name: measure(fn, calls=calls, repeats=repeats, warmup=warmup)
            for name, fn in (
                ("onnx", onnx_call),
                ("sklearn", sklearn_call),
                ("estimator", estimator_call),
            )
        }

    kinds = data.kinds
    result = LatencyResult(
        model_ref=model_ref,
        estimator=detail.estimator,
        train_rows=data.x_train.num_rows,
        features=len(kinds),
        numeric=sum(k == "numeric" for k in kinds),
        categorical=sum(k != "numeric" for k in kinds),
        refit_seconds=refit_seconds,
        iterations=int(getattr(estimator, "n_iter_", 0)),
        same_rows=n_same,
        same_max_diff=same_diff,
        single_rows=n,
        single_max_diff=single_diff,
        onnx=timed["onnx"],
        sklearn=timed["sklearn"],
        estimator_only=timed["estimator"],
        onnx_bytes=len(blob),
    )
    log(
        f"[training]   ONNX {result.onnx.median_ms * 1e3:.1f} µs, scikit-learn "
        f"{result.sklearn.median_ms * 1e3:.1f} µs (median): {result.ratio:.0f}x"
    )
    return result


# -- all three -----------------------------------------------------------------------------------
@dataclass
class TrainingResult:
    overhead: OverheadResult | None = None
    throughput: ThroughputResult | None = None
    latency: LatencyResult | None = None
    problems: dict[str, str] = field(default_factory=dict)  # part → why not measured


def bench_training(
    *,
    overhead_jobs: int,
    overhead_rows: int,
    rows: int,
    runs: int,
    latency_calls: int,
    latency_repeats: int,
    latency_warmup: int,
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """The three measurements, each on a fresh SQLite home."""
    result = TrainingResult()
    log(f"[training] job overhead: {overhead_jobs} tiny jobs on the process executor")
    with runtime_on("sqlite") as rt:
        result.overhead = bench_overhead(rt, overhead_jobs, overhead_rows, log=log)
    with runtime_on("sqlite") as rt:
        result.throughput, table = bench_throughput(rt, rows, runs, log=log)
        result.latency = bench_latency(
            rt,
            result.throughput.runs["process"][0].result_ref,
            table,
            calls=latency_calls,
            repeats=latency_repeats,
            warmup=latency_warmup,
            log=log,
        )
    return result
