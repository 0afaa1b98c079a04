"""The streaming part of docs/benchmarks.md: ``steward stream serve`` draining a stream."""

from __future__ import annotations

from machine import cpu_model
from mdtable import met as _met
from mdtable import table as _table
from mdtable import version_of as _version
from serving_bench import ENDPOINT
from stream_bench import StreamResult, StreamRun

__all__ = ["stream_aims", "stream_sections"]

NO_AIM = "measured (no aim given)"


def _best(r: StreamResult) -> StreamRun | None:
    return max(r.runs, key=lambda run: run.per_second, default=None)


def stream_aims(r: StreamResult | None) -> list[list[str]]:
    """Rows for an aims table: (aim, backend, measured, verdict)."""
    if r is None:
        return []
    aim = "stream throughput, requests scored, logged, answered and acknowledged"
    if r.problem is not None or not r.runs:
        return [[aim, "SQLite", f"not measured: {r.problem or 'not run'}", "**not measured**"]]
    parts = [f"batch {run.batch}: {run.per_second:,.0f}/s" for run in r.runs]
    exact = all(run.ok for run in r.runs)
    return [
        [aim, "SQLite", "; ".join(parts) + " (single-record requests)", NO_AIM],
        [
            "with at-least-once delivery, each request logged once and answered",
            "SQLite",
            "every request logged once, answered and acknowledged (no duplicates, no rejections)"
            if exact
            else "**requests, answers, log rows or acks disagree** (see the table)",
            _met(exact),
        ],
    ]


def stream_sections(r: StreamResult | None, number: int) -> list[str]:
    title = f"## {number}. Streaming predictions from NATS JetStream"
    if r is None:
        return ["", title, "", "NOT MEASURED: not run"]
    if r.problem is not None:
        return ["", title, "", f"NOT MEASURED: {r.problem}"]
    lines = [
        "",
        title,
        "",
        "Run alone with `.venv/bin/python bench/stream_bench.py` (it prints this section); "
        f"it took {r.seconds:.0f} s. Machine load (1/5/15 min) before {r.load_before}, after "
        f"{r.load_after}.",
        "",
        f"**The model**: the serving benchmark's, built the governed way on a {r.database}: "
        "HMDA mortgage data, a `linear` model trained as a job, validated and approved by bob, "
        f"deployed by admin to endpoint `{ENDPOINT}`; alice is the consumer's principal.",
        "",
        f"**The stream**: for each batch size a fresh JetStream stream on the local NATS "
        f"server ({r.nats_version}, file storage, 127.0.0.1) is loaded with {r.requests:,} "
        'single-record requests, `{"request_id": ..., "records": [row]}` with rows of the '
        "HMDA holdout, *before* the clock starts; with one request per fetch (batch 1) only "
        f"{r.single_requests:,}, to keep the run short (it drains a few hundred a second).",
        "",
        "**The consumer**: `StreamConsumer`, the code `steward stream serve` runs "
        f"(nats-py {_version('nats-py')}), in the benchmark's process, one durable pull "
        "consumer, fetching up to *batch* messages at a time. For each fetch it scores the "
        "batch with `ServingService.score_many`, which writes the prediction-log rows to "
        "SQLite in one transaction before it returns, publishes one answer per request, "
        "flushes (a round trip to the server), then acknowledges every message and flushes "
        "again. The time is from its first fetch to the acknowledgement of the last request: "
        "every request counted was scored, logged, answered and acknowledged. The answers go "
        "to a subject a second stream captures, so the server counts them without a listener "
        "in this process; the prediction log is counted too.",
        "",
    ]
    rows = [
        [
            str(run.batch),
            f"{run.requests:,}",
            f"**{run.per_second:,.0f}**",
            f"{run.seconds:.2f}",
            f"{run.cpu_ms_per_request:.2f}",
            f"{run.fetches:,}",
            f"{run.acked:,}",
            f"{run.replies:,}",
            f"{run.logged:,}",
            f"{run.duplicates + run.rejected:,}",
            f"{run.publish_seconds:.1f}",
        ]
        for run in r.runs
    ]
    lines += _table(
        [
            "batch",
            "requests",
            "requests/s scored and acked",
            "drain (s)",
            "CPU ms / request",
            "fetches",
            "acked",
            "replies stored",
            "log rows",
            "duplicates + rejected",
            "publish (s, untimed)",
        ],
        rows,
    )
    best = _best(r)
    lines += [
        "",
        f"CPU is this process's (all threads: consumer loop, scoring thread, SQLite) on "
        f"{cpu_model()}, 2 cores; the NATS server runs beside it and is not counted. ",
    ]
    if best is not None:
        single = next((run for run in r.runs if run.batch == 1), None)
        if single is not None and single.per_second > 0:
            lines[-1] += (
                f"Batching is what makes it fast: batch {best.batch} drains "
                f"{best.per_second / single.per_second:,.1f}x faster than one request per "
                "fetch, which pays a fetch round trip, a log transaction, a flush and an ack "
                "per request."
            )
    if not all(run.ok for run in r.runs):
        lines += [
            "",
            "**Some counts disagree**: every run should show requests = acked = replies "
            "stored = log rows, with no duplicates or rejections.",
        ]
    return lines
