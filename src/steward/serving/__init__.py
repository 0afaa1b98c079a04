"""Serving: the Open Inference Protocol v2 over endpoints (ONNX Runtime sessions, loaded
once per model version, swapped atomically on deploy or rollback), the prediction log and
ground-truth feedback."""

from steward.serving.log import PredictionLog, Scored
from steward.serving.service import (
    EndpointStatus,
    FeedbackResult,
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    Label,
    ModelMetadata,
    ServingService,
    ShadowComparison,
)

__all__ = [
    "EndpointStatus",
    "FeedbackResult",
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "Label",
    "ModelMetadata",
    "PredictionLog",
    "Scored",
    "ServingService",
    "ShadowComparison",
]
