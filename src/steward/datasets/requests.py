"""Four-eyes requests on dataset versions: declassification (an override that lowers a
column's class) and copies of non-anonymised data to another jurisdiction under a
transfer rule. One data steward requests, another decides; never the requester.

An approved declassification is applied and the verdicts of the versions derived from
that version are judged again; copies already outside their jurisdiction are reported.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from steward.audit import canonical_json
from steward.config import StewardConfig
from steward.datasets.classes import ColumnClass, check_overrides, overridden
from steward.datasets.mask import judge
from steward.door import Action
from steward.errors import Conflict, NotFound, ValidationFailed
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import Dataset, DatasetCopy, DatasetParent, DatasetRequest, DatasetVersion

__all__ = [
    "OutsideCopy",
    "RequestInfo",
    "RequestsMixin",
    "Reverdict",
    "approved_copy",
    "rejudge_children",
    "transfer_rule",
    "use_approval",
]

KINDS = ("declassify", "copy")
STATES = ("pending", "approved", "rejected", "used")


class Reverdict(BaseModel):
    """A derived version judged again after its source's classification changed."""

    ref: str
    before: str
    after: str
    reasons: list[str]


class OutsideCopy(BaseModel):
    """A copy of a version already at a site outside its jurisdiction."""

    ref: str
    site: str
    jurisdiction: str
    verdict: str
    #: residency would refuse this copy today (the version is not anonymised)
    violates_residency: bool


class RequestInfo(BaseModel):
    """A four-eyes request on a dataset version (declassification or copy)."""

    id: str
    ref: str
    kind: str
    spec: dict[str, Any]
    reason: str
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""
    #: on an approved declassification: versions judged again, copies outside
    reverdicts: list[Reverdict] = Field(default_factory=list)
    outside: list[OutsideCopy] = Field(default_factory=list)


def transfer_rule(config: StewardConfig, v: DatasetVersion, to_site: str) -> str | None:
    """The legal basis of a configured transfer rule that allows copying non-anonymised
    ``v`` to ``to_site`` at all (with four eyes), or None when none applies."""
    if v.verdict == "anonymised":
        return None
    dest = config.site(to_site).jurisdiction
    if dest == v.jurisdiction:
        return None
    for rule in config.privacy.transfers:
        if rule.origin == v.jurisdiction and rule.destination == dest:
            return rule.basis
    return None


def approved_copy(s: Session, version_id: int, to_site: str) -> str | None:
    """The id of an approved, unused copy request of a version to a site."""
    rows = s.execute(
        select(DatasetRequest)
        .where(
            DatasetRequest.version_id == version_id,
            DatasetRequest.kind == "copy",
            DatasetRequest.state == "approved",
        )
        .order_by(DatasetRequest.decided_at)
    ).scalars()
    for r in rows:
        if json.loads(r.spec).get("to_site") == to_site:
            return r.id
    return None


def use_approval(s: Session, request_id: str) -> None:
    """Spend an approved copy request; a second copy with it is refused."""
    done = s.execute(
        update(DatasetRequest)
        .where(DatasetRequest.id == request_id, DatasetRequest.state == "approved")
        .values(state="used")
    )
    if getattr(done, "rowcount", 0) != 1:
        raise Conflict(
            f"the approval {request_id} was already used for a copy; request another",
            request=request_id,
        )


def _site_jurisdiction(config: StewardConfig, site: str) -> str:
    s = config.sites.get(site)
    return s.jurisdiction if s is not None else "?"


def outside_copies(
    s: Session, config: StewardConfig, ref: str, v: DatasetVersion
) -> list[OutsideCopy]:
    copies = s.execute(select(DatasetCopy).where(DatasetCopy.version_id == v.id)).scalars()
    out = []
    for c in copies:
        j = _site_jurisdiction(config, c.to_site)
        if j != v.jurisdiction:
            out.append(
                OutsideCopy(
                    ref=ref,
                    site=c.to_site,
                    jurisdiction=j,
                    verdict=v.verdict,
                    violates_residency=v.verdict != "anonymised",
                )
            )
    return out


def rejudge_children(
    s: Session, rt: Runtime, parent: DatasetVersion, classes: list[ColumnClass]
) -> tuple[list[Reverdict], list[OutsideCopy]]:
    """Judge again the masked versions derived from ``parent`` (whose classes are now
    ``classes``), store their new verdicts, and list their copies outside their
    jurisdiction (the parent's own included)."""
    pds = s.get(Dataset, parent.dataset_id)
    assert pds is not None
    outside = outside_copies(s, rt.config, f"{pds.name}@{parent.version}", parent)
    rows = s.execute(
        select(Dataset, DatasetVersion)
        .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
        .join(DatasetParent, DatasetParent.child_id == DatasetVersion.id)
        .where(DatasetParent.parent_id == parent.id)
        .order_by(DatasetVersion.id)
    ).all()
    reverdicts = []
    for cds, child in rows:
        if child.transform != "mask":
            continue
        spec = json.loads(child.transform_spec)
        k_min = int(spec.get("k_min") or rt.config.privacy.k_anonymity_min)
        table = pq.read_table(io.BytesIO(rt.artifacts.get_bytes(child.site, child.object_digest)))
        verdict = judge([c.model_dump() for c in classes], spec.get("applied", {}), table, k_min)
        ref = f"{cds.name}@{child.version}"
        reverdicts.append(
            Reverdict(ref=ref, before=child.verdict, after=verdict.verdict, reasons=verdict.reasons)
        )
        if verdict.verdict != child.verdict:
            child.verdict = verdict.verdict
            child.anonymised = verdict.verdict == "anonymised"
            spec.update(
                verdict=verdict.verdict,
                anonymised=child.anonymised,
                reasons=verdict.reasons,
                rejudged_at=datetime.now(UTC).isoformat(),
            )
            child.transform_spec = canonical_json(spec)
        outside += outside_copies(s, rt.config, ref, child)
    s.flush()
    return reverdicts, outside


def _info(r: DatasetRequest, ref: str) -> RequestInfo:
    result = json.loads(r.result or "{}")
    return RequestInfo(
        id=r.id,
        ref=ref,
        kind=r.kind,
        spec=json.loads(r.spec),
        reason=r.reason,
        state=r.state,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        note=r.note,
        reverdicts=[Reverdict(**x) for x in result.get("reverdicts", [])],
        outside=[OutsideCopy(**x) for x in result.get("outside", [])],
    )


class RequestsMixin:
    """The request and decision actions of :class:`~steward.datasets.DatasetService`."""

    rt: Runtime

    def _version_row(self, s: Session, ref: str) -> tuple[Dataset, DatasetVersion]:
        raise NotImplementedError

    @staticmethod
    def _resource(ds: Dataset, v: DatasetVersion) -> Resource:
        raise NotImplementedError

    def _lookup(self, ref: str) -> tuple[Dataset, DatasetVersion]:
        raise NotImplementedError

    def _rejudge(
        self, s: Session, row: DatasetVersion, classes: list[ColumnClass]
    ) -> tuple[list[Reverdict], list[OutsideCopy]]:
        return rejudge_children(s, self.rt, row, classes)

    def _request(
        self,
        principal: Principal,
        ds: Dataset,
        v: DatasetVersion,
        kind: str,
        spec: dict[str, Any],
        reason: str,
    ) -> RequestInfo:
        ref = f"{ds.name}@{v.version}"
        rid = "dr-" + uuid.uuid4().hex[:12]
        action = Action(
            "dataset.request",
            self._resource(ds, v),
            payload={"id": rid, "ref": ref, "kind": kind, "spec": spec, "reason": reason},
        )

        def do(s: Session) -> RequestInfo:
            row = DatasetRequest(
                id=rid,
                version_id=v.id,
                kind=kind,
                spec=canonical_json(spec),
                reason=reason,
                state="pending",
                requested_by=principal.name,
                requested_at=datetime.now(UTC),
                note="",
                result="{}",
            )
            s.add(row)
            s.flush()
            return _info(row, ref)

        return self.rt.door.run(principal, action, do)

    def request_declassification(
        self, principal: Principal, ref: str, overrides: dict[str, str], *, reason: str = ""
    ) -> RequestInfo:
        """Ask for overrides that lower column classes; another data steward decides."""
        ds, v = self._lookup(ref)
        current = [ColumnClass(**c) for c in json.loads(v.classification_json)]
        lowered = check_overrides(f"{ds.name}@{v.version}", current, overrides)
        if not lowered:
            raise ValidationFailed(
                f"none of {', '.join(overrides)} lowers a column's class of "
                f"{ds.name}@{v.version}; expected a declassification (e.g. person_name to "
                "none). Set classes that do not lower with 'steward data classify'",
                columns=sorted(overrides),
            )
        return self._request(principal, ds, v, "declassify", {"set": overrides}, reason)

    def request_copy(
        self, principal: Principal, ref: str, *, to_site: str, reason: str = ""
    ) -> RequestInfo:
        """Ask to copy non-anonymised data to another jurisdiction under a transfer rule."""
        ds, v = self._lookup(ref)
        dest = self.rt.config.site(to_site).jurisdiction
        basis = transfer_rule(self.rt.config, v, to_site)
        if basis is None:
            why = (
                f"{ds.name}@{v.version} is anonymised or {to_site} is in its jurisdiction "
                f"({v.jurisdiction}): copy it directly"
                if v.verdict == "anonymised" or dest == v.jurisdiction
                else f"no transfer rule in steward.yaml (privacy.transfers) allows "
                f"{v.jurisdiction} data to {dest}, so residency forbids the copy outright"
            )
            raise ValidationFailed(
                f"copy request {ds.name}@{v.version} → {to_site}: expected a copy that a "
                f"transfer rule allows with approval; found: {why}",
                site=to_site,
                jurisdiction=dest,
            )
        spec = {"to_site": to_site, "jurisdiction": dest, "basis": basis}
        return self._request(principal, ds, v, "copy", spec, reason)

    def requests(
        self, principal: Principal, *, state: str | None = None, ref: str | None = None
    ) -> list[RequestInfo]:
        """Four-eyes requests on datasets, newest first (``state``: pending, approved, …)."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "datasets")))
        if state is not None and state not in STATES:
            raise ValidationFailed(
                f"state: expected one of {', '.join(STATES)}; found {state!r}", parameter="state"
            )
        with self.rt.store.transaction() as s:
            q = (
                select(DatasetRequest, Dataset.name, DatasetVersion.version)
                .join(DatasetVersion, DatasetVersion.id == DatasetRequest.version_id)
                .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
                .order_by(DatasetRequest.requested_at.desc(), DatasetRequest.id)
            )
            if state is not None:
                q = q.where(DatasetRequest.state == state)
            if ref is not None:
                _, v = self._version_row(s, ref)
                q = q.where(DatasetRequest.version_id == v.id)
            return [_info(r, f"{n}@{ver}") for r, n, ver in s.execute(q).all()]

    def decide_request(
        self, principal: Principal, request_id: str, *, approve: bool, note: str = ""
    ) -> RequestInfo:
        """Approve or reject a request (four eyes: never the requester's own approval).

        Approving a declassification applies it and judges the derived versions again;
        approving a copy lets the requester (or anyone allowed) make that one copy."""
        with self.rt.store.transaction() as s:
            req = s.get(DatasetRequest, request_id)
            if req is None:
                raise NotFound(
                    f"dataset request {request_id!r} not found; list them with "
                    "'steward data requests'",
                    request=request_id,
                )
            v = s.get(DatasetVersion, req.version_id)
            assert v is not None
            ds = s.get(Dataset, v.dataset_id)
            assert ds is not None
            s.expunge_all()
        ref = f"{ds.name}@{v.version}"
        if req.state != "pending":
            raise Conflict(
                f"request {request_id} is {req.state}; only a pending request can be decided",
                request=request_id,
                state=req.state,
            )
        base = self._resource(ds, v)
        resource = Resource(base.type, base.id, {**base.attrs, "requester": req.requested_by})
        action = Action(
            "dataset.approve" if approve else "dataset.reject",
            resource,
            payload={"id": request_id, "ref": ref, "kind": req.kind, "note": note},
        )

        def do(s: Session) -> RequestInfo:
            now = datetime.now(UTC)
            done = s.execute(
                update(DatasetRequest)
                .where(DatasetRequest.id == request_id, DatasetRequest.state == "pending")
                .values(
                    state="approved" if approve else "rejected",
                    decided_by=principal.name,
                    decided_at=now,
                    note=note,
                )
            )
            if getattr(done, "rowcount", 0) != 1:
                raise Conflict(f"request {request_id} was decided meanwhile", request=request_id)
            row = s.get(DatasetRequest, request_id)
            assert row is not None
            s.refresh(row)
            if approve and req.kind == "declassify":
                version = s.get(DatasetVersion, v.id)
                assert version is not None
                overrides: dict[str, str] = json.loads(req.spec)["set"]
                current = [ColumnClass(**c) for c in json.loads(version.classification_json)]
                out = [
                    overridden(c, overrides[c.column], req.requested_by, approved_by=principal.name)
                    if c.column in overrides
                    else c
                    for c in current
                ]
                version.classification_json = canonical_json([c.model_dump() for c in out])
                reverdicts, outside = rejudge_children(s, self.rt, version, out)
                row.result = canonical_json(
                    {
                        "reverdicts": [r.model_dump() for r in reverdicts],
                        "outside": [o.model_dump() for o in outside],
                    }
                )
                action.payload["reverdicts"] = [r.model_dump() for r in reverdicts]
                action.payload["outside"] = [o.model_dump() for o in outside]
            s.flush()
            return _info(row, ref)

        return self.rt.door.run(principal, action, do)
