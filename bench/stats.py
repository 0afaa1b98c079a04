"""Timing helpers: warm up, repeat, collect per-call latencies and per-repeat rates."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Sample", "VerifyResult", "measure", "p99", "percentile", "time_once"]

T = TypeVar("T")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1) by nearest rank (no interpolation)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def p99(values: list[float]) -> float:
    """The 99th percentile by nearest rank (no interpolation)."""
    return percentile(values, 0.99)


@dataclass
class Sample:
    """Latencies of every timed call (seconds) and the rate each repeat achieved."""

    items_per_call: int
    latencies: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1e3

    @property
    def p99_ms(self) -> float:
        return p99(self.latencies) * 1e3

    @property
    def rate(self) -> float:
        """Items per second: the median over repeats of items / wall time of the repeat."""
        return statistics.median(self.rates)

    @property
    def rate_spread(self) -> tuple[float, float]:
        return min(self.rates), max(self.rates)


def measure(
    call: Callable[[int], object],
    *,
    calls: int,
    repeats: int,
    warmup: int,
    items_per_call: int = 1,
) -> Sample:
    """Run ``call(i)`` ``warmup`` times untimed, then ``repeats`` x ``calls`` times timed.

    ``i`` counts up across all calls (warm-up included) so callers can vary inputs.
    """
    sample = Sample(items_per_call)
    i = 0
    for _ in range(warmup):
        call(i)
        i += 1
    clock = time.perf_counter
    for _ in range(repeats):
        gc.collect()
        lat: list[float] = []
        start = clock()
        for _ in range(calls):
            t0 = clock()
            call(i)
            lat.append(clock() - t0)
            i += 1
        wall = clock() - start
        sample.latencies += lat
        sample.rates.append(calls * items_per_call / wall)
    return sample


def time_once(call: Callable[[], T]) -> tuple[float, T]:
    """Wall time of one call (after a collection) and what it returned."""
    gc.collect()
    t0 = time.perf_counter()
    result = call()
    return time.perf_counter() - t0, result


@dataclass
class VerifyResult:
    """One backend's ledger verification: what was verified and how long each run took."""

    entries: int
    loaded: int
    load_seconds: float
    checkpoints: int
    times: list[float]
    ok: bool
    problem: str | None

    @property
    def median(self) -> float:
        return statistics.median(self.times)
