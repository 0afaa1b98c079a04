"""Governance: the ledger and the policies as a service (read, verify, checkpoint,
export, explain), the server's checkpoint loop, and the sites of the configuration."""

from steward.governance.checkpoints import CHECKPOINT_PRINCIPAL, Checkpointer
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
    "CHECKPOINT_PRINCIPAL",
    "AuditEntryInfo",
    "CheckpointInfo",
    "Checkpointer",
    "DecisionInfo",
    "GovernanceService",
    "ReasonInfo",
    "SiteInfo",
    "VerificationInfo",
]
