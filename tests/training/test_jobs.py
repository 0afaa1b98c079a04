"""Training jobs: submission checks, placement, quotas, the durable queue, the worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update
from trainingdata import ALICE, register_default, spec

from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets import DatasetService
from steward.errors import NotFound, PolicyDenied, QuotaExceeded, ValidationFailed
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.store import Job, ModelVersion, governed_writes
from steward.training import TrainingService, Worker
from steward.training.queue import JobQueue

BOB = Principal("bob")


def ledger(rt: Runtime, after: int = 0) -> list[tuple[str, str]]:
    return [(e.action, e.decision) for e in rt.ledger.entries(LedgerFilter(after_seq=after))]


def jobs_in(rt: Runtime) -> list[Job]:
    with rt.store.transaction() as s:
        return list(s.execute(select(Job)).scalars())


def set_quota(home: Home, **quotas: float) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["teams"]["risk"]["quotas"] = quotas
    home.config_path.write_text(yaml.safe_dump(cfg))


# -- the whole path ---------------------------------------------------------------------------
def test_a_job_runs_and_registers_an_onnx_model_with_lineage(rt: Runtime) -> None:
    ref = register_default(rt)
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec(ref, name="default-risk", intended_use="triage"))
    assert (job.state, job.site, job.team) == ("queued", "eu-fra", "risk")
    assert "cheapest site the policy allows" in job.placement
    assert "us-east refused (residency)" in job.placement
    head, _ = rt.ledger.head()
    assert Worker(rt, "inline").run_once() == job.id
    done = svc.job(ALICE, job.id)
    assert done.state == "succeeded", done.error_message
    assert done.result_ref == "default-risk@1"
    assert done.cpu_seconds > 0 and done.wall_seconds > 0 and done.peak_memory_bytes > 0
    assert done.bytes_read > 0 and done.attempts == 1
    assert ledger(rt, head) == [("model.register", "allow")]

    m = ModelService(rt).show(ALICE, "default-risk@1")
    assert m.stage == "candidate" and m.objective == "binary" and not m.external
    assert m.datasets == [ref] and m.jurisdiction == "EU" and not m.anonymised
    assert m.metrics["roc_auc"] > 0.85
    assert [i["name"] for i in m.inputs] == ["student", "balance", "income"]
    lineage = m.lineage
    fingerprint = DatasetService(rt).show(ALICE, ref).fingerprint
    assert lineage["datasets"][0]["fingerprint"] == fingerprint
    assert lineage["seed"] == 7 and lineage["trained_by"] == "alice" and lineage["site"] == "eu-fra"
    assert lineage["job"] == job.id and "scikit-learn" in lineage["libraries"]
    assert lineage["onnx_check"]["max_diff"] <= lineage["onnx_check"]["tolerance"]
    assert m.card["intended_use"] == "triage"
    assert set(m.profile) == {"features", "predictions"}
    onnx = ModelService(rt).onnx(ALICE, "default-risk@1")
    assert onnx[:2] != b"\x80\x04"  # not a pickle: an ONNX protobuf
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["student", "balance", "income"]


def test_same_spec_same_data_same_seed_reproduces_the_metrics(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    for _ in range(2):
        svc.submit(ALICE, spec(ref, name="repro", family="hgb", params={"max_iter": 20}))
        Worker(sqlite_rt, "inline").run_once()
    a = ModelService(sqlite_rt).show(ALICE, "repro@1")
    b = ModelService(sqlite_rt).show(ALICE, "repro@2")
    assert a.metrics == b.metrics
    cmp = ModelService(sqlite_rt).compare(ALICE, "repro@1", "repro@2")
    assert cmp.same_data and cmp.params == {}
    assert all(v["delta"] == 0 for v in cmp.metrics.values())


# -- refused before any compute ------------------------------------------------------------
@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"target": "defualt"}, "did you mean 'default'"),
        ({"features": ["balance", "salary"]}, "salary"),
        ({"objective": "regression"}, "regression"),
        ({"family": "xgboost"}, "unknown model family"),
        ({"data": ["default"]}, "NAME@VERSION"),
    ],
)
def test_bad_specs_fail_before_any_job_is_queued(
    sqlite_rt: Runtime, over: dict[str, object], needle: str
) -> None:
    ref = register_default(sqlite_rt)
    head, _ = sqlite_rt.ledger.head()
    with pytest.raises(ValidationFailed) as info:
        TrainingService(sqlite_rt).submit(ALICE, spec(ref, **over))
    assert needle.lower() in info.value.message.lower()
    assert jobs_in(sqlite_rt) == [] and ledger(sqlite_rt, head) == []


def test_unknown_dataset_is_not_found(sqlite_rt: Runtime) -> None:
    with pytest.raises(NotFound):
        TrainingService(sqlite_rt).submit(ALICE, spec("nothing@1"))


# -- placement and policy ------------------------------------------------------------------
def test_training_eu_data_in_the_us_is_denied_and_recorded(rt: Runtime) -> None:
    ref = register_default(rt)
    head, _ = rt.ledger.head()
    with pytest.raises(PolicyDenied) as info:
        TrainingService(rt).submit(ALICE, spec(ref, site="us-east"))
    assert "residency" in str(info.value)
    assert jobs_in(rt) == []
    entries = rt.ledger.entries(LedgerFilter(after_seq=head))
    assert [(e.action, e.decision) for e in entries] == [("model.train", "deny")]
    assert json.loads(entries[0].reasons)[0]["policy"] == "residency"


def test_anonymised_data_may_train_anywhere_and_the_cheapest_site_wins(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    masked = DatasetService(sqlite_rt).mask(
        ALICE, ref, recipe=None, description="nothing personal to mask"
    )
    anon = masked.version
    if not anon.anonymised:
        pytest.skip("the default data has no identifiers; masking leaves it un-anonymised")
    job = TrainingService(sqlite_rt).submit(ALICE, spec(anon.ref))
    assert job.site == "us-east"  # $0.0504 < $0.0576 per cpu-hour
    assert "also allowed: eu-fra" in job.placement


def test_locked_holdouts_are_refused_for_training(rt: Runtime) -> None:
    ref = register_default(rt, "holdout", locked=True)
    with pytest.raises(PolicyDenied) as info:
        TrainingService(rt).submit(ALICE, spec(ref, site="eu-fra"))
    assert "locked-holdout" in str(info.value)
    assert jobs_in(rt) == []


def test_people_outside_the_team_cannot_train_on_its_data(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    with pytest.raises(PolicyDenied):
        TrainingService(sqlite_rt).submit(BOB, spec(ref, site="eu-fra"))


# -- quotas --------------------------------------------------------------------------------------
def test_a_team_over_its_cpu_quota_is_refused_with_the_figures(home: Home, tmp_path: Path) -> None:
    set_quota(home, cpu_hours_per_month=0.00001)
    rt = Runtime.open(home)
    try:
        ref = register_default(rt)
        head, _ = rt.ledger.head()
        with pytest.raises(QuotaExceeded) as info:
            TrainingService(rt).submit(ALICE, spec(ref, family="random_forest"))
        d = info.value.details
        assert d["quota"] == "cpu_hours_per_month" and d["limit"] == 0.00001
        assert d["used"] == 0 and d["committed"] == 0 and d["requested"] > 0.00001
        assert "1e-05 cpu-hours" in info.value.message
        assert jobs_in(rt) == []
        entries = rt.ledger.entries(LedgerFilter(after_seq=head))
        assert [(e.action, e.decision) for e in entries] == [("model.train", "deny")]
        assert json.loads(entries[0].reasons)[0]["policy"] == "quota:cpu_hours_per_month"
    finally:
        rt.close()


def test_queued_jobs_commit_quota_and_finished_ones_count_what_they_used(home: Home) -> None:
    set_quota(home, cpu_hours_per_month=1.0)
    rt = Runtime.open(home)
    try:
        ref = register_default(rt)
        svc = TrainingService(rt)
        job = svc.submit(ALICE, spec(ref))
        with rt.store.transaction() as s:
            u = svc.usage(s, "risk")
        assert u["cpu_hours_committed"] == pytest.approx(job.estimate_cpu_hours)
        assert u["cpu_hours_used"] == 0
        Worker(rt, "inline").run_once()
        done = svc.job(ALICE, job.id)
        with rt.store.transaction() as s:
            u = svc.usage(s, "risk")
        assert u["cpu_hours_committed"] == 0
        assert u["cpu_hours_used"] == pytest.approx(done.cpu_seconds / 3600)
        # fill the quota with a finished job's use: the next submission is refused
        with governed_writes("test.fill"), rt.store.transaction(write=True) as s:
            s.execute(update(Job).where(Job.id == job.id).values(cpu_seconds=3600.0))
        with pytest.raises(QuotaExceeded) as info:
            svc.submit(ALICE, spec(ref))
        assert info.value.details["used"] == pytest.approx(1.0)
    finally:
        rt.close()


def test_gpu_requests_count_against_the_gpu_quota(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    with pytest.raises(QuotaExceeded) as info:
        TrainingService(sqlite_rt).submit(
            ALICE, spec(ref, resources={"cpus": 1, "gpus": 1, "max_hours": 2})
        )
    assert info.value.details["quota"] == "gpu_hours_per_month"
    assert info.value.details["requested"] == 2


# -- the queue: cancel, lost workers ------------------------------------------------------------
def test_cancel_a_queued_job(rt: Runtime) -> None:
    ref = register_default(rt)
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec(ref))
    out = svc.cancel(ALICE, job.id)
    assert out.state == "cancelled"
    assert Worker(rt, "inline").run_once() is None
    with pytest.raises(ValidationFailed, match="already ended"):
        svc.cancel(ALICE, job.id)
    with pytest.raises(PolicyDenied):  # bob neither owns it nor is an admin
        svc.cancel(BOB, svc.submit(ALICE, spec(ref)).id)


def _claim_and_abandon(rt: Runtime, job_id: str, worker: str) -> None:
    """A worker that claimed the job and then died: its heartbeat is old."""
    assert JobQueue(rt.store).claim(worker, job_id) is not None
    old = datetime.now(UTC) - timedelta(minutes=10)
    with governed_writes("test.age"), rt.store.transaction(write=True) as s:
        s.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=old))


def test_a_job_whose_worker_died_is_retried_then_failed_with_the_reason(rt: Runtime) -> None:
    ref = register_default(rt)
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec(ref))
    _claim_and_abandon(rt, job.id, "elsewhere:1")
    lost = Worker(rt, "inline").reap()
    assert [(x.job_id, x.requeued) for x in lost] == [(job.id, True)]
    assert "no heartbeat from elsewhere:1" in lost[0].reason
    assert svc.job(ALICE, job.id).state == "queued"
    _claim_and_abandon(rt, job.id, "elsewhere:2")  # attempt 2 of 2
    lost = Worker(rt, "inline").reap()
    assert [(x.job_id, x.requeued) for x in lost] == [(job.id, False)]
    failed = svc.job(ALICE, job.id)
    assert failed.state == "failed" and failed.error_code == "worker_lost"
    assert "no attempts left (2/2)" in (failed.error_message or "")
    actions = [a for a, _ in ledger(rt)]
    assert actions.count("job.lost") == 2
    lines = [ln.line for ln in svc.logs(ALICE, job.id)]
    assert any("queued again" in ln for ln in lines)


def test_a_dead_local_worker_process_is_detected_without_waiting(sqlite_rt: Runtime) -> None:
    import socket
    import subprocess
    import sys

    ref = register_default(sqlite_rt)
    job = TrainingService(sqlite_rt).submit(ALICE, spec(ref))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    assert JobQueue(sqlite_rt.store).claim(f"{socket.gethostname()}:{pid}", job.id)
    lost = Worker(sqlite_rt, "inline").reap()  # heartbeat is fresh, but the process is gone
    assert [x.job_id for x in lost] == [job.id] and "has exited" in lost[0].reason


def test_a_result_from_a_worker_that_lost_its_job_is_dropped(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    job = svc.submit(ALICE, spec(ref))
    w = Worker(sqlite_rt, "inline")
    claimed = w.queue.claim(w.name, job.id)
    assert claimed is not None
    # meanwhile the job was reaped and claimed by another worker
    with governed_writes("test.steal"), sqlite_rt.store.transaction(write=True) as s:
        s.execute(update(Job).where(Job.id == job.id).values(worker="other:1"))
    head, _ = sqlite_rt.ledger.head()
    w._run(job.id, "alice", "eu-fra", claimed.spec_json, claimed.attempts)
    with sqlite_rt.store.transaction() as s:
        assert s.execute(select(ModelVersion)).first() is None
    assert svc.job(ALICE, job.id).worker == "other:1"
    assert svc.job(ALICE, job.id).state == "running"  # the other worker's, untouched
    assert ledger(sqlite_rt, head) == []  # nothing recorded for a dropped result
    assert any("result dropped" in ln.line for ln in svc.logs(ALICE, job.id))
    on_disk = {p.parent.name + p.name for p in sqlite_rt.home.sites_dir.rglob("objects/*/*")}
    assert on_disk == _dataset_digests(sqlite_rt)  # the dropped model's ONNX was discarded


def _dataset_digests(rt: Runtime) -> set[str]:
    from steward.store import DatasetVersion

    with rt.store.transaction() as s:
        return {d for (d,) in s.execute(select(DatasetVersion.object_digest))}


def test_a_policy_change_after_submission_fails_the_job_at_read(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    job = svc.submit(ALICE, spec(ref))
    with governed_writes("test.move"), sqlite_rt.store.transaction(write=True) as s:
        s.execute(update(Job).where(Job.id == job.id).values(site="us-east"))
    Worker(sqlite_rt, "inline").run_once()
    failed = svc.job(ALICE, job.id)
    assert failed.state == "failed" and failed.error_code == "policy_denied"


def test_a_training_error_fails_the_job_with_its_reason(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    job = svc.submit(ALICE, spec(ref, params={"C": -1.0}))
    Worker(sqlite_rt, "inline").run_once()
    failed = svc.job(ALICE, job.id)
    assert failed.state == "failed"
    assert failed.error_code and failed.error_message
    assert ("job.failed", "allow") in ledger(sqlite_rt)


def test_job_spec_and_placement_are_stored_as_submitted(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    job = TrainingService(sqlite_rt).submit(ALICE, spec(ref, exclude=["student"]))
    (row,) = jobs_in(sqlite_rt)
    stored = json.loads(row.spec_json)
    assert stored["exclude"] == ["student"] and stored["site"] == "eu-fra"
    assert json.loads(row.placement)["cells"] == 2000 * 2
    assert job.spec["team"] == "risk"
