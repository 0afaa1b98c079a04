"""Policy: Cedar decisions over Steward's entities, the default pack, checks, explain.

The default pack (``policy/pack/*.cedar``) holds role permissions, residency, four
eyes, locked holdouts and the team boundary. Organisations add ``.cedar`` files in
``$STEWARD_HOME/policies/``. Each policy carries ``@id`` and ``@advice`` annotations;
advice may name ``{resource}``, ``{resource.attr}``, ``{principal}``, ``{context.site}``
and ``{context.site.attr}``, filled in from the request.
"""

from steward.policy.engine import (
    Decision,
    PolicyEngine,
    PolicyProblem,
    PolicySource,
    check_policy_files,
)
from steward.policy.entities import Principal, Resource, entity_ref, parse_resource

__all__ = [
    "Decision",
    "PolicyEngine",
    "PolicyProblem",
    "PolicySource",
    "Principal",
    "Resource",
    "check_policy_files",
    "entity_ref",
    "parse_resource",
]
