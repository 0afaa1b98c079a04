"""Governance: the ledger and the policies as a service (read, verify, checkpoint,
export, explain), and the sites of the configuration."""

from steward.governance.service import (
    AuditEntryInfo,
    CheckpointInfo,
    DecisionInfo,
    GovernanceService,
    ReasonInfo,
    SiteInfo,
    VerificationInfo,
)

__all__ = [
    "AuditEntryInfo",
    "CheckpointInfo",
    "DecisionInfo",
    "GovernanceService",
    "ReasonInfo",
    "SiteInfo",
    "VerificationInfo",
]
