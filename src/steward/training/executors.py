"""Executors: where a training task's compute runs. One interface, three kinds.

- ``inline``: in the calling thread (tests, and `steward train` on a laptop).
- ``process``: a fresh local Python process per job; it dies with its worker
  (``PR_SET_PDEATHSIG`` on Linux), so a killed worker leaves no orphan training.
- ``ray``: a Ray task that needs the custom resource ``site:<name>``: a Ray cluster whose
  EU nodes declare ``site:eu-fra`` runs EU jobs on those nodes only. A job for a site no
  node offers is refused at once with :class:`NoSuchSite` instead of waiting forever.

A task carries the spec and the dataset bytes (decrypted Parquet, in memory, never written
to disk); the executor returns a :class:`TaskOutcome` with the fit result or the error and
the metering (cpu-seconds of the process, wall time, peak memory, bytes read). Between
our own processes, results travel by pickle over a pipe (Ray: its object store); nothing is
ever unpickled from storage.
"""

from __future__ import annotations

import io
import os
import pickle
import queue
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from steward.errors import StewardError, ValidationFailed

__all__ = [
    "EXECUTORS",
    "Executor",
    "InlineExecutor",
    "NoSuchSite",
    "ProcessExecutor",
    "RayExecutor",
    "TaskOutcome",
    "TrainTask",
    "make_executor",
    "run_task",
]

Progress = Callable[[str, float], None]
ShouldStop = Callable[[], bool]


class NoSuchSite(StewardError):
    """No executor node offers the job's site."""

    code = "no_such_site"
    status = 409
    exit_code = 6


@dataclass
class TrainTask:
    job_id: str
    site: str
    spec: dict[str, Any]
    data: list[bytes]  # Parquet, one per dataset version in spec order
    onnx_tolerance: float = 1e-4
    cpus: int = 1


@dataclass
class TaskOutcome:
    ok: bool
    result: Any = None  # FitResult when ok
    error_code: str | None = None
    error_message: str | None = None
    error_details: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    peak_memory: int = 0
    bytes_read: int = 0
    where: str = ""

    def metering(self) -> dict[str, float | int]:
        return {
            "cpu_seconds": self.cpu_seconds,
            "wall_seconds": self.wall_seconds,
            "peak_memory": self.peak_memory,
            "bytes_read": self.bytes_read,
        }


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes (VmHWM; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * (
        1 if sys.platform == "darwin" else 1024
    )


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_tables(data: list[bytes]) -> pa.Table:
    """The datasets of a task as one table (they must share their columns)."""
    tables = [pq.read_table(io.BytesIO(b)) for b in data]
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    for i, t in enumerate(tables[1:], start=2):
        if t.schema.names != first.names:
            raise ValidationFailed(
                f"dataset {i} of the spec has other columns than dataset 1; training on "
                "several versions needs the same columns",
                expected=first.names,
                found=t.schema.names,
            )
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValidationFailed(f"the datasets' column types do not agree: {e}") from None


def run_task(task: TrainTask, progress: Progress | None = None) -> TaskOutcome:
    """Fit the task's model here and now; errors become outcomes, never exceptions."""
    from steward.training.fit import fit
    from steward.training.spec import TrainingSpec

    t0, c0 = time.perf_counter(), _cpu()
    out = TaskOutcome(ok=False, bytes_read=sum(len(b) for b in task.data))
    try:
        spec = TrainingSpec.model_validate(task.spec)
        table = load_tables(task.data)
        out.result = fit(spec, table, progress=progress, onnx_tolerance=task.onnx_tolerance)
        out.ok = True
    except StewardError as e:
        out.error_code, out.error_message, out.error_details = e.code, e.message, e.details
    except MemoryError:
        out.error_code, out.error_message = "out_of_memory", "the job ran out of memory"
    except Exception as e:  # a bug or a library error: reported with its type, not raised
        out.error_code = "training_failed"
        out.error_message = f"{type(e).__name__}: {e}"
    out.cpu_seconds = _cpu() - c0
    out.wall_seconds = time.perf_counter() - t0
    out.peak_memory = _peak_rss()
    return out


class Executor(Protocol):
    name: str

    def execute(self, task: TrainTask, progress: Progress, should_stop: ShouldStop) -> TaskOutcome:
        """Run the task; poll ``should_stop`` and abandon the task when it says so."""
        ...

    def close(self) -> None: ...


class InlineExecutor:
    """In the calling thread: no isolation, no cancellation mid-fit. For tests."""

    name = "inline"

    def execute(self, task: TrainTask, progress: Progress, should_stop: ShouldStop) -> TaskOutcome:
        if should_stop():
            return TaskOutcome(ok=False, cancelled=True, where="inline")
        out = run_task(task, progress)
        out.where = "inline"
        return out

    def close(self) -> None:
        return None


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def child_env(cpus: int) -> dict[str, str]:
    """The training process's environment: native thread pools (OpenMP, BLAS) held to the
    job's ``cpus`` from the start (a limit set after import comes too late for OpenMP), and
    a fixed hash seed, so that skl2onnx writes the same ONNX bytes in every process."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(cpus)
    env["PYTHONHASHSEED"] = "0"
    return env


def _send(stream: IO[bytes], msg: object) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> object:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("!Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)  # our own child's frames over a private pipe, never storage


def child_main() -> None:
    """The training process: one task in on stdin, progress and the outcome out on the
    original stdout; anything libraries print goes to stderr."""
    _die_with_parent()
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    task = _recv(sys.stdin.buffer)
    assert isinstance(task, TrainTask)

    def progress(phase: str, fraction: float) -> None:
        _send(out, ("progress", phase, fraction))

    outcome = run_task(task, progress)
    outcome.where = f"process {os.getpid()}"
    _send(out, ("done", outcome))
    out.close()


class ProcessExecutor:
    """A fresh Python process per job (``python -m steward.training._child``): isolation,
    exact metering, and a hard cancel. No ``multiprocessing`` spawn, so a caller's script
    is never re-imported in the child."""

    name = "process"

    def __init__(self, poll: float = 0.2) -> None:
        self.poll = poll

    def execute(self, task: TrainTask, progress: Progress, should_stop: ShouldStop) -> TaskOutcome:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "steward.training._child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(task.cpus),
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        frames: queue.Queue[object] = queue.Queue()
        stderr_tail: list[bytes] = []

        def read_frames() -> None:
            assert proc.stdout is not None
            try:
                while True:
                    frames.put(_recv(proc.stdout))
            except (EOFError, OSError, pickle.UnpicklingError):
                frames.put(None)

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr_tail.append(line)
                del stderr_tail[:-20]

        readers = [
            threading.Thread(target=read_frames, daemon=True),
            threading.Thread(target=read_stderr, daemon=True),
        ]
        for r in readers:
            r.start()
        try:
            try:
                _send(proc.stdin, task)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            while True:
                try:
                    msg = frames.get(timeout=self.poll)
                except queue.Empty:
                    if should_stop():
                        proc.kill()
                        return TaskOutcome(
                            ok=False,
                            cancelled=True,
                            wall_seconds=time.perf_counter() - t0,
                            where=f"process {proc.pid}",
                        )
                    continue
                if msg is None:
                    break
                assert isinstance(msg, tuple)
                if msg[0] == "progress":
                    progress(msg[1], msg[2])
                    continue
                outcome = msg[1]
                assert isinstance(outcome, TaskOutcome)
                return outcome
            code = proc.wait(10)
            tail = b"".join(stderr_tail).decode("utf-8", "replace").strip().splitlines()[-3:]
            return TaskOutcome(
                ok=False,
                error_code="worker_process_died",
                error_message=(
                    f"the training process {proc.pid} exited with code {code} before it "
                    "reported a result"
                    + (" (killed: out of memory?)" if code == -signal.SIGKILL else "")
                    + (f"; its last words: {' | '.join(tail)}" if tail else "")
                ),
                wall_seconds=time.perf_counter() - t0,
                where=f"process {proc.pid}",
            )
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            for r in readers:
                r.join(5)
            proc.stdout.close()
            proc.stderr.close()
            if not proc.stdin.closed:
                proc.stdin.close()

    def close(self) -> None:
        return None


class RayExecutor:
    """Ray tasks pinned to a site by the custom resource ``site:<name>``."""

    name = "ray"

    def __init__(self, address: str | None = None, poll: float = 0.2) -> None:
        try:
            import ray
        except ImportError:
            raise StewardError(
                "the ray executor needs Ray: pip install 'steward[ray]'", executor="ray"
            ) from None
        self.ray = ray
        self.poll = poll
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)

    def site_resource(self, site: str) -> str:
        return f"site:{site}"

    def execute(self, task: TrainTask, progress: Progress, should_stop: ShouldStop) -> TaskOutcome:
        ray = self.ray
        need = self.site_resource(task.site)
        offered = sorted(k for k in ray.cluster_resources() if k.startswith("site:"))
        if need not in offered:
            raise NoSuchSite(
                f"no Ray node offers {need}: the job's data may only be processed at "
                f"{task.site}; start a node there with --resources '{{\"{need}\": 1}}'",
                site=task.site,
                offered=offered,
            )
        remote = ray.remote(_ray_entry).options(
            num_cpus=task.cpus, resources={need: 0.001}, max_retries=0
        )
        t0 = time.perf_counter()
        ref = remote.remote(task)
        progress("running on ray", 0.0)
        while True:
            ready, _ = ray.wait([ref], timeout=self.poll)
            if ready:
                out: TaskOutcome = ray.get(ref)
                return out
            if should_stop():
                ray.cancel(ref, force=True)
                return TaskOutcome(
                    ok=False, cancelled=True, wall_seconds=time.perf_counter() - t0, where="ray"
                )

    def close(self) -> None:
        return None


def _ray_entry(task: TrainTask) -> TaskOutcome:
    out = run_task(task)
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()
    except Exception:  # the node id is informational
        node = "?"
    out.where = f"ray node {node[:12]} pid {os.getpid()}"
    return out


EXECUTORS = ("inline", "process", "ray")


def make_executor(name: str, *, ray_address: str | None = None) -> Executor:
    if name == "inline":
        return InlineExecutor()
    if name == "process":
        return ProcessExecutor()
    if name == "ray":
        return RayExecutor(ray_address)
    raise ValidationFailed(
        f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}", executor=name
    )
