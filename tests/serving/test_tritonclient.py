"""The v2 routes with the real Triton HTTP client (``tritonclient.http``): JSON tensors and
the binary tensor data extension (the client's default)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
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
from steward.registry import ModelService
from steward.registry.runner import OnnxRunner
from steward.runtime import Runtime

httpclient = pytest.importorskip("tritonclient.http")
ADMIN = Principal("admin")
PERF = {k: v for k, v in SUITE.items() if k != "fairness"} | {"champion": {"margin": 1.0}}


@pytest.fixture
def server(home: Home) -> Iterator[tuple[Runtime, str, str, str]]:
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = train_model(rt, train)
    assert GateService(rt).validate(BOB, ref, hold).passed
    GateService(rt).decide(BOB, ref, approve=True)
    DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
    token = IdentityService(rt).create_token(ADMIN, user="alice", endpoint="credit").token
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(rt), http="h11", ws="none", lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    try:
        yield rt, f"127.0.0.1:{port}", token, ref
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
        rt.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_triton_http_client_health_metadata_and_infer(
    server: tuple[Runtime, str, str, str],
) -> None:
    rt, url, token, ref = server
    headers = {"Authorization": f"Bearer {token}"}
    client = httpclient.InferenceServerClient(url=url)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("credit", headers=headers)
        meta = client.get_model_metadata("credit", headers=headers)
        m = ModelService(rt).show(ADMIN, ref)
        assert meta["name"] == "credit" and meta["versions"] == [str(m.version)]
        assert [i["name"] for i in meta["inputs"]] == [i["name"] for i in m.inputs]

        table = hmda().slice(1900, 8)
        runner = OnnxRunner(ModelService(rt).onnx(ADMIN, ref), m.inputs, m.classes)
        feeds = runner.feeds(table)
        inputs = []
        for spec in m.inputs:
            arr = feeds[spec["name"]]
            inp = httpclient.InferInput(spec["name"], list(arr.shape), spec["datatype"])
            inp.set_data_from_numpy(arr, binary_data=False)
            inputs.append(inp)
        result = client.infer("credit", inputs, headers=headers)
        probs = result.as_numpy(m.outputs[1]["name"])
        want = runner.predict(table).probabilities
        assert probs is not None and want is not None
        np.testing.assert_allclose(probs.astype(np.float64), want, rtol=1e-6)
        assert result.get_response()["model_version"] == str(m.version)
        # a wrong datatype is refused with the protocol's error, naming the input
        bad = httpclient.InferInput(m.inputs[0]["name"], [8, 1], "INT64")
        bad.set_data_from_numpy(np.zeros((8, 1), dtype=np.int64), binary_data=False)
        with pytest.raises(Exception, match=m.inputs[0]["name"]):
            client.infer("credit", [bad, *inputs[1:]], headers=headers)
    finally:
        client.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_triton_http_client_binary_tensors(server: tuple[Runtime, str, str, str]) -> None:
    """The client's defaults: binary inputs, binary outputs; and named outputs."""
    rt, url, token, ref = server
    headers = {"Authorization": f"Bearer {token}"}
    m = ModelService(rt).show(ADMIN, ref)
    table = hmda().slice(1900, 16)
    runner = OnnxRunner(ModelService(rt).onnx(ADMIN, ref), m.inputs, m.classes)
    feeds = runner.feeds(table)
    want = runner.predict(table)
    client = httpclient.InferenceServerClient(url=url)
    try:
        inputs = []
        for spec in m.inputs:
            arr = feeds[spec["name"]]
            inp = httpclient.InferInput(spec["name"], list(arr.shape), spec["datatype"])
            inp.set_data_from_numpy(arr)  # binary_data=True by default
            inputs.append(inp)
        result = client.infer("credit", inputs, headers=headers, request_id="bin-1")
        response = result.get_response()
        assert response["id"] == "bin-1"
        # every output came back in binary: no JSON data, a binary size instead
        assert all(
            "data" not in o and o["parameters"]["binary_data_size"] > 0 for o in response["outputs"]
        )
        labels = result.as_numpy(m.outputs[0]["name"])
        probs = result.as_numpy(m.outputs[1]["name"])
        assert labels is not None and probs is not None
        got = [v.decode() if isinstance(v, bytes) else v for v in labels.ravel().tolist()]
        assert got == np.asarray(want.labels).ravel().tolist()  # BYTES come back as bytes
        assert want.probabilities is not None
        np.testing.assert_allclose(probs.astype(np.float64), want.probabilities, rtol=1e-6)
        # one named output, as JSON
        out = httpclient.InferRequestedOutput(m.outputs[1]["name"], binary_data=False)
        only = client.infer("credit", inputs, outputs=[out], headers=headers).get_response()
        assert [o["name"] for o in only["outputs"]] == [m.outputs[1]["name"]]
        assert "data" in only["outputs"][0]
        # an unknown output is a 400 naming it
        with pytest.raises(Exception, match="unknown output"):
            client.infer(
                "credit",
                inputs,
                outputs=[httpclient.InferRequestedOutput("nope")],
                headers=headers,
            )
    finally:
        client.close()
