"""The training part of docs/benchmarks.md: job overhead, throughput, single-row latency."""

from __future__ import annotations

from mdtable import met as _met
from mdtable import table as _table
from mdtable import version_of as _version
from training_bench import (
    LatencyResult,
    OverheadResult,
    ThroughputResult,
    ThroughputRun,
    TrainingResult,
)

__all__ = ["ONNX_AIM_RATIO", "training_aims", "training_sections"]

ONNX_AIM_RATIO = 10.0
NO_AIM = "measured (no aim given)"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:,.1f}" if ms < 100 else f"{ms:,.0f}"


def _us(ms: float) -> str:
    us = ms * 1e3
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def training_aims(t: TrainingResult | None) -> list[list[str]]:
    if t is None:
        return []
    rows: list[list[str]] = []
    if t.latency is not None:
        lat = t.latency
        rows.append(
            [
                f"ONNX single-row latency at least {ONNX_AIM_RATIO:g}x faster than "
                "scikit-learn predict",
                "—",
                f"ONNX Runtime {_us(lat.onnx.median_ms)} µs vs scikit-learn "
                f"{_us(lat.sklearn.median_ms)} µs per row (median): **{lat.ratio:,.0f}x** "
                f"(p99: {lat.p99_ratio:,.0f}x)",
                _met(lat.ratio >= ONNX_AIM_RATIO),
            ]
        )
    elif "latency" in t.problems:
        rows.append(
            [
                f"ONNX single-row latency at least {ONNX_AIM_RATIO:g}x faster than "
                "scikit-learn predict",
                "—",
                f"not measured: {t.problems['latency']}",
                "**not measured**",
            ]
        )
    if t.overhead is not None:
        o = t.overhead
        for label, span in (
            ("queued → training starts in its process", "queue_to_start"),
            ("fit finished → model registered", "finish_to_registered"),
        ):
            med, p90 = o.stat(span)
            rows.append(
                [
                    f"job overhead, {label} (`process` executor)",
                    "SQLite",
                    f"median {_ms(med)} ms, p90 {_ms(p90)} ms ({len(o.jobs)} tiny jobs)",
                    NO_AIM,
                ]
            )
    if t.throughput is not None:
        tp = t.throughput
        parts = [
            f"`{name}` {tp.median(name, 'rows_per_second_metered'):,.0f} rows/s metered, "
            f"{tp.median(name, 'rows_per_second_end_to_end'):,.0f} end to end"
            for name in tp.runs
        ]
        parts += [f"{name} not measured" for name in tp.problems]
        rows.append(
            [
                f"training throughput on {tp.rows:,} rows (hgb), process vs Ray",
                "SQLite",
                "; ".join(parts) + f" (median of {_count(tp)})",
                NO_AIM,
            ]
        )
    return rows


def _overhead_section(o: OverheadResult, number: int) -> list[str]:
    lines = [
        "",
        f"## {number}. Training job overhead (`process` executor)",
        "",
        f"{o.warmup + len(o.jobs)} tiny jobs ({o.rows:,} rows x {o.columns} columns: two "
        f"numeric features, one categorical, a binary target; family `{o.family}`) on a "
        "fresh SQLite home, one after another; the first is an untimed warm-up, "
        f"{len(o.jobs)} are timed. Each is submitted with `TrainingService.submit` and run "
        "at once by `Worker(rt, executor, on_progress=...).run_once(job_id)` in the "
        "benchmark process, so no time is spent waiting for a worker to poll (a "
        "`steward worker` whose queue was empty sleeps 1 s between looks, which would add up "
        "to 1 s to *queued → starts*). Every mark is `time.perf_counter()` in the worker's "
        "process: its progress callbacks (the child's phases arrive over its pipe and are "
        "reported as they arrive) and a wrapper around the `ProcessExecutor` that marks "
        "when its `execute` is entered and when it returns.",
        "",
    ]
    spans = [
        (
            "submit",
            "`TrainingService.submit` until it returns: spec validated, dataset looked up, "
            "spec checked against its schema, site placed by policy, code version "
            "(`git rev-parse`, `git status`), cost estimate, quota check, job row and "
            "`model.train` ledger entry in one transaction",
        ),
        (
            "queued_to_read",
            "… submit returned → worker starts reading data: `run_once` reaps lost jobs, "
            "claims the job (one write transaction), starts the heartbeat thread",
        ),
        (
            "read_to_spawn",
            "… reading data → `executor.execute` entered: the read is checked by policy "
            "again, the dataset's Parquet is decrypted into memory, two job log lines written",
        ),
        (
            "spawn_to_start",
            "… `execute` entered → first progress from the child (`prepare`): "
            "`python -m steward.training._child` spawned, interpreter start and imports "
            "(pyarrow, numpy, ONNX, ONNX Runtime, Steward), the task pickled over stdin, "
            "`fit` imported, the Parquet parsed, the spec validated",
        ),
        (
            "queue_to_start",
            "**queued → training starts in its process** (the three lines above)",
        ),
        (
            "fit",
            "for reference: the child's `fit()` from `prepare` to `done` (imports "
            "scikit-learn and skl2onnx, fits, exports, checks the export, metrics, profiles)",
        ),
        (
            "done_to_outcome",
            "for reference: child's `done` → outcome back in the worker (metering, the "
            "outcome with the ONNX and profiles pickled over the pipe, child reaped)",
        ),
        (
            "finish_to_registered",
            "**fit finished (outcome received) → model registered**: the `ran in` log line, "
            "governed views of the datasets, lineage and model card built, then one "
            "`model.register` action through the door: policy decision, ONNX encrypted and "
            "stored at the site, model version row, job closed as `succeeded` with its "
            "metering, ledger entry, commit",
        ),
        ("total", "submit called → job `succeeded` (`run_once` returned)"),
        (
            "metered_wall",
            "for reference: the job's metered `wall_seconds` (`run_task` in the child, "
            "after it imported `fit`)",
        ),
        (
            "db_queued_to_started",
            "for reference: `JobInfo.started_at − created_at` (database clock; from the "
            "job row's insert inside submit to its claim)",
        ),
    ]
    rows = []
    for name, what in spans:
        med, p90 = o.stat(name)
        bold = name in ("queue_to_start", "finish_to_registered")
        fmt = (lambda s: f"**{_ms(s)}**") if bold else _ms
        rows.append([what, fmt(med), fmt(p90)])
    lines += _table(["span", "median ms", "p90 ms"], rows)
    lines += [
        "",
        "p90 is by nearest rank over the timed jobs. Almost all of *queued → starts* is "
        "starting a fresh Python process and importing the numeric stack in it: the price "
        "of the `process` executor's isolation, paid once per job whatever its size.",
    ]
    return lines


def _count(tp: ThroughputResult) -> str:
    counts = {len(r) for r in tp.runs.values()}
    n = counts.pop() if len(counts) == 1 else 0
    return f"{n} run{'s' if n != 1 else ''} each" if n else "the runs"


def _times(tp: ThroughputResult) -> str:
    counts = {len(r) for r in tp.runs.values()}
    n = counts.pop() if len(counts) == 1 else 0
    return {0: "a few times", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _reproducibility(runs: list[ThroughputRun]) -> str:
    raw = {r.onnx_sha256 for r in runs}
    canonical = {r.onnx_canonical_sha256 for r in runs}
    metrics = {tuple(sorted(r.metrics.items())) for r in runs}
    if len(raw) == 1:
        onnx = "byte-identical"
    elif len(canonical) == 1:
        onnx = (
            f"{len(raw)} distinct byte strings that are identical once their `opset_import` "
            "entries are put in one order: skl2onnx lists the opsets in an order that follows "
            "Python's string hashing, which differs between processes (`PYTHONHASHSEED`)"
        )
    else:
        onnx = f"**not** identical ({len(canonical)} distinct models)"
    same = "identical" if len(metrics) == 1 else f"**not** identical ({len(metrics)} distinct)"
    return (
        f"Every job trained the same spec on the same data with the same seed. The "
        f"{len(runs)} ONNX exports are {onnx}; their validation metrics are {same} "
        f"(ROC AUC {runs[0].metrics.get('roc_auc', float('nan')):.4f})."
    )


def _throughput_section(tp: ThroughputResult, number: int) -> list[str]:
    runs = [r for rs in tp.runs.values() for r in rs]
    lines = [
        "",
        f"## {number}. Training throughput: {tp.rows:,} rows, `process` and Ray",
        "",
        f"A generated loans table of {tp.rows:,} rows x {tp.columns} columns (seven numeric "
        "features, one with 2% nulls; two categorical ones with 8 and 4 values; a binary "
        "`default`, about 11% positive, that depends on most features, with an interaction "
        f"and a non-linear term), registered with `DatasetService.register` "
        f"({tp.register_seconds:.1f} s; {tp.parquet_bytes / 1e6:,.0f} MB of Parquet). "
        f"Each executor trains it {_times(tp)}, each time as a real "
        "job (`TrainingService.submit` then `Worker(rt, executor).run_once(job_id)`; the "
        "`process` runs first, then Ray's): family `hgb` with Steward's defaults "
        "(`HistGradientBoostingClassifier` with scikit-learn's defaults: at most 100 "
        "iterations, early stopping on 10% of the training rows; 80/20 split; "
        "`resources.cpus: 1`). The metered figures are the job's own "
        "(`TrainingService.job`): wall and cpu-seconds (user + system) of `run_task` in the "
        "process that trained, and that process's peak resident memory (`VmHWM`). *rows/s* "
        f"divides all {tp.rows:,} rows (training and validation) by the metered wall time; "
        "*end to end* by the time from calling submit to the job `succeeded` with its model "
        "registered; *outcome → registered* is the time from the executor returning the "
        "outcome to the job committed as `succeeded` (section "
        f"{number - 1}'s *fit finished → model registered*, for a model of this size).",
        "",
        "- `process`: a fresh `python -m steward.training._child` per job.",
    ]
    if "ray" in tp.runs:
        lines.append(
            f"- Ray {_version('ray')}: a local cluster in the benchmark process, "
            '`ray.init(num_cpus=2, resources={"site:eu-fra": 1}, include_dashboard=False, '
            f"log_to_driver=False)` ({tp.ray_init_seconds or 0:.1f} s, not counted), then "
            "`RayExecutor()`; the task asks for 1 CPU and the site resource. A tiny job ran "
            f"first ({tp.ray_warmup_seconds or 0:.1f} s end to end, not counted) so that, as "
            "on a running cluster, a Ray worker process is up with Steward imported"
            + (f" (it ran in {tp.ray_warmup_where})" if tp.ray_warmup_where else "")
            + ". Ray reuses its worker processes, so a Ray job's peak memory is the "
            "highest its worker reached in any task so far.",
        )
    for name, why in tp.problems.items():
        lines.append(f"- **{name} was NOT measured**: {why}")
    lines.append("")
    rows = []
    for name, rs in tp.runs.items():
        for i, r in enumerate(rs, start=1):
            rows.append(
                [
                    f"`{name}` {i}",
                    f"{r.wall_seconds:.1f}",
                    f"{r.rows_per_second_metered:,.0f}",
                    f"{r.end_to_end:.1f}",
                    f"{r.rows_per_second_end_to_end:,.0f}",
                    _ms(r.outcome_to_registered),
                    f"{r.cpu_seconds:.1f}",
                    f"{r.cpu_seconds / r.wall_seconds:.2f}",
                    _mib(r.peak_memory_bytes),
                    r.where,
                ]
            )
        if len(rs) > 1:
            rows.append(
                [
                    f"**`{name}` median**",
                    f"**{tp.median(name, 'wall_seconds'):.1f}**",
                    f"**{tp.median(name, 'rows_per_second_metered'):,.0f}**",
                    f"**{tp.median(name, 'end_to_end'):.1f}**",
                    f"**{tp.median(name, 'rows_per_second_end_to_end'):,.0f}**",
                    f"**{_ms(tp.median(name, 'outcome_to_registered'))}**",
                    f"**{tp.median(name, 'cpu_seconds'):.1f}**",
                    "",
                    f"**{_mib(int(tp.median(name, 'peak_memory_bytes')))}**",
                    "",
                ]
            )
    lines += _table(
        [
            "executor, run",
            "metered wall s",
            "rows/s (metered)",
            "submit → succeeded s",
            "rows/s (end to end)",
            "outcome → registered ms",
            "cpu-s",
            "cpu-s / wall-s",
            "peak memory",
            "ran in",
        ],
        rows,
    )
    procs = [r for r in tp.runs.get("process", []) if r.phases]
    if procs:
        phases = list(procs[0].phases)
        lines += [
            "",
            "Where the `process` jobs' time went, in seconds (the child's phases as relayed "
            "to the worker; `prepare` includes importing scikit-learn, which a warm Ray "
            "worker has already done):",
            "",
        ]
        lines += _table(
            ["run", *phases],
            [
                [str(i), *(f"{r.phases.get(p, 0.0):.1f}" for p in phases)]
                for i, r in enumerate(procs, start=1)
            ],
        )
    if len(runs) > 1:
        lines += ["", _reproducibility(runs)]
    lines += [
        "",
        "A cpu-s / wall-s ratio above 1 means the fit used more than the one CPU the spec "
        "asks for, below 1 that the process waited (for the CPU, on a shared machine). Ray "
        "sets `OMP_NUM_THREADS` to the task's CPUs; the `process` child limits thread "
        "pools with `threadpool_limits(cpus)`, entered before scikit-learn is imported, "
        "which leaves scikit-learn's OpenMP pool (loaded later) at one thread per core. "
        "OpenMP threads spin at barriers, so on a machine whose other core is busy the "
        "`process` fit can take several times longer than it needs.",
    ]
    return lines


def _latency_section(lat: LatencyResult, number: int) -> list[str]:
    lines = [
        "",
        f"## {number}. Single-row inference: ONNX Runtime against scikit-learn",
        "",
        f"The model: `{lat.model_ref}`, the `process` job's `{lat.estimator}` of the previous "
        f"section ({lat.train_rows:,} training rows, {lat.iterations} boosting iterations; "
        f"{lat.features} inputs: {lat.numeric} numeric, "
        f"{lat.categorical} categorical; {lat.onnx_bytes / 1e3:,.0f} kB of ONNX).",
        "",
        "- **ONNX Runtime** "
        f"{_version('onnxruntime')}: the ONNX exactly as Steward stored it "
        "(`ModelService.onnx`, decrypted), in `onnxruntime.InferenceSession` with one "
        "intra-op and one inter-op thread; each call is `session.run(None, feeds)` where "
        "`feeds` holds one `[1, 1]` array per input (float32, or a string object), as a "
        "server builds it from one request. Both outputs (label and probabilities) are "
        "computed.",
        f"- **scikit-learn** {_version('scikit-learn')}: Steward stores no pickles, so the "
        "benchmark fits the pipeline again with `steward.training.fit`'s own builders "
        "(`_prepare`, `_build_estimator`, `_pipeline`, `_float32_thresholds`, in the order "
        "`fit()` calls them: same columns, float32 casts, split, imputers, encoders, "
        f"estimator, parameters and seed; {lat.refit_seconds:.1f} s). Each call is "
        "`pipeline.predict_proba(df)` where `df = pd.DataFrame([record])` is a one-row "
        f"pandas {_version('pandas')} DataFrame built from a dict of the row's values, as a "
        "scikit-learn user calls a model for one record. It runs under "
        "`threadpool_limits(1)`, like the ONNX session.",
        "- **Same model**: before timing, both give the probabilities of "
        f"{lat.same_rows:,} validation rows in one batch within {lat.same_max_diff:.1e} of "
        f"each other, and of each of the {lat.single_rows:,} one-row inputs timed below "
        f"within {lat.single_max_diff:.1e} (the benchmark stops if either exceeds Steward's "
        "ONNX tolerance of 1e-4).",
        f"- Timing: {lat.onnx.calls:,} calls of each, cycling through those "
        f"{lat.single_rows:,} validation rows (not seen in training), after untimed warm-up "
        "calls; each call is timed with `time.perf_counter`.",
        "",
    ]
    rows = [
        [
            "ONNX Runtime `session.run` (1 row)",
            f"**{_us(lat.onnx.median_ms)}**",
            _us(lat.onnx.p99_ms),
            f"{lat.onnx.calls:,}",
            "1x",
        ],
        [
            "scikit-learn `pipeline.predict_proba` (1-row DataFrame)",
            f"**{_us(lat.sklearn.median_ms)}**",
            _us(lat.sklearn.p99_ms),
            f"{lat.sklearn.calls:,}",
            f"**{lat.ratio:,.0f}x** slower (p99 {lat.p99_ratio:,.0f}x)",
        ],
        [
            "diagnostic: the bare estimator's `predict_proba` on a row already encoded "
            "(numpy, 1 x features)",
            _us(lat.estimator_only.median_ms),
            _us(lat.estimator_only.p99_ms),
            f"{lat.estimator_only.calls:,}",
            f"{lat.estimator_only.median_ms / lat.onnx.median_ms:,.0f}x",
        ],
    ]
    lines += _table(["per single row", "median µs", "p99 µs", "calls", "vs ONNX (median)"], rows)
    lines += [
        "",
        f"ONNX Runtime is **{lat.ratio:,.0f}x** faster per single row at the median "
        f"(aim: at least {ONNX_AIM_RATIO:g}x): {_met(lat.ratio >= ONNX_AIM_RATIO)}. The "
        "diagnostic row shows how much of scikit-learn's time is the pipeline around the "
        "estimator (DataFrame validation, column selection, imputers, encoder) rather than "
        "the trees.",
    ]
    return lines


def training_sections(t: TrainingResult | None, number: int) -> list[str]:
    lines: list[str] = []
    t = t or TrainingResult(problems={"all": "not run"})
    why = t.problems.get("all", "not run")
    if t.overhead is not None:
        lines += _overhead_section(t.overhead, number)
    else:
        lines += ["", f"## {number}. Training job overhead", "", f"NOT MEASURED: {why}"]
    if t.throughput is not None:
        lines += _throughput_section(t.throughput, number + 1)
    else:
        lines += ["", f"## {number + 1}. Training throughput", "", f"NOT MEASURED: {why}"]
    if t.latency is not None:
        lines += _latency_section(t.latency, number + 2)
    else:
        lines += [
            "",
            f"## {number + 2}. Single-row inference",
            "",
            f"NOT MEASURED: {t.problems.get('latency', why)}",
        ]
    return lines
