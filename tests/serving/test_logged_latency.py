"""Latency over time from the prediction log (the dashboard's chart before an endpoint has
monitoring windows, and its health figures after a restart), cross-checked with numpy."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_log import credit, records  # noqa: F401  (credit is a fixture)

from steward.errors import NotFound, PolicyDenied, ValidationFailed
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.store import Prediction, governed_writes

ADMIN, ALICE = Principal("admin"), Principal("alice")
T0 = datetime(2026, 3, 1, 12, 0, 7, tzinfo=UTC)


def _log(rt: Runtime, rows: list[tuple[datetime, float, int, str]], model: str) -> None:
    """Requests straight into the log: (time, latency ms, rows in the request, role)."""
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        for i, (at, ms, n, role) in enumerate(rows):
            for r in range(n):
                s.add(
                    Prediction(
                        endpoint="credit",
                        request_id=f"req-{i}",
                        row=r,
                        role=role,
                        revision=1,
                        model=model,
                        source="http",
                        at=at,
                        latency_ms=ms,
                        inputs="{}",
                        outputs="{}",
                    )
                )


def test_buckets_hold_the_exact_percentiles_of_their_requests(
    credit: tuple[Runtime, list[str]],  # noqa: F811
) -> None:
    rt, refs = credit
    serving = ServingService(rt, refresh=0)
    assert serving.logged_latency(ALICE, "credit") == []  # nothing logged yet
    rng = np.random.default_rng(7)
    # 600 requests over 10 minutes; batch requests count once; shadow answers not at all
    offsets = np.sort(rng.uniform(0, 600, size=600))
    ms = rng.lognormal(1.0, 0.6, size=600)
    rows = [
        (T0 + timedelta(seconds=float(o)), float(m), 3 if i % 7 == 0 else 1, "primary")
        for i, (o, m) in enumerate(zip(offsets, ms, strict=True))
    ]
    rows += [(T0 + timedelta(seconds=30), 999.0, 1, "shadow")]
    _log(rt, rows, refs[0])

    points = serving.logged_latency(ALICE, "credit", points=48)
    # 600 s over at most 48 points: 15-second buckets aligned to the clock
    assert len(points) <= 48 and all(p.end - p.start == timedelta(seconds=15) for p in points)
    assert [p.start for p in points] == sorted(p.start for p in points)
    assert sum(p.rows for p in points) == 600
    starts = np.array([(T0 + timedelta(seconds=float(o))).timestamp() for o in offsets])
    for p in points:
        inside = (starts >= p.start.timestamp()) & (starts < p.end.timestamp())
        assert p.rows == int(inside.sum())
        want = np.percentile(ms[inside], [50, 99])
        assert (p.p50_ms, p.p99_ms) == pytest.approx(want, abs=1e-3)
        assert p.models == [refs[0]]

    # one point over the newest 100 requests
    (newest,) = serving.logged_latency(ALICE, "credit", last=100, points=1)
    assert newest.rows == 100
    assert (newest.p50_ms, newest.p99_ms) == pytest.approx(
        np.percentile(ms[-100:], [50, 99]), abs=1e-3
    )
    assert newest.start == T0 + timedelta(seconds=float(offsets[-100]))


def test_real_traffic_shows_up_and_bad_asks_are_refused(
    credit: tuple[Runtime, list[str]],  # noqa: F811
) -> None:
    rt, _ = credit
    serving = ServingService(rt, refresh=0)
    for i in range(5):
        serving.predict_records(ALICE, "credit", records(1900 + i, 2))
    serving.log.flush()
    points = serving.logged_latency(ALICE, "credit")
    assert sum(p.rows for p in points) == 5 and all(p.p99_ms and p.p99_ms > 0 for p in points)
    with pytest.raises(NotFound):
        serving.logged_latency(ALICE, "nope")
    with pytest.raises(ValidationFailed) as info:
        serving.logged_latency(ALICE, "credit", points=0)
    assert info.value.code == "validation_failed" and "points" in info.value.message
    (rt.home.policies_dir / "no-read.cedar").write_text(
        '@id("no-system-read-for-alice")\n'
        'forbid (principal == User::"alice", action == Action::"system.read", resource);\n'
    )
    locked = Runtime.open(rt.home)
    try:
        with pytest.raises(PolicyDenied):
            ServingService(locked, refresh=0).logged_latency(ALICE, "credit")
        assert ServingService(locked, refresh=0).logged_latency(ADMIN, "credit")
    finally:
        locked.close()
