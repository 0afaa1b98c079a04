"""Streaming predictions from NATS JetStream: how fast ``steward stream serve`` drains a stream.

The model is built the governed way on a fresh SQLite home (as for the serving benchmark:
HMDA data, a ``linear`` model trained as a real job, validated and approved by bob,
deployed by admin to endpoint ``credit``). For each batch size, a fresh stream gets
``requests`` single-record requests (``{"request_id": ..., "records": [row]}``, rows from
the HMDA holdout) published *before* anything is timed; then the consumer
(:class:`steward.serving.StreamConsumer`, the same code ``steward stream serve`` runs,
driven in this process; alice is the principal) drains them with ``max_messages`` set to
the count. The time is the consumer's own: from its first fetch to the acknowledgement of
the last request, so every request counted was scored, written to the prediction log,
answered on the reply subject (flushed to the server) and acknowledged.

The answers go to a subject a second stream captures, so the NATS server counts the
replies it received without a listener in this process competing for the CPU; the log is
counted too (one row per request expected). Both must equal the requests published.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from backends import _env
from machine import load_average
from serving_bench import ENDPOINT, TRAIN_ROWS, _with_suite, deploy_credit_model, hmda
from steward.config import init_home
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService, StreamConsumer, StreamSettings
from steward.serving.stream import DEFAULT_NATS_URL
from steward.store import Prediction

__all__ = ["BATCHES", "REQUESTS", "SINGLE_REQUESTS", "StreamResult", "StreamRun", "bench_stream"]

ALICE = Principal("alice")
REQUESTS = 20_000
#: One request per fetch drains ~200/s here: 20,000 of them would take 100 s, so that
#: batch size gets fewer (the rate, not the count, is what is compared).
SINGLE_REQUESTS = 2_000
BATCHES = (1, 16, 64, 256)


@dataclass
class StreamRun:
    """One batch size: a fresh stream of ``requests`` drained by one consumer."""

    batch: int
    requests: int
    publish_seconds: float  # publishing them (not timed into the rate)
    seconds: float  # consumer: first fetch to last acknowledgement
    setup_seconds: float  # connect, find the stream, create the consumer
    cpu_seconds: float  # this process's CPU over the drain (all threads)
    scored: int
    duplicates: int
    rejected: int
    acked: int
    fetches: int
    replies: int  # answers the reply stream stored
    logged: int  # prediction-log rows of this run's requests

    @property
    def per_second(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1e3 / self.acked if self.acked else 0.0

    @property
    def ok(self) -> bool:
        return self.acked == self.scored == self.replies == self.logged == self.requests


@dataclass
class StreamResult:
    requests: int
    nats_url: str
    nats_version: str = ""
    single_requests: int = SINGLE_REQUESTS  # for batch size 1
    database: str = "fresh SQLite home"
    runs: list[StreamRun] = field(default_factory=list)
    problem: str | None = None  # why nothing was measured
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0


async def _nats(url: str) -> Any:
    import nats

    async def quiet(_exc: Exception) -> None:
        return None

    return await nats.connect(
        url, connect_timeout=2, max_reconnect_attempts=1, reconnect_time_wait=0.2, error_cb=quiet
    )


def _problem(url: str) -> tuple[str | None, str]:
    """Why NATS with JetStream cannot be used (or None), and the server's version."""

    async def probe() -> tuple[str | None, str]:
        try:
            nc = await _nats(url)
        except Exception as exc:
            return f"cannot connect to NATS at {url} ({type(exc).__name__})", ""
        try:
            await nc.jetstream().account_info()
        except Exception as exc:
            return f"NATS at {url} has no JetStream ({type(exc).__name__})", ""
        finally:
            v = nc.connected_server_version
            version = f"nats-server {v.major}.{v.minor}.{v.patch}"
            await nc.close()
        return None, version

    return asyncio.run(probe())


async def _prepare(url: str, tag: str, batch: int, bodies: list[bytes]) -> tuple[str, str, float]:
    """A fresh request stream holding ``bodies`` and a stream capturing the replies;
    returns the subject, the stream name and the seconds publishing took."""
    nc = await _nats(url)
    js = nc.jetstream()
    subject = f"steward.bench.{tag}.b{batch}.requests"
    stream = f"STEWARD_BENCH_{tag.upper()}_B{batch}"
    await js.add_stream(name=stream, subjects=[subject])
    await js.add_stream(name=f"{stream}_REPLIES", subjects=[f"{subject}.replies"])
    t0 = time.perf_counter()
    for start in range(0, len(bodies), 1000):  # 1,000 publications in flight at a time
        await asyncio.gather(*(js.publish(subject, b) for b in bodies[start : start + 1000]))
    seconds = time.perf_counter() - t0
    info = await js.stream_info(stream)
    await nc.close()
    if info.state.messages != len(bodies):
        raise RuntimeError(f"stream {stream} holds {info.state.messages} of {len(bodies)}")
    return subject, stream, seconds


async def _replies_and_cleanup(url: str, stream: str, expected: int) -> int:
    nc = await _nats(url)
    js = nc.jetstream()
    deadline = time.monotonic() + 10
    while True:  # the server stores the last answers a moment after the consumer flushed
        stored = (await js.stream_info(f"{stream}_REPLIES")).state.messages
        if stored >= expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    for name in (stream, f"{stream}_REPLIES"):
        await js.delete_stream(name)
    await nc.close()
    return int(stored)


def _logged(rt: Runtime, prefix: str) -> int:
    with rt.store.transaction() as s:
        n = s.scalar(
            select(func.count())
            .select_from(Prediction)
            .where(Prediction.endpoint == ENDPOINT, Prediction.request_id.like(f"{prefix}%"))
        )
    return int(n or 0)


def bench_stream(
    *,
    requests: int = REQUESTS,
    single_requests: int = SINGLE_REQUESTS,
    batches: tuple[int, ...] = BATCHES,
    nats_url: str = DEFAULT_NATS_URL,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> StreamResult:
    """Drain ``requests`` single-record requests at each batch size (see the module docs)."""
    result = StreamResult(
        requests=requests,
        single_requests=min(requests, single_requests),
        nats_url=nats_url,
        load_before=load_average(),
    )
    t_start = time.perf_counter()
    problem, result.nats_version = _problem(nats_url)
    if problem is not None:
        result.problem = problem
        log(f"[stream] NOT MEASURED: {problem}")
        return result
    with (
        tempfile.TemporaryDirectory(prefix="steward-stream-bench-") as tmp,
        _env("STEWARD_DATABASE_URL", None),
    ):
        home = init_home(Path(tmp) / "home")
        _with_suite(home)
        rt = Runtime.open(home)
        try:
            log("[stream] governed model: register, train, validate, approve, deploy")
            table = hmda()
            deploy_credit_model(rt, table)
            rows = [
                {k: v for k, v in r.items() if k != "deny"}
                for r in table.slice(TRAIN_ROWS).to_pylist()
            ]
            serving = ServingService(rt)  # refresh 1 s, as steward stream serve
            serving.authorise(ALICE, ENDPOINT)  # models loaded before anything is timed
            tag = secrets.token_hex(3)
            for batch in batches:
                prefix = f"b{batch}-"
                count = result.single_requests if batch == 1 else requests
                bodies = [
                    json.dumps(
                        {"request_id": f"{prefix}{i}", "records": [rows[i % len(rows)]]}
                    ).encode()
                    for i in range(count)
                ]
                subject, stream, publish_seconds = asyncio.run(
                    _prepare(nats_url, tag, batch, bodies)
                )
                log(f"[stream] batch {batch}: {count:,} requests published, draining")
                settings = StreamSettings(
                    endpoint=ENDPOINT,
                    subject=subject,
                    stream=stream,
                    batch=batch,
                    nats_url=nats_url,
                    durable=f"bench-b{batch}",
                    max_messages=count,
                    progress_every=3600,
                )
                wall0, cpu0 = time.perf_counter(), time.process_time()
                stats = asyncio.run(StreamConsumer(serving, ALICE, settings).run())
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                replies = asyncio.run(_replies_and_cleanup(nats_url, stream, count))
                run = StreamRun(
                    batch=batch,
                    requests=count,
                    publish_seconds=publish_seconds,
                    seconds=stats.seconds,
                    setup_seconds=max(0.0, wall - stats.seconds),
                    cpu_seconds=cpu,
                    scored=stats.scored,
                    duplicates=stats.duplicates,
                    rejected=stats.rejected,
                    acked=stats.acked,
                    fetches=stats.batches,
                    replies=replies,
                    logged=_logged(rt, prefix),
                )
                result.runs.append(run)
                log(
                    f"[stream] batch {batch}: {run.per_second:,.0f} requests/s "
                    f"({run.seconds:.1f} s), replies {replies:,}, logged {run.logged:,}"
                )
            serving.close()
        finally:
            rt.close()
    result.load_after = load_average()
    result.seconds = time.perf_counter() - t_start
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--single-requests", type=int, default=SINGLE_REQUESTS)
    parser.add_argument("--batches", default=",".join(str(b) for b in BATCHES))
    parser.add_argument("--nats", default=DEFAULT_NATS_URL)
    args = parser.parse_args()
    res = bench_stream(
        requests=args.requests,
        single_requests=args.single_requests,
        batches=tuple(int(b) for b in args.batches.split(",")),
        nats_url=args.nats,
    )
    from report_stream import stream_sections

    print("\n".join(stream_sections(res, 13)))
