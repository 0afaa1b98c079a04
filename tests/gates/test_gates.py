"""Gates: locked-holdout validation, overlap refusal, four-eyes approval, atomic promotion."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from gatesdata import ALICE, BOB, SUITE, hmda, register_split, train_model, with_suite
from sqlalchemy import select

from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets import DatasetService
from steward.errors import GateFailed, PolicyDenied, ValidationFailed
from steward.gates import GateService, HoldoutOverlap
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.store import ModelVersion

PERF_ONLY: dict[str, Any] = {
    **{k: v for k, v in SUITE.items() if k not in ("fairness",)},
    "champion": {"margin": 1.0},  # compared and reported; here never decisive
}
CAROL = Principal("carol")


def _add_approver(home: Home, name: str = "carol") -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"][name] = {"roles": ["approver"]}
    cfg["teams"]["risk"]["members"].append(name)
    home.config_path.write_text(yaml.safe_dump(cfg))


@pytest.fixture
def grt(home: Home) -> Iterator[Runtime]:
    with_suite(home, PERF_ONLY)
    _add_approver(home)
    rt = Runtime.open(home)
    yield rt
    rt.close()


def ledger(rt: Runtime, after: int) -> list[tuple[str, str]]:
    return [(e.action, e.decision) for e in rt.ledger.entries(LedgerFilter(after_seq=after))]


def test_validation_evaluates_the_onnx_model_on_the_locked_holdout(grt: Runtime) -> None:
    train, hold = register_split(grt)
    ref = train_model(grt, train)
    head, _ = grt.ledger.head()
    info = GateService(grt).validate(BOB, ref, hold)
    assert info.passed and info.current and info.report.overlap_rows == 0
    hd = DatasetService(grt).show(ALICE, hold)
    assert info.holdout_fingerprint == hd.fingerprint == info.report.holdout_fingerprint
    assert info.report.holdout_rows == hd.rows == 480
    # the metric is the ONNX model's on the holdout, cross-checked with scikit-learn here
    from sklearn.metrics import roc_auc_score

    from steward.registry.runner import OnnxRunner

    m = ModelService(grt).show(ALICE, ref)
    table = hmda().slice(1900)
    p = OnnxRunner(ModelService(grt).onnx(ALICE, ref), m.inputs, m.classes).predict(table)
    truth = table.column("deny").to_numpy(zero_copy_only=False) == "yes"
    auc = roc_auc_score(truth, p.positive_score())
    assert info.report.metrics["roc_auc"] == pytest.approx(auc, abs=1e-9)
    assert ModelService(grt).show(ALICE, ref).stage == "validated"
    # (reads of the data, holdout and model are on the record too: left out here)
    entries = grt.ledger.entries(LedgerFilter(after_seq=head, action="model.validate"))
    assert [(e.action, e.decision) for e in entries] == [("model.validate", "allow")]
    card = ModelService(grt).show(ALICE, ref).card
    assert card["validation"]["passed"] is True and card["validation"]["holdout"] == hold


def test_a_failing_model_cannot_be_approved_or_promoted(home: Home) -> None:
    strict = {**PERF_ONLY, "performance": [{"metric": "roc_auc", "min": 0.99}]}
    with_suite(home, strict)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        info = GateService(rt).validate(BOB, ref, hold)
        assert not info.passed
        assert [c.name for c in info.report.failed] == ["roc_auc"]
        assert ModelService(rt).show(ALICE, ref).stage == "failed"
        with pytest.raises(GateFailed, match="failed its gates") as info:
            GateService(rt).decide(BOB, ref, approve=True)
        assert info.value.details["failed"] == ["roc_auc"]
        with pytest.raises(GateFailed, match="failed its gates"):
            GateService(rt).promote(Principal("admin"), ref)
    finally:
        rt.close()


def test_a_holdout_overlapping_the_training_data_is_refused_and_recorded(grt: Runtime) -> None:
    t = hmda()
    ds = DatasetService(grt)
    train = ds.register(ALICE, t.slice(0, 1900), name="hmda", team="risk").ref
    leaky = ds.register(ALICE, t.slice(1800), name="leaky", team="risk", locked=True).ref
    ref = train_model(grt, train)
    head, _ = grt.ledger.head()
    with pytest.raises(HoldoutOverlap) as info:
        GateService(grt).validate(BOB, ref, leaky)
    assert info.value.details["rows"] == 100
    entries = grt.ledger.entries(LedgerFilter(after_seq=head, action="model.validate"))
    assert [(e.action, e.decision) for e in entries] == [("model.validate", "deny")]
    assert json.loads(entries[0].reasons)[0]["policy"] == "holdout-overlap"
    assert GateService(grt).validations(ALICE, ref) == []


def test_only_locked_holdouts_count(grt: Runtime) -> None:
    t = hmda()
    train = DatasetService(grt).register(ALICE, t.slice(0, 1900), name="hmda", team="risk").ref
    open_ = DatasetService(grt).register(ALICE, t.slice(1900), name="open", team="risk").ref
    ref = train_model(grt, train)
    with pytest.raises(ValidationFailed, match="not a locked holdout"):
        GateService(grt).validate(BOB, ref, open_)


def test_four_eyes_approval_and_atomic_promotion(grt: Runtime) -> None:
    train, hold = register_split(grt)
    ref = train_model(grt, train)
    gates = GateService(grt)
    gates.validate(BOB, ref, hold)  # not alice: a producer's own validation never counts
    head, _ = grt.ledger.head()
    with pytest.raises(PolicyDenied, match="four-eyes"):
        gates.decide(ALICE, ref, approve=True)  # alice trained it (and is no approver)
    info = gates.decide(BOB, ref, approve=True, note="reviewed the fairness table")
    assert info.stage == "approved" and [a.user for a in info.approvals] == ["bob"]
    promoted = gates.promote(Principal("admin"), ref, note="go")
    assert promoted.stage == "production"
    assert [h["to"] for h in promoted.history] == ["validated", "approved", "production"]
    assert ledger(grt, head) == [
        ("model.approve", "deny"),
        ("model.approve", "allow"),
        ("model.promote", "allow"),
    ]
    card = ModelService(grt).show(ALICE, ref).card
    assert card["approvals"]["decisions"][0]["user"] == "bob"

    # a second version replaces it: the champion is compared, the old one retires
    ref2 = train_model(grt, train, seed=2, family="hgb", params={"max_iter": 40})
    v2 = gates.validate(BOB, ref2, hold)
    assert v2.report.champion is not None and v2.report.champion["model"] == ref
    assert v2.passed
    gates.decide(CAROL, ref2, approve=True)
    head, _ = grt.ledger.head()
    gates.promote(Principal("admin"), ref2)
    assert ledger(grt, head) == [("model.retire", "allow"), ("model.promote", "allow")]
    assert ModelService(grt).show(ALICE, ref).stage == "retired"
    assert ModelService(grt).show(ALICE, ref2).stage == "production"


def test_two_approvals_when_the_team_needs_two(home: Home) -> None:
    with_suite(home, PERF_ONLY, approvals_by_team={"risk": 2})
    _add_approver(home)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        gates = GateService(rt)
        gates.validate(BOB, ref, hold)
        assert gates.decide(BOB, ref, approve=True).stage == "validated"
        with pytest.raises(GateFailed, match="only an approved model"):
            gates.promote(Principal("admin"), ref)
        after = gates.decide(CAROL, ref, approve=True)
        assert after.stage == "approved" and after.approvals_required == 2
    finally:
        rt.close()


def test_a_changed_suite_makes_the_validation_stale(home: Home) -> None:
    with_suite(home, PERF_ONLY)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = train_model(rt, train)
    GateService(rt).validate(BOB, ref, hold)
    rt.close()
    with_suite(home, {**PERF_ONLY, "performance": [{"metric": "roc_auc", "min": 0.6}]})
    rt = Runtime.open(home)
    try:
        (v,) = GateService(rt).validations(ALICE, ref)
        assert not v.current and "changed" in (v.stale_reason or "")
        with pytest.raises(GateFailed, match="stale"):
            GateService(rt).decide(BOB, ref, approve=True)
    finally:
        rt.close()


def test_rejection_sends_the_model_back(grt: Runtime) -> None:
    train, hold = register_split(grt)
    ref = train_model(grt, train)
    GateService(grt).validate(BOB, ref, hold)
    info = GateService(grt).decide(BOB, ref, approve=False, note="calibration too weak")
    assert info.stage == "candidate" and info.approvals[0].decision == "reject"


def test_a_challenger_worse_than_the_champion_fails(home: Home) -> None:
    with_suite(home, {**PERF_ONLY, "champion": {"margin": 0.0}})
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        gates = GateService(rt)
        good = train_model(rt, train)
        gates.validate(BOB, good, hold)
        gates.decide(BOB, good, approve=True)
        gates.promote(Principal("admin"), good)
        weak = train_model(rt, train, features=["hschool", "condomin"])
        v = gates.validate(BOB, weak, hold)
        champ = [c for c in v.report.checks if c.kind == "champion"]
        assert len(champ) == 1 and champ[0].passed is False and not v.passed
        assert v.report.champion and v.report.champion["challenger"] < v.report.champion["champion"]
    finally:
        rt.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_promotions_leave_exactly_one_in_production(home: Home) -> None:
    """Two threads promote two approved versions at once, on PostgreSQL."""
    with_suite(home, PERF_ONLY)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        refs = [train_model(rt, train, seed=s) for s in (1, 2)]
        gates = GateService(rt)
        for r in refs:
            assert gates.validate(BOB, r, hold).passed
            gates.decide(BOB, r, approve=True)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def promote(r: str) -> None:
            barrier.wait()
            try:
                GateService(rt).promote(Principal("admin"), r)
            except BaseException as e:  # collected and checked below
                errors.append(e)

        threads = [threading.Thread(target=promote, args=(r,)) for r in refs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with rt.store.transaction() as s:
            stages = sorted(s.execute(select(ModelVersion.stage)).scalars())
        assert stages == ["production", "retired"]
    finally:
        rt.close()


def test_fairness_in_the_report_equals_fairlearn_on_the_served_model(home: Home) -> None:
    fairlearn = pytest.importorskip("fairlearn.metrics")
    suite = {
        **PERF_ONLY,
        "fairness": {
            "sensitive": ["afam", "single", "selfemp"],
            "min_group_size": 30,
            "limits": [{"metric": "equalized_odds_difference", "max": 0.1}],
        },
        "robustness": {"epsilon": 0.05, "limits": [{"metric": "flip_rate", "max": 0.1}]},
    }
    with_suite(home, suite)
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        info = GateService(rt).validate(BOB, ref, hold)
        fair = info.report.fairness
        # recompute with fairlearn from the ONNX model's decisions on the holdout
        from steward.registry.runner import OnnxRunner

        m = ModelService(rt).show(ALICE, ref)
        table = hmda().slice(1900)
        pred = OnnxRunner(ModelService(rt).onnx(ALICE, ref), m.inputs, m.classes).predict(table)
        truth = (table.column("deny").to_numpy(zero_copy_only=False) == "yes").astype(int)
        decided = (pred.labels == (m.classes or [0, 1])[1]).astype(int)
        for attr in ("afam", "single"):
            groups = table.column(attr).to_numpy(zero_copy_only=False)
            mf = fairlearn.MetricFrame(
                metrics={
                    "sr": fairlearn.selection_rate,
                    "tpr": fairlearn.true_positive_rate,
                    "fpr": fairlearn.false_positive_rate,
                },
                y_true=truth,
                y_pred=decided,
                sensitive_features=groups,
            )
            rows = {g["group"]: g for g in fair["attributes"][attr]["groups"]}
            for group, row in mf.by_group.iterrows():
                assert rows[str(group)]["selection_rate"] == pytest.approx(row["sr"], abs=1e-12)
                assert rows[str(group)]["tpr"] == pytest.approx(row["tpr"], abs=1e-12)
                assert rows[str(group)]["fpr"] == pytest.approx(row["fpr"], abs=1e-12)
            summary = fair["attributes"][attr]["summary"]
            assert summary["demographic_parity_ratio"] == pytest.approx(
                fairlearn.demographic_parity_ratio(truth, decided, sensitive_features=groups),
                abs=1e-12,
            )
            assert summary["equalized_odds_difference"] == pytest.approx(
                fairlearn.equalized_odds_difference(truth, decided, sensitive_features=groups),
                abs=1e-12,
            )
        # groups too small to judge are listed with their counts, and only those
        small = fair["too_small"]
        assert small and all(0 < s["count"] < 30 for s in small)
        assert any(s["attribute"] == "afam × selfemp" for s in small)
        judged = [g for i in fair["intersections"].values() for g in i["groups"]]
        assert all(g["count"] >= 30 for g in judged)
        names = {c.name for c in info.report.checks}
        assert {"afam: equalized_odds_difference", "single: equalized_odds_difference"} <= names
        assert {"flip_rate", "invalid_output_share", "leakage_auc"} <= names
        card = ModelService(rt).show(ALICE, ref).card
        assert card["fairness"]["attributes"]["afam"]["groups"]
    finally:
        rt.close()


def test_a_sensitive_attribute_missing_from_the_holdout_is_a_clear_error(home: Home) -> None:
    with_suite(home, {**PERF_ONLY, "fairness": {"sensitive": ["race"], "limits": []}})
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        ref = train_model(rt, train)
        with pytest.raises(ValidationFailed, match="'race'"):
            GateService(rt).validate(BOB, ref, hold)
    finally:
        rt.close()
