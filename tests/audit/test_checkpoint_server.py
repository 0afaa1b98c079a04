"""``steward server`` signs checkpoints on its own, and writes them to the witness."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from steward.config import Home
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime


def test_a_running_server_signs_a_checkpoint_after_n_entries(
    sqlite_home: Home, tmp_path: Path
) -> None:
    cfg = yaml.safe_load(sqlite_home.config_path.read_text())
    cfg["audit"] = {"checkpoint_every_entries": 2, "witness_dir": str(tmp_path / "worm")}
    sqlite_home.config_path.write_text(yaml.safe_dump(cfg))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "server.log"
    with open(log, "ab") as fh:
        args = ["server", "--port", str(port), "--no-jobs", "--no-monitor"]
        server = subprocess.Popen(
            [sys.executable, "-m", "steward.cli", *args],
            env=dict(os.environ, STEWARD_HOME=str(sqlite_home.root)),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    rt = Runtime.open(sqlite_home)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for i in range(2):
            ObjectService(rt).put(Principal("alice"), b"x%d" % i, site="eu-fra", jurisdiction="EU")
        witness = tmp_path / "worm" / "ledger-checkpoint.json"
        deadline = time.monotonic() + 60  # the loop looks every 10 s
        while time.monotonic() < deadline and not witness.exists():
            time.sleep(0.2)
        assert witness.exists(), log.read_text()[-3000:]
        cp = json.loads(witness.read_text())["checkpoint"]
        assert (cp["seq"], cp["position"]) == (2, 0)
        signed = [e for e in rt.ledger.entries() if e.action == "audit.checkpoint"]
        assert [(e.seq, e.actor) for e in signed] == [(3, "steward-monitor")]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        rt.close()
