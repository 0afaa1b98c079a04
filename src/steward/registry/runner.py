"""Run a registered ONNX model on an Arrow table: the artifact that would be served.

The gates evaluate with this, and serving feeds requests the same way, so what is validated
is what runs. Each model input is one column (``inputs[i]["column"]``, named
``inputs[i]["name"]`` in the graph): numeric inputs are fed as float32 ``[n, 1]`` with nulls
as NaN, text inputs as strings ``[n, 1]`` with nulls as ``""`` (what the training pipeline's
imputer expects). A missing column or a column of the wrong kind is a
:class:`~steward.errors.ValidationFailed` naming the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.errors import ValidationFailed

__all__ = ["OnnxRunner", "Prediction"]

BATCH_ROWS = 65_536


@dataclass
class Prediction:
    """Decisions (labels or values) and, for classifiers, class probabilities."""

    labels: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None
    classes: list[Any] | None

    def positive_score(self) -> npt.NDArray[np.float64]:
        """Binary classifiers: the probability of the second (positive) class."""
        if self.probabilities is None or self.probabilities.shape[1] != 2:
            raise ValueError("positive_score is for binary classifiers")
        return self.probabilities[:, 1]


class OnnxRunner:
    def __init__(
        self,
        onnx: bytes,
        inputs: Sequence[dict[str, Any]],
        classes: Sequence[Any] | None = None,
        *,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            onnx, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = list(inputs)
        self.classes = list(classes) if classes is not None else None
        self.output_names = [o.name for o in self.session.get_outputs()]

    # -- feeding ----------------------------------------------------------------------------
    def feeds(self, table: pa.Table) -> dict[str, npt.NDArray[Any]]:
        """The named input arrays for ``table`` (see the module docstring)."""
        have = set(table.column_names)
        missing = [i.get("column", i["name"]) for i in self.inputs]
        missing = [c for c in missing if c not in have]
        if missing:
            raise ValidationFailed(
                f"the model needs column(s) {', '.join(repr(c) for c in missing)}, which the "
                "data does not have",
                expected=[i.get("column", i["name"]) for i in self.inputs],
                found=table.column_names,
            )
        out: dict[str, npt.NDArray[Any]] = {}
        for spec in self.inputs:
            column = spec.get("column", spec["name"])
            col = table.column(column)
            if spec["datatype"] == "BYTES":
                out[spec["name"]] = self._text(column, col)
            else:
                out[spec["name"]] = self._number(column, col, spec["datatype"])
        return out

    @staticmethod
    def _text(name: str, col: pa.ChunkedArray) -> npt.NDArray[Any]:
        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, col.type.value_type)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            try:
                col = pc.cast(col, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ValidationFailed(
                    f"input {name!r}: expected text; found {col.type}", input=name
                ) from None
        values = pc.fill_null(col, "").to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=object).reshape(-1, 1)

    @staticmethod
    def _number(name: str, col: pa.ChunkedArray, datatype: str) -> npt.NDArray[Any]:
        t = col.type
        if not (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        ):
            raise ValidationFailed(
                f"input {name!r}: expected a number; found {t}",
                input=name,
                expected=datatype,
                found=str(t),
            )
        dtype = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}.get(datatype)
        if dtype is None:
            raise ValidationFailed(f"input {name!r}: unsupported datatype {datatype}")
        if dtype is np.int64:
            return np.asarray(pc.fill_null(col, 0).to_numpy(), dtype=np.int64).reshape(-1, 1)
        values = pc.fill_null(pc.cast(col, pa.float64()), float("nan")).to_numpy()
        return np.asarray(values, dtype=dtype).reshape(-1, 1)

    # -- predicting -------------------------------------------------------------------------
    def predict(self, table: pa.Table) -> Prediction:
        """Run the model over ``table`` in batches."""
        labels: list[npt.NDArray[Any]] = []
        probs: list[npt.NDArray[np.float64]] = []
        for start in range(0, max(table.num_rows, 1), BATCH_ROWS):
            part = table.slice(start, BATCH_ROWS)
            if part.num_rows == 0:
                break
            res = self.session.run(None, self.feeds(part))
            labels.append(np.asarray(res[0]).reshape(-1))
            if len(res) > 1:
                probs.append(np.asarray(res[1], dtype=np.float64))
        if not labels:
            return Prediction(np.empty(0), None, self.classes)
        return Prediction(
            np.concatenate(labels),
            np.concatenate(probs) if probs else None,
            self.classes,
        )
