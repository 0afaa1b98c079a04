"""Deployments: endpoints at sites, immutable revisions (direct, canary, shadow), placement
by policy (residency, private-only, approved-only), promotion, one-step rollback and the
automatic rollback to the last known good revision (with its flap guard)."""

from steward.deploy.service import (
    AutoRollback,
    DeployService,
    EndpointInfo,
    NoSafeRevision,
    RevisionInfo,
    RollbackKeepsModel,
)

__all__ = [
    "AutoRollback",
    "DeployService",
    "EndpointInfo",
    "NoSafeRevision",
    "RevisionInfo",
    "RollbackKeepsModel",
]
