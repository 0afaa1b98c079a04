"""The Open Inference Protocol's transport details, as a pure ASGI middleware on ``/v2``.

- Inference clients (``tritonclient.http``) POST JSON without a JSON content type: the
  middleware declares it.
- The **binary tensor data extension** (Triton/KServe): a request whose
  ``Inference-Header-Content-Length`` header is set carries a JSON header of that many
  bytes followed by the raw tensors of the inputs whose ``parameters.binary_data_size``
  is set, in order. They are decoded into JSON tensors before the route sees them (one
  code path checks every input). An answer is encoded the same way when the request asks
  for it (``parameters.binary_data_output: true``, or ``parameters.binary_data: true`` on
  a requested output): the outputs' data follow the JSON header as raw little-endian
  tensors (``BYTES``: each element a 4-byte little-endian length and its bytes).

Reference: KServe/Triton "Binary Tensor Data Extension"
(https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["V2Codec", "decode_request", "encode_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADER = b"inference-header-content-length"
MAX_BODY = 256 * 1024 * 1024

#: numpy dtypes of the protocol's fixed-size datatypes (little-endian on the wire)
DTYPES: dict[str, str] = {
    "BOOL": "|b1",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


class BinaryError(ValueError):
    """The binary part of a request does not match its header."""


def _bytes_elements(raw: bytes, name: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise BinaryError(f"input {name}: a BYTES element's 4-byte length is cut short")
        (n,) = struct.unpack_from("<I", raw, i)
        i += 4
        if i + n > len(raw):
            raise BinaryError(f"input {name}: a BYTES element claims {n} byte(s) beyond the data")
        out.append(raw[i : i + n].decode("utf-8", errors="replace"))
        i += n
    return out


def decode_request(body: bytes, header_length: int) -> dict[str, Any]:
    """A binary-extension request as the JSON request it stands for."""
    if header_length < 0 or header_length > len(body):
        raise BinaryError(
            f"Inference-Header-Content-Length is {header_length} but the body has "
            f"{len(body)} byte(s)"
        )
    try:
        request = json.loads(body[:header_length])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BinaryError(f"the JSON header is not valid JSON ({exc})") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise BinaryError('the JSON header needs an "inputs" list')
    offset = header_length
    for inp in request["inputs"]:
        if not isinstance(inp, dict):
            raise BinaryError("every input must be an object")
        params = inp.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is None:
            continue
        name = inp.get("name", "?")
        if not isinstance(size, int) or size < 0 or offset + size > len(body):
            raise BinaryError(
                f"input {name}: binary_data_size {size} does not fit the "
                f"{len(body) - offset} byte(s) left in the body"
            )
        raw = body[offset : offset + size]
        offset += size
        datatype = inp.get("datatype")
        if datatype == "BYTES":
            data: list[Any] = _bytes_elements(raw, name)
        elif datatype in DTYPES:
            dtype = np.dtype(DTYPES[datatype])
            if size % dtype.itemsize:
                raise BinaryError(
                    f"input {name}: {size} byte(s) is not a whole number of {datatype} values"
                )
            data = np.frombuffer(raw, dtype=dtype).tolist()
        else:
            raise BinaryError(f"input {name}: unknown datatype {datatype!r}")
        inp["data"] = data
        params.pop("binary_data_size", None)
        if not params:
            inp.pop("parameters", None)
    if offset != len(body):
        raise BinaryError(
            f"{len(body) - offset} byte(s) after the last binary input are not claimed by any "
            "input's binary_data_size"
        )
    return request


def wants_binary(request: dict[str, Any]) -> set[str] | bool:
    """Which outputs the request wants as binary: ``True`` for all, or a set of names."""
    params = request.get("parameters") or {}
    if isinstance(params, dict) and params.get("binary_data_output"):
        return True
    named = {
        str(o.get("name"))
        for o in request.get("outputs") or []
        if isinstance(o, dict) and (o.get("parameters") or {}).get("binary_data")
    }
    return named or False


def _raw(datatype: str, data: list[Any]) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in data:
            b = v if isinstance(v, bytes) else str(v).encode("utf-8")
            parts.append(struct.pack("<I", len(b)) + b)
        return b"".join(parts)
    arr: npt.NDArray[Any] = np.asarray(data, dtype=np.dtype(DTYPES[datatype]))
    return arr.tobytes()


def encode_response(response: dict[str, Any], which: set[str] | bool) -> tuple[bytes, int]:
    """The binary form of a JSON answer: (body, JSON header length)."""
    chunks: list[bytes] = []
    for out in response.get("outputs", []):
        if which is True or out.get("name") in (which or set()):
            raw = _raw(out["datatype"], out.pop("data"))
            out.setdefault("parameters", {})["binary_data_size"] = len(raw)
            chunks.append(raw)
    header = json.dumps(response, separators=(",", ":")).encode("utf-8")
    return header + b"".join(chunks), len(header)


def _error(message: str) -> bytes:
    return json.dumps({"error": f"[validation_failed] {message}"}).encode("utf-8")


class V2Codec:
    """Pure ASGI middleware for POSTs under ``/v2/`` (see the module docs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith("/v2/")
        ):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
        headers.append((b"content-type", b"application/json"))
        length = next((v for k, v in scope["headers"] if k == _HEADER), None)
        body = b""
        binary_in = length is not None
        if binary_in or any(k == b"content-length" for k, _ in headers):
            # read the body: needed for binary input, and to see whether binary output is
            # wanted (a JSON body is read here once and replayed to the route)
            body = await _read(receive)
        request: dict[str, Any] | None = None
        if binary_in:
            try:
                request = decode_request(body, int(length or b"-1"))
            except (BinaryError, ValueError) as exc:
                await _send_json(send, 400, _error(str(exc)))
                return
            body = json.dumps(request, separators=(",", ":")).encode("utf-8")
            headers = [(k, v) for k, v in headers if k not in (_HEADER, b"content-length")]
            headers.append((b"content-length", str(len(body)).encode()))
        elif b"binary_data" in body:  # cheap test first; parse only when it may matter
            try:
                request = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                request = None  # the route reports bad JSON in its own words
        which = wants_binary(request) if isinstance(request, dict) else False
        scope = {**scope, "headers": headers}
        replay = _replay(body, receive)
        if not which:
            await self.app(scope, replay, send)
            return
        await self.app(scope, replay, _binary_sender(send, which))


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError(f"request body over {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _binary_sender(send: Send, which: set[str] | bool) -> Send:
    """Re-encode a successful JSON answer in the binary form (errors stay JSON)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def sender(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if start["status"] == 200:
            try:
                body, header_length = encode_response(json.loads(body), which)
            except (ValueError, KeyError, TypeError):
                pass  # not an inference answer: pass it on as it is
            else:
                headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
                headers += [
                    (b"content-type", b"application/octet-stream"),
                    (_HEADER, str(header_length).encode()),
                ]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return sender


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
