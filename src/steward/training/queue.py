"""The durable job queue: rows of the ``jobs`` table, claimed, heartbeaten and finished.

A job is enqueued inside the governed ``model.train`` action (the same transaction as its
ledger entry), so a queued job exists exactly when its submission was allowed and
recorded. Workers then move it along:

- :meth:`JobQueue.claim` takes the oldest queued job: on PostgreSQL with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` (many workers, each job to one of them); on SQLite
  inside ``BEGIN IMMEDIATE`` (one writer at a time; :class:`~steward.training.worker.Worker`
  also holds a file lock so that one worker runs per home).
- :meth:`JobQueue.beat` refreshes ``heartbeat_at`` while the job runs and reports whether
  a cancel was requested.
- :meth:`JobQueue.reap` finds running jobs whose worker is gone (no heartbeat for
  ``lost_after`` seconds, or a dead process on this host) and queues them again while
  attempts remain, else fails them with the reason. A job is never left running forever.

These are bookkeeping writes of an action already decided and recorded; they run under
``governed_writes`` with the step's name, and the steps that matter to an auditor (a job
lost, failed, finished, cancelled) are recorded in the ledger by the worker.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from steward.store import Job, JobLog, Store, governed_writes

__all__ = ["ACTIVE", "FINAL", "JobQueue", "Lost", "worker_name"]

FINAL = ("succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")


def now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """``host:pid`` of this process: how a job records who runs it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class Lost:
    """A running job whose worker is gone, and what reap did with it."""

    job_id: str
    worker: str | None
    requeued: bool
    reason: str


class JobQueue:
    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def _write(self, step: str) -> Iterator[Session]:
        with governed_writes(step), self.store.transaction(write=True) as s:
            yield s

    # -- claim -----------------------------------------------------------------------------
    def claim(self, worker: str, job_id: str | None = None) -> Job | None:
        """Take the oldest queued job (or ``job_id`` if it is still queued)."""
        with self.store.transaction() as s:  # nothing queued (an idle worker): no write lock
            probe = select(Job.id).where(Job.state == "queued")
            if job_id is not None:
                probe = probe.where(Job.id == job_id)
            if s.execute(probe.limit(1)).first() is None:
                return None
        with self._write("job.claim") as s:
            q = select(Job).where(Job.state == "queued")
            if job_id is not None:
                q = q.where(Job.id == job_id)
            q = q.order_by(Job.created_at, Job.id).limit(1)
            if self.store.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            job = s.execute(q).scalar_one_or_none()
            if job is None:
                return None
            t = now()
            job.state = "running"
            job.worker = worker
            job.attempts += 1
            job.started_at = t
            job.heartbeat_at = t
            job.error_code = job.error_message = None
            self._log(s, job, f"claimed by {worker} (attempt {job.attempts}/{job.max_attempts})")
            s.flush()
            s.expunge(job)
            return job

    # -- while running -----------------------------------------------------------------------
    def beat(self, job_id: str, worker: str, progress: dict[str, Any] | None = None) -> bool:
        """Refresh the heartbeat (and progress). True if a cancel was requested.

        A worker that lost its job (reaped and claimed elsewhere) updates nothing and gets
        True, so it stops.
        """
        with self._write("job.heartbeat") as s:
            values: dict[str, Any] = {"heartbeat_at": now()}
            if progress is not None:
                values["progress_json"] = json.dumps(progress, sort_keys=True)
            res = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.worker == worker, Job.state == "running")
                .values(**values)
                .returning(Job.cancel_requested)
            ).first()
            return True if res is None else bool(res[0])

    def log(self, job_id: str, line: str) -> None:
        with self._write("job.log") as s:
            job = s.get(Job, job_id)
            if job is not None:
                self._log(s, job, line)

    @staticmethod
    def _log(s: Session, job: Job, line: str) -> None:
        s.add(JobLog(job_id=job.id, attempt=job.attempts, at=now(), line=line[:4000]))

    # -- reap --------------------------------------------------------------------------------
    def reap(self, lost_after: float, *, this_host: str | None = None) -> list[Lost]:
        """Requeue or fail running jobs whose worker is gone.

        A worker is gone when its heartbeat is older than ``lost_after`` seconds, or, for
        workers on ``this_host`` (``socket.gethostname()``), when its process has exited.
        """
        cutoff = now() - timedelta(seconds=lost_after)
        out: list[Lost] = []
        with self.store.transaction() as s:  # the usual case, nothing lost: no write lock
            running = s.execute(select(Job).where(Job.state == "running")).scalars().all()
            if not any(self._gone(j, cutoff, this_host) for j in running):
                return out
        with self._write("job.reap") as s:
            q = select(Job).where(Job.state == "running")
            if self.store.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            for job in s.execute(q).scalars():
                reason = self._gone(job, cutoff, this_host)
                if reason is None:
                    continue
                requeue = job.attempts < job.max_attempts
                if requeue:
                    job.state = "queued"
                    job.worker = None
                    job.heartbeat_at = None
                    self._log(s, job, f"worker lost: {reason}; queued again")
                else:
                    job.state = "failed"
                    job.finished_at = now()
                    job.error_code = "worker_lost"
                    job.error_message = (
                        f"worker lost: {reason}; no attempts left ({job.attempts}/"
                        f"{job.max_attempts})"
                    )
                    self._log(s, job, job.error_message)
                out.append(Lost(job.id, job.worker, requeue, reason))
        return out

    @staticmethod
    def _gone(job: Job, cutoff: datetime, this_host: str | None) -> str | None:
        host, _, pid = (job.worker or "").rpartition(":")
        mine = this_host is not None and host == this_host and pid.isdigit()
        if mine and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            return f"worker process {job.worker} has exited"
        beat = job.heartbeat_at
        if beat is None or beat < cutoff:
            when = beat.isoformat(timespec="seconds") if beat else "never"
            return f"no heartbeat from {job.worker} since {when}"
        return None

    # -- finish ------------------------------------------------------------------------------
    def finish(
        self,
        s: Session,
        job_id: str,
        worker: str,
        *,
        state: str,
        metering: dict[str, float | int],
        result_ref: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Job | None:
        """Close a job inside the caller's transaction (the worker's governed step).

        Returns None when this worker no longer holds the job (it was reaped and claimed
        again): its result is then dropped, not recorded twice.
        """
        job = s.get(Job, job_id)
        if job is None or job.state != "running" or job.worker != worker:
            return None
        job.state = state
        job.finished_at = now()
        job.result_ref = result_ref
        job.error_code = error_code
        job.error_message = error_message
        job.cpu_seconds += float(metering.get("cpu_seconds", 0.0))
        job.wall_seconds += float(metering.get("wall_seconds", 0.0))
        job.peak_memory_bytes = max(job.peak_memory_bytes, int(metering.get("peak_memory", 0)))
        job.bytes_read += int(metering.get("bytes_read", 0))
        self._log(s, job, f"{state}" + (f": {error_message}" if error_message else ""))
        return job

    def request_cancel(self, s: Session, job: Job) -> None:
        """Queued jobs are cancelled at once; running ones when their worker next beats."""
        if job.state == "queued":
            job.state = "cancelled"
            job.finished_at = now()
            self._log(s, job, "cancelled before it started")
        elif job.state == "running":
            job.cancel_requested = True
            self._log(s, job, "cancel requested")
