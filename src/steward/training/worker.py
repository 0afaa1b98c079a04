"""The training worker: claims jobs from the durable queue and runs them on an executor.

One loop (``steward worker``, or inside ``steward server``, or one job in the foreground
of ``steward train``):

1. reap: running jobs whose worker is gone are queued again or failed (recorded);
2. claim the oldest queued job;
3. read its datasets (the read is checked again: a policy changed since submission, or a
   dataset locked meanwhile, fails the job), run it on the executor while a heartbeat
   thread refreshes ``heartbeat_at`` and watches for a cancel;
4. on success, store the ONNX artifact (encrypted at the job's site) and register the
   model version, close the job and record it in the ledger, all in one transaction.

On SQLite a file lock keeps one worker per home (the database has one writer anyway).
"""

from __future__ import annotations

import fcntl
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from steward.datasets import DatasetService
from steward.door import Action
from steward.errors import StewardError
from steward.metering import GB, Usage
from steward.policy import Principal, Resource
from steward.registry import ModelService, NewVersion, build_card
from steward.runtime import Runtime
from steward.store import Job
from steward.training.executors import Executor, TaskOutcome, TrainTask, make_executor
from steward.training.queue import JobQueue, Lost, worker_name
from steward.training.spec import TrainingSpec

__all__ = ["Worker", "WorkerBusy"]

Progress = Callable[[str, float], None]


class _NotHeld(Exception):
    """This worker no longer holds the job (it was reaped and claimed again)."""


class WorkerBusy(StewardError):
    code = "worker_busy"
    status = 409
    exit_code = 6


class Worker:
    def __init__(
        self,
        rt: Runtime,
        executor: Executor | str | None = None,
        *,
        name: str | None = None,
        on_progress: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.rt = rt
        cfg = rt.config.training
        if executor is None or isinstance(executor, str):
            executor = make_executor(executor or cfg.executor, ray_address=cfg.ray_address)
        self.executor = executor
        self.name = name or worker_name()
        self.queue = JobQueue(rt.store)
        self.on_progress = on_progress
        self.heartbeat = cfg.heartbeat_seconds
        self.lost_after = cfg.lost_after_seconds

    # -- one home, one SQLite worker ------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """On SQLite, hold ``<home>/worker.lock`` (one worker per home)."""
        if self.rt.store.dialect != "sqlite":
            yield
            return
        path = self.rt.home.root / "worker.lock"
        with open(path, "a+", encoding="utf-8") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkerBusy(
                    "another worker already runs jobs for this home (SQLite has one worker "
                    "at a time); the job will run there, follow it with 'steward job show'",
                    lock=str(path),
                ) from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- the loop ---------------------------------------------------------------------------
    def reap(self) -> list[Lost]:
        lost = self.queue.reap(self.lost_after, this_host=socket.gethostname())
        for x in lost:
            self.rt.door.record(
                "steward",
                Action(
                    "job.lost",
                    Resource("Job", x.job_id),
                    payload={"worker": x.worker, "requeued": x.requeued, "reason": x.reason},
                ),
                lambda s: None,
                follows=f"model.train job {x.job_id}",
            )
        return lost

    def run_once(self, job_id: str | None = None) -> str | None:
        """Reap, claim one job (``job_id`` if given and still queued), run it. Returns the
        id of the job run, or None when there was none to claim."""
        self.reap()
        job = self.queue.claim(self.name, job_id)
        if job is None:
            return None
        self._run(job.id, job.created_by, job.site, job.spec_json, job.attempts)
        return job.id

    def serve(self, stop: threading.Event, idle: float = 1.0) -> None:
        """Run jobs until ``stop`` is set."""
        while not stop.is_set():
            if self.run_once() is None:
                stop.wait(idle)

    # -- one job ----------------------------------------------------------------------------
    def _run(self, job_id: str, owner: str, site: str, spec_json: str, attempt: int) -> None:
        spec = TrainingSpec.model_validate_json(spec_json)
        stop = threading.Event()
        state: dict[str, Any] = {"phase": "reading data", "fraction": 0.0}

        def progress(phase: str, fraction: float) -> None:
            state.update(phase=phase, fraction=round(float(fraction), 3))
            if self.on_progress:
                self.on_progress(job_id, phase, fraction)
            try:  # phases are few: publish each at once, not only at the next heartbeat
                if self.queue.beat(job_id, self.name, dict(state)):
                    stop.set()
            except Exception:  # progress is best effort; the heartbeat thread carries on
                pass

        def beat() -> None:
            while not stop.wait(self.heartbeat):
                try:
                    if self.queue.beat(job_id, self.name, dict(state)):
                        stop.set()
                except Exception:  # a missed beat is retried; the reaper has a margin
                    continue

        beater = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
        beater.start()
        try:
            outcome = self._execute(job_id, owner, site, spec, progress, stop)
        finally:
            stop.set()
            beater.join(self.heartbeat + 1)
        self._finish(job_id, owner, site, spec, outcome)

    def _execute(
        self,
        job_id: str,
        owner: str,
        site: str,
        spec: TrainingSpec,
        progress: Progress,
        stop: threading.Event,
    ) -> TaskOutcome:
        datasets = DatasetService(self.rt)
        try:
            progress("reading data", 0.0)
            data = [
                datasets.read_bytes(Principal(owner), ref, site=site, purpose="training")
                for ref in spec.data
            ]
            self.queue.log(job_id, f"read {len(data)} dataset(s), {sum(map(len, data)):,} bytes")
            task = TrainTask(
                job_id=job_id,
                site=site,
                spec=spec.model_dump(mode="json"),
                data=data,
                onnx_tolerance=self.rt.config.training.onnx_tolerance,
                cpus=spec.resources.cpus,
            )
            self.queue.log(job_id, f"running on the {self.executor.name} executor")
            return self.executor.execute(task, progress, stop.is_set)
        except StewardError as e:
            return TaskOutcome(
                ok=False, error_code=e.code, error_message=e.message, error_details=e.details
            )

    def _finish(
        self, job_id: str, owner: str, site: str, spec: TrainingSpec, outcome: TaskOutcome
    ) -> None:
        if outcome.where:
            self.queue.log(job_id, f"ran in {outcome.where}")
        if outcome.ok:
            try:
                self._register(job_id, owner, site, spec, outcome)
                return
            except _NotHeld:
                self._dropped(job_id)
                return
            except StewardError as e:
                outcome = TaskOutcome(
                    ok=False,
                    error_code=e.code,
                    error_message=f"registering the model failed: {e.message}",
                    cpu_seconds=outcome.cpu_seconds,
                    wall_seconds=outcome.wall_seconds,
                    peak_memory=outcome.peak_memory,
                    bytes_read=outcome.bytes_read,
                )
        state = "cancelled" if outcome.cancelled else "failed"
        action = Action(
            f"job.{state}",
            Resource("Job", job_id),
            site=site,
            payload={"error": outcome.error_code, "message": outcome.error_message},
        )

        def do(s: Session) -> None:
            closed = self.queue.finish(
                s,
                job_id,
                self.name,
                state=state,
                metering=outcome.metering(),
                error_code=None if outcome.cancelled else outcome.error_code,
                error_message=None if outcome.cancelled else outcome.error_message,
            )
            if closed is None:
                raise _NotHeld(job_id)
            self._meter(s, closed, spec, outcome)

        try:
            self.rt.door.record(owner, action, do, follows=f"model.train job {job_id}")
        except _NotHeld:
            self._dropped(job_id)

    def _meter(self, s: Session, job: Job, spec: TrainingSpec, outcome: TaskOutcome) -> None:
        """This attempt's cost (a failed or cancelled job's too: the compute was spent)."""
        r = spec.resources
        self.rt.meter.usage(
            s,
            Usage(
                wall_seconds=outcome.wall_seconds,
                cpu_seconds=outcome.cpu_seconds,
                cpus=r.cpus,
                memory_gb=r.memory_gb,
                peak_memory_gb=outcome.peak_memory / GB,
                gpus=r.gpus,
                spot=r.spot,
            ),
            team=job.team,
            site=job.site,
            kind="training",
            action="model.train",
            ref=job.id,
            model=spec.model_name,
        )

    def _dropped(self, job_id: str) -> None:
        self.queue.log(
            job_id, f"{self.name}: result dropped; the job is no longer held by this worker"
        )

    def _register(
        self, job_id: str, owner: str, site: str, spec: TrainingSpec, outcome: TaskOutcome
    ) -> None:
        fitted = outcome.result
        datasets = DatasetService(self.rt)
        views = [datasets.governed_view(ref) for ref in spec.data]
        anonymised = all(d.anonymised for d, _, _ in views)
        personal = [d for d, _, _ in views if not d.anonymised]
        jurisdiction = (personal[0] if personal else views[0][0]).jurisdiction
        data_lineage = [
            {
                "ref": d.ref,
                "fingerprint": d.fingerprint,
                "rows": d.rows,
                "site": d.site,
                "jurisdiction": d.jurisdiction,
                "anonymised": d.anonymised,
                "classification_summary": _class_counts(d.classification),
                "classification": [
                    {"column": c.column, "category": c.category, "pii_type": c.pii_type}
                    for c in d.classification
                    if c.category != "none"
                ],
            }
            for d, _, _ in views
        ]
        with self.rt.store.transaction() as s:
            job = s.get(Job, job_id)
            placement = json.loads(job.placement) if job is not None and job.placement else {}
        lineage = {
            "datasets": [
                {k: v for k, v in d.items() if k != "classification"} for d in data_lineage
            ],
            "spec": spec.model_dump(mode="json"),
            "estimator": fitted.estimator,
            "params": fitted.params,
            "features": fitted.features,
            "seed": spec.seed,
            "trained_by": owner,
            "site": site,
            "job": job_id,
            "executor": self.executor.name,
            "where": outcome.where,
            "code_version": placement.get("code_version"),
            "placement": placement.get("reason"),
            "libraries": fitted.library_versions,
            "onnx_check": {
                "max_diff": fitted.onnx_max_diff,
                "label_agreement": fitted.onnx_label_agreement,
                "rows": fitted.onnx_checked_rows,
                "tolerance": self.rt.config.training.onnx_tolerance,
            },
            "metering": outcome.metering(),
        }
        card = build_card(
            name=spec.model_name,
            objective=spec.objective,
            intended_use=spec.intended_use,
            spec=spec.model_dump(mode="json"),
            metrics=fitted.metrics,
            lineage=lineage,
            datasets=data_lineage,
            n_train=fitted.n_train,
            n_validation=fitted.n_validation,
        )
        registry = ModelService(self.rt)
        written: list[str] = []
        team = spec.team
        action = Action(
            "model.register",
            Resource("Model", spec.model_name),
            site=site,
            payload={"job": job_id, "metrics": fitted.metrics, "datasets": spec.data},
        )

        def do(s: Session) -> None:
            digest = self.rt.artifacts.put_bytes(site, fitted.onnx).digest
            written.append(digest)
            info = registry.add_version(
                s,
                NewVersion(
                    name=spec.model_name,
                    team=team,
                    site=site,
                    jurisdiction=jurisdiction,
                    anonymised=anonymised,
                    private_only=spec.private_only,
                    onnx_digest=digest,
                    onnx_bytes=len(fitted.onnx),
                    objective=spec.objective,
                    family=spec.family,
                    estimator=fitted.estimator,
                    spec=spec.model_dump(mode="json"),
                    inputs=fitted.inputs,
                    outputs=fitted.outputs,
                    classes=fitted.classes,
                    metrics=fitted.metrics,
                    profile=fitted.reference_profile,
                    lineage=lineage,
                    card=card,
                    job_id=job_id,
                    created_by=owner,
                    dataset_version_ids=[vid for _, _, vid in views],
                ),
            )
            closed = self.queue.finish(
                s,
                job_id,
                self.name,
                state="succeeded",
                metering=outcome.metering(),
                result_ref=info.ref,
            )
            if closed is None:
                raise _NotHeld(job_id)
            self._meter(s, closed, spec, outcome)

        with self.rt.discard_on_failure(site, written):
            self.rt.door.record(owner, action, do, follows=f"model.train job {job_id}")


def _class_counts(classification: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in classification:
        out[c.category] = out.get(c.category, 0) + 1
    return out
