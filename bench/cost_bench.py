"""Cost: what metering adds to serving, and how long cost reports take over a year of records.

**Metering overhead.** Serving meters in the prediction log's flush: ``PredictionLog.write``
calls ``ServingService._meter`` in its transaction, which adds the flushed answers' model
seconds to one hourly cost record per endpoint, model and source (one upsert each). The
model is the serving benchmark's, built the governed way (HMDA, a ``linear`` model
trained as a job, validated and approved by bob, deployed by admin to ``credit``). Two
measurements:

- **the flush** (SQLite and PostgreSQL): real ``Scored`` entries (captured from
  ``predict_records``, one HMDA holdout row each) written by two ``PredictionLog``s on the
  same store, one with the meter hook and one without (``meter=None``), each write with
  fresh request ids, interleaved pair by pair (the order alternating), at 2,000 entries
  per flush (``serving.log_batch``: what a server answering 2,000 requests a second writes
  each second) and at the stream consumer's batches of 64 and 1. Two figures: the median
  of the paired differences, and the hook's own time inside the flush (which the verdict
  is on: the paired difference of a 2,000-row flush is too noisy to resolve it); each
  divided by the entries of the flush, in this thread's CPU on SQLite and in wall time
  on PostgreSQL (whose work is in the server);
- **end to end** (SQLite): in-process closed loops of ``predict_records`` (one record per
  call, the HTTP path: the log's background thread flushes every second or at 2,000 rows,
  and the final flush is inside the timed window) and of ``score_many`` (the stream path:
  the log written before it returns) at 64 and 1 requests per call, with the log's meter
  hook on and off (``serving.log._meter = None``), interleaved pair by pair.

**Reports.** One year (365 days up to yesterday) of cost records for 50 teams, generated
seeded (:func:`team_records`) and bulk-inserted into ``cost_records`` (one transaction
per team, inside ``governed_writes("bench")``), on a fresh SQLite home and on a
throw-away PostgreSQL database; then ``CostService.report`` by team, by team and kind,
and by day for one team, and ``forecast`` + ``anomalies`` for one team and for all 50,
each once untimed (the first run) and then repeated.

Run alone with ``.venv/bin/python bench/cost_bench.py [--quick]``: it prints the section.
"""

from __future__ import annotations

import calendar
import gc
import itertools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from backends import DEFAULT_PG_ADMIN_URL, _env, _pg_database, pg_problem, pg_settings
from machine import load_average
from serving_bench import ENDPOINT, SUITE, TRAIN_ROWS, deploy_credit_model, hmda
from steward.config import init_home
from steward.cost import CostService
from steward.datasets.mask import derive_key
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.serving.log import PredictionLog, Scored
from steward.store import CostRecord, governed_writes

__all__ = [
    "AIM_OVERHEAD",
    "ISSUE_TIMINGS",
    "SLOW_SECONDS",
    "CostBenchResult",
    "EndToEndRun",
    "FlushRun",
    "ReportRun",
    "Sizes",
    "Timed",
    "bench_cost",
    "median_interval",
    "team_records",
]

ADMIN = Principal("admin")
ALICE = Principal("alice")
AIM_OVERHEAD = 0.02  # metering under 2% of serving throughput
SLOW_SECONDS = 1.0  # a report slower than this is called slow
SEED = 2026
#: The timings the issue asks for, with a short name each (the others are breakdowns and
#: diagnostics).
ISSUE_TIMINGS = {
    "by_team": "by team",
    "by_team_kind": "by team and kind",
    "by_day": "by day for one team",
    "one_team": "forecast + anomalies for one team",
    "all_teams": "forecast + anomalies for every team",
}
BACKENDS = ("sqlite", "postgresql")
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does; ``quick`` scales everything down."""

    teams: int = 50
    days: int = 365
    flush_batches: tuple[int, ...] = (2000, 64, 1)
    flush_pairs: tuple[int, ...] = (60, 200, 400)  # with/without pairs per batch size
    e2e_pairs: int = 12
    e2e_requests: tuple[int, ...] = (6000, 3840, 400)  # HTTP path, stream 64, stream 1
    report_repeats: int = 5
    all_teams_repeats: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            teams=5,
            days=60,
            flush_pairs=(6, 30, 60),
            e2e_pairs=2,
            e2e_requests=(2000, 1280, 200),
            report_repeats=2,
            all_teams_repeats=1,
        )


# -- results ---------------------------------------------------------------------------------
def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def median_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """A bootstrap interval (2,000 resamples, seeded) of the median of ``values``."""
    a = np.asarray(values, dtype=float)
    if a.size < 2:
        m = _median(values)
        return m, m
    medians = np.median(np.random.default_rng(SEED).choice(a, size=(2000, a.size)), axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(medians, tail)), float(np.percentile(medians, 100 - tail))


@dataclass
class FlushRun:
    """``PredictionLog.write`` of ``batch`` entries with and without the meter hook."""

    backend: str
    batch: int
    source: str
    with_ms: list[float] = field(default_factory=list)  # wall, per flush
    without_ms: list[float] = field(default_factory=list)
    with_cpu_ms: list[float] = field(default_factory=list)  # this thread's CPU
    without_cpu_ms: list[float] = field(default_factory=list)
    hook_ms: list[float] = field(default_factory=list)  # the hook alone, inside the flush
    hook_cpu_ms: list[float] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        return len(self.with_ms)

    @property
    def measure(self) -> str:
        """What the overhead is counted in: SQLite works in this thread, so its CPU time
        is all of it; PostgreSQL's work is in the server, so wall time (this thread's CPU,
        the server's work and the round trip: an upper bound on the CPU)."""
        return "CPU" if self.backend == "sqlite" else "wall"

    def _diffs(self, measure: str) -> list[float]:
        a, b = (
            (self.with_cpu_ms, self.without_cpu_ms)
            if measure == "CPU"
            else (self.with_ms, self.without_ms)
        )
        return [x - y for x, y in zip(a, b, strict=True)]

    @property
    def diff_ms(self) -> float:
        """Median of the paired differences (with − without), wall."""
        return _median(self._diffs("wall"))

    @property
    def diff_cpu_ms(self) -> float:
        return _median(self._diffs("CPU"))

    @property
    def paired_ms(self) -> float:
        """Median of the paired differences, in :attr:`measure`."""
        return _median(self._diffs(self.measure))

    @property
    def paired_ci_ms(self) -> tuple[float, float]:
        """A 95% bootstrap interval of :attr:`paired_ms`."""
        return median_interval(self._diffs(self.measure))

    @property
    def hook_cost_ms(self) -> float:
        """The hook's own time inside the flush (median), in :attr:`measure`."""
        return _median(self.hook_cpu_ms if self.measure == "CPU" else self.hook_ms)

    @property
    def per_prediction_us(self) -> float:
        """The hook's cost per prediction: what the verdict is on."""
        return self.hook_cost_ms * 1e3 / self.batch

    @property
    def paired_per_prediction_us(self) -> float:
        return self.paired_ms * 1e3 / self.batch


@dataclass
class EndToEndRun:
    """Closed loop in-process, meter hook on and off, interleaved pair by pair."""

    mode: str  # http | stream
    batch: int  # requests per call (HTTP path: 1)
    requests: int  # per repeat
    on_rates: list[float] = field(default_factory=list)  # requests/s
    off_rates: list[float] = field(default_factory=list)
    on_cpu_us: list[float] = field(default_factory=list)  # process CPU per request
    off_cpu_us: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """Throughput with metering over without, per pair."""
        return [a / b for a, b in zip(self.on_rates, self.off_rates, strict=True) if b]

    @property
    def ratio_ci(self) -> tuple[float, float]:
        """A 95% bootstrap interval of the median of :attr:`ratios`."""
        return median_interval(self.ratios)

    @property
    def cpu_ratios(self) -> list[float]:
        """CPU per request with metering over without, per pair."""
        return [a / b for a, b in zip(self.on_cpu_us, self.off_cpu_us, strict=True) if b]

    @property
    def label(self) -> str:
        if self.mode == "http":
            return "`predict_records`, 1 record per call (HTTP path, flush each 1 s)"
        return f"`score_many`, {self.batch} request(s) per call (stream path)"


@dataclass
class Timed:
    key: str  # one of TIMINGS; a diagnostic's ends in "_1blas"
    what: str
    first: float  # seconds, the first (untimed) run
    times: list[float] = field(default_factory=list)  # seconds, the repeats
    rows: int = 0  # report rows, or anomalies found
    unit: str = "rows"

    @property
    def diagnostic(self) -> bool:
        return self.key.endswith("_1blas")

    @property
    def median(self) -> float:
        return _median(self.times)

    @property
    def slow(self) -> bool:
        return self.median > SLOW_SECONDS


@dataclass
class ReportRun:
    backend: str
    server: str = ""
    records: int = 0
    load_seconds: float = 0.0
    table_mib: float | None = None
    timings: list[Timed] = field(default_factory=list)
    reported_records: int = 0
    reported_total: float = 0.0
    generated_total: float = 0.0
    anomalies_found: int = 0  # all teams, one run
    problem: str | None = None

    @property
    def reconciles(self) -> bool:
        return self.reported_records == self.records and abs(
            self.reported_total - self.generated_total
        ) <= 1e-6 * max(1.0, self.generated_total)


@dataclass
class CostBenchResult:
    quick: bool
    teams: int
    days: int
    first_day: date
    until: date  # exclusive (today)
    model_ref: str = ""
    records_by_kind: dict[str, int] = field(default_factory=dict)
    flush: list[FlushRun] = field(default_factory=list)
    e2e: list[EndToEndRun] = field(default_factory=list)
    reports: list[ReportRun] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(self.records_by_kind.values())

    def http(self) -> EndToEndRun | None:
        return next((r for r in self.e2e if r.mode == "http"), None)

    @property
    def serving_cpu_us(self) -> float | None:
        """In-process serving CPU per request, metering off (the HTTP path)."""
        run = self.http()
        return _median(run.off_cpu_us) if run and run.off_cpu_us else None

    def overhead_share(self, f: FlushRun) -> float | None:
        """Metering's time per prediction over serving's CPU per request."""
        cpu = self.serving_cpu_us
        return f.per_prediction_us / cpu if cpu else None


# -- runtimes --------------------------------------------------------------------------------
def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _team(i: int) -> str:
    return f"team-{i:02d}"


def team_names(n: int) -> list[str]:
    return [_team(i) for i in range(n)]


@contextmanager
def _runtime(
    backend: str, pg_admin_url: str, edit: Callable[[dict[str, Any]], None]
) -> Iterator[Runtime]:
    """A runtime on a fresh home whose configuration ``edit`` changed before it opened."""
    with (
        tempfile.TemporaryDirectory(prefix=f"steward-cost-bench-{backend}-") as tmp,
        ExitStack() as st,
    ):
        url = st.enter_context(_pg_database(pg_admin_url)) if backend == "postgresql" else None
        st.enter_context(_env("STEWARD_DATABASE_URL", url))
        home = init_home(Path(tmp) / "home")
        cfg = yaml.safe_load(home.config_path.read_text())
        edit(cfg)
        home.config_path.write_text(yaml.safe_dump(cfg))
        rt = Runtime.open(home)
        try:
            yield rt
        finally:
            rt.close()


def _with_suite(cfg: dict[str, Any]) -> None:
    cfg["gates"] = {"suites": {ENDPOINT: SUITE}}


# -- metering overhead: the flush --------------------------------------------------------------
class _TimedHook:
    """The meter hook, timing its last call."""

    def __init__(self, hook: Callable[[Session, Sequence[Scored]], None]) -> None:
        self.hook = hook
        self.wall = 0.0
        self.cpu = 0.0

    def __call__(self, s: Session, entries: Sequence[Scored]) -> None:
        w, c = time.perf_counter(), time.thread_time()
        self.hook(s, entries)
        self.wall, self.cpu = time.perf_counter() - w, time.thread_time() - c


class _Capture:
    """Stands in for the prediction log to keep what the request path hands it."""

    def __init__(self) -> None:
        self.entries: list[Scored] = []

    def add(self, entry: Scored) -> None:
        self.entries.append(entry)

    def count(self, *_: Any) -> None:
        return None

    def write(self, entries: Sequence[Scored], *_: Any) -> int:
        self.entries.extend(entries)
        return 0


def _holdout_rows() -> list[dict[str, Any]]:
    table = hmda()
    return [
        {k: v for k, v in r.items() if k != "deny"} for r in table.slice(TRAIN_ROWS).to_pylist()
    ]


def _scored(serving: ServingService, rows: list[dict[str, Any]], n: int) -> list[Scored]:
    """``n`` real entries as ``predict_records`` hands them to the log, one row each."""
    capture = _Capture()
    real, serving.log = serving.log, capture  # type: ignore[assignment]
    try:
        for i in range(n):
            serving.predict_records(ALICE, ENDPOINT, [rows[i % len(rows)]])
    finally:
        serving.log = real
    return capture.entries


def _fresh(entries: list[Scored], source: str, tag: str) -> list[Scored]:
    """The entries again under new request ids (a flush of rows not logged yet)."""
    return [replace(e, request_id=f"{tag}-{i}", source=source) for i, e in enumerate(entries)]


def bench_flush(
    rt: Runtime,
    serving: ServingService,
    entries: list[Scored],
    backend: str,
    sz: Sizes,
    log: Callable[[str], None],
) -> list[FlushRun]:
    key = derive_key(rt.home.master_key(), "pseudonym")
    hook = _TimedHook(serving._meter)
    with_meter = PredictionLog(rt.store, rt.config.serving, key, CollectorRegistry(), hook)
    without = PredictionLog(rt.store, rt.config.serving, key, CollectorRegistry(), None)
    out = []
    serial = itertools.count()
    for batch, pairs in zip(sz.flush_batches, sz.flush_pairs, strict=True):
        source = "http" if batch >= 2000 else "stream"
        run = FlushRun(backend=backend, batch=batch, source=source)
        some = entries[:batch]
        # warm-up: the hour's cost record exists and the statements are cached
        with_meter.write(_fresh(some, source, f"flush-{next(serial)}"))
        without.write(_fresh(some, source, f"flush-{next(serial)}"))
        for p in range(pairs):
            order = [(True, with_meter), (False, without)]
            for metered, plog in order if p % 2 == 0 else order[::-1]:
                flushed = _fresh(some, source, f"flush-{next(serial)}")
                gc.collect()
                w, c = time.perf_counter(), time.thread_time()
                plog.write(flushed)
                wall, cpu = time.perf_counter() - w, time.thread_time() - c
                if metered:
                    run.with_ms.append(wall * 1e3)
                    run.with_cpu_ms.append(cpu * 1e3)
                    run.hook_ms.append(hook.wall * 1e3)
                    run.hook_cpu_ms.append(hook.cpu * 1e3)
                else:
                    run.without_ms.append(wall * 1e3)
                    run.without_cpu_ms.append(cpu * 1e3)
        log(
            f"[cost] {BACKEND_NAMES[backend]} flush of {batch:,}: "
            f"{_median(run.without_ms):.2f} ms without; hook alone {run.hook_cost_ms:.3f} ms "
            f"{run.measure} ({run.per_prediction_us:.3f} µs per prediction), paired "
            f"difference {run.paired_ms:+.3f} ms"
        )
        out.append(run)
    return out


# -- metering overhead: end to end -------------------------------------------------------------
def bench_e2e(
    serving: ServingService, rows: list[dict[str, Any]], sz: Sizes, log: Callable[[str], None]
) -> list[EndToEndRun]:
    hook = serving.log._meter
    out = []
    serial = 0
    for (mode, batch), requests in zip(
        [("http", 1), ("stream", 64), ("stream", 1)], sz.e2e_requests, strict=True
    ):
        run = EndToEndRun(mode=mode, batch=batch, requests=requests)

        def arm(metered: bool, n: int, *, run: EndToEndRun = run) -> tuple[float, float]:
            """One closed loop of ``n`` requests; returns (requests/s, CPU µs/request)."""
            nonlocal serial
            serial += 1
            serving.log.flush()
            serving.log._meter = hook if metered else None
            gc.collect()
            w, c = time.perf_counter(), time.process_time()
            if run.mode == "http":
                for i in range(n):
                    serving.predict_records(ALICE, ENDPOINT, [rows[i % len(rows)]])
                serving.log.flush()  # the rows of this loop are written inside its window
            else:
                for start in range(0, n, run.batch):
                    serving.score_many(
                        ALICE,
                        ENDPOINT,
                        [
                            (f"e2e-{serial}-{i}", {"records": [rows[i % len(rows)]]})
                            for i in range(start, min(n, start + run.batch))
                        ],
                    )
            wall, cpu = time.perf_counter() - w, time.process_time() - c
            serving.log._meter = hook
            return n / wall, cpu * 1e6 / n

        arm(True, max(run.batch, requests // 10))  # warm-up
        arm(False, max(run.batch, requests // 10))
        for p in range(sz.e2e_pairs):
            for metered in (True, False) if p % 2 == 0 else (False, True):
                rate, cpu_us = arm(metered, requests)
                (run.on_rates if metered else run.off_rates).append(rate)
                (run.on_cpu_us if metered else run.off_cpu_us).append(cpu_us)
        log(
            f"[cost] end to end, {run.label}: {_median(run.off_rates):,.0f} req/s without, "
            f"{_median(run.on_rates):,.0f} with; ratio {_median(run.ratios):.3f} "
            f"({min(run.ratios):.3f}–{max(run.ratios):.3f})"
        )
        out.append(run)
    return out


# -- a year of cost records --------------------------------------------------------------------
@dataclass(frozen=True)
class _Prices:
    cpu_hour: float
    memory_gb_hour: float
    gpu_hour: float
    storage_gb_month: float


def _team_site(i: int) -> str:
    return "us-east" if i % 3 == 2 else "eu-fra"


def _budget(i: int) -> float:
    """A monthly budget near what the team's generated spend comes to (see team_records)."""
    rng = np.random.default_rng(SEED + i)
    scale = float(rng.lognormal(0.0, 0.6))
    return round(40.0 * scale + 25.0, 2)


def _with_teams(n: int) -> Callable[[dict[str, Any]], None]:
    def edit(cfg: dict[str, Any]) -> None:
        for i, name in enumerate(team_names(n)):
            cfg["teams"][name] = {
                "members": ["alice"],
                "budget": {"monthly_usd": _budget(i), "soft_share": 0.8, "hard": False},
            }

    return edit


#: The columns a record may leave empty (all are given, so that the rows insert as one batch).
_OPTIONAL = dict.fromkeys(("endpoint", "model", "requested", "used", "hours", "dest", "dedupe"))


def team_records(
    i: int, first: date, days: int, prices: dict[str, _Prices], egress: dict[str, float]
) -> list[dict[str, Any]]:
    """One team's cost records for ``days`` days from ``first``, as metering writes them.

    Per day: training jobs (a Poisson number, fewer at weekends; cpu and memory records,
    a GPU record for GPU teams), validations (cpu), the hourly inference/stream record of
    each of the team's 1–3 endpoints (a daily and weekly cycle, growth over the year, a
    new model version every 1–4 months), one storage record (growing), egress now and
    then. Injected anomalies: runaway training jobs and one-day inference bursts.
    ``egress`` maps a destination to the price per GB from the team's site.
    """
    rng = np.random.default_rng(SEED + i)
    scale = float(rng.lognormal(0.0, 0.6))  # the team's size (drawn first: see _budget)
    team, site = _team(i), _team_site(i)
    p = prices[site]
    gpu_team = rng.random() < 0.2
    n_endpoints = int(rng.integers(1, 4))
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    day_names = [(first + timedelta(days=d)).isoformat() for d in range(days)]
    weekday = np.array([(first + timedelta(days=d)).weekday() for d in range(days)])
    out: list[dict[str, Any]] = []

    def add(
        at: datetime, d: int, kind: str, resource: str, units: float, unit: str, price: float,
        action: str, ref: str, **extra: Any,
    ) -> None:  # fmt: skip
        out.append(
            {
                **_OPTIONAL, "at": at, "day": day_names[d], "team": team, "site": site,
                "kind": kind, "resource": resource, "units": units, "unit": unit,
                "unit_price": price, "amount": units * price, "action": action, "ref": ref,
                **extra,
            }
        )  # fmt: skip

    # inference and stream: one record per endpoint, model, kind and hour
    hours = days * 24
    h = np.arange(hours)
    d_of_h = h // 24
    diurnal = 0.35 + 0.65 * np.exp(-((((h % 24) - 14.0) / 5.0) ** 2))
    weekly = np.where(weekday[d_of_h] >= 5, 0.55, 1.0)
    for e in range(n_endpoints):
        endpoint = f"{team}-ep{e}"
        kind = "stream" if e == 2 else "inference"
        per_hour = scale * float(rng.lognormal(np.log(60_000), 0.8))  # requests
        ms = float(rng.uniform(0.3, 2.0))  # model time per request
        period = int(rng.integers(30, 120))  # days per model version
        trend = 1.0 + float(rng.uniform(0.0, 0.8)) * d_of_h / 365.0
        burst = np.ones(days)
        burst[rng.integers(0, days, size=max(1, days // 180))] = float(rng.uniform(4, 10))
        noise = rng.lognormal(0.0, 0.15, hours)
        seconds = per_hour * diurnal * weekly * trend * noise * burst[d_of_h] * ms / 1e3
        for k in range(hours):
            at, d = start + timedelta(hours=k), int(d_of_h[k])
            units = float(seconds[k]) / 3600.0
            model = f"{endpoint}-model@{1 + d // period}"
            add(
                at, d, kind, "cpu", units, "cpu-hour", p.cpu_hour, "endpoint.predict", endpoint,
                endpoint=endpoint, model=model, requested=0.0, used=units, hours=units,
                dedupe=f"{kind}|{endpoint}|{model}|{at:%Y-%m-%dT%H}",
            )  # fmt: skip

    runaway = set(rng.integers(0, days, size=max(1, days // 120)).tolist())
    gb0 = scale * float(rng.uniform(100, 800))
    jobs = 0
    for d in range(days):
        midnight = start + timedelta(days=d)
        busy = 1.0 if weekday[d] < 5 else 0.3
        for j in range(int(rng.poisson(1.5 * scale * busy))):
            jobs += 1
            at = midnight + timedelta(seconds=int(rng.integers(0, 86_400)))
            cpus = float(rng.choice([2, 4, 8]))
            wall = float(rng.lognormal(np.log(0.75), 0.8)) * (25 if d in runaway and j == 0 else 1)
            used = cpus * float(rng.uniform(0.5, 1.2))
            mem, peak = 4.0 * cpus, 4.0 * cpus * float(rng.uniform(0.4, 1.1))
            parts = [
                ("cpu", max(cpus, used), "cpu-hour", p.cpu_hour, cpus, used),
                ("memory", max(mem, peak), "gb-hour", p.memory_gb_hour, mem, peak),
            ]
            if gpu_team and rng.random() < 0.5:
                gpus = float(rng.choice([1, 2]))
                parts.append(("gpu", gpus, "gpu-hour", p.gpu_hour, gpus, gpus))
            for resource, amount, unit, price, requested, in_use in parts:
                add(
                    at, d, "training", resource, amount * wall, unit, price, "model.train",
                    f"{team}-job-{jobs}", model=f"{team}-m{jobs % 4}", requested=requested,
                    used=in_use, hours=wall,
                )  # fmt: skip
        for v in range(int(rng.poisson(0.8 * busy))):
            at = midnight + timedelta(seconds=int(rng.integers(0, 86_400)))
            wall, used = float(rng.uniform(0.01, 0.2)), float(rng.uniform(1.0, 2.0))
            add(
                at, d, "validation", "cpu", used * wall, "cpu-hour", p.cpu_hour,
                "model.validate", f"{team}-val-{d}-{v}", model=f"{team}-m{v % 4}",
                requested=0.0, used=used, hours=wall,
            )  # fmt: skip
        month_days = calendar.monthrange(midnight.year, midnight.month)[1]
        add(
            midnight + timedelta(days=1, microseconds=-1), d, "storage", "storage",
            gb0 * (1.0 + 0.8 * d / 365.0), "gb-day", p.storage_gb_month / month_days, "storage",
            f"{site}:{day_names[d]}", hours=24.0, dedupe=f"storage|{day_names[d]}|{team}|{site}",
        )  # fmt: skip
        if rng.random() < 0.04:
            dest = str(rng.choice(sorted(egress)))
            add(
                midnight + timedelta(seconds=int(rng.integers(0, 86_400))), d, "egress",
                "egress", float(rng.lognormal(np.log(30.0), 1.0)), "gb", egress[dest],
                "dataset.copy", f"{team}-copy-{d}", dest=dest,
            )  # fmt: skip
    return out


def _prices(rt: Runtime) -> dict[str, _Prices]:
    return {
        name: _Prices(
            s.prices.cpu_hour, s.prices.memory_gb_hour, s.prices.gpu_hour, s.prices.storage_gb_month
        )
        for name, s in rt.config.sites.items()
    }


def _egress(rt: Runtime, site: str) -> dict[str, float]:
    dests = [s for s in rt.config.sites if s != site] + ["internet"]
    return {d: rt.config.egress_price(site, d) for d in dests}


def _load(
    rt: Runtime, sz: Sizes, first: date, by_kind: dict[str, int], log: Callable[[str], None]
) -> tuple[int, float, float]:
    """Insert every team's records; returns (records, dollars, seconds)."""
    prices = _prices(rt)
    table = cast(Table, CostRecord.__table__)
    n, total, seconds = 0, 0.0, 0.0
    for i in range(sz.teams):
        rows = team_records(i, first, sz.days, prices, _egress(rt, _team_site(i)))
        t0 = time.perf_counter()
        with governed_writes("bench"), rt.store.transaction(write=True) as s:
            for start in range(0, len(rows), 10_000):
                s.execute(table.insert(), rows[start : start + 10_000])
        seconds += time.perf_counter() - t0
        n += len(rows)
        total += sum(r["amount"] for r in rows)
        for r in rows:
            by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
        if (i + 1) % 10 == 0 or i + 1 == sz.teams:
            log(f"[cost]   {i + 1} teams, {n:,} records ({seconds:.1f} s inserting)")
    return n, total, seconds


def _timed(key: str, what: str, call: Callable[[], int], repeats: int, unit: str = "rows") -> Timed:
    """One untimed first run, then ``repeats`` timed ones."""
    gc.collect()
    t0 = time.perf_counter()
    call()
    out = Timed(key=key, what=what, first=time.perf_counter() - t0, unit=unit)
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out.rows = call()
        out.times.append(time.perf_counter() - t0)
    return out


def bench_reports(
    rt: Runtime, backend: str, sz: Sizes, first: date, until: date, log: Callable[[str], None]
) -> tuple[ReportRun, dict[str, int]]:
    run = ReportRun(backend=backend, server=f"SQLite {sqlite3.sqlite_version}")
    by_kind: dict[str, int] = {}
    log(f"[cost] {BACKEND_NAMES[backend]}: {sz.teams} teams x {sz.days} days of records")
    run.records, run.generated_total, run.load_seconds = _load(rt, sz, first, by_kind, log)
    with governed_writes("bench"), rt.store.transaction(write=True) as s:
        if backend == "postgresql":  # what autovacuum does after a load like this one
            s.execute(text("ANALYZE cost_records"))
    with rt.store.transaction() as s:
        if backend == "postgresql":
            size = s.execute(text("SELECT pg_total_relation_size('cost_records')")).scalar_one()
            run.table_mib = int(size) / 2**20
        else:
            db = rt.store.engine.url.database
            run.table_mib = Path(db).stat().st_size / 2**20 if db else None
        stored = int(s.execute(select(func.count(CostRecord.id))).scalar_one())
    if stored != run.records:
        run.problem = f"{stored:,} records stored, {run.records:,} generated"
    svc = CostService(rt)
    team = team_names(sz.teams)[0]
    teams = team_names(sz.teams)
    r = sz.report_repeats

    def report(by: list[str], **kw: Any) -> Callable[[], int]:
        return lambda: len(svc.report(ADMIN, by=by, since=first, until=until, **kw).rows)

    def one_team(name: str) -> int:
        """The month's forecast and the last 90 days' anomalies; returns the anomalies."""
        svc.forecast(ADMIN, team=name, today=until)
        return len(svc.anomalies(ADMIN, team=name, today=until))

    def all_teams() -> int:
        return sum(one_team(t) for t in teams)

    def forecast_only() -> int:
        return len(svc.forecast(ADMIN, team=team, today=until).forecast)

    def anomalies_only() -> int:
        return len(svc.anomalies(ADMIN, team=team, today=until))

    run.timings = [
        _timed("by_team", '`report(by=["team"])`, the year', report(["team"]), r),
        _timed(
            "by_team_kind", '`report(by=["team", "kind"])`, the year', report(["team", "kind"]), r
        ),
        _timed(
            "by_day",
            f'`report(by=["day"], team="{team}")`, the year',
            report(["day"], team=team),
            r,
        ),
        _timed("forecast", f"`forecast`, team `{team}`", forecast_only, r, "days forecast"),
        _timed("anomalies", f"`anomalies`, team `{team}`", anomalies_only, r, "anomalies"),
        _timed(
            "one_team",
            f"`forecast` + `anomalies`, team `{team}`",
            lambda: one_team(team),
            r,
            "anomalies",
        ),
        _timed(
            "all_teams",
            f"`forecast` + `anomalies`, all {len(teams)} teams one after another",
            all_teams,
            sz.all_teams_repeats,
            "anomalies",
        ),
    ]
    run.anomalies_found = run.timings[-1].rows
    # diagnostic: the forecasts' optimiser calls into OpenBLAS, whose threads contend for
    # the cores on a busy machine; the same with OpenBLAS held to one thread
    with threadpool_limits(limits=1, user_api="blas"):
        run.timings += [
            _timed(
                "one_team_1blas",
                f"`forecast` + `anomalies`, team `{team}`, OpenBLAS on one thread",
                lambda: one_team(team),
                r,
                "anomalies",
            ),
            _timed(
                "all_teams_1blas",
                f"`forecast` + `anomalies`, all {len(teams)} teams, OpenBLAS on one thread",
                all_teams,
                sz.all_teams_repeats,
                "anomalies",
            ),
        ]
    whole = svc.report(ADMIN, by=["team"], since=first, until=until)
    run.reported_records, run.reported_total = whole.records, whole.total
    for t in run.timings:
        log(f"[cost]   {t.what}: median {t.median:.3f} s (first {t.first:.3f} s)")
    return run, by_kind


# -- the whole benchmark -------------------------------------------------------------------------
def bench_cost(
    quick: bool = False,
    log: Callable[[str], None] = _log,
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
) -> CostBenchResult:
    """Metering overhead and report times (see the module docs)."""
    sz = Sizes.quick() if quick else Sizes()
    until = datetime.now(UTC).date()
    first = until - timedelta(days=sz.days)
    result = CostBenchResult(
        quick=quick,
        teams=sz.teams,
        days=sz.days,
        first_day=first,
        until=until,
        load_before=load_average(),
    )
    t_start = time.perf_counter()
    pg = pg_problem(pg_admin_url)
    if pg is not None:
        result.problems["postgresql"] = pg
        log(f"[cost] PostgreSQL NOT MEASURED: {pg}")
    backends = [b for b in BACKENDS if b not in result.problems]
    rows = _holdout_rows()
    for backend in backends:
        log(f"[cost] {BACKEND_NAMES[backend]}: governed model for the metering overhead")
        with _runtime(backend, pg_admin_url, _with_suite) as rt:
            result.model_ref, _ = deploy_credit_model(rt, hmda())
            serving = ServingService(rt)
            serving.authorise(ALICE, ENDPOINT)
            entries = _scored(serving, rows, max(sz.flush_batches))
            result.flush += bench_flush(rt, serving, entries, backend, sz, log)
            if backend == "sqlite":
                result.e2e = bench_e2e(serving, rows, sz, log)
            serving.close()
    for backend in backends:
        with _runtime(backend, pg_admin_url, _with_teams(sz.teams)) as rt:
            run, by_kind = bench_reports(rt, backend, sz, first, until, log)
            if backend == "postgresql":
                s = pg_settings(pg_admin_url)
                run.server = (
                    f"PostgreSQL {s['server_version']} (shared_buffers={s['shared_buffers']})"
                )
            result.reports.append(run)
            result.records_by_kind = by_kind
    result.load_after = load_average()
    result.seconds = time.perf_counter() - t_start
    return result


if __name__ == "__main__":
    import argparse
    import pickle

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 teams x 60 days, fewer repeats")
    parser.add_argument("--pg", default=DEFAULT_PG_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--number", type=int, default=15, help="the section's number")
    parser.add_argument(
        "--save", type=Path, help="also pickle the result here (bench/report_cost.py renders it)"
    )
    args = parser.parse_args()
    import cost_bench  # the result's classes pickled under the module's name, not __main__

    res = cost_bench.bench_cost(args.quick, pg_admin_url=args.pg)
    if args.save is not None:
        args.save.write_bytes(pickle.dumps(res))
    from report_cost import cost_sections

    print("\n".join(cost_sections(res, args.number)))
