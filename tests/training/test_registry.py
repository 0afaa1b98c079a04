"""The model registry: versions, compare, cards, imports."""

from __future__ import annotations

import pytest
from trainingdata import ALICE, default_table, register_default, spec

from steward.datasets import DatasetService
from steward.errors import NotFound, PolicyDenied, ValidationFailed
from steward.policy import Principal
from steward.registry import ModelService, render_markdown
from steward.runtime import Runtime
from steward.training import TrainingService, Worker


def train(rt: Runtime, **over: object) -> str:
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec(over.pop("ref"), **over))  # type: ignore[arg-type]
    Worker(rt, "inline").run_once(job.id)
    done = svc.job(ALICE, job.id)
    assert done.result_ref, done.error_message
    return done.result_ref


def test_versions_number_up_and_compare_shows_what_differs(sqlite_rt: Runtime) -> None:
    a = register_default(sqlite_rt)
    b = (
        DatasetService(sqlite_rt)
        .register(ALICE, default_table(1500), name="default-small", team="risk")
        .ref
    )
    r1 = train(sqlite_rt, ref=a, name="credit")
    r2 = train(sqlite_rt, ref=b, name="credit", family="hgb", params={"max_iter": 30}, seed=1)
    assert (r1, r2) == ("credit@1", "credit@2")
    reg = ModelService(sqlite_rt)
    assert reg.show(ALICE, "credit").ref == "credit@2"  # no version: the latest
    cmp = reg.compare(ALICE, r1, r2)
    assert not cmp.same_data
    assert cmp.data["only_a"] == [a] and cmp.data["only_b"] == [b]
    assert cmp.params["family"] == {"a": "linear", "b": "hgb"}
    assert cmp.params["seed"] == {"a": 7, "b": 1}
    assert "params.max_iter" in cmp.params
    for k, v in cmp.metrics.items():
        assert v["delta"] == pytest.approx(v["b"] - v["a"]), k
    assert [m.ref for m in reg.versions(ALICE, stage="candidate")] == [r1, r2]
    assert reg.versions(ALICE, stage="production") == []


def test_the_card_has_every_section_and_says_what_is_pending(sqlite_rt: Runtime) -> None:
    ref = train(sqlite_rt, ref=register_default(sqlite_rt), name="carded")
    m = ModelService(sqlite_rt).show(ALICE, ref)
    md = render_markdown(m.ref, m.stage, m.card)
    for section in (
        "Training data",
        "Training",
        "Metrics",
        "Lineage",
        "Limitations",
        "Fairness",
        "Robustness",
        "Approvals",
    ):
        assert f"## {section}" in md
    assert "pending: filled in by the validation gates" in md
    assert "not stated" in m.card["intended_use"]
    assert m.card["training"]["rows"]["train"] + m.card["training"]["rows"]["validation"] == 2000


def test_a_model_name_belongs_to_one_team(sqlite_rt: Runtime) -> None:
    ref = train(sqlite_rt, ref=register_default(sqlite_rt), name="owned")
    onnx = ModelService(sqlite_rt).onnx(ALICE, ref)
    with pytest.raises(ValidationFailed, match="belongs to team 'risk'"):
        ModelService(sqlite_rt).import_onnx(
            Principal("admin"), onnx, name="owned", team=None, objective="binary"
        )


def test_imports_are_checked_and_governed(sqlite_rt: Runtime) -> None:
    ref = train(sqlite_rt, ref=register_default(sqlite_rt), name="base")
    reg = ModelService(sqlite_rt)
    onnx = reg.onnx(ALICE, ref)
    with pytest.raises(ValidationFailed, match="objective"):
        reg.import_onnx(ALICE, onnx, name="x", team="risk", objective="ranking")
    with pytest.raises(ValidationFailed, match="model name"):
        reg.import_onnx(ALICE, onnx, name="Bad Name", team="risk", objective="binary")
    with pytest.raises(PolicyDenied):  # bob is an approver, not a scientist
        reg.import_onnx(Principal("bob"), onnx, name="x", team="risk", objective="binary")
    with pytest.raises(PolicyDenied, match="residency"):  # EU-trained, stored in the US
        reg.import_onnx(
            ALICE,
            onnx,
            name="x",
            team="risk",
            objective="binary",
            site="us-east",
            jurisdiction="EU",
        )
    info = reg.import_onnx(
        ALICE,
        onnx,
        name="x",
        team="risk",
        objective="binary",
        lineage={"vendor": "acme"},
        metrics={"roc_auc": 0.9},
    )
    d = reg.show(ALICE, info.ref)
    assert d.external and d.lineage == {"declared": {"vendor": "acme"}, "external": True}
    assert d.metrics == {"roc_auc": 0.9} and d.family == "external"
    assert [i["name"] for i in d.inputs] == ["student", "balance", "income"]


def test_unknown_models_are_not_found(sqlite_rt: Runtime) -> None:
    reg = ModelService(sqlite_rt)
    with pytest.raises(NotFound):
        reg.show(ALICE, "nope@1")
    with pytest.raises(ValidationFailed):
        reg.show(ALICE, "nope@x")
