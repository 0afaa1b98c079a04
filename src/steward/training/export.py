"""The ONNX export of a fitted pipeline: conversion with skl2onnx, running the export in
ONNX Runtime, the check that it matches scikit-learn, and the description of its inputs
and outputs.

The export's contract (one input per feature column, ``FP32`` or ``BYTES`` of shape
``[-1, 1]``) is described in :mod:`steward.training.fit`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pyarrow as pa

from steward.errors import ValidationFailed
from steward.training.checks import Kind

__all__ = ["CHECK_ROWS", "ONNX_OPSET"]

#: Opsets of the exported models: what skl2onnx pairs with ai.onnx 18, which every
#: onnxruntime since 1.14 runs.
ONNX_OPSET: dict[str, int] = {"": 18, "ai.onnx.ml": 3}
#: Most validation rows on which the export is compared with scikit-learn.
CHECK_ROWS = 1000

_BATCH_ROWS = 65_536
_OIP_TYPES: dict[int, str] = {
    onnx.TensorProto.FLOAT: "FP32",
    onnx.TensorProto.DOUBLE: "FP64",
    onnx.TensorProto.INT64: "INT64",
    onnx.TensorProto.INT32: "INT32",
    onnx.TensorProto.STRING: "BYTES",
    onnx.TensorProto.BOOL: "BOOL",
}


def _input_names(features: Sequence[str]) -> list[str]:
    """ONNX input names: ``[A-Za-z0-9_]``, not starting with a digit, unique."""
    used: set[str] = set()
    out = []
    for f in features:
        base = re.sub(r"[^A-Za-z0-9_]", "_", f)
        if not base or base[0].isdigit():
            base = "_" + base
        name, i = base, 2
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        out.append(name)
    return out


def _float32_thresholds(estimator: Any) -> None:
    """Round HistGradientBoosting's split thresholds down to float32, in place.

    Its thresholds are float64 midpoints between bin edges, which ONNX stores rounded to
    the *nearest* float32; a float32 input between the two roundings (a value unseen in
    training, e.g. 45.9 between a split at 45.8999996 and its rounding 45.9000015) then
    goes left in ONNX and right in scikit-learn. For float32 inputs, which are all this
    model gets, ``x <= t`` holds exactly when ``x <= floor32(t)``: scikit-learn's
    predictions do not change and the export's comparisons become exact. (skl2onnx does
    the same for the other tree models.)
    """
    for predictors in getattr(estimator, "_predictors", None) or []:
        for predictor in predictors:
            nodes = getattr(predictor, "nodes", None)
            if nodes is None or "num_threshold" not in (nodes.dtype.names or ()):
                continue
            t = nodes["num_threshold"]
            t32 = t.astype(np.float32)
            t32 = np.where(t32 > t, np.nextafter(t32, np.float32(-np.inf)), t32)
            nodes["num_threshold"] = t32.astype(np.float64)


def _convert(
    pipeline: Any,
    names: list[str],
    kinds: Sequence[Kind],
    estimator_name: str,
    classify: bool,
    graph: str,
) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types = [
        (n, FloatTensorType([None, 1]) if k == "numeric" else StringTensorType([None, 1]))
        for n, k in zip(names, kinds, strict=True)
    ]
    options = {id(pipeline.steps[-1][1]): {"zipmap": False}} if classify else None
    try:
        # A fixed graph name: skl2onnx's default is a random UUID. With it, two fits of the
        # same spec and data give identical bytes within one process; across processes
        # skl2onnx also orders opset entries by Python's hash seed, which the process
        # executor fixes (PYTHONHASHSEED=0, see executors.child_env).
        model = convert_sklearn(
            pipeline,
            initial_types=types,
            target_opset=dict(ONNX_OPSET),
            options=options,
            name=graph,
        )
        blob: bytes = model.SerializeToString()
    except Exception as exc:  # skl2onnx raises many unrelated types; all mean "cannot export"
        raise ValidationFailed(
            f"{estimator_name} cannot be exported to ONNX: skl2onnx says: "
            f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]} Pick an "
            "estimator skl2onnx converts "
            "(https://onnx.ai/sklearn-onnx/supported.html) or a built-in family.",
            check="onnx_export",
            estimator=estimator_name,
            error=f"{type(exc).__name__}: {str(exc)[:2000]}",
        ) from exc
    got = [i.name for i in model.graph.input]
    if got != names:  # skl2onnx renames inputs it finds invalid; ours never are
        raise ValidationFailed(
            f"the ONNX export's inputs are {got}; expected {names}.",
            check="onnx_export",
            estimator=estimator_name,
        )
    return blob


def _session(blob: bytes, cpus: int) -> Any:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpus
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(blob, sess_options=opts, providers=["CPUExecutionProvider"])


def _feed(x: pa.Table, kinds: Sequence[Kind]) -> dict[str, npt.NDArray[Any]]:
    feed = {}
    for name, kind, col in zip(x.column_names, kinds, x.columns, strict=True):
        if kind == "numeric":
            arr = np.asarray(col.to_numpy(), dtype=np.float32)
        else:
            arr = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
        feed[name] = arr.reshape(-1, 1)
    return feed


def _run(session: Any, x: pa.Table, kinds: Sequence[Kind]) -> list[npt.NDArray[Any]]:
    """Run the export on ``x`` in batches; outputs concatenated in the model's order."""
    parts: list[list[npt.NDArray[Any]]] = []
    for start in range(0, max(x.num_rows, 1), _BATCH_ROWS):
        parts.append(session.run(None, _feed(x.slice(start, _BATCH_ROWS), kinds)))
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def _inputs(
    names: Sequence[str], kinds: Sequence[Kind], features: Sequence[str], schema: pa.Schema
) -> list[dict[str, Any]]:
    """The export's inputs, one per feature column, as recorded in ``FitResult.inputs``."""
    inputs = []
    for name, kind, f in zip(names, kinds, features, strict=True):
        inputs.append(
            {
                "name": name,
                "column": f,
                "datatype": "FP32" if kind == "numeric" else "BYTES",
                "shape": [-1, 1],
                "kind": kind,
                "arrow_type": str(schema.field(f).type),
            }
        )
    return inputs


def _io(values: Sequence[onnx.ValueInfoProto]) -> list[dict[str, Any]]:
    out = []
    for v in values:
        t = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        out.append(
            {
                "name": v.name,
                "datatype": _OIP_TYPES.get(
                    t.elem_type, onnx.TensorProto.DataType.Name(t.elem_type)
                ),
                "shape": shape,
            }
        )
    return out


def _check(
    pipeline: Any,
    session: Any,
    x_val: pa.Table,
    kinds: Sequence[Kind],
    classify: bool,
    tolerance: float,
) -> tuple[float, float | None, int]:
    """Compare the export with scikit-learn on the first :data:`CHECK_ROWS` rows of
    ``x_val``; returns the largest difference, the label agreement (classifiers) and
    the number of rows compared."""
    rows = min(CHECK_ROWS, x_val.num_rows)
    x = x_val.slice(0, rows)
    outputs = _run(session, x, kinds)
    if classify:
        expected = np.asarray(pipeline.predict_proba(x), dtype=np.float64)
        got = np.asarray(outputs[1], dtype=np.float64)
        diff = float(np.abs(expected - got).max()) if rows else 0.0
        agreement = float(np.mean(np.asarray(outputs[0]) == pipeline.predict(x)))
        bad = diff > tolerance
        bound = "probabilities within"
    else:
        expected = np.asarray(pipeline.predict(x), dtype=np.float64).ravel()
        got = np.asarray(outputs[0], dtype=np.float64).ravel()
        gap = np.abs(expected - got)
        diff = float(gap.max()) if rows else 0.0
        agreement = None
        bad = bool((gap > tolerance * np.maximum(1.0, np.abs(expected))).any())
        bound = "predictions within a relative"
    if bad:
        raise ValidationFailed(
            f"ONNX export differs from scikit-learn: expected {bound} {tolerance:g} on "
            f"{rows} validation rows; found a difference of {diff:.3g}. Report it with the "
            "estimator and library versions; a built-in family may export cleanly.",
            check="onnx_mismatch",
            max_diff=diff,
            tolerance=tolerance,
            rows=rows,
        )
    return diff, agreement, rows
