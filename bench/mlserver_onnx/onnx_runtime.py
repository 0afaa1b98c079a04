"""A custom MLServer runtime for the serving benchmark: the same ``.onnx`` Steward serves,
run with ONNX Runtime, answering the Open Inference Protocol v2 as Steward does.

MLServer ships no ONNX runtime of its own, so this is what a team serving the model on
MLServer would write: one ``InferenceSession`` built at load (ONNX Runtime's default
session options, as Steward's), each request's tensors turned into the model's feeds
(numbers as float32 ``[rows, 1]``, text as strings ``[rows, 1]``, as Steward feeds them),
and every output returned. It runs inside MLServer's own virtual environment
(``.venv-mlserver``), never Steward's; ``bench/serving_bench.py`` points MLServer at it
through ``model-settings.json`` (``"implementation": "onnx_runtime.OnnxModel"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

_NUMERIC = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


class OnnxModel(MLModel):
    """One ONNX model, scored with ONNX Runtime on the CPU."""

    async def load(self) -> bool:
        uri = await get_model_uri(self._settings)
        self._session = ort.InferenceSession(uri, providers=["CPUExecutionProvider"])
        self._types = {i.name: i.type for i in self._session.get_inputs()}
        self._outputs = [o.name for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds: dict[str, Any] = {}
        for inp in payload.inputs:
            kind = self._types.get(inp.name)
            if kind is None:
                raise InferenceError(f"unexpected input {inp.name}")
            data = inp.data.root
            if kind == "tensor(string)":
                arr = np.array([str(v) for v in data], dtype=object)
            else:
                arr = np.asarray(data, dtype=_NUMERIC[kind])
            feeds[inp.name] = arr.reshape(-1, 1)
        missing = sorted(set(self._types) - set(feeds))
        if missing:
            raise InferenceError(f"missing input(s) {', '.join(missing)}")
        results = self._session.run(None, feeds)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[
                NumpyCodec.encode_output(name, np.asarray(value))
                for name, value in zip(self._outputs, results, strict=True)
            ],
        )
