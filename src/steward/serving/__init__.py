"""Serving: the Open Inference Protocol v2 over endpoints (ONNX Runtime sessions, loaded
once per model version, swapped atomically on deploy or rollback)."""

from steward.serving.service import (
    EndpointStatus,
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    ModelMetadata,
    ServingService,
)

__all__ = [
    "EndpointStatus",
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "ModelMetadata",
    "ServingService",
]
