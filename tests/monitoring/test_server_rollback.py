"""End to end against a running ``steward server``: shifted traffic over HTTP, the server's
own monitor (a child process) sees the drift, and its rule rolls the endpoint back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from gatesdata import register_split, with_suite
from test_alerts import shifted
from test_v2 import PERF, approved

from steward.audit import LedgerFilter
from steward.config import Home
from steward.deploy import DeployService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

ADMIN = Principal("admin")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_the_servers_monitor_rolls_back_a_drifting_endpoint(home: Home, tmp_path: Path) -> None:
    with_suite(home, PERF)
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["monitoring"] = {
        "interval_seconds": 1,
        "rules": [
            {
                "name": "drift-rollback",
                "signal": "dataset_drift",
                "endpoints": ["credit"],
                "actions": ["alert", "rollback"],
            }
        ],
    }
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt = Runtime.open(home)
    try:
        train, hold = register_split(rt)
        old = approved(rt, train, hold, exclude=["afam"])
        new = approved(rt, train, hold, seed=6)
        deploy = DeployService(rt)
        deploy.deploy(ADMIN, old, endpoint="credit", site="eu-fra")
        deploy.deploy(ADMIN, new, endpoint="credit")
        token = IdentityService(rt).create_token(ADMIN, user="alice", endpoint="credit").token
        seq = rt.ledger.head()[0]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = tmp_path / "server.log"
        with open(log, "ab") as fh:
            server = subprocess.Popen(
                [sys.executable, "-m", "steward.cli", "server", "--port", str(port), "--no-jobs"],
                env=dict(os.environ, STEWARD_HOME=str(home.root)),
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"

            def up() -> bool:
                try:
                    return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, 60, "the server")
            rows = shifted()
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as h:
                for i in range(0, 2000, 50):
                    r = h.post("/v1/endpoints/credit/predict", json={"records": rows[i : i + 50]})
                    assert r.status_code == 200, r.text
                    assert r.json()["model"] == new

            def rolled_back() -> bool:
                current = deploy.current("credit")[0]
                return current.primary == old and current.revision == 3

            wait_for(rolled_back, 90, "the automatic rollback")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(20)
        entries = list(rt.ledger.entries(LedgerFilter(after_seq=seq)))
        auto = [e for e in entries if e.actor == "steward-monitor"]
        assert [(e.action, e.decision) for e in auto] == [
            ("alert.open", "allow"),
            ("deployment.rollback", "allow"),
        ], log.read_text()[-3000:]
        info = deploy.endpoint(ADMIN, "credit")
        assert info.current is not None and "automatic: alert" in info.current.reason
    finally:
        rt.close()
