"""The dashboard's reads: the newest window reports (stored ones reused while fresh), the
latency of each window start, and one column of one window beside the reference, with
shares cross-checked against numpy on the raw logged and training values."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.config import Home
from steward.deploy import DeployService
from steward.errors import NotFound, PolicyDenied, ValidationFailed
from steward.kernels.profile import NumericProfile, TableProfile
from steward.monitoring import FeatureDistribution, MonitoringService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.serving.service import Label
from steward.store import Prediction, governed_writes

ADMIN, ALICE, BOB = Principal("admin"), Principal("alice"), Principal("bob")
HOURS, ROWS, PER_REQUEST = 4, 300, 20
#: KLL's error bounds at the profiles' k (99 % confidence)
RANK_ERROR = NumericProfile().rank_error
PMF_ERROR = NumericProfile().pmf_error


@dataclass
class Traffic:
    rt: Runtime
    model: str
    first: datetime  # the start of the oldest hour with traffic
    data: tuple[str, str]  # the training and holdout datasets


def _land(rt: Runtime, prefix: str, rows: list[dict[str, Any]], at: datetime) -> None:
    """Score ``rows`` in requests of PER_REQUEST rows and date their log rows ``at``."""
    batch = [
        (f"{prefix}-{i}", {"records": rows[i : i + PER_REQUEST]})
        for i in range(0, len(rows), PER_REQUEST)
    ]
    with closing(ServingService(rt, refresh=0)) as serving:  # its request counts written
        serving.score_many(ALICE, "credit", batch, source="http")
    ids = [rid for rid, _ in batch]
    with governed_writes("test"), rt.store.transaction(write=True) as s:
        s.execute(update(Prediction).where(Prediction.request_id.in_(ids)).values(at=at))


@pytest.fixture
def traffic(home: Home) -> Iterator[Traffic]:
    """A model that takes ``afam`` (which the log pseudonymises), serving HOURS hourly
    windows of ROWS applications each, the last of them two hours ago."""
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    model = approved(rt, train, hold, seed=4)
    DeployService(rt).deploy(ADMIN, model, endpoint="credit", site="eu-fra")
    pool = [{k: v for k, v in r.items() if k != "deny"} for r in hmda().to_pylist()]
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first -= timedelta(hours=HOURS + 1)
    for h in range(HOURS):
        rows = pool[h * ROWS : (h + 1) * ROWS]
        _land(rt, f"h{h}", rows, first + timedelta(hours=h, minutes=30))
    yield Traffic(rt, model, first, (train, hold))
    rt.close()


def _logged(
    rt: Runtime, start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], list[float]]:
    """The inputs and latencies the log holds for ``credit`` in ``[start, end)``."""
    with rt.store.transaction() as s:
        rows = s.execute(
            select(Prediction.inputs, Prediction.latency_ms).where(
                Prediction.endpoint == "credit",
                Prediction.role == "primary",
                Prediction.at >= start,
                Prediction.at < end,
            )
        ).all()
    return [json.loads(i) for i, _ in rows], [float(x) for _, x in rows]


def _training_rows(rt: Runtime, model: str) -> list[dict[str, Any]]:
    """The rows the reference profile was built from: the model's training split of the
    registered training rows (the same split as training makes)."""
    spec = ModelService(rt).show(ADMIN, model).spec
    table = hmda().slice(0, 1900)
    deny = np.asarray(table.column("deny").to_pylist())
    n_val = math.ceil(len(deny) * spec.get("validation_fraction", 0.2))
    idx, _ = train_test_split(
        np.arange(len(deny)), test_size=n_val, random_state=spec["seed"], stratify=deny
    )
    return table.take(idx).to_pylist()


def _histogram(values: list[float], edges: list[float]) -> list[float]:
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=np.asarray(edges))
    return (counts / counts.sum()).tolist()


def test_recent_reuses_fresh_reports_and_evaluates_changed_windows(traffic: Traffic) -> None:
    rt, first = traffic.rt, traffic.first
    mon = MonitoringService(rt)
    starts = [first + timedelta(hours=h) for h in range(HOURS)]
    reports = mon.recent(ADMIN, "credit", limit=3)
    assert [r.start for r in reports] == starts[1:]  # the newest three, oldest first
    assert all(r.minutes == 60 and r.rows == ROWS and r.model == traffic.model for r in reports)
    assert all(r.evaluated_at is not None and not r.too_few_rows for r in reports)
    assert [r.start for r in mon.recent(ADMIN, "credit")] == starts  # fewer than 6 exist
    # nothing new: the stored reports come back as they were
    again = mon.recent(ADMIN, "credit", limit=3)
    assert [r.evaluated_at for r in again] == [r.evaluated_at for r in reports]
    assert [r.model_dump() for r in again] == [r.model_dump() for r in reports]
    # new traffic in the middle window: that one is evaluated again, the others are not
    late = [{k: v for k, v in r.items() if k != "deny"} for r in hmda().slice(2000, 40).to_pylist()]
    _land(rt, "late", late, starts[2] + timedelta(minutes=50))
    after = mon.recent(ADMIN, "credit", limit=3)
    assert [r.rows for r in after] == [ROWS, ROWS + 40, ROWS]
    assert after[1].evaluated_at is not None and reports[1].evaluated_at is not None
    assert after[1].evaluated_at > reports[1].evaluated_at
    assert [after[0].evaluated_at, after[2].evaluated_at] == [
        reports[0].evaluated_at,
        reports[2].evaluated_at,
    ]
    # a label may change any window's performance: every report is evaluated again
    with closing(ServingService(rt, refresh=0)) as serving:
        serving.feedback(ALICE, "credit", [Label(request_id="h3-0", row=0, label="no")])
    labelled = mon.recent(ADMIN, "credit", limit=3)
    assert all(
        b.evaluated_at is not None
        and a.evaluated_at is not None
        and b.evaluated_at > a.evaluated_at
        for a, b in zip(after, labelled, strict=True)
    )
    assert labelled[2].performance is not None and labelled[2].performance.labelled == 1
    with pytest.raises(ValidationFailed) as info:
        mon.recent(ADMIN, "credit", limit=0)
    assert info.value.details["parameter"] == "limit"


def test_latency_quantiles_match_the_logged_latencies(traffic: Traffic) -> None:
    rt, first = traffic.rt, traffic.first
    points = MonitoringService(rt).latency(ADMIN, "credit")
    assert [p.start for p in points] == [first + timedelta(hours=h) for h in range(HOURS)]
    for p in points:
        assert p.end == p.start + timedelta(hours=1)
        assert p.rows == ROWS and p.models == [traffic.model]
        _, latencies = _logged(rt, p.start, p.end)
        assert len(latencies) == ROWS
        assert p.p50_ms is not None and p.p99_ms is not None
        for q, got in ((0.5, p.p50_ms), (0.99, p.p99_ms)):
            # within the sketch's rank error of numpy's quantile (and the 3 decimals kept)
            lo, hi = np.percentile(
                latencies,
                [100 * max(q - RANK_ERROR, 0.0), 100 * min(q + RANK_ERROR, 1.0)],
                method="inverted_cdf",
            )
            assert lo - 1e-3 <= got <= hi + 1e-3, (q, got, lo, hi)
    newest = MonitoringService(rt).latency(ADMIN, "credit", limit=2)
    assert [p.start for p in newest] == [p.start for p in points[-2:]]


def test_latency_merges_every_model_of_a_window(traffic: Traffic) -> None:
    rt, first = traffic.rt, traffic.first
    other = approved(rt, *traffic.data, seed=5, exclude=["afam"])
    DeployService(rt).deploy(ADMIN, other, endpoint="credit", site="eu-fra")
    last = first + timedelta(hours=HOURS - 1)
    late = [
        {k: v for k, v in r.items() if k != "deny"} for r in hmda().slice(2000, 100).to_pylist()
    ]
    _land(rt, "other", late, last + timedelta(minutes=40))
    point = MonitoringService(rt).latency(ADMIN, "credit")[-1]
    assert point.start == last and point.rows == ROWS + 100
    assert sorted(point.models) == sorted([traffic.model, other])
    _, latencies = _logged(rt, last, last + timedelta(hours=1))
    assert len(latencies) == ROWS + 100
    assert point.p99_ms is not None
    lo, hi = np.percentile(latencies, [100 * (0.99 - RANK_ERROR), 100.0], method="inverted_cdf")
    assert lo - 1e-3 <= point.p99_ms <= hi + 1e-3


def _check_numeric(d: FeatureDistribution, current: list[float], reference: list[float]) -> None:
    assert d.kind == "numeric" and d.edges is not None and d.categories is None
    assert len(d.edges) == 21 and len(d.reference) == len(d.current) == 20
    assert d.edges[0] == min(min(current), min(reference))
    assert d.edges[-1] == max(max(current), max(reference))
    assert sum(d.current) == pytest.approx(1.0, abs=1e-5)
    assert sum(d.reference) == pytest.approx(1.0, abs=1e-5)
    got_cur, want_cur = np.asarray(d.current), np.asarray(_histogram(current, d.edges))
    got_ref, want_ref = np.asarray(d.reference), np.asarray(_histogram(reference, d.edges))
    assert np.abs(got_cur - want_cur).max() <= PMF_ERROR, (got_cur, want_cur)
    assert np.abs(got_ref - want_ref).max() <= PMF_ERROR, (got_ref, want_ref)
    assert d.current_summary["valid"] == len(current)
    assert d.reference_summary["valid"] == len(reference)
    assert d.current_summary["mean"] == pytest.approx(np.mean(current), rel=1e-9)
    assert d.reference_summary["mean"] == pytest.approx(np.mean(reference), rel=1e-9)
    assert d.current_summary["std"] == pytest.approx(np.std(current, ddof=1), rel=1e-9)


def test_distribution_of_numeric_columns_matches_numpy_histograms(traffic: Traffic) -> None:
    rt, first = traffic.rt, traffic.first
    mon = MonitoringService(rt)
    start = first + timedelta(hours=1)
    training = _training_rows(rt, traffic.model)
    inputs, _ = _logged(rt, start, start + timedelta(hours=1))
    # lvrat: continuous; chist: six values, most of them on bin edges
    for column in ("lvrat", "chist"):
        d = mon.distribution(ADMIN, "credit", column, start=start + timedelta(minutes=7))
        assert (d.model, d.minutes, d.start, d.column) == (traffic.model, 60, start, column)
        assert d.current_rows == ROWS and d.reference_rows == len(training)
        _check_numeric(d, [r[column] for r in inputs], [float(r[column]) for r in training])
        assert d.verdict is not None and d.verdict.column == column
        assert d.verdict.status in ("stable", "drifted")
    # the verdict is the window's stored one (no new evaluation)
    report = mon.report(ADMIN, "credit", start=start)
    stored = mon.distribution(ADMIN, "credit", "lvrat", start=start, bins=5)
    assert stored.verdict == next(v for v in report.features if v.column == "lvrat")
    assert len(stored.edges or []) == 6
    evaluated = {w.start: w.evaluated_at for w in mon.windows(ADMIN, "credit") if w.minutes == 60}
    assert evaluated[start] == report.evaluated_at
    # default: the latest window of the shortest length
    latest = mon.distribution(ADMIN, "credit", "hirat")
    assert latest.start == first + timedelta(hours=HOURS - 1)


def test_distribution_of_a_category_and_of_the_prediction(traffic: Traffic) -> None:
    rt, first = traffic.rt, traffic.first
    mon = MonitoringService(rt)
    start = first + timedelta(hours=2)
    inputs, _ = _logged(rt, start, start + timedelta(hours=1))
    training = _training_rows(rt, traffic.model)
    d = mon.distribution(ADMIN, "credit", "single", start=start)
    assert d.kind == "categorical" and d.edges is None and d.categories is not None
    assert set(d.categories) == {"yes", "no"}  # every category shown: no "(other)"
    ref_share = {c: sum(r["single"] == c for r in training) / len(training) for c in d.categories}
    cur_share = {c: sum(r["single"] == c for r in inputs) / len(inputs) for c in d.categories}
    assert d.categories == sorted(d.categories, key=lambda c: -ref_share[c])
    assert d.reference == pytest.approx([ref_share[c] for c in d.categories], abs=1e-6)
    assert d.current == pytest.approx([cur_share[c] for c in d.categories], abs=1e-6)
    assert d.verdict is not None and d.verdict.column == "single"
    # the prediction: the probability of a denial, against the validation predictions
    p = mon.distribution(ADMIN, "credit", "prediction", start=start)
    assert p.kind == "numeric" and p.column == "prediction" and p.current_rows == ROWS
    assert sum(p.current) == pytest.approx(1.0, abs=1e-5)
    assert sum(p.reference) == pytest.approx(1.0, abs=1e-5)
    report = mon.report(ADMIN, "credit", start=start)
    assert p.verdict is not None and report.prediction is not None
    assert p.verdict.method == report.prediction.method
    assert p.verdict.score == pytest.approx(report.prediction.score)
    ref = TableProfile.from_dict(
        ModelService(rt).reference_profile(ADMIN, traffic.model)["predictions"]
    )
    assert p.reference_rows == ref.rows


def test_distribution_refuses_what_it_cannot_show(traffic: Traffic, home: Home) -> None:
    rt = traffic.rt
    mon = MonitoringService(rt)
    with pytest.raises(NotFound) as missing:
        mon.distribution(ADMIN, "credit", "income")
    assert missing.value.details["column"] == "income"
    assert {"lvrat", "single", "prediction"} <= set(missing.value.details["columns"])
    assert "afam" not in missing.value.details["columns"]
    with pytest.raises(ValidationFailed) as masked:
        mon.distribution(ADMIN, "credit", "afam")
    assert masked.value.details["column"] == "afam"
    assert "pseudonymise" in masked.value.details["masked"]
    with pytest.raises(NotFound) as nowhere:
        mon.distribution(ADMIN, "nowhere", "lvrat")
    assert nowhere.value.details["endpoint"] == "nowhere"
    with pytest.raises(NotFound):
        mon.distribution(ADMIN, "credit", "lvrat", minutes=5)
    with pytest.raises(ValidationFailed) as bins:
        mon.distribution(ADMIN, "credit", "lvrat", bins=0)
    assert bins.value.details["parameter"] == "bins"


def test_the_reads_need_permission(traffic: Traffic, home: Home) -> None:
    (home.policies_dir / "no-monitoring.cedar").write_text(
        '@id("no-system-read-for-bob")\n'
        '@advice("bob may not read system state")\n'
        'forbid (principal == User::"bob", action == Action::"system.read", resource);\n'
    )
    rt = Runtime.open(home)
    try:
        mon = MonitoringService(rt)
        for read in (
            lambda: mon.recent(BOB, "credit"),
            lambda: mon.latency(BOB, "credit"),
            lambda: mon.distribution(BOB, "credit", "lvrat"),
        ):
            with pytest.raises(PolicyDenied) as info:
                read()
            assert info.value.action == "system.read"
            assert [r.policy for r in info.value.reasons] == ["no-system-read-for-bob"]
        assert mon.latency(ALICE, "credit")  # everyone else may
    finally:
        rt.close()


def test_categories_follow_the_reference_and_the_rest_is_other() -> None:
    from steward.kernels.profile import CategoricalProfile
    from steward.monitoring.service import OTHER, TOP, _categories

    ref = CategoricalProfile().update(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    cur = CategoricalProfile().update(["c"] * 60 + ["d"] * 30 + ["b"] * 10 + [None] * 5)
    names, rs, cs = _categories(ref, cur)
    # the reference's order, then categories only the window has, by their share there
    assert names == ["a", "b", "c", "d"]
    assert rs == [0.5, 0.3, 0.2, 0.0] and cs == [0.0, 0.1, 0.6, 0.3]  # of valid values
    many = CategoricalProfile().update([f"k{i:02d}" for i in range(30) for _ in range(i + 1)])
    names, rs, cs = _categories(many, cur)
    assert len(names) == TOP + 1 and names[-1] == OTHER
    assert names[0] == "k29" and "c" not in names  # the window's own are past the cap
    assert sum(rs) == pytest.approx(1.0, abs=1e-5) and sum(cs) == pytest.approx(1.0, abs=1e-5)
    assert cs[-1] == 1.0  # none of the window's categories made the cut
