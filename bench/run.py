"""Steward benchmarks: ledger, policy, the door, classification, registering, training, gates,
serving, streaming, drift, cost, the dashboard's page load.

Run with ``make bench`` (``.venv/bin/python bench/run.py --output docs/benchmarks.md``).
The ledger, policy and door measurements run on a fresh home on SQLite and on a
throw-away PostgreSQL database; datasets, training and gates on fresh SQLite homes. The
results are written as Markdown to ``--output``; with ``--only ui`` the dashboard's
section is put into the existing ``--output`` file, the other sections left as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import event

from backends import DEFAULT_PG_ADMIN_URL, pg_problem, pg_settings, runtime_on
from classify import ClassifyResult, RegisterResult, bench_classification, bench_register
from cost_bench import CostBenchResult, bench_cost
from drift_bench import DriftResult, bench_drift
from gates_bench import GatesResult, bench_gates
from machine import load_average, machine_facts
from report import render
from report_cost import cost_sections
from report_drift import drift_sections
from report_serving import serving_sections
from report_stream import stream_sections
from report_ui import with_ui
from serving_bench import ServingResult, bench_serving
from stats import Sample, VerifyResult, measure, time_once
from steward.audit import EntryDraft
from steward.door import Action
from steward.policy import Decision, Principal, Resource
from steward.runtime import Runtime
from steward.store import Store, governed_writes
from stream_bench import StreamResult, bench_stream
from training_bench import TrainingResult, bench_training
from ui_bench import UIBenchResult, bench_ui

ALICE = Principal("alice")
SITE = "eu-fra"
BATCH = 100


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does; ``quick`` scales everything down."""

    repeats: int = 3
    policy_single: int = 2000
    policy_single_warmup: int = 200
    policy_batches: int = 30
    append_single: int = 1000
    append_single_warmup: int = 100
    append_batches: int = 30
    door_calls: dict[str, int] = field(default_factory=lambda: {"sqlite": 1500, "postgresql": 500})
    door_warmup: int = 100
    verify_entries: int = 100_000
    verify_load_batch: int = 1000
    verify_repeats: int = 5
    classify_rows: int = 1_000_000
    classify_repeats: int = 3
    presidio_rows: int = 1000
    register_rows: int = 1_000_000
    train_overhead_jobs: int = 10
    train_overhead_rows: int = 500
    train_rows: int = 1_000_000
    train_runs: int = 3
    latency_calls: int = 1500
    latency_repeats: int = 2
    latency_warmup: int = 200
    gates_holdout_rows: int = 1_000_000
    gates_train_rows: int = 200_000
    gates_validate_runs: int = 3
    gates_fairness_runs: int = 3
    gates_fairlearn_function_runs: int = 1
    serving_seconds: float = 5.0  # per phase and server
    serving_warmup: float = 2.0
    drift_rows: int = 1_000_000  # reference and current window, each
    drift_small_rows: int = 100_000  # the same at a tenth, for memory against rows

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            repeats=2,
            policy_single=200,
            policy_single_warmup=20,
            policy_batches=3,
            append_single=100,
            append_single_warmup=10,
            append_batches=3,
            door_calls={"sqlite": 150, "postgresql": 50},
            door_warmup=10,
            verify_entries=10_000,
            verify_repeats=2,
            classify_rows=50_000,
            classify_repeats=1,
            presidio_rows=50,
            register_rows=50_000,
            train_overhead_jobs=3,
            train_rows=20_000,
            train_runs=1,
            latency_calls=200,
            latency_repeats=1,
            latency_warmup=20,
            gates_holdout_rows=50_000,
            gates_train_rows=20_000,
            gates_validate_runs=1,
            gates_fairness_runs=3,
            gates_fairlearn_function_runs=1,
            serving_seconds=1.0,
            serving_warmup=0.5,
            drift_rows=100_000,
            drift_small_rows=10_000,
        )


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- realistic inputs ----------------------------------------------------------------------
def digest(i: int) -> str:
    return hashlib.sha256(f"bench-object-{i}".encode()).hexdigest()


def eu_object(i: int) -> Resource:
    """The object ObjectService.put governs: EU personal data owned by team risk."""
    return Resource(
        "Object", digest(i), {"jurisdiction": "EU", "anonymised": False, "team": "risk"}
    )


def put_action(i: int) -> Action:
    """``object.put`` of EU data at eu-fra, with the payload ObjectService.put hashes."""
    d = digest(i)
    return Action(
        "object.put",
        eu_object(i),
        site=SITE,
        payload={"digest": d, "jurisdiction": "EU", "anonymised": False, "team": "risk"},
    )


def draft_for(rt: Runtime, i: int, decision: Decision) -> EntryDraft:
    """The entry the door records for ``put_action(i)``."""
    return rt.door.draft(ALICE, put_action(i), decision)


def request(i: int) -> tuple[Principal, str, Resource, dict[str, Any]]:
    return ALICE, "object.put", eu_object(i), {"site": SITE}


def _expect_allowed(decisions: list[Decision]) -> None:
    denied = [d for d in decisions if not d.allowed]
    if denied:
        raise RuntimeError(f"benchmark request was denied, expected allow: {denied[0]}")


# -- 3. policy -----------------------------------------------------------------------------
def bench_policy(rt: Runtime, sz: Sizes) -> dict[str, Sample]:
    policy = rt.policy
    _expect_allowed([policy.decide(*request(0))])
    _expect_allowed(policy.decide_many(request(i) for i in range(BATCH)))

    def single(i: int) -> None:
        policy.decide(*request(i))

    batches = [[request(b * BATCH + j) for j in range(BATCH)] for b in range(50)]

    def batched(i: int) -> None:
        policy.decide_many(batches[i % len(batches)])

    return {
        "single": measure(
            single,
            calls=sz.policy_single,
            repeats=sz.repeats,
            warmup=sz.policy_single_warmup,
        ),
        "batched": measure(
            batched,
            calls=sz.policy_batches,
            repeats=sz.repeats,
            warmup=3,
            items_per_call=BATCH,
        ),
    }


# -- 1. ledger appends ---------------------------------------------------------------------
def bench_appends(rt: Runtime, sz: Sizes) -> dict[str, Sample]:
    store, ledger = rt.store, rt.ledger
    decision = rt.policy.decide(*request(0))
    pool = [draft_for(rt, i, decision) for i in range(1000)]

    def single(i: int) -> None:
        with governed_writes("bench.append"), store.transaction(write=True) as s:
            ledger.append(s, pool[i % len(pool)])

    def batched(i: int) -> None:
        start = (i * BATCH) % len(pool)
        drafts = pool[start : start + BATCH]
        with governed_writes("bench.append_many"), store.transaction(write=True) as s:
            ledger.append_many(s, drafts)

    return {
        "single": measure(
            single,
            calls=sz.append_single,
            repeats=sz.repeats,
            warmup=sz.append_single_warmup,
        ),
        "batched": measure(
            batched,
            calls=sz.append_batches,
            repeats=sz.repeats,
            warmup=3,
            items_per_call=BATCH,
        ),
    }


# -- 4. the door -----------------------------------------------------------------------------
def _merge(into: Sample | None, part: Sample) -> Sample:
    if into is None:
        return part
    into.latencies += part.latencies
    into.rates += part.rates
    return into


def bench_door(rt: Runtime, sz: Sizes, calls: int) -> dict[str, Sample]:
    """Door.run with a no-op ``do`` against a bare write transaction with the same no-op.

    The three variants are interleaved repeat by repeat so that drift in the machine's
    load hits them alike.
    """
    store, door, policy = rt.store, rt.door, rt.policy
    actions = [put_action(i) for i in range(1000)]

    def noop(_session: object) -> None:
        return None

    def bare(i: int) -> None:
        with governed_writes("object.put"), store.transaction(write=True) as s:
            noop(s)

    def decide(i: int) -> None:
        a = actions[i % len(actions)]
        policy.decide(ALICE, a.name, a.resource, a.cedar_context())

    def run(i: int) -> None:
        door.run(ALICE, actions[i % len(actions)], noop)

    variants = {"bare": bare, "decide": decide, "door": run}
    out: dict[str, Sample | None] = dict.fromkeys(variants)
    for r in range(sz.repeats):
        for name, fn in variants.items():
            part = measure(fn, calls=calls, repeats=1, warmup=sz.door_warmup if r == 0 else 0)
            out[name] = _merge(out[name], part)
    if store.dialect == "sqlite":
        # Diagnostic, not Steward's configuration: the same Door.run with SQLite's WAL
        # auto-checkpoint off, to show how much of the tail the checkpoints cause (they
        # run inside whichever commit crosses the WAL threshold).
        with _sqlite_autocheckpoint_off(store):
            out["door_no_ckpt"] = measure(
                run, calls=calls, repeats=sz.repeats, warmup=sz.door_warmup
            )
    return {k: v for k, v in out.items() if v is not None}


@contextmanager
def _sqlite_autocheckpoint_off(store: Store) -> Iterator[None]:
    def off(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    store.engine.dispose()
    event.listen(store.engine, "connect", off)
    try:
        yield
    finally:
        event.remove(store.engine, "connect", off)
        store.engine.dispose()
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# -- 2. verify -------------------------------------------------------------------------------
def bench_verify(rt: Runtime, sz: Sizes) -> VerifyResult:
    """Top the ledger up to ``verify_entries`` with append_many, checkpoint, then verify."""
    store, ledger = rt.store, rt.ledger
    decision = rt.policy.decide(*request(0))
    pool = [draft_for(rt, i, decision) for i in range(sz.verify_load_batch)]
    have, _ = ledger.head()
    todo = max(0, sz.verify_entries - have)

    def load() -> None:
        left = todo
        while left > 0:
            n = min(left, sz.verify_load_batch)
            with governed_writes("bench.load"), store.transaction(write=True) as s:
                ledger.append_many(s, pool[:n])
            left -= n

    load_seconds, _ = time_once(load)
    with governed_writes("audit.checkpoint"), store.transaction(write=True) as s:
        ledger.checkpoint(s, rt.home.signing_key())
    public_key = serialization.load_pem_public_key(rt.home.public_key_pem())
    assert isinstance(public_key, Ed25519PublicKey)

    ledger.verify(public_key)  # warm-up: page cache, connection, statement cache
    runs = [time_once(lambda: ledger.verify(public_key)) for _ in range(sz.verify_repeats)]
    result = runs[-1][1]
    return VerifyResult(
        entries=result.entries,
        loaded=todo,
        load_seconds=load_seconds,
        checkpoints=result.checkpoints,
        times=[seconds for seconds, _ in runs],
        ok=all(v.ok for _, v in runs),
        problem=next((v.problem.message for _, v in runs if v.problem), None),
    )


# -- driver ----------------------------------------------------------------------------------
def bench_backend(backend: str, sz: Sizes, pg_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_on(backend, pg_url) as rt:
        log(f"[{backend}] policy decisions")
        results["policy"] = bench_policy(rt, sz)
        log(f"[{backend}] ledger appends")
        results["appends"] = bench_appends(rt, sz)
        log(f"[{backend}] door overhead")
        results["door"] = bench_door(rt, sz, sz.door_calls[backend])
        log(f"[{backend}] verify {sz.verify_entries:,} entries")
        results["verify"] = bench_verify(rt, sz)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="write the Markdown report here")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("STEWARD_BENCH_POSTGRES_URL", DEFAULT_PG_ADMIN_URL),
        help="admin URL of the PostgreSQL server (a throw-away database is created on it)",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (not for docs)")
    parser.add_argument(
        "--only",
        choices=[
            "core",
            "datasets",
            "training",
            "gates",
            "serving",
            "stream",
            "drift",
            "cost",
            "ui",
        ],
        help="run one group only: core (ledger, policy, door), datasets, training, gates, "
        "serving, stream, drift, cost or ui (the dashboard's page load; written into the "
        "existing --output, its other sections kept)",
    )
    args = parser.parse_args(argv)
    sz = Sizes.quick() if args.quick else Sizes()

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    meta: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_facts(),
        "load_before": load_average(),
        "quick": args.quick,
        "sizes": sz,
    }
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}

    if args.only in (None, "core"):
        log("[sqlite] fresh home")
        results["sqlite"] = bench_backend("sqlite", sz, args.postgres_url)
        problem = (
            "skipped with --skip-postgres" if args.skip_postgres else pg_problem(args.postgres_url)
        )
        if problem is None:
            meta["postgres"] = pg_settings(args.postgres_url)
            log("[postgresql] throw-away database")
            results["postgresql"] = bench_backend("postgresql", sz, args.postgres_url)
        else:
            skipped["postgresql"] = problem
            log(f"[postgresql] NOT MEASURED: {problem}")

    classified: ClassifyResult | None = None
    registered: RegisterResult | None = None
    if args.only in (None, "datasets"):
        classified = bench_classification(
            sz.classify_rows, sz.presidio_rows, sz.classify_repeats, log=log
        )
        registered = bench_register(sz.register_rows, log=log)

    trained: TrainingResult | None = None
    if args.only in (None, "training"):
        trained = bench_training(
            overhead_jobs=sz.train_overhead_jobs,
            overhead_rows=sz.train_overhead_rows,
            rows=sz.train_rows,
            runs=sz.train_runs,
            latency_calls=sz.latency_calls,
            latency_repeats=sz.latency_repeats,
            latency_warmup=sz.latency_warmup,
            log=log,
        )

    gated: GatesResult | None = None
    if args.only in (None, "gates"):
        gated = bench_gates(
            holdout_rows=sz.gates_holdout_rows,
            train_rows=sz.gates_train_rows,
            validate_runs=sz.gates_validate_runs,
            fairness_runs=sz.gates_fairness_runs,
            fairlearn_function_runs=sz.gates_fairlearn_function_runs,
            log=log,
        )

    served: ServingResult | None = None
    if args.only in (None, "serving"):
        served = bench_serving(duration=sz.serving_seconds, warmup=sz.serving_warmup, log=log)

    streamed: StreamResult | None = None
    if args.only in (None, "stream"):
        streamed = (
            bench_stream(requests=2000, single_requests=500, log=log)
            if args.quick
            else bench_stream(log=log)
        )

    drifted: DriftResult | None = None
    if args.only in (None, "drift"):
        drifted = bench_drift(sz.drift_rows, sz.drift_small_rows, log=log)

    costed: CostBenchResult | None = None
    if args.only in (None, "cost"):
        costed = bench_cost(args.quick, log=log)

    uied: UIBenchResult | None = None
    if args.only in (None, "ui"):
        uied = bench_ui(args.quick, log=log)

    meta["load_after"] = load_average()
    meta["duration"] = time.perf_counter() - t0
    if args.only == "ui" and args.output and args.output.exists():
        args.output.write_text(with_ui(args.output.read_text("utf-8"), uied, 16), encoding="utf-8")
        log(f"wrote section 16 into {args.output} ({meta['duration']:.0f} s)")
        return 0
    text = render(meta, results, skipped, classified, registered, trained, gated, drifted, costed)
    if served is not None:
        text += "\n".join(serving_sections(served, 12)) + "\n"
    if streamed is not None:
        text += "\n".join(stream_sections(streamed, 13)) + "\n"
    if drifted is not None:
        text += "\n".join(drift_sections(drifted, 14)) + "\n"
    if costed is not None:
        text += "\n".join(cost_sections(costed, 15)) + "\n"
    if uied is not None:
        text = with_ui(text, uied, 16)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        log(f"wrote {args.output} ({meta['duration']:.0f} s)")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
