"""The Open Inference Protocol v2 over endpoints: health, metadata, infer, input errors,
swaps on deploy and rollback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

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

ADMIN = Principal("admin")
PERF = {k: v for k, v in SUITE.items() if k != "fairness"} | {"champion": {"margin": 1.0}}


def approved(rt: Runtime, train: str, hold: str, **over: object) -> str:
    ref = train_model(rt, train, **over)
    assert GateService(rt).validate(BOB, ref, hold).passed
    GateService(rt).decide(BOB, ref, approve=True)
    return ref


@pytest.fixture
def served(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, TestClient, list[str]]]:
    monkeypatch.setenv("STEWARD_SERVING_REFRESH", "0")
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = [approved(rt, train, hold), approved(rt, train, hold, seed=3, exclude=["afam"])]
    DeployService(rt).deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    token = IdentityService(rt).create_token(ADMIN, user="alice").token
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    yield rt, client, refs
    rt.close()


def body_for(rows: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    out = []
    for spec in inputs:
        col = spec["column"]
        values = [r[col] for r in rows]
        if spec["datatype"] != "BYTES":
            values = [float(v) if not isinstance(v, str) else float(v == "yes") for v in values]
        out.append(
            {
                "name": spec["name"],
                "shape": [len(rows), 1],
                "datatype": spec["datatype"],
                "data": values,
            }
        )
    return {"id": "req-1", "inputs": out}


def test_health_and_metadata(served: tuple[Runtime, TestClient, list[str]]) -> None:
    rt, client, refs = served
    anonymous = TestClient(create_app(rt))
    assert anonymous.get("/v2/health/live").json() == {"live": True}
    assert anonymous.get("/v2/health/ready").json() == {"ready": True}
    assert anonymous.get("/v2").json()["name"] == "steward"
    assert anonymous.get("/v2/models/credit").status_code == 401
    meta = client.get("/v2/models/credit").json()
    m = ModelService(rt).show(ADMIN, refs[0])
    assert meta["name"] == "credit" and meta["versions"] == [str(m.version)]
    assert [i["name"] for i in meta["inputs"]] == [i["name"] for i in m.inputs]
    assert {i["datatype"] for i in meta["inputs"]} <= {"FP32", "BYTES"}
    assert client.get("/v2/models/credit/ready").json() == {"ready": True}
    assert client.get(f"/v2/models/credit/versions/{m.version}/ready").json() == {"ready": True}
    missing = client.get("/v2/models/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_infer_batch_equals_the_onnx_model(served: tuple[Runtime, TestClient, list[str]]) -> None:
    rt, client, refs = served
    m = ModelService(rt).show(ADMIN, refs[0])
    table = hmda().slice(1900, 25)
    rows = table.to_pylist()
    resp = client.post("/v2/models/credit/infer", json=body_for(rows, m.inputs))
    assert resp.status_code == 200, resp.json()
    out = resp.json()
    assert out["model_name"] == "credit" and out["id"] == "req-1"
    assert out["model_version"] == str(m.version)
    probs = next(o for o in out["outputs"] if o["shape"] == [25, 2])
    expected = OnnxRunner(ModelService(rt).onnx(ADMIN, refs[0]), m.inputs, m.classes)
    want = expected.predict(table).probabilities
    assert want is not None
    np.testing.assert_allclose(np.asarray(probs["data"]).reshape(25, 2), want, rtol=1e-6)
    one = client.post("/v2/models/credit/infer", json=body_for(rows[:1], m.inputs))
    assert one.status_code == 200


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b["inputs"].pop(0), "missing input"),
        (lambda b: b["inputs"].append({**b["inputs"][0], "name": "zzz"}), "unexpected input"),
        (lambda b: b["inputs"][0].update(datatype="INT64"), "expected datatype"),
        (lambda b: b["inputs"][0].update(shape=[3, 1]), "holds 3 value"),
        (lambda b: b["inputs"][0].update(shape=[1, 2], data=[1.0, 2.0]), "expected shape"),
        (lambda b: b["inputs"][0].update(data=["abc"]), "do not fit FP32"),
    ],
)
def test_bad_inputs_get_a_400_naming_the_input(
    served: tuple[Runtime, TestClient, list[str]], mutate: Any, needle: str
) -> None:
    rt, client, refs = served
    m = ModelService(rt).show(ADMIN, refs[0])
    body = body_for(hmda().slice(1900, 1).to_pylist(), m.inputs)
    mutate(body)
    resp = client.post("/v2/models/credit/infer", json=body)
    assert resp.status_code == 400, resp.json()
    assert needle in resp.json()["error"]


def test_deploy_and_rollback_swap_the_served_model(
    served: tuple[Runtime, TestClient, list[str]],
) -> None:
    rt, client, refs = served
    versions = [ModelService(rt).show(ADMIN, r).version for r in refs]
    m1 = ModelService(rt).show(ADMIN, refs[1])
    rows = hmda().slice(1900, 3).to_pylist()

    def served_version(model_ref: str) -> str:
        m = ModelService(rt).show(ADMIN, model_ref)
        r = client.post("/v2/models/credit/infer", json=body_for(rows, m.inputs))
        assert r.status_code == 200, r.json()
        return str(r.json()["model_version"])

    assert served_version(refs[0]) == str(versions[0])
    DeployService(rt).deploy(ADMIN, refs[1], endpoint="credit")
    assert served_version(refs[1]) == str(versions[1])
    wrong = client.post(
        f"/v2/models/credit/versions/{versions[0]}/infer", json=body_for(rows, m1.inputs)
    )
    assert wrong.status_code == 400 and "serves version" in wrong.json()["error"]
    DeployService(rt).rollback(ADMIN, "credit")
    assert served_version(refs[0]) == str(versions[0])


def test_json_records_predict(served: tuple[Runtime, TestClient, list[str]]) -> None:
    rt, client, refs = served
    rows = hmda().slice(1900, 4).to_pylist()
    resp = client.post("/v1/endpoints/credit/predict", json={"records": rows})
    assert resp.status_code == 200, resp.json()
    out = resp.json()
    assert out["model"] == refs[0] and len(out["predictions"]) == 4
    m = ModelService(rt).show(ADMIN, refs[0])
    v2 = client.post("/v2/models/credit/infer", json=body_for(rows, m.inputs)).json()
    probs = next(o for o in v2["outputs"] if o["shape"] == [4, 2])["data"]
    assert [p["probabilities"][str(m.classes[1])] for p in out["predictions"]] == pytest.approx(
        probs[1::2]
    )
    bad = client.post("/v1/endpoints/credit/predict", json={"records": [{"pirat": 0.3}]})
    assert bad.status_code == 422 and "missing field" in bad.json()["message"]


def test_endpoint_scoped_tokens_predict_and_nothing_else(
    served: tuple[Runtime, TestClient, list[str]],
) -> None:
    rt, _, refs = served
    DeployService(rt).deploy(ADMIN, refs[1], endpoint="other", site="eu-fra")
    scoped = IdentityService(rt).create_token(ADMIN, user="alice", endpoint="credit")
    assert scoped.scope == "endpoint:credit"
    app = TestClient(create_app(rt), headers={"Authorization": f"Bearer {scoped.token}"})
    m = ModelService(rt).show(ADMIN, refs[0])
    body = body_for(hmda().slice(1900, 2).to_pylist(), m.inputs)
    assert app.post("/v2/models/credit/infer", json=body).status_code == 200
    assert app.get("/v2/models/credit").status_code == 200
    assert app.get("/v2/models/credit/ready").status_code == 200
    record = hmda().slice(1900, 1).to_pylist()[0]
    assert app.post("/v1/endpoints/credit/predict", json={"records": [record]}).status_code == 200
    for method, path in [
        ("post", "/v2/models/other/infer"),
        ("get", "/v1/datasets"),
        ("get", "/v1/models"),
        ("post", "/v1/endpoints/credit/rollback"),
    ]:
        resp = getattr(app, method)(path, json=body) if method == "post" else app.get(path)
        assert resp.status_code == 403, (path, resp.text)
        assert "token-scope" in resp.text
    with pytest.raises(Exception, match="not found"):
        IdentityService(rt).create_token(ADMIN, user="alice", endpoint="nowhere")


def test_latency_is_measured_per_endpoint_against_its_budget(
    served: tuple[Runtime, TestClient, list[str]],
) -> None:
    rt, client, refs = served
    m = ModelService(rt).show(ADMIN, refs[0])
    status = client.get("/v1/endpoints/credit/status").json()
    assert status["requests"] == 0 and status["p99_ms"] is None
    assert status["within_budget"] is None and status["budget_ms"] == 50.0
    body = body_for(hmda().slice(1900, 2).to_pylist(), m.inputs)
    for _ in range(20):
        assert client.post("/v2/models/credit/infer", json=body).status_code == 200
    bad = {**body, "inputs": body["inputs"][1:]}
    assert client.post("/v2/models/credit/infer", json=bad).status_code == 400
    status = client.get("/v1/endpoints/credit/status").json()
    assert (status["requests"], status["rejected"], status["errors"], status["window"]) == (
        21,
        1,
        0,
        20,
    )
    assert 0 < status["p50_ms"] <= status["p95_ms"] <= status["p99_ms"]
    assert status["within_budget"] == (status["p99_ms"] <= 50.0)
    text = client.get("/metrics").text
    assert 'steward_inference_seconds_count{endpoint="credit",model="' + refs[0] in text
    assert 'steward_inference_requests_total{endpoint="credit",outcome="ok"} 20.0' in text
    assert 'steward_inference_requests_total{endpoint="credit",outcome="rejected"} 1.0' in text
    assert client.get("/v1/endpoints/nothing/status").status_code == 404
