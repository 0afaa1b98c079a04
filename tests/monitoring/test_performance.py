"""Realised performance when labels arrive: computed on the logged answers joined with the
feedback labels, cross-checked with scikit-learn, compared with the validated figure; a
degraded model fires the performance rule; without labels performance is unknown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn import metrics

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved

from steward.config import Home
from steward.deploy import DeployService
from steward.gates import GateService
from steward.monitoring import MonitoringService
from steward.monitoring.performance import Labelled, realised_metrics
from steward.policy import Principal
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.serving.service import Label

ADMIN, ALICE = Principal("admin"), Principal("alice")
Scored = tuple[Runtime, str, list[Any], list[float]]
BATCH = 20


@pytest.fixture
def scored(home: Home) -> Iterator[tuple[Runtime, str, list[Any], list[float]]]:
    """The HMDA holdout rows (480, never trained on) scored one request per 20 rows; the
    true labels kept aside, and the answers' probability of a denial."""
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {"rules": [{"name": "perf", "signal": "performance"}]}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = approved(rt, train, hold, exclude=["afam"])
    DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
    rows = hmda().slice(1900).to_pylist()
    truth = [r.pop("deny") for r in rows]
    answers = ServingService(rt, refresh=0).score_many(
        ALICE,
        "credit",
        [(f"r-{i}", {"records": rows[i : i + BATCH]}) for i in range(0, len(rows), BATCH)],
        source="http",
    )
    denied = [p["probabilities"]["yes"] for a in answers for p in a["predictions"]]
    yield rt, ref, truth, denied
    rt.close()


def _labels(truth: list[Any], flip: bool = False) -> list[Label]:
    out = []
    for i, t in enumerate(truth):
        value = ({"yes": "no", "no": "yes"}[t]) if flip else t
        out.append(Label(request_id=f"r-{i - i % BATCH}", row=i % BATCH, label=value))
    return out


def test_without_labels_performance_is_unknown(scored: Scored) -> None:
    rt, _, _, _ = scored
    report = MonitoringService(rt).report(ADMIN, "credit")
    assert report.performance is not None and report.performance.status == "unknown"
    assert report.performance.labelled == 0 and not report.performance.metrics
    assert "no labelled traffic" in report.performance.reasons[0]
    assert report.prediction is not None  # prediction drift is still reported


def test_labels_give_realised_metrics_equal_to_sklearn_and_the_validation(
    scored: Scored,
) -> None:
    rt, ref, truth, denied = scored
    ServingService(rt, refresh=0).feedback(ALICE, "credit", _labels(truth))
    mon = MonitoringService(rt)
    report = mon.report(ADMIN, "credit")
    perf = report.performance
    assert perf is not None and perf.status == "ok", perf
    assert perf.labelled == len(truth) == 480
    # the holdout traffic, labelled, is the validation's holdout: the same figures
    [validation] = GateService(rt).validations(ADMIN, ref)
    assert perf.validation == validation.id and perf.primary == "roc_auc"
    by_name = {m.metric: m for m in perf.metrics}
    assert set(by_name) == {"roc_auc", "brier"}
    for name in ("roc_auc", "brier"):
        assert by_name[name].realised == pytest.approx(validation.report.metrics[name], abs=1e-5)
        assert by_name[name].passes_limit is True
    # cross-check with scikit-learn on the answers the endpoint gave
    probs = np.asarray(denied)
    y = np.asarray([t == "yes" for t in truth])
    assert by_name["roc_auc"].realised == pytest.approx(metrics.roc_auc_score(y, probs), abs=1e-9)
    assert by_name["brier"].realised == pytest.approx(metrics.brier_score_loss(y, probs), abs=1e-9)
    assert not [a for a in report.alerts if a.signal == "performance"]


def test_wrong_labels_degrade_and_fire_the_performance_rule(
    scored: Scored,
) -> None:
    rt, _, truth, _ = scored
    ServingService(rt, refresh=0).feedback(ALICE, "credit", _labels(truth, flip=True))
    [report] = [r for r in MonitoringService(rt).run(ADMIN, "credit") if r.minutes == 60]
    perf = report.performance
    assert perf is not None and perf.status == "degraded"
    auc = next(m for m in perf.metrics if m.metric == "roc_auc")
    assert auc.realised is not None and auc.validated is not None
    assert auc.realised == pytest.approx(1 - auc.validated, abs=1e-5)  # labels flipped
    assert auc.passes_limit is False and auc.change is not None and auc.change < -0.3
    assert any("fails the suite's limit" in r for r in perf.reasons)
    [alert] = [a for a in report.alerts if a.signal == "performance"]
    assert alert.state == "open" and alert.evidence["labelled"] == len(truth)
    # correct labels replace the wrong ones: the alert resolves
    ServingService(rt, refresh=0).feedback(ALICE, "credit", _labels(truth))
    [again] = [r for r in MonitoringService(rt).run(ADMIN, "credit") if r.minutes == 60]
    assert again.performance is not None and again.performance.status == "ok"
    assert [a.state for a in again.alerts if a.signal == "performance"] == ["resolved"]


def test_labels_that_name_the_class_differently_are_understood() -> None:
    from steward.monitoring.performance import _as_classes

    assert list(_as_classes([1, "1", 1.0, True, "true", "no"], [0, 1])) == [1, 1, 1, 1, 1, "no"]
    assert list(_as_classes([True, 1, "b"], ["a", "b"])) == ["true", "1", "b"]


def test_too_few_labels_leave_performance_unknown(
    scored: Scored,
) -> None:
    rt, _, truth, _ = scored
    ServingService(rt, refresh=0).feedback(ALICE, "credit", _labels(truth)[:10])
    perf = MonitoringService(rt).report(ADMIN, "credit").performance
    assert perf is not None and perf.status == "unknown" and perf.labelled == 10
    assert "at least 50" in perf.reasons[0]


def test_realised_metrics_of_a_regression_model() -> None:
    from steward.registry import ModelDetail

    detail = ModelDetail.model_construct(objective="regression", outputs=[{"name": "variable"}])
    data = Labelled([{"variable": [[v]]} for v in (1.0, 2.0, 4.0)], [1.5, 2.0, 3.0])
    got = realised_metrics(detail, data)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error([1.5, 2, 3], [1, 2, 4]))
    assert got["rmse"] == pytest.approx(metrics.root_mean_squared_error([1.5, 2, 3], [1, 2, 4]))
