"""A small HTTP/1.1 load generator for the serving benchmark: the same tool for every server.

It runs in a process of its own (``python bench/loadgen.py PLAN.json``), sends one fixed
request (method, path, headers, body) over raw keep-alive connections with asyncio, and
prints the results as JSON. No client library: a request is a pre-built ``bytes`` written
to the socket, a response is read up to its ``Content-Length``, so the generator spends
little CPU per request (the machine it shares with the servers has two cores).

Two kinds of phase:

- **closed** loop at concurrency ``c``: ``c`` connections, each sending its next request
  as soon as the previous answer arrives, for ``duration`` seconds. Latency is from the
  write of the request to the last byte of the answer; throughput is answers per second.
- **open** loop at a fixed ``rate``: request ``i`` is due at ``start + i / rate`` whatever
  the answers do, and is sent on the first idle connection of a pool. Latency is measured
  from the **due time**, not the send time, so a server that falls behind is charged for
  the queueing it causes (no coordinated omission). The generator's own lateness (send
  time minus due time, for requests that found a connection idle) is reported separately,
  so a slow generator can be told from a slow server. Requests still unanswered
  ``grace`` seconds after the last one was due count as errors.

An open phase with ``sweep_p99_ms`` belongs to a rate sweep (phases in rising rate): once a
target misses that p99 (or has errors) in one, its later sweep phases are skipped, except
those marked ``"always": true``. Phases without it run for every target.

With ``"retry": {"others_cpu": 0.25, "budget": 8}`` a phase during which the rest of the
machine (not the targets, not the generator) kept 0.25 cores or more busy is measured up
to twice more, at most 8 times in all, and the least disturbed attempt is kept.

The plan names one or more targets; every phase runs against each target in turn (the
order alternating phase by phase), so drift in the machine's load hits all targets alike.
With ``pids`` given for a target, the CPU time its processes (and their children) used
during each phase is read from ``/proc`` and reported.

Plan (JSON)::

    {"targets": [{"name": "steward", "host": "127.0.0.1", "port": 8000,
                  "path": "/v2/models/credit/infer", "headers": {"Authorization": "..."},
                  "body": "{...}", "pids": [1234]}],
     "warmup": 2.0,
     "phases": [{"kind": "closed", "concurrency": 16, "duration": 5.0},
                {"kind": "open", "rate": 500, "duration": 5.0, "connections": 32}]}

A quick look at one server without a plan file::

    python bench/loadgen.py --url http://127.0.0.1:8000/v2/models/credit/infer \
        --body-file request.json -H 'Authorization: Bearer stw_...' --rate 500 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["percentile", "run_plan"]

CLOCK = time.perf_counter


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1) of sorted ``values`` by nearest rank."""
    return values[max(0, math.ceil(q * len(values)) - 1)]


# -- one connection ------------------------------------------------------------------------
class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: write a request, await its status and body."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._head: tuple[int, int, int] | None = None  # (status, header end, body length)
        self.closed = False
        self.reuse = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed by the server"))

    def _parse(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._head is None:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self._buf[:end]).split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = -1
            for line in lines[1:]:
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"connection" and value.strip().lower() == b"close":
                    self.reuse = False
            if length < 0:
                waiter.set_exception(ConnectionError("response without Content-Length"))
                return
            self._head = (status, end + 4, length)
        status, start, length = self._head
        if len(self._buf) < start + length:
            return
        body = bytes(self._buf[start : start + length])
        del self._buf[: start + length]
        self._head = None
        waiter.set_result((status, body))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        if self.closed or self.transport.is_closing():
            raise ConnectionError("connection closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Target:
    """Where to send and what: the request bytes are built once."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name: str = spec["name"]
        self.host: str = spec.get("host", "127.0.0.1")
        self.port: int = int(spec["port"])
        self.pids: list[int] = [int(p) for p in spec.get("pids", [])]
        body = spec.get("body", "").encode()
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            **spec.get("headers", {}),
        }
        head = f"{spec.get('method', 'POST')} {spec['path']} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        self.request = (head + "\r\n").encode() + body

    async def connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        return conn

    async def send(self, conn: _Connection) -> tuple[_Connection, bool]:
        """One request on ``conn``: the connection to use next and whether it was a 200.

        A connection the server closed while it was idle (keep-alive timeout) is opened
        again first, as a client's pool would; the time that takes counts."""
        if conn.closed:
            conn.close()
            conn = await self.connect()
        try:
            status, _ = await conn.request(self.request)
        except ConnectionError:
            conn.close()
            return await self.connect(), False
        if not conn.reuse or conn.closed:
            conn.close()
            conn = await self.connect()
        return conn, status == 200


# -- CPU accounting ----------------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{task}/children").read_text().split()
                todo += [int(k) for k in kids]
        except OSError:
            continue
    return out


def _cpu_seconds(pids: list[int]) -> float | None:
    """User + system seconds of the processes and their children (None without /proc)."""
    if not pids:
        return None
    total = 0
    try:
        for root in pids:
            for p in _tree(root):
                try:
                    stat = Path(f"/proc/{p}/stat").read_text()
                except OSError:
                    continue
                fields = stat[stat.rindex(")") + 2 :].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, ValueError):
        return None
    return total / _TICK


def _machine_cpu() -> float | None:
    """Busy CPU seconds of the whole machine, all cores (None without /proc)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / _TICK


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- phases ----------------------------------------------------------------------------------
def _summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    lat = sorted(latencies)
    out: dict[str, Any] = {
        "completed": len(lat),
        "errors": errors,
        "seconds": elapsed,
        "throughput": len(lat) / elapsed if elapsed > 0 else 0.0,
    }
    if lat:
        out |= {
            "p50_ms": percentile(lat, 0.50) * 1e3,
            "p90_ms": percentile(lat, 0.90) * 1e3,
            "p99_ms": percentile(lat, 0.99) * 1e3,
            "p999_ms": percentile(lat, 0.999) * 1e3,
            "max_ms": lat[-1] * 1e3,
            "mean_ms": sum(lat) / len(lat) * 1e3,
        }
    return out


async def closed_loop(target: _Target, concurrency: int, duration: float) -> dict[str, Any]:
    conns = [await target.connect() for _ in range(concurrency)]
    latencies: list[float] = []
    errors = 0
    start = CLOCK()
    deadline = start + duration

    async def worker(conn: _Connection) -> _Connection:
        nonlocal errors
        record = latencies.append
        while True:
            t0 = CLOCK()
            if t0 >= deadline:
                return conn
            conn, ok = await target.send(conn)
            if ok:
                record(CLOCK() - t0)
            else:
                errors += 1

    conns = list(await asyncio.gather(*(worker(c) for c in conns)))
    elapsed = CLOCK() - start
    for c in conns:
        c.close()
    return _summary(latencies, errors, elapsed) | {"kind": "closed", "concurrency": concurrency}


async def open_loop(
    target: _Target, rate: float, duration: float, connections: int, grace: float = 2.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    conns = [await target.connect() for _ in range(connections)]
    total = int(rate * duration)
    idle: deque[asyncio.Future[float | None]] = deque()  # workers waiting for a request
    backlog: deque[float] = deque()  # due times no idle connection could take yet
    latencies: list[float] = []
    from_send: list[float] = []
    lateness: list[float] = []  # send - due, for requests that found a connection idle
    sent_count = 0
    queued = 0  # requests that waited for a free connection
    errors = 0
    dispatched = False
    start = CLOCK() + 0.01

    def offer(t_due: float) -> None:
        while idle:
            waiting = idle.pop()  # the most recently idle connection: a warm pool
            if not waiting.done():
                waiting.set_result(t_due)
                return
        backlog.append(t_due)

    def offer_due(times: list[float]) -> None:
        for t_due in times:
            offer(t_due)

    def finish() -> None:
        nonlocal dispatched
        dispatched = True
        while idle:
            waiting = idle.pop()
            if not waiting.done():
                waiting.set_result(None)
        all_due.set_result(None)

    def dispatch() -> None:
        # A thread, not a coroutine: the event loop's timers wake up to a millisecond late
        # (epoll's resolution), time.sleep to some tens of microseconds.
        i = 0
        while i < total and not stop.is_set():
            delay = start + i / rate - CLOCK()
            if delay > 0:
                time.sleep(delay)
            now = CLOCK()
            times = []
            while i < total and start + i / rate <= now:
                times.append(start + i / rate)
                i += 1
            loop.call_soon_threadsafe(offer_due, times)
        loop.call_soon_threadsafe(finish)

    async def worker(conn: _Connection) -> _Connection:
        nonlocal errors, sent_count, queued
        while True:
            if backlog:
                t_due: float | None = backlog.popleft()
                queued += 1
                sent = CLOCK()
            elif dispatched:
                return conn
            else:
                waiting: asyncio.Future[float | None] = loop.create_future()
                idle.append(waiting)
                t_due = await waiting
                if t_due is None:
                    return conn
                sent = CLOCK()
                lateness.append(sent - t_due)
            sent_count += 1
            conn, ok = await target.send(conn)
            if ok:
                done = CLOCK()
                latencies.append(done - t_due)
                from_send.append(done - sent)
            else:
                errors += 1

    tasks = [asyncio.ensure_future(worker(c)) for c in conns]
    all_due: asyncio.Future[None] = loop.create_future()
    stop = threading.Event()
    thread = threading.Thread(target=dispatch, name="loadgen-dispatch", daemon=True)
    thread.start()
    try:
        await all_due
    finally:
        stop.set()
        thread.join()
    finished, pending = await asyncio.wait(tasks, timeout=grace + 1.0 / rate)
    for t in pending:
        t.cancel()
    elapsed = CLOCK() - start
    unfinished = total - len(latencies) - errors
    for t in finished:
        t.result().close()
    for c in conns:
        c.close()
    late, service = sorted(lateness), sorted(from_send)
    return _summary(latencies, errors + unfinished, elapsed) | {
        "kind": "open",
        "rate": rate,
        "sent": sent_count,
        "scheduled": total,
        "unfinished": unfinished,
        "queued": queued,
        "late_p50_ms": percentile(late, 0.5) * 1e3 if late else None,
        "late_p99_ms": percentile(late, 0.99) * 1e3 if late else None,
        "send_p50_ms": percentile(service, 0.5) * 1e3 if service else None,
        "send_p99_ms": percentile(service, 0.99) * 1e3 if service else None,
    }


async def _settle(pids: list[int], quiet: float = 0.1, window: float = 0.2) -> None:
    """Wait (at most 3 s) until the servers are quiet: under ``quiet`` cores busy over a
    ``window``, so that one phase's aftermath (a server still answering what was sent
    before the phase ended) does not land in the next."""
    t_end = CLOCK() + 3.0
    while CLOCK() < t_end:
        a = _cpu_seconds(pids)
        await asyncio.sleep(window)
        b = _cpu_seconds(pids)
        if a is None or b is None or (b - a) / window < quiet:
            return


def _others(out: dict[str, Any]) -> float:
    """Cores the rest of the machine kept busy during a phase (0 if unknown)."""
    if out.get("machine_cpu_seconds") is None or out.get("server_cpu_seconds") is None:
        return 0.0
    rest = out["machine_cpu_seconds"] - out["server_cpu_seconds"] - out["loadgen_cpu_seconds"]
    return max(0.0, rest) / out["seconds"] if out["seconds"] > 0 else 0.0


async def _phase(target: _Target, phase: dict[str, Any], quiet_pids: list[int]) -> dict[str, Any]:
    gc.collect()
    await _settle(quiet_pids)
    cpu0, own0, all0 = _cpu_seconds(target.pids), _own_cpu(), _machine_cpu()
    if phase["kind"] == "closed":
        out = await closed_loop(target, int(phase["concurrency"]), float(phase["duration"]))
    elif phase["kind"] == "open":
        out = await open_loop(
            target,
            float(phase["rate"]),
            float(phase["duration"]),
            int(phase.get("connections", 32)),
            float(phase.get("grace", 2.0)),
        )
    else:
        raise ValueError(f"phase kind: expected closed or open; found {phase['kind']!r}")
    cpu1, own1, all1 = _cpu_seconds(target.pids), _own_cpu(), _machine_cpu()
    out["server_cpu_seconds"] = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    out["loadgen_cpu_seconds"] = own1 - own0
    # everything else on the machine meanwhile: other processes' load disturbs the figures
    out["machine_cpu_seconds"] = None if all0 is None or all1 is None else all1 - all0
    return out


def _line(name: str, out: dict[str, Any]) -> str:
    load = f"c={out['concurrency']}" if out["kind"] == "closed" else f"{out['rate']:g}/s"
    if not out["completed"]:
        return f"[loadgen] {name} {out['kind']} {load}: no answers, {out['errors']} errors"
    return (
        f"[loadgen] {name} {out['kind']} {load}: {out['throughput']:,.0f} req/s, "
        f"p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms, {out['errors']} errors"
    )


async def _run(plan: dict[str, Any]) -> dict[str, Any]:
    targets = [_Target(t) for t in plan["targets"]]
    warmup = float(plan.get("warmup", 0))
    results: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    if warmup > 0:
        for t in targets:
            await closed_loop(t, 4, warmup)
    retry = plan.get("retry", {})
    busy = float(retry.get("others_cpu", math.inf))
    budget = int(retry.get("budget", 0))
    all_pids = [p for t in targets for p in t.pids]
    missed: set[str] = set()  # targets past their first miss of a sweep's p99 limit
    for i, phase in enumerate(plan["phases"]):
        order = targets if i % 2 == 0 else targets[::-1]
        limit = phase.get("sweep_p99_ms")
        for t in order:
            if limit is not None and t.name in missed and not phase.get("always"):
                continue  # a higher rate of the sweep: it would miss too
            out = await _phase(t, phase, all_pids)
            attempts = 1
            while _others(out) >= busy and budget > 0 and attempts < 3:
                # other work on the machine disturbed the phase: once or twice more, and
                # keep the least disturbed attempt
                if plan.get("verbose"):
                    print(
                        f"[loadgen] {t.name}: other processes kept {_others(out):.2f} cores "
                        "busy; measuring the phase again",
                        file=sys.stderr,
                        flush=True,
                    )
                budget -= 1
                attempts += 1
                await asyncio.sleep(1.0)
                again = await _phase(t, phase, all_pids)
                out = min(out, again, key=_others)
            out["attempts"] = attempts
            results[t.name].append(out)
            if limit is not None and (out["errors"] or out.get("p99_ms", math.inf) >= limit):
                missed.add(t.name)
            if plan.get("verbose"):
                print(_line(t.name, out), file=sys.stderr, flush=True)
    return {"targets": results}


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Run every phase of ``plan`` against every target (see the module docs)."""
    # The open loop's dispatch thread waits for the GIL at most this long when the event
    # loop is busy (the default, 5 ms, would be counted as the servers' latency).
    sys.setswitchinterval(0.0002)
    gc.freeze()
    return asyncio.run(_run(plan))


def _ad_hoc(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    headers = dict(h.split(":", 1) for h in args.header)
    phase: dict[str, Any] = (
        {"kind": "open", "rate": args.rate, "duration": args.duration}
        if args.rate
        else {"kind": "closed", "concurrency": args.concurrency, "duration": args.duration}
    )
    return {
        "targets": [
            {
                "name": url.netloc,
                "host": url.hostname or "127.0.0.1",
                "port": url.port or 80,
                "path": url.path or "/",
                "headers": {k.strip(): v.strip() for k, v in headers.items()},
                "body": Path(args.body_file).read_text() if args.body_file else "",
                "method": "POST" if args.body_file else "GET",
                "pids": args.pid,
            }
        ],
        "warmup": args.warmup,
        "phases": [phase],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", nargs="?", type=Path, help="a JSON plan (see the module docs)")
    parser.add_argument("--url", help="ad hoc: one target instead of a plan")
    parser.add_argument("--body-file", help="ad hoc: POST this file's content")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--concurrency", type=int, default=1, help="ad hoc closed loop")
    parser.add_argument("--rate", type=float, help="ad hoc open loop, requests per second")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--pid", type=int, action="append", default=[], help="server pid(s)")
    parser.add_argument("--verbose", action="store_true", help="print each phase to stderr")
    args = parser.parse_args(argv)
    if args.plan is not None:
        plan = json.loads(args.plan.read_text())
    elif args.url:
        plan = _ad_hoc(args)
    else:
        parser.error("give a plan file or --url")
    plan["verbose"] = plan.get("verbose") or args.verbose
    json.dump(run_plan(plan), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
