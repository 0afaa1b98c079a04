"""The cost part of docs/benchmarks.md: metering overhead per prediction and report times."""

from __future__ import annotations

from cost_bench import (
    AIM_OVERHEAD,
    BACKEND_NAMES,
    ISSUE_TIMINGS,
    SLOW_SECONDS,
    CostBenchResult,
    EndToEndRun,
    FlushRun,
    ReportRun,
)
from machine import cpu_model
from mdtable import met as _met
from mdtable import table as _table
from serving_bench import ENDPOINT

__all__ = ["cost_aims", "cost_sections"]

NO_AIM = "measured (no aim given)"
OVERHEAD_AIM = "metering overhead per prediction at serving speed under 2% of serving throughput"
REPORT_AIM = "report time for one year of records for 50 teams"
#: Server CPU per request of ``steward server`` under load (docs/benchmarks.md section 12).
SERVER_CPU_MS = (0.64, 0.82)
#: The stream consumer's batch the aim is also judged at (its fastest, section 13).
STREAM_BATCH = 64
#: What serving at speed looks like on each path.
PATHS = {
    "http": "HTTP serving: the log flushes up to 2,000 answers at a time",
    "stream": f"stream serving: batches of {STREAM_BATCH}, one flush each",
}


def _pct(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 100:.3f}%" if x < 0.01 else f"{x * 100:.2f}%" if x < 1 else f"{x * 100:,.0f}%"


def _s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:,.1f}"


def _us(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def _range(values: list[float], fmt: str = "{:.3f}") -> str:
    if not values:
        return "—"
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _flush(r: CostBenchResult, backend: str, path: str) -> FlushRun | None:
    """The flush at serving speed on ``path`` (http: the largest batch; stream: 64)."""
    runs = [f for f in r.flush if f.backend == backend]
    if path == "stream":
        return next((f for f in runs if f.batch == STREAM_BATCH), None)
    return max(runs, key=lambda f: f.batch, default=None)


def _e2e(r: CostBenchResult, path: str) -> EndToEndRun | None:
    batch = 1 if path == "http" else STREAM_BATCH
    return next((x for x in r.e2e if x.mode == path and x.batch == batch), None)


def _ok(r: CostBenchResult, f: FlushRun) -> bool:
    share = r.overhead_share(f)
    return share is not None and share < AIM_OVERHEAD


def cost_aims(r: CostBenchResult | None) -> list[list[str]]:
    """Rows for an aims table: (aim, backend, measured, verdict)."""
    if r is None:
        return []
    rows: list[list[str]] = []
    for path, where in PATHS.items():
        aim = f"{OVERHEAD_AIM} ({where})"
        for backend, name in BACKEND_NAMES.items():
            f = _flush(r, backend, path)
            if f is None:
                why = r.problems.get(backend, "not run")
                rows.append([aim, name, f"not measured: {why}", "**not measured**"])
                continue
            measured = (
                f"the meter hook: {_us(f.per_prediction_us)} µs per prediction in a flush of "
                f"{f.batch:,} = {_pct(r.overhead_share(f))} of serving's "
                f"{r.serving_cpu_us or 0:,.0f} µs CPU per request (in process)"
            )
            e2e = _e2e(r, path)
            if backend == "sqlite" and e2e is not None and e2e.ratios:
                measured += (
                    f"; end to end, throughput on/off {_median(e2e.ratios):.3f} (95% interval "
                    f"{_range(list(e2e.ratio_ci))}, {len(e2e.ratios)} pairs)"
                )
            rows.append([aim, name, measured, _met(_ok(r, f))])
    for backend, name in BACKEND_NAMES.items():
        run = next((x for x in r.reports if x.backend == backend), None)
        if run is None or not run.timings:
            why = (run.problem if run else None) or r.problems.get(backend, "not run")
            rows.append([REPORT_AIM, name, f"not measured: {why}", "**not measured**"])
            continue
        named = [(ISSUE_TIMINGS[t.key], t) for t in run.timings if t.key in ISSUE_TIMINGS]
        parts = [f"{label} {_s(t.median)} s" for label, t in named]
        slow = [t for _, t in named if t.slow]
        measured = (
            f"{run.records:,} records ({r.teams} teams x {r.days} days), medians: "
            + "; ".join(parts)
        )
        if slow:
            measured += f" (**{len(slow)} over {SLOW_SECONDS:g} s**)"
        rows.append([REPORT_AIM, name, measured, NO_AIM])
    return rows


# -- tables ------------------------------------------------------------------------------------
def _flush_rows(r: CostBenchResult) -> list[list[str]]:
    out = []
    for f in r.flush:
        lo, hi = f.paired_ci_ms
        share = _pct(r.overhead_share(f))
        judged = f in (_flush(r, f.backend, "http"), _flush(r, f.backend, "stream"))
        out.append(
            [
                BACKEND_NAMES[f.backend],
                f"{f.batch:,}",
                f"{_median(f.without_ms):.2f}",
                f"{_median(f.with_ms):.2f}",
                f"{f.diff_ms:+.2f} / {f.diff_cpu_ms:+.2f}",
                f"{_median(f.hook_ms):.2f} / {_median(f.hook_cpu_ms):.2f}",
                f.measure,
                f"**{_us(f.per_prediction_us)}**",
                f"{_us(f.paired_per_prediction_us)} ({_us(lo * 1e3 / f.batch)} to "
                f"{_us(hi * 1e3 / f.batch)})",
                f"**{share}**" if judged else share,
                str(f.pairs),
            ]
        )
    return out


def _e2e_rows(runs: list[EndToEndRun]) -> list[list[str]]:
    return [
        [
            run.label,
            f"{run.requests:,}",
            f"{_median(run.off_rates):,.0f}",
            f"{_median(run.on_rates):,.0f}",
            f"**{_median(run.ratios):.3f}** ({_range(run.ratios)}; {_range(list(run.ratio_ci))})",
            f"{_median(run.off_cpu_us):,.0f}",
            f"{_median(run.on_cpu_us):,.0f}",
            f"{_median(run.cpu_ratios):.3f} ({_range(run.cpu_ratios)})",
            str(len(run.ratios)),
        ]
        for run in runs
    ]


def _timing_rows(runs: list[ReportRun]) -> list[list[str]]:
    out = []
    for run in runs:
        for t in run.timings:
            median = f"**{_s(t.median)}**"
            if t.slow:
                median += " (over 1 s)"
            out.append(
                [
                    t.what,
                    BACKEND_NAMES[run.backend],
                    median,
                    _range(t.times),
                    _s(t.first),
                    f"{t.rows:,} {t.unit}",
                    str(len(t.times)),
                ]
            )
    return out


# -- 1: metering overhead ------------------------------------------------------------------------
def _overhead_lines(r: CostBenchResult, number: int) -> list[str]:
    lines = [
        "",
        f"### {number}.1 Metering overhead per prediction",
        "",
        f"**The model**: `{r.model_ref}`, the serving benchmark's, built the governed way on a "
        "fresh home (HMDA, a `linear` model trained as a job, validated and approved by bob, "
        f"deployed by admin to endpoint `{ENDPOINT}`); alice calls it in this process, one "
        "HMDA holdout row per request. Serving meters in the prediction log's flush: "
        "`PredictionLog.write` calls `ServingService._meter` in its transaction, which adds "
        "the flushed answers' model seconds to one hourly cost record per endpoint, model and "
        "source (one upsert each; here one per flush).",
        "",
        "**The flush**: real `Scored` entries, captured from `predict_records`, written by "
        "two `PredictionLog`s on the same store, one with the meter hook and one with "
        "`meter=None`, each write under fresh request ids (new log rows, as in service), "
        "interleaved pair by pair with the order alternating, after one untimed write each. "
        "2,000 entries is a flush at serving speed on the HTTP path (`serving.log_batch` is "
        "2,000: a server answering 2,000 requests a second writes that each second, sooner "
        "at higher rates); 64 and 1 are the stream consumer's batches, each a flush of its "
        "own. Two measures of what metering adds: the **paired difference** (with − "
        "without; its median, with a 95% bootstrap interval), as asked, and the **hook's "
        "own time** inside the metered flush (its median). Both are counted in CPU time of "
        "this thread on SQLite (SQLite works in this thread, so that is all the CPU it "
        "adds) and in wall time on PostgreSQL (this thread's CPU, the server's work and the "
        "round trip: an upper bound on the CPU); both are shown. A flush of 2,000 varies by "
        "tens of milliseconds from one write to the next (the log's own insert, on a shared "
        "machine), so its paired difference cannot resolve a few milliseconds; the hook's "
        "time can, and it is all metering does in the flush but for committing one more "
        "row. So **the overhead per prediction is the hook's time over the entries of the "
        "flush**; the paired figure is shown beside it.",
        "",
    ]
    lines += _table(
        [
            "backend",
            "predictions per flush",
            "flush without meter ms",
            "flush with meter ms",
            "paired difference ms, wall / CPU (median)",
            "hook alone ms, wall / CPU (median)",
            "counted in",
            "µs per prediction: hook",
            "µs per prediction: paired (95% interval)",
            "share of serving CPU per request",
            "pairs",
        ],
        _flush_rows(r),
    )
    lines += [
        "",
        _denominator(r),
        "",
        "**End to end** (SQLite): closed loops in this process with the log's meter hook on "
        "and off (`serving.log._meter = None`), interleaved pair by pair with the order "
        "alternating, after one short untimed loop each. `predict_records` is the HTTP path "
        "without HTTP: the answer is handed to the log's buffer and a background thread "
        "flushes every second or at 2,000 rows; the final flush is inside the timed window. "
        "`score_many` is the stream path: it writes the log (and meters) before it returns. "
        "CPU is the process's (all threads) per request.",
        "",
    ]
    lines += _table(
        [
            "loop",
            "requests per repeat",
            "req/s metering off",
            "req/s metering on",
            "throughput on/off: median (range over pairs; 95% interval of the median)",
            "CPU µs/req off",
            "CPU µs/req on",
            "CPU on/off (median, range)",
            "pairs",
        ],
        _e2e_rows(r.e2e),
    )
    lines += ["", *_overhead_verdict(r)]
    return lines


def _denominator(r: CostBenchResult) -> str:
    cpu = r.serving_cpu_us
    if not cpu:
        return "*Serving CPU per request*: not measured (the end-to-end loop did not run)."
    text = (
        f"*Serving CPU per request* is {cpu:,.0f} µs: the median process CPU per request of "
        "the end-to-end `predict_records` loop below with metering off (in process, no HTTP: "
        "less than a server spends per request, so the shares are upper bounds). "
        f"`steward server` under load used {SERVER_CPU_MS[0]:.2f}–{SERVER_CPU_MS[1]:.2f} ms "
        "of CPU per request (section 12's table, not measured in this run)"
    )
    f = _flush(r, "sqlite", "http")
    if f is None:
        return text + "."
    lo = f.per_prediction_us / (SERVER_CPU_MS[1] * 1e3)
    hi = f.per_prediction_us / (SERVER_CPU_MS[0] * 1e3)
    return text + f"; against that, SQLite's flush of {f.batch:,} is {_pct(lo)}–{_pct(hi)}."


def _verdict(r: CostBenchResult, path: str) -> str:
    parts = []
    for backend, name in BACKEND_NAMES.items():
        f = _flush(r, backend, path)
        if f is None:
            continue
        lo, hi = f.paired_ci_ms
        parts.append(
            f"{name} {_us(f.per_prediction_us)} µs per prediction "
            f"({_pct(r.overhead_share(f))}; the paired difference "
            f"{_us(f.paired_per_prediction_us)} µs, 95% interval {_us(lo * 1e3 / f.batch)} "
            f"to {_us(hi * 1e3 / f.batch)} µs): {_met(_ok(r, f))}"
        )
    return f"**{PATHS[path][0].upper()}{PATHS[path][1:]}**: " + "; ".join(parts) + "."


def _overhead_verdict(r: CostBenchResult) -> list[str]:
    if not r.flush:
        return ["**Not measured**: " + r.problems.get("sqlite", "not run")]
    out = [
        f"**The aim** (under {AIM_OVERHEAD:.0%} of serving throughput) is judged on the "
        "meter hook's time per prediction in a flush at serving speed, as a share of "
        "serving's CPU per request (serving at its limit is CPU-bound, so throughput falls "
        "by that share), on both paths:",
        "",
        "- " + _verdict(r, "http"),
        "- " + _verdict(r, "stream"),
        "",
        "The hook costs the same per flush whatever the number of answers in it (one "
        "upsert per endpoint, model and source): the HTTP path spreads it over up to 2,000 "
        "answers, the stream path pays it for every batch it is handed.",
    ]
    for path in PATHS:
        run = _e2e(r, path)
        if run is not None and run.ratios:
            out += ["", _e2e_verdict(run, _flush(r, "sqlite", path), r)]
    return out


def _e2e_verdict(run: EndToEndRun, f: FlushRun | None, r: CostBenchResult) -> str:
    lo, hi = run.ratio_ci
    mid = _median(run.ratios)
    text = (
        f"End to end, {run.label}: throughput with metering {mid:.3f}x that without "
        f"(median of {len(run.ratios)} pairs, 95% interval {lo:.3f}–{hi:.3f}; CPU per "
        f"request {_median(run.cpu_ratios):.3f}x). "
    )
    share = r.overhead_share(f) if f is not None else None
    predicted = None if share is None else share / (1 + share)  # the throughput lost
    hook = "" if predicted is None else f"the hook's time predicts a loss of {predicted:.1%}"
    if lo <= 1 <= hi:
        return text + (
            f"The interval includes no change and is {hi - lo:.1%} wide: on this shared "
            "machine the closed loop cannot resolve an effect this small"
            + (f" ({hook})" if hook else "")
            + "; it is reported, not judged on."
        )
    if hi < 1:
        text += f"A loss of {1 - mid:.1%} (95% interval {1 - hi:.1%}–{1 - lo:.1%})"
        if predicted is None:
            return text + "."
        if predicted < 1 - hi:
            return text + (
                f", more than the hook's time accounts for ({hook}): metering costs the "
                "stream path more end to end than inside the flush."
            )
        return text + (
            f", a wide interval that includes what the hook's time predicts ({predicted:.1%})."
        )
    return text + "A gain, which metering cannot cause: the noise of the machine."


# -- 2: reports ------------------------------------------------------------------------------------
def _reports_lines(r: CostBenchResult, number: int) -> list[str]:
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(r.records_by_kind.items()))
    lines = [
        "",
        f"### {number}.2 Report time for one year of records, {r.teams} teams",
        "",
        f"**The records**: {r.records:,} cost records ({kinds}) for {r.teams} teams over "
        f"{r.days} days ({r.first_day} to {r.until}, exclusive), generated seeded by "
        "`team_records` in `bench/cost_bench.py` as metering writes them: per team and day, "
        "a Poisson number of training jobs (cpu and memory records, a GPU record for a "
        "fifth of the teams; fewer at weekends), validations, one inference record per hour "
        "for each of the team's 1–3 endpoints (one of three is a stream; a daily and weekly "
        "cycle, growth over the year, a new model version every 1–4 months), one storage "
        "record and, now and then, egress; injected anomalies (runaway training jobs, "
        "one-day inference bursts). Two thirds of the teams are at eu-fra, a third at "
        "us-east; each has a monthly budget. They are bulk-inserted into `cost_records` (one "
        'transaction per team, inside `governed_writes("bench")`) on a fresh SQLite home '
        "and on a throw-away PostgreSQL database; PostgreSQL then gets `ANALYZE "
        "cost_records` (what autovacuum does after such a load); SQLite gets nothing, as "
        "Steward runs no `ANALYZE` there.",
        "",
    ]
    facts = [
        [
            BACKEND_NAMES[run.backend],
            run.server,
            f"{run.records:,}",
            f"{run.load_seconds:.1f}",
            f"{run.records / run.load_seconds:,.0f}" if run.load_seconds else "—",
            "—" if run.table_mib is None else f"{run.table_mib:,.0f}",
            "yes" if run.reconciles else "**NO**",
        ]
        for run in r.reports
    ]
    lines += _table(
        [
            "backend",
            "server",
            "records",
            "insert s",
            "records/s",
            "size MiB (SQLite: file; PostgreSQL: table and indexes)",
            "report by team adds up to the records",
        ],
        facts,
    )
    lines += [
        "",
        "**The queries**, through `CostService` as admin (the period is the year: `since` "
        f"{r.first_day}, `until` {r.until}): reports group in SQL (one aggregate); "
        "`forecast(team=...)` reads the last 180 days' daily totals and fits the forecast "
        "(Holt–Winters with a weekly season), `anomalies(team=...)` the last 90 days'. Each "
        "is run once untimed (*first*), then repeated; the all-teams row runs both for "
        "every team one after another.",
        "",
    ]
    lines += _table(
        ["query", "backend", "median s", "range s", "first s", "answer", "repeats"],
        _timing_rows(r.reports),
    )
    slow = [(run, t) for run in r.reports for t in run.timings if t.slow and not t.diagnostic]
    lines.append("")
    if slow:
        lines.append(
            f"**Over {SLOW_SECONDS:g} s**: "
            + "; ".join(f"{t.what} on {BACKEND_NAMES[run.backend]}" for run, t in slow)
            + "."
        )
    else:
        lines.append(f"Every query answers in under {SLOW_SECONDS:g} s (median).")
    lines += _blas_lines(r)
    for run in r.reports:
        if run.problem:
            lines.append(f"**{BACKEND_NAMES[run.backend]}**: {run.problem}.")
    return lines


def _blas_lines(r: CostBenchResult) -> list[str]:
    """What the forecasts' time is made of, and the OpenBLAS diagnostic, per backend."""
    out = []
    for run in r.reports:
        by_key = {t.key: t for t in run.timings}
        day, fc = by_key.get("by_day"), by_key.get("forecast")
        if day is None or fc is None or not fc.median:
            continue
        text = (
            f"{BACKEND_NAMES[run.backend]}: a team's forecast takes {_s(fc.median)} s, of "
            f"which reading its daily series is about the by-day report's {_s(day.median)} s; "
            "the rest is the fit."
        )
        pairs = [
            (by_key[k], by_key[f"{k}_1blas"])
            for k in ("one_team", "all_teams")
            if k in by_key and f"{k}_1blas" in by_key and by_key[k].median
        ]
        if pairs:
            helped = any(b.median < 0.8 * a.median for a, b in pairs)
            text += (
                " With OpenBLAS held to one thread: "
                + ", ".join(
                    f"{b.median / a.median:.2f}x the time for {ISSUE_TIMINGS[a.key]}"
                    for a, b in pairs
                )
                + (
                    " (faster in this run: OpenBLAS's threads can contend for the two cores "
                    "when the machine is busy)."
                    if helped
                    else " (not faster in this run)."
                )
            )
        out.append(text)
    if not out:
        return []
    return [
        "",
        "The forecasts' time is the fit (statsmodels' Holt–Winters, whose optimiser is "
        "scipy's L-BFGS-B over OpenBLAS), not the database. The OpenBLAS rows hold it to one "
        "thread (threadpoolctl), as a diagnostic, run after the others. " + " ".join(out),
    ]


def cost_sections(r: CostBenchResult | None, number: int) -> list[str]:
    title = f"## {number}. Cost: metering overhead and reports"
    if r is None:
        return ["", title, "", "NOT MEASURED: not run"]
    lines = [
        "",
        title,
        "",
        "Run alone with `.venv/bin/python bench/cost_bench.py` (it prints this section); it "
        f"took {r.seconds:.0f} s on {cpu_model()}, 2 cores. Machine load (1/5/15 min) "
        f"before {r.load_before}, after {r.load_after}.",
    ]
    if r.quick:
        lines += ["", "*A quick run (`--quick`): scaled down, not for the docs.*"]
    for backend, problem in sorted(r.problems.items()):
        lines += ["", f"{BACKEND_NAMES.get(backend, backend)} NOT MEASURED: {problem}"]
    lines += _overhead_lines(r, number)
    lines += _reports_lines(r, number)
    return lines


if __name__ == "__main__":
    import argparse
    import pickle
    from pathlib import Path

    from mdtable import table

    parser = argparse.ArgumentParser(description="Render a result saved by cost_bench.py --save")
    parser.add_argument("saved", type=Path)
    parser.add_argument("--number", type=int, default=15, help="the section's number")
    args = parser.parse_args()
    result = pickle.loads(args.saved.read_bytes())  # a file this benchmark wrote
    print("\n".join(cost_sections(result, args.number)))
    print()
    print("\n".join(table(["aim", "backend", "measured", "verdict"], cost_aims(result))))
