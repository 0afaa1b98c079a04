"""Validation gates and approvals: locked-holdout evaluation of the ONNX artifact,
performance, fairness across slices, robustness, champion/challenger, four-eyes approval
and atomic promotion."""

from steward.gates.report import Check, ValidationInfo, ValidationReport, render_report
from steward.gates.service import ApprovalInfo, GateService, HoldoutOverlap, StageInfo

__all__ = [
    "ApprovalInfo",
    "Check",
    "GateService",
    "HoldoutOverlap",
    "StageInfo",
    "ValidationInfo",
    "ValidationReport",
    "render_report",
]
