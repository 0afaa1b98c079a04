"""The real attributes of a resource, so that ``policy explain`` decides on the truth.

A dry run that invents a resource's attributes answers a question nobody asked: a model
without its jurisdiction is refused by residency wherever it would really be allowed.
:func:`resolve` looks the resource up as the service that owns it builds it for its own
decisions. The services above this layer (the registry: models and dataset versions)
register their lookups with :func:`register_resolver` when they are imported; endpoints,
jobs, tokens and objects are read here from their tables.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from steward.policy import Resource
from steward.runtime import Runtime
from steward.store import ApiToken, Endpoint, Job, StoredObject

__all__ = ["Resolver", "register_resolver", "resolve"]

#: ``(runtime, id) -> the resource with its real attributes, or None if there is none``.
Resolver = Callable[[Runtime, str], Resource | None]

_RESOLVERS: dict[str, Resolver] = {}


def register_resolver(type_: str, resolver: Resolver) -> None:
    """Make ``resolver`` the lookup of resources of Cedar type ``type_``."""
    _RESOLVERS[type_] = resolver


def resolve(rt: Runtime, type_: str, id_: str) -> Resource | None:
    """The resource ``type_::id_`` as Steward decides on it, or ``None`` if it does not
    exist (or its type has no lookup)."""
    resolver = _RESOLVERS.get(type_) or _BUILTIN.get(type_)
    return resolver(rt, id_) if resolver is not None else None


def _endpoint(rt: Runtime, name: str) -> Resource | None:
    with rt.store.transaction() as s:
        ep = s.execute(select(Endpoint).where(Endpoint.name == name)).scalar_one_or_none()
        return None if ep is None else Resource("Endpoint", ep.name, {"team": ep.team})


def _job(rt: Runtime, job_id: str) -> Resource | None:
    with rt.store.transaction() as s:
        job = s.get(Job, job_id)
        if job is None:
            return None
        return Resource("Job", job.id, {"owner": job.created_by, "team": job.team})


def _token(rt: Runtime, token_id: str) -> Resource | None:
    with rt.store.transaction() as s:
        row = s.get(ApiToken, token_id)
        return None if row is None else Resource("Token", row.id, {"owner": row.user_name})


def _object(rt: Runtime, digest: str) -> Resource | None:
    with rt.store.transaction() as s:
        row = (
            s.execute(
                select(StoredObject).where(StoredObject.digest == digest).order_by(StoredObject.id)
            )
            .scalars()
            .first()
        )
        if row is None:
            return None
        return Resource(
            "Object",
            row.digest,
            {"jurisdiction": row.jurisdiction, "anonymised": row.anonymised, "team": row.team},
        )


_BUILTIN: dict[str, Resolver] = {
    "Endpoint": _endpoint,
    "Job": _job,
    "Token": _token,
    "Object": _object,
}
