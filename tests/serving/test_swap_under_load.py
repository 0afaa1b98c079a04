"""Deploy and roll back while requests keep coming: no request fails."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
from gatesdata import BOB, SUITE, hmda, register_split, train_model, with_suite

from steward.api import create_app
from steward.config import Home
from steward.deploy import DeployService
from steward.gates import GateService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

ADMIN = Principal("admin")
PERF = {k: v for k, v in SUITE.items() if k != "fairness"} | {"champion": {"margin": 1.0}}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_request_fails_during_deploys_and_rollbacks(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_SERVING_REFRESH", "0.05")
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = []
    for seed, over in ((1, {}), (2, {"exclude": ["afam"]})):
        ref = train_model(rt, train, seed=seed, **over)
        assert GateService(rt).validate(BOB, ref, hold).passed
        GateService(rt).decide(BOB, ref, approve=True)
        refs.append(ref)
    DeployService(rt).deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    token = IdentityService(rt).create_token(ADMIN, user="alice").token
    # the record carries every column either model needs
    record = {k: v for k, v in hmda().slice(1900, 1).to_pylist()[0].items() if k != "deny"}

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt), http="h11", ws="none", lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    stop = threading.Event()
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as http:
            while not stop.is_set():
                r = http.post("/v1/endpoints/credit/predict", json={"records": [record]})
                with lock:
                    results.append(
                        (
                            r.status_code,
                            r.json().get("model", "") if r.status_code == 200 else r.text,
                        )
                    )

    clients = [threading.Thread(target=client) for _ in range(3)]
    try:
        for c in clients:
            c.start()
        deploys = 0
        for _ in range(3):
            time.sleep(0.3)
            DeployService(rt).deploy(ADMIN, refs[1], endpoint="credit")
            time.sleep(0.3)
            DeployService(rt).rollback(ADMIN, "credit")
            deploys += 2
        time.sleep(0.3)
    finally:
        stop.set()
        for c in clients:
            c.join(20)
        server.should_exit = True
        thread.join(10)
        sock.close()
        rt.close()
    failed = [r for r in results if r[0] != 200]
    assert failed == [], failed[:3]
    served = {model for _, model in results}
    assert served == set(refs)  # both models answered: the swaps happened under load
    assert len(results) > 50 and deploys == 6
