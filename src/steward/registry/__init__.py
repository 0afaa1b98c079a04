"""The model registry: ONNX model versions with metrics, reference profiles, lineage,
stages and model cards."""

from steward.registry.card import build_card, render_markdown
from steward.registry.declarations import DeclarationInfo, DeclarationService
from steward.registry.service import (
    STAGES,
    ModelComparison,
    ModelDetail,
    ModelService,
    ModelVersionInfo,
    NewVersion,
    onnx_signature,
    parse_model_ref,
)

__all__ = [
    "STAGES",
    "DeclarationInfo",
    "DeclarationService",
    "ModelComparison",
    "ModelDetail",
    "ModelService",
    "ModelVersionInfo",
    "NewVersion",
    "build_card",
    "onnx_signature",
    "parse_model_ref",
    "render_markdown",
]
