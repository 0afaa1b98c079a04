"""Deployments: endpoints at sites, immutable revisions (direct, canary, shadow), placement
by policy (residency, private-only, approved-only), promotion and one-step rollback."""

from steward.deploy.service import DeployService, EndpointInfo, RevisionInfo

__all__ = ["DeployService", "EndpointInfo", "RevisionInfo"]
