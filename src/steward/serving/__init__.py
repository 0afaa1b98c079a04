"""Serving: the Open Inference Protocol v2 over endpoints (ONNX Runtime sessions, loaded
once per model version, swapped atomically on deploy or rollback)."""

from steward.serving.service import (
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    ModelMetadata,
    ServingService,
)

__all__ = [
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "ModelMetadata",
    "ServingService",
]
