"""The binary tensor data extension: decoding requests, encoding answers, and clear 400s
for binary bodies that do not match their header."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from steward.api.v2codec import DTYPES, BinaryError, V2Codec, decode_request, encode_response


def binary(request: dict[str, Any], tensors: list[bytes]) -> tuple[bytes, int]:
    header = json.dumps(request).encode()
    return header + b"".join(tensors), len(header)


@pytest.mark.parametrize("datatype", sorted(DTYPES))
def test_every_fixed_size_datatype_round_trips(datatype: str) -> None:
    rng = np.random.default_rng(3)
    arr = (rng.random(6) * 100).astype(np.dtype(DTYPES[datatype]))
    body, n = binary(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [6, 1],
                    "datatype": datatype,
                    "parameters": {"binary_data_size": arr.nbytes},
                }
            ]
        },
        [arr.tobytes()],
    )
    req = decode_request(body, n)
    assert req["inputs"][0]["data"] == arr.tolist() and "parameters" not in req["inputs"][0]
    encoded, hl = encode_response(
        {"outputs": [{"name": "y", "datatype": datatype, "shape": [6], "data": arr.tolist()}]},
        True,
    )
    head = json.loads(encoded[:hl])
    assert head["outputs"][0]["parameters"]["binary_data_size"] == arr.nbytes
    back = np.frombuffer(encoded[hl:], dtype=np.dtype(DTYPES[datatype]))
    np.testing.assert_array_equal(back, arr)


def test_bytes_elements_and_json_inputs_mix() -> None:
    words = ["ja", "", "naïve"]
    raw = b"".join(struct.pack("<I", len(w.encode())) + w.encode() for w in words)
    body, n = binary(
        {
            "inputs": [
                {"name": "a", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
                {
                    "name": "b",
                    "shape": [3],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(raw)},
                },
            ]
        },
        [raw],
    )
    req = decode_request(body, n)
    assert req["inputs"][0]["data"] == [1, 2, 3] and req["inputs"][1]["data"] == words


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b, n: (b, len(b) + 5), "Inference-Header-Content-Length is"),
        (lambda b, n: (b[:-1], n), "does not fit"),
        (lambda b, n: (b + b"xx", n), "not claimed"),
        (lambda b, n: (b"{not json" + b[n:], 9), "not valid JSON"),
    ],
)
def test_a_body_that_does_not_match_its_header_is_refused(mutate: Any, message: str) -> None:
    body, n = binary(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [2],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 8},
                }
            ]
        },
        [np.zeros(2, np.float32).tobytes()],
    )
    with pytest.raises(BinaryError, match=message):
        decode_request(*mutate(body, n))


def test_middleware_decodes_encodes_and_reports() -> None:
    app = FastAPI()

    @app.post("/v2/models/m/infer")
    async def infer(request: Request) -> dict[str, Any]:
        assert request.headers["content-type"] == "application/json"
        req = await request.json()
        x = req["inputs"][0]["data"]
        return {"outputs": [{"name": "y", "datatype": "FP64", "shape": [len(x)], "data": x}]}

    client = TestClient(V2Codec(app))  # type: ignore[arg-type]
    arr = np.array([1.5, -2.0], np.float32)
    request = {
        "inputs": [
            {"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}
        ],
        "parameters": {"binary_data_output": True},
    }
    body, n = binary(request, [arr.tobytes()])
    r = client.post(
        "/v2/models/m/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(n), "content-type": "text/plain"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    hl = int(r.headers["inference-header-content-length"])
    np.testing.assert_array_equal(np.frombuffer(r.content[hl:], "<f8"), arr.astype(np.float64))
    # JSON in, JSON out, even without a JSON content type
    plain = client.post(
        "/v2/models/m/infer",
        content=json.dumps({"inputs": [{"name": "x", "data": [4]}]}),
        headers={"content-type": "text/plain"},
    )
    assert plain.json()["outputs"][0]["data"] == [4]
    bad = client.post(
        "/v2/models/m/infer", content=body[:-2], headers={"Inference-Header-Content-Length": str(n)}
    )
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("[validation_failed] input x: binary_data_size 8")
