"""Put, get and list objects at sites, through the one door."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.artifacts import sha256_file
from steward.config import JURISDICTIONS
from steward.door import Action
from steward.errors import NotFound, ValidationFailed
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import StoredObject

__all__ = ["ObjectInfo", "ObjectService"]


class ObjectInfo(BaseModel):
    site: str
    digest: str
    size: int
    jurisdiction: str
    anonymised: bool
    team: str | None
    label: str
    created_by: str
    created_at: datetime


def _info(row: StoredObject) -> ObjectInfo:
    created = row.created_at
    return ObjectInfo(
        site=row.site,
        digest=row.digest,
        size=row.size,
        jurisdiction=row.jurisdiction,
        anonymised=row.anonymised,
        team=row.team,
        label=row.label,
        created_by=row.created_by,
        created_at=created,
    )


class ObjectService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def put(
        self,
        principal: Principal,
        data: bytes | Path,
        *,
        site: str,
        jurisdiction: str,
        anonymised: bool = False,
        team: str | None = None,
        label: str = "",
    ) -> ObjectInfo:
        """Store ``data`` at ``site``; the residency policy decides whether it may go there."""
        self.rt.config.site(site)
        if jurisdiction not in JURISDICTIONS:
            raise ValidationFailed(
                f"jurisdiction: expected one of {', '.join(JURISDICTIONS)}; found {jurisdiction!r}",
                parameter="jurisdiction",
            )
        if team is not None and team not in self.rt.config.teams:
            raise NotFound(
                f"unknown team {team!r}; expected one of {', '.join(sorted(self.rt.config.teams))}",
                team=team,
            )
        if len(label) > 256:
            raise ValidationFailed("label: expected at most 256 characters", parameter="label")
        if isinstance(data, Path):
            if not data.is_file():
                raise NotFound(f"file {data} not found", path=str(data))
            digest, _ = sha256_file(data)
        else:
            digest = hashlib.sha256(data).hexdigest()
        resource = Resource(
            "Object",
            digest,
            {"jurisdiction": jurisdiction, "anonymised": anonymised, "team": team},
        )
        action = Action(
            "object.put",
            resource,
            site=site,
            payload={
                "digest": digest,
                "jurisdiction": jurisdiction,
                "anonymised": anonymised,
                "team": team,
                "label": label,
            },
        )

        def do(session: Session) -> ObjectInfo:
            existing = session.execute(
                select(StoredObject).where(StoredObject.site == site, StoredObject.digest == digest)
            ).scalar_one_or_none()
            if existing is not None:
                return _info(existing)
            ref = (
                self.rt.artifacts.put_file(site, data)
                if isinstance(data, Path)
                else self.rt.artifacts.put_bytes(site, data)
            )
            row = StoredObject(
                site=site,
                digest=ref.digest,
                size=ref.size,
                jurisdiction=jurisdiction,
                anonymised=anonymised,
                team=team,
                label=label,
                created_by=principal.name,
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return _info(row)

        return self.rt.door.run(principal, action, do)

    def _row(self, site: str, digest: str) -> StoredObject:
        self.rt.config.site(site)
        with self.rt.store.transaction() as s:
            row = s.execute(
                select(StoredObject).where(StoredObject.site == site, StoredObject.digest == digest)
            ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"object {site}/{digest} not found", site=site, digest=digest)
        return row

    def info(self, principal: Principal, site: str, digest: str) -> ObjectInfo:
        row = self._row(site, digest)
        self._check_read(principal, row)
        return _info(row)

    def _check_read(self, principal: Principal, row: StoredObject) -> None:
        resource = Resource(
            "Object",
            row.digest,
            {"jurisdiction": row.jurisdiction, "anonymised": row.anonymised, "team": row.team},
        )
        self.rt.door.check(principal, Action("object.read", resource, site=row.site))

    def get(self, principal: Principal, site: str, digest: str) -> bytes:
        row = self._row(site, digest)
        self._check_read(principal, row)
        return self.rt.artifacts.get_bytes(site, digest)

    def list(self, principal: Principal, *, site: str | None = None) -> list[ObjectInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "objects")))
        q = select(StoredObject).order_by(StoredObject.id)
        if site is not None:
            self.rt.config.site(site)
            q = q.where(StoredObject.site == site)
        with self.rt.store.transaction() as s:
            return [_info(r) for r in s.execute(q).scalars()]
