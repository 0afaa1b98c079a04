"""Serving: the Open Inference Protocol v2 over endpoints (ONNX Runtime sessions, loaded
once per model version, swapped atomically on deploy or rollback), streaming predictions
from NATS JetStream, the prediction log and ground-truth feedback."""

from steward.serving.log import PredictionLog, Scored
from steward.serving.service import (
    EndpointStatus,
    FeedbackResult,
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    Label,
    LatencyPoint,
    ModelMetadata,
    ServingService,
    ShadowComparison,
)
from steward.serving.stream import StreamConsumer, StreamSettings, StreamStats

__all__ = [
    "EndpointStatus",
    "FeedbackResult",
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "Label",
    "LatencyPoint",
    "ModelMetadata",
    "PredictionLog",
    "Scored",
    "ServingService",
    "ShadowComparison",
    "StreamConsumer",
    "StreamSettings",
    "StreamStats",
]
