"""Executors for real: a process per job, a worker killed with SIGKILL, a local Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from trainingdata import ALICE, register_default, spec

from steward.config import Home
from steward.datasets import DatasetService
from steward.runtime import Runtime
from steward.training import NoSuchSite, TrainingService, Worker
from steward.training.executors import RayExecutor, TaskOutcome, TrainTask, make_executor


def wait_for(cond: object, timeout: float = 120.0, every: float = 0.2) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():  # type: ignore[operator]
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def test_the_process_executor_trains_in_another_process(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    job = svc.submit(ALICE, spec(ref, name="proc"))
    phases: list[str] = []
    Worker(sqlite_rt, "process", on_progress=lambda j, p, f: phases.append(p)).run_once()
    done = svc.job(ALICE, job.id)
    assert done.state == "succeeded", done.error_message
    logs = [ln.line for ln in svc.logs(ALICE, job.id)]
    ran = next(ln for ln in logs if ln.startswith("ran in process "))
    assert int(ran.split()[-1]) != os.getpid()
    assert done.cpu_seconds > 0 and done.peak_memory_bytes > 50 * 2**20  # the child's own
    assert "fit" in " ".join(phases)


def test_a_process_job_is_cancelled_mid_run_and_its_process_killed(sqlite_rt: Runtime) -> None:
    ref = register_default(sqlite_rt, rows=10000)
    ex = make_executor("process")
    data = DatasetService(sqlite_rt).read_bytes(ALICE, ref, purpose="training")
    task = TrainTask(
        job_id="j-test",
        site="eu-fra",
        spec=spec(ref, family="random_forest", params={"n_estimators": 2000}),
        data=[data],
    )
    started = time.monotonic()
    out: TaskOutcome = ex.execute(task, lambda p, f: None, lambda: time.monotonic() - started > 3)
    assert out.cancelled and not out.ok
    assert time.monotonic() - started < 30


@pytest.fixture
def fast_reap(home: Home) -> Home:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["training"] = {
        "executor": "process",
        "heartbeat_seconds": 0.5,
        "lost_after_seconds": 5,
        "max_attempts": 2,
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    return home


def _server(home: Home, log: Path) -> subprocess.Popen[bytes]:
    """``steward server`` (the API and its job worker thread) in its own process group."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, STEWARD_HOME=str(home.root))
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "steward.cli", "server", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_jobs_survive_a_kill_9_of_the_server(fast_reap: Home, tmp_path: Path) -> None:
    rt = Runtime.open(fast_reap)
    try:
        ref = register_default(rt, rows=10000)
        svc = TrainingService(rt)
        slow = spec(ref, name="slow", family="random_forest", params={"n_estimators": 300})
        first = svc.submit(ALICE, slow)
        second = svc.submit(ALICE, spec(ref, name="queued"))
        log = tmp_path / "server.log"
        w1 = _server(fast_reap, log)
        try:
            wait_for(lambda: svc.job(ALICE, first.id).state == "running")
            time.sleep(1.0)  # inside the fit
            os.killpg(w1.pid, signal.SIGKILL)  # the server, its worker, the training process
            w1.wait(10)
        finally:
            if w1.poll() is None:
                os.killpg(w1.pid, signal.SIGKILL)
        killed = svc.job(ALICE, first.id)
        assert killed.state == "running"  # nobody has noticed yet
        assert svc.job(ALICE, second.id).state == "queued"
        w2 = _server(fast_reap, log)
        try:
            wait_for(
                lambda: {svc.job(ALICE, j).state for j in (first.id, second.id)} == {"succeeded"},
                timeout=180,
            )
        finally:
            os.killpg(w2.pid, signal.SIGTERM)
            w2.wait(20)
        again = svc.job(ALICE, first.id)
        assert again.attempts == 2 and again.result_ref == "slow@1"
        lines = [ln.line for ln in svc.logs(ALICE, first.id)]
        assert any("worker lost" in ln and "queued again" in ln for ln in lines), lines
        assert svc.job(ALICE, second.id).result_ref == "queued@1"
    finally:
        rt.close()


def test_the_only_worker_of_a_sqlite_home_holds_a_lock(sqlite_rt: Runtime) -> None:
    from steward.training import WorkerBusy

    a, b = Worker(sqlite_rt, "inline"), Worker(sqlite_rt, "inline")
    with a.exclusive(), pytest.raises(WorkerBusy, match="another worker"), b.exclusive():
        pass


# -- Ray --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    import ray

    ray.init(
        num_cpus=2,
        resources={"site:eu-fra": 1},
        include_dashboard=False,
        log_to_driver=False,
        ignore_reinit_error=True,
    )
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_runs_eu_jobs_on_nodes_that_offer_the_eu_site(
    ray_cluster: None, sqlite_rt: Runtime
) -> None:
    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    job = svc.submit(ALICE, spec(ref, name="on-ray"), executor="ray")
    assert job.executor == "ray"
    Worker(sqlite_rt, RayExecutor()).run_once()
    done = svc.job(ALICE, job.id)
    assert done.state == "succeeded", done.error_message
    lines = [ln.line for ln in svc.logs(ALICE, job.id)]
    assert any(ln.startswith("ran in ray node") for ln in lines), lines


def test_ray_refuses_a_site_no_node_offers_instead_of_hanging(
    ray_cluster: None, sqlite_rt: Runtime
) -> None:
    ex = RayExecutor()
    task = TrainTask(job_id="j-x", site="us-east", spec={}, data=[])
    started = time.monotonic()
    with pytest.raises(NoSuchSite) as info:
        ex.execute(task, lambda p, f: None, lambda: False)
    assert time.monotonic() - started < 5
    assert info.value.details["offered"] == ["site:eu-fra"]
    assert "site:us-east" in info.value.message
    # through a worker, the job fails with that reason instead of running forever
    ref = register_default(sqlite_rt)
    masked = DatasetService(sqlite_rt).mask(ALICE, ref, recipe=None)
    svc = TrainingService(sqlite_rt)
    job = svc.submit(ALICE, spec(masked.version.ref, site="us-east"), executor="ray")
    Worker(sqlite_rt, ex).run_once()
    failed = svc.job(ALICE, job.id)
    assert failed.state == "failed" and failed.error_code == "no_such_site"


def test_the_same_job_in_two_processes_gives_the_same_onnx_bytes(sqlite_rt: Runtime) -> None:
    """Content-addressed: equal digests mean byte-identical ONNX across processes."""
    from steward.registry import ModelService

    ref = register_default(sqlite_rt)
    svc = TrainingService(sqlite_rt)
    for _ in range(2):
        job = svc.submit(ALICE, spec(ref, name="twice", family="hgb", params={"max_iter": 20}))
        Worker(sqlite_rt, "process").run_once(job.id)
        assert svc.job(ALICE, job.id).state == "succeeded"
    reg = ModelService(sqlite_rt)
    a, b = reg.show(ALICE, "twice@1"), reg.show(ALICE, "twice@2")
    assert a.object_digest == b.object_digest and a.metrics == b.metrics
