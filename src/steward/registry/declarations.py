"""Declarations: what an importer says about an external model, until a steward agrees.

``steward model import --jurisdiction/--anonymised`` cannot be checked by Steward: the
model was trained elsewhere. So the importer's word does not apply on its own. The new
version takes the strictest attributes (its site's jurisdiction, not anonymised) and a
declaration that differs from them waits, ``pending``, for a data steward who is not the
importer (four eyes, ``policy/pack/declarations.cedar``). Approving it
(``model.declaration.approve``, a governed action decided with residency on the declared
attributes at the model's site) applies them to the version; rejecting it
(``model.declaration.reject``) keeps the strict ones.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.door import Action
from steward.errors import Conflict, NotFound, ValidationFailed
from steward.policy import Principal, Resource
from steward.registry.service import ModelService, ModelVersionInfo
from steward.runtime import Runtime
from steward.store import Model, ModelDeclaration, ModelVersion

__all__ = ["DECLARATION_STATES", "DeclarationInfo", "DeclarationService", "add_declaration"]

DECLARATION_STATES = ("pending", "approved", "rejected")


class DeclarationInfo(BaseModel):
    id: str
    model: str
    state: str
    declared_jurisdiction: str
    declared_anonymised: bool
    jurisdiction: str  # what applies to the version now
    anonymised: bool
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str


def add_declaration(
    s: Session, info: ModelVersionInfo, *, jurisdiction: str, anonymised: bool, by: str
) -> str:
    """Record a pending declaration for ``info`` in the caller's transaction; its id."""
    decl = ModelDeclaration(
        id="d-" + secrets.token_hex(6),
        model_version_id=s.execute(
            select(ModelVersion.id)
            .join(Model, Model.id == ModelVersion.model_id)
            .where(Model.name == info.name, ModelVersion.version == info.version)
        ).scalar_one(),
        jurisdiction=jurisdiction,
        anonymised=anonymised,
        state="pending",
        requested_by=by,
        requested_at=datetime.now(UTC),
        decided_by=None,
        decided_at=None,
        note="",
    )
    s.add(decl)
    s.flush()
    return decl.id


class DeclarationService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.models = ModelService(rt)

    @staticmethod
    def _info(d: ModelDeclaration, m: Model, v: ModelVersion) -> DeclarationInfo:
        return DeclarationInfo(
            id=d.id,
            model=f"{m.name}@{v.version}",
            state=d.state,
            declared_jurisdiction=d.jurisdiction,
            declared_anonymised=d.anonymised,
            jurisdiction=v.jurisdiction,
            anonymised=v.anonymised,
            requested_by=d.requested_by,
            requested_at=d.requested_at,
            decided_by=d.decided_by,
            decided_at=d.decided_at,
            note=d.note,
        )

    def _rows(self, s: Session, decl_id: str) -> tuple[ModelDeclaration, Model, ModelVersion]:
        row = s.execute(
            select(ModelDeclaration, ModelVersion, Model)
            .join(ModelVersion, ModelVersion.id == ModelDeclaration.model_version_id)
            .join(Model, Model.id == ModelVersion.model_id)
            .where(ModelDeclaration.id == decl_id)
        ).one_or_none()
        if row is None:
            raise NotFound(
                f"declaration {decl_id!r} not found; list them with 'steward model declarations'",
                declaration=decl_id,
            )
        d, v, m = row
        return d, m, v

    def declarations(
        self, principal: Principal, *, state: str | None = None, model: str | None = None
    ) -> list[DeclarationInfo]:
        """Declarations (newest first), optionally of one state or one model name."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "models")))
        if state is not None and state not in DECLARATION_STATES:
            raise ValidationFailed(
                f"state: expected one of {', '.join(DECLARATION_STATES)}; found {state!r}",
                parameter="state",
            )
        q = (
            select(ModelDeclaration, ModelVersion, Model)
            .join(ModelVersion, ModelVersion.id == ModelDeclaration.model_version_id)
            .join(Model, Model.id == ModelVersion.model_id)
            .order_by(ModelDeclaration.requested_at.desc(), ModelDeclaration.id)
        )
        if state is not None:
            q = q.where(ModelDeclaration.state == state)
        if model is not None:
            q = q.where(Model.name == model.partition("@")[0])
        with self.rt.store.transaction() as s:
            return [self._info(d, m, v) for d, v, m in s.execute(q).all()]

    def decide(
        self, principal: Principal, decl_id: str, *, approve: bool, note: str = ""
    ) -> DeclarationInfo:
        """Approve (the declared attributes then apply) or reject a pending declaration.

        Only a data steward who did not import the model may; approval is decided with
        residency on the declared attributes at the model's site."""
        if len(note) > 4000:
            raise ValidationFailed(
                f"note: expected at most 4000 characters; found {len(note)}", parameter="note"
            )
        with self.rt.store.transaction() as s:
            d, m, v = self._rows(s, decl_id)
            info = self.models._info(s, m, v)
            declared = (d.jurisdiction, d.anonymised)
        resource = self.models.policy_resource(info)
        attrs = dict(resource.attrs)
        if approve:
            attrs.update(jurisdiction=declared[0], anonymised=declared[1])
        # the importer is the requester: four eyes binds them like a model's producer
        attrs["producers"] = sorted({*attrs.get("producers", []), d.requested_by})
        action = Action(
            "model.declaration.approve" if approve else "model.declaration.reject",
            Resource("Model", info.ref, attrs),
            site=info.site if approve else None,
            payload={
                "declaration": decl_id,
                "model": info.ref,
                "jurisdiction": declared[0],
                "anonymised": declared[1],
                "note": note,
            },
        )

        def do(s: Session) -> DeclarationInfo:
            q = select(ModelDeclaration).where(ModelDeclaration.id == decl_id)
            if self.rt.store.dialect == "postgresql":
                q = q.with_for_update()
            row = s.execute(q).scalar_one()
            if row.state != "pending":
                raise Conflict(
                    f"declaration {decl_id} is already {row.state} (by {row.decided_by})",
                    declaration=decl_id,
                    state=row.state,
                )
            row.state = "approved" if approve else "rejected"
            row.decided_by = principal.name
            row.decided_at = datetime.now(UTC)
            row.note = note
            version = s.get(ModelVersion, row.model_version_id)
            assert version is not None
            if approve:
                version.jurisdiction = row.jurisdiction
                version.anonymised = row.anonymised
            s.flush()
            _, mm, vv = self._rows(s, decl_id)
            return self._info(row, mm, vv)

        return self.rt.door.run(principal, action, do)
