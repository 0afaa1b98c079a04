"""Datasets: register and version, read, copy across sites, classify, lineage, show."""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.artifacts import sha256_file
from steward.audit import canonical_json
from steward.datasets.classes import ColumnClass, check_overrides, overridden, sensitive
from steward.datasets.io import BATCH_ROWS, open_source
from steward.datasets.mask import Recipe, apply_recipe, auto_recipe, derive_key, detokenise
from steward.datasets.requests import (
    OutsideCopy,
    RequestInfo,
    RequestsMixin,
    Reverdict,
    approved_copy,
    transfer_rule,
    use_approval,
)
from steward.datasets.scan import TableScan
from steward.datasets.schema import ColumnSchema, SchemaChange, compare_schemas, infer_schema
from steward.datasets.validate import ValidationReport, validate_file
from steward.door import Action
from steward.errors import Conflict, NotFound, ValidationFailed
from steward.kernels.profile import TableProfile
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import Dataset, DatasetCopy, DatasetParent, DatasetVersion

__all__ = [
    "ColumnClass",
    "CopyInfo",
    "DatasetDetail",
    "DatasetService",
    "LineageNode",
    "MaskResult",
    "OutsideCopy",
    "RequestInfo",
    "Reverdict",
    "VersionInfo",
    "parse_ref",
]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_-]{0,62})(@(?P<version>\d+|latest))?$")
Progress = Callable[[int], None]


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``name@3`` → ("name", 3); ``name`` or ``name@latest`` → ("name", None)."""
    m = _REF.match(ref.strip())
    if not m:
        raise ValidationFailed(
            f"dataset reference: expected NAME@VERSION such as loans@2 (or NAME for the "
            f"latest); found {ref!r}",
            parameter="ref",
        )
    v = m["version"]
    return m["name"], (int(v) if v and v != "latest" else None)


class VersionInfo(BaseModel):
    ref: str
    name: str
    version: int
    team: str | None
    site: str
    jurisdiction: str
    rows: int
    columns: int
    bytes: int
    fingerprint: str
    locked: bool
    anonymised: bool
    #: identifiable | pseudonymised | anonymised; residency follows it
    verdict: str = "identifiable"
    transform: str
    parents: list[str] = Field(default_factory=list)
    description: str
    created_by: str
    created_at: datetime


class CopyInfo(BaseModel):
    ref: str
    from_site: str
    to_site: str
    bytes: int
    created_by: str
    created_at: datetime


class DatasetDetail(VersionInfo):
    schema_: list[ColumnSchema] = Field(alias="schema")
    classification: list[ColumnClass]
    profile: dict[str, Any]
    transform_spec: dict[str, Any]
    copies: list[CopyInfo]

    model_config = {"populate_by_name": True}


class LineageNode(BaseModel):
    ref: str
    transform: str
    created_by: str
    created_at: datetime
    parents: list[LineageNode] = Field(default_factory=list)


class _Rechunker:
    """Re-cut a stream of batches into batches of exactly BATCH_ROWS rows (the last
    shorter), so the fingerprint does not depend on how the input was chunked."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def push(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        self._pending.append(batch)
        self._rows += batch.num_rows
        while self._rows >= BATCH_ROWS:
            table = pa.Table.from_batches(self._pending, schema=self.schema)
            head, rest = table.slice(0, BATCH_ROWS), table.slice(BATCH_ROWS)
            self._pending = rest.to_batches()
            self._rows = rest.num_rows
            yield head.combine_chunks().to_batches()[0]

    def flush(self) -> Iterator[pa.RecordBatch]:
        if self._rows:
            table = pa.Table.from_batches(self._pending, schema=self.schema).combine_chunks()
            yield from table.to_batches()
        self._pending, self._rows = [], 0


@contextmanager
def _scratch(rt: Runtime) -> Iterator[Path]:
    root = rt.home.root / "tmp"
    root.mkdir(exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=root, prefix="ingest-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class IngestResult(BaseModel):
    """What reading an input produced (before anything is stored)."""

    model_config = {"arbitrary_types_allowed": True}

    parquet: Path
    fingerprint: str
    rows: int
    source_format: str
    schema_: list[ColumnSchema]
    profile: dict[str, Any]
    classification: list[ColumnClass]


class DatasetService(RequestsMixin):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- lookups ---------------------------------------------------------------------
    def _version_row(self, s: Session, ref: str) -> tuple[Dataset, DatasetVersion]:
        name, version = parse_ref(ref)
        ds = s.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none()
        if ds is None:
            raise NotFound(
                f"dataset {name!r} not found; list them with 'steward data list'", dataset=name
            )
        q = select(DatasetVersion).where(DatasetVersion.dataset_id == ds.id)
        if version is None:
            q = q.order_by(DatasetVersion.version.desc()).limit(1)
        else:
            q = q.where(DatasetVersion.version == version)
        row = s.execute(q).scalar_one_or_none()
        if row is None:
            raise NotFound(f"dataset version {ref!r} not found", ref=ref)
        return ds, row

    def _lookup(self, ref: str) -> tuple[Dataset, DatasetVersion]:
        with self.rt.store.transaction() as s:
            return self._version_row(s, ref)

    @staticmethod
    def _resource(ds: Dataset, v: DatasetVersion) -> Resource:
        return Resource(
            "Dataset",
            f"{ds.name}@{v.version}",
            {
                "jurisdiction": v.jurisdiction,
                # both follow the verdict Steward computed, never a flag a user set
                "anonymised": v.verdict == "anonymised",
                "verdict": v.verdict,
                "locked": v.locked,
                "team": ds.team,
            },
        )

    def _parents(self, s: Session, version_id: int) -> list[str]:
        rows = s.execute(
            select(Dataset.name, DatasetVersion.version)
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .join(DatasetParent, DatasetParent.parent_id == DatasetVersion.id)
            .where(DatasetParent.child_id == version_id)
        ).all()
        return [f"{n}@{v}" for n, v in rows]

    def _info(self, s: Session, ds: Dataset, v: DatasetVersion) -> VersionInfo:
        return VersionInfo(
            ref=f"{ds.name}@{v.version}",
            name=ds.name,
            version=v.version,
            team=ds.team,
            site=v.site,
            jurisdiction=v.jurisdiction,
            rows=v.rows,
            columns=len(json.loads(v.schema_json)),
            bytes=v.bytes,
            fingerprint=v.fingerprint,
            locked=v.locked,
            anonymised=v.verdict == "anonymised",
            verdict=v.verdict,
            transform=v.transform,
            parents=self._parents(s, v.id),
            description=v.description,
            created_by=v.created_by,
            created_at=v.created_at,
        )

    # -- ingest ----------------------------------------------------------------------
    def ingest(
        self,
        source: Path | pa.Table,
        workdir: Path,
        *,
        format: str | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Read an input in batches into a Parquet file; profile, fingerprint, classify."""
        import hashlib

        src = open_source(source, format=format)
        schema = src.schema
        out = workdir / "data.parquet"
        profile = TableProfile()
        sampler = TableScan(schema, self.rt.config.privacy.sample_rows)
        h = hashlib.sha256(schema.to_string(show_schema_metadata=False).encode())
        rows = 0
        rechunk = _Rechunker(schema)

        def consume(batch: pa.RecordBatch) -> None:
            nonlocal rows
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, schema) as w:
                w.write_batch(batch)
            h.update(sink.getvalue().to_pybytes())
            writer.write_batch(batch)
            profile.update(batch)
            sampler.update(batch)
            rows += batch.num_rows
            if progress:
                progress(rows)

        with pq.ParquetWriter(out, schema, compression="zstd") as writer:
            for batch in src.batches:
                if batch.schema != schema:
                    batch = batch.cast(schema) if batch.schema.names == schema.names else batch
                for chunk in rechunk.push(batch):
                    consume(chunk)
            for chunk in rechunk.flush():
                consume(chunk)
        if rows == 0:
            raise ValidationFailed("the input has no rows", rows=0)
        classes = [ColumnClass(**c.to_dict()) for c in sampler.classify()]
        # Profiles never keep values of columns that identify or are special category.
        profile = profile.redact(sensitive(classes))
        summary = _redact_summary(profile.summary(), classes)
        return IngestResult(
            parquet=out,
            fingerprint=h.hexdigest(),
            rows=rows,
            source_format=src.format,
            schema_=infer_schema(schema, _columns_of(summary)),
            profile={"summary": summary, "state": profile.to_dict()},
            classification=classes,
        )

    # -- register --------------------------------------------------------------------
    def register(
        self,
        principal: Principal,
        source: Path | pa.Table | Any,
        *,
        name: str,
        site: str | None = None,
        team: str | None = None,
        locked: bool = False,
        description: str = "",
        format: str | None = None,
        allow_schema_change: bool = False,
        progress: Progress | None = None,
    ) -> VersionInfo:
        """Register a file (CSV, Parquet, JSON Lines), an Arrow table or a pandas frame."""
        if not _NAME.match(name):
            raise ValidationFailed(
                f"name: expected lowercase letters, digits, '-' or '_' starting with a letter; "
                f"found {name!r}",
                parameter="name",
            )
        site = site or self.rt.config.default_site
        if site is None:
            raise ValidationFailed(
                "site: none given and no default_site in steward.yaml", parameter="site"
            )
        jurisdiction = self.rt.config.site(site).jurisdiction
        if team is not None and team not in self.rt.config.teams:
            raise NotFound(f"unknown team {team!r}", team=team)
        if not isinstance(source, pa.Table | Path | str):
            source = _from_dataframe(source)
        elif isinstance(source, str):
            source = Path(source)
        with self.rt.store.transaction() as s:
            existing = s.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none()
            previous = (
                s.execute(
                    select(DatasetVersion)
                    .where(DatasetVersion.dataset_id == existing.id)
                    .order_by(DatasetVersion.version.desc())
                    .limit(1)
                ).scalar_one_or_none()
                if existing
                else None
            )
        if existing is not None:
            if team is not None and existing.team != team:
                raise Conflict(
                    f"dataset {name!r} belongs to team {existing.team!r}, not {team!r}",
                    dataset=name,
                )
            team = existing.team
            if previous is not None and previous.site != site:
                raise Conflict(
                    f"dataset {name!r} lives at {previous.site}; register new versions there "
                    f"(or copy with 'steward data copy')",
                    dataset=name,
                    site=previous.site,
                )
        resource = Resource(
            "Dataset",
            f"{name}@new",
            {
                "jurisdiction": jurisdiction,
                "anonymised": False,
                "verdict": "identifiable",
                "locked": locked,
                "team": team,
            },
        )
        action = Action("dataset.register", resource, site=site, payload={})
        self.rt.door.check(principal, action)  # refuse before reading a byte
        with _scratch(self.rt) as work:
            result = self.ingest(
                Path(source) if isinstance(source, str) else source,
                work,
                format=format,
                progress=progress,
            )
            changes: list[SchemaChange] = []
            if previous is not None:
                old = [ColumnSchema(**c) for c in json.loads(previous.schema_json)]
                changes = compare_schemas(old, result.schema_)
                breaks = [c for c in changes if c.breaking]
                if breaks and not allow_schema_change:
                    raise ValidationFailed(
                        f"{name}: the new data breaks the schema of {name}@{previous.version}: "
                        + "; ".join(
                            f"{c.column} {c.kind} (expected {c.expected}, found {c.found})"
                            for c in breaks
                        )
                        + ". Fix the data or pass --allow-schema-change",
                        changes=[c.model_dump() for c in breaks],
                    )
            action.payload = {
                "name": name,
                "site": site,
                "team": team,
                "locked": locked,
                "fingerprint": result.fingerprint,
                "rows": result.rows,
                "schema_changes": [c.model_dump() for c in changes],
            }
            return self._store_version(
                principal,
                action,
                result,
                name=name,
                site=site,
                jurisdiction=jurisdiction,
                team=team,
                locked=locked,
                description=description,
                transform="register",
                transform_spec={"format": result.source_format},
                parents=[],
                verdict="identifiable",
            )

    def _store_version(
        self,
        principal: Principal,
        action: Action,
        result: IngestResult,
        *,
        name: str,
        site: str,
        jurisdiction: str,
        team: str | None,
        locked: bool,
        description: str,
        transform: str,
        transform_spec: dict[str, Any],
        parents: list[int],
        verdict: str,
    ) -> VersionInfo:
        written: list[str] = []
        parquet_digest = sha256_file(result.parquet)[0]

        def do(s: Session) -> VersionInfo:
            ds = s.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none()
            if ds is not None:
                same = s.execute(
                    select(DatasetVersion).where(
                        DatasetVersion.dataset_id == ds.id,
                        DatasetVersion.fingerprint == result.fingerprint,
                        DatasetVersion.transform == transform,
                    )
                ).scalar_one_or_none()
                if same is not None and same.locked == locked:
                    return self._info(s, ds, same)
            else:
                ds = Dataset(
                    name=name,
                    team=team,
                    description=description,
                    created_by=principal.name,
                    created_at=datetime.now(UTC),
                )
                s.add(ds)
                s.flush()
            last = s.execute(
                select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == ds.id)
            ).scalar_one()
            if not self.rt.artifacts.exists(site, parquet_digest):
                written.append(parquet_digest)
            ref = self.rt.artifacts.put_file(site, result.parquet)
            v = DatasetVersion(
                dataset_id=ds.id,
                version=(last or 0) + 1,
                fingerprint=result.fingerprint,
                site=site,
                jurisdiction=jurisdiction,
                object_digest=ref.digest,
                rows=result.rows,
                bytes=ref.size,
                locked=locked,
                anonymised=verdict == "anonymised",
                verdict=verdict,
                source_format=result.source_format,
                transform=transform,
                transform_spec=canonical_json(transform_spec),
                schema_json=canonical_json([c.model_dump() for c in result.schema_]),
                profile_json=canonical_json(result.profile),
                classification_json=canonical_json([c.model_dump() for c in result.classification]),
                description=description,
                created_by=principal.name,
                created_at=datetime.now(UTC),
            )
            s.add(v)
            s.flush()
            for pid in parents:
                s.add(DatasetParent(child_id=v.id, parent_id=pid))
            s.flush()
            return self._info(s, ds, v)

        with self.rt.discard_on_failure(site, written):
            return self.rt.door.run(principal, action, do)

    # -- listing and show ------------------------------------------------------------
    def versions(self, principal: Principal) -> list[VersionInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "datasets")))
        with self.rt.store.transaction() as s:
            rows = s.execute(
                select(Dataset, DatasetVersion)
                .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
                .order_by(Dataset.name, DatasetVersion.version)
            ).all()
            return [self._info(s, ds, v) for ds, v in rows]

    def show(self, principal: Principal, ref: str) -> DatasetDetail:
        """Schema, classification, profile summary and residency (metadata: no data read)."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "datasets")))
        with self.rt.store.transaction() as s:
            ds, v = self._version_row(s, ref)
            info = self._info(s, ds, v)
            copies = s.execute(select(DatasetCopy).where(DatasetCopy.version_id == v.id)).scalars()
            classes = [ColumnClass(**c) for c in json.loads(v.classification_json)]
            return DatasetDetail(
                **info.model_dump(),
                schema=[ColumnSchema(**c) for c in json.loads(v.schema_json)],
                classification=classes,
                # redacted again on the way out: the classification may have been raised
                # since the profile was stored (or stored before profiles were redacted)
                profile=_redact_summary(json.loads(v.profile_json).get("summary", {}), classes),
                transform_spec=json.loads(v.transform_spec),
                copies=[
                    CopyInfo(
                        ref=info.ref,
                        from_site=c.from_site,
                        to_site=c.to_site,
                        bytes=c.bytes,
                        created_by=c.created_by,
                        created_at=c.created_at,
                    )
                    for c in copies
                ],
            )

    def profile_state(self, principal: Principal, ref: str) -> TableProfile:
        """The version's mergeable profile (for drift and monitoring)."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "datasets")))
        _, v = self._lookup(ref)
        classes = [ColumnClass(**c) for c in json.loads(v.classification_json)]
        state = TableProfile.from_dict(json.loads(v.profile_json)["state"])
        return state.redact(sensitive(classes))

    def lineage(self, principal: Principal, ref: str) -> LineageNode:
        self.rt.door.check(principal, Action("system.read", Resource("System", "datasets")))
        with self.rt.store.transaction() as s:
            ds, v = self._version_row(s, ref)
            return self._lineage(s, ds, v, depth=0)

    def _lineage(self, s: Session, ds: Dataset, v: DatasetVersion, depth: int) -> LineageNode:
        node = LineageNode(
            ref=f"{ds.name}@{v.version}",
            transform=v.transform,
            created_by=v.created_by,
            created_at=v.created_at,
        )
        if depth > 64:
            return node
        parent_rows = s.execute(
            select(Dataset, DatasetVersion)
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .join(DatasetParent, DatasetParent.parent_id == DatasetVersion.id)
            .where(DatasetParent.child_id == v.id)
        ).all()
        node.parents = [self._lineage(s, pd, pv, depth + 1) for pd, pv in parent_rows]
        return node

    # -- read and copy ---------------------------------------------------------------
    def read(
        self,
        principal: Principal,
        ref: str,
        *,
        site: str | None = None,
        purpose: str = "",
    ) -> pa.Table:
        """Read a version's data at ``site`` (default: its home site). Residency and
        locked holdouts apply; ``purpose`` is set by Steward's own services only."""
        return pq.read_table(
            io.BytesIO(self.read_bytes(principal, ref, site=site, purpose=purpose))
        )

    def read_bytes(
        self, principal: Principal, ref: str, *, site: str | None = None, purpose: str = ""
    ) -> bytes:
        """:meth:`read`, as the decrypted Parquet bytes (what a training task carries)."""
        ds, v = self._lookup(ref)
        where = site or v.site
        self.rt.config.site(where)
        # an allowed read of direct or special-category data is on the record (sampled
        # as audit.reads says); other reads are not
        self.rt.door.check(
            principal,
            Action(
                "dataset.read",
                self._resource(ds, v),
                site=where,
                context={"purpose": purpose},
                payload={"ref": f"{ds.name}@{v.version}", "purpose": purpose},
            ),
            record=holds_personal_data(v.classification_json),
        )
        return self.rt.artifacts.get_bytes(v.site, v.object_digest)

    def read_holdout(self, ref: str, *, requested_by: Principal, model: str) -> pa.Table:
        """Read a locked holdout as the gate evaluation service (``steward-gates``), the
        only identity the policy lets read one, for ``requested_by``'s validation of
        ``model``. The read is recorded with the requesting user in its reason."""
        from steward.errors import Reason
        from steward.policy.entities import GATE_USER

        ds, v = self._lookup(ref)
        why = Reason(
            "gate-evaluation",
            f"read by the gate evaluation service for {requested_by.name}'s validation of {model}",
            "permit",
        )
        self.rt.door.check(
            Principal(GATE_USER),
            Action(
                "dataset.read",
                self._resource(ds, v),
                site=v.site,
                context={"purpose": "gate-evaluation"},
                payload={
                    "ref": f"{ds.name}@{v.version}",
                    "model": model,
                    "requested_by": requested_by.name,
                },
            ),
            record=True,
            reasons=[why],
        )
        data = self.rt.artifacts.get_bytes(v.site, v.object_digest)
        return pq.read_table(io.BytesIO(data))

    def governed_view(self, ref: str) -> tuple[DatasetDetail, Resource, int]:
        """Metadata, policy resource and row id of a version, for a service that decides
        its own action on it (training decides ``model.train``). Reads no data."""
        with self.rt.store.transaction() as s:
            ds, v = self._version_row(s, ref)
            info = self._info(s, ds, v)
            detail = DatasetDetail(
                **info.model_dump(),
                schema=[ColumnSchema(**c) for c in json.loads(v.schema_json)],
                classification=[ColumnClass(**c) for c in json.loads(v.classification_json)],
                profile={},
                transform_spec=json.loads(v.transform_spec),
                copies=[],
            )
            return detail, self._resource(ds, v), v.id

    def copy(self, principal: Principal, ref: str, *, to_site: str) -> CopyInfo:
        """Copy a version's bytes to another site (residency decides); bytes are recorded."""
        ds, v = self._lookup(ref)
        self.rt.config.site(to_site)
        if to_site == v.site:
            raise Conflict(f"{ref} already lives at {to_site}", site=to_site)
        context: dict[str, Any] = {"purpose": ""}
        payload: dict[str, Any] = {
            "ref": f"{ds.name}@{v.version}",
            "from": v.site,
            "to": to_site,
            "bytes": v.bytes,
        }
        approval: str | None = None
        if transfer_rule(self.rt.config, v, to_site) is not None:
            # A transfer rule allows it at all; each copy needs a second steward's yes.
            with self.rt.store.transaction() as s:
                approval = approved_copy(s, v.id, to_site)
            context["transfer"] = "approved" if approval else "needs-approval"
            payload["approval"] = approval
        action = Action(
            "dataset.copy", self._resource(ds, v), site=to_site, context=context, payload=payload
        )
        written: list[str] = []

        def do(s: Session) -> CopyInfo:
            if approval is not None:
                use_approval(s, approval)  # one approval, one copy (race-safe)
            data = self.rt.artifacts.get_bytes(v.site, v.object_digest)
            if not self.rt.artifacts.exists(to_site, v.object_digest):
                written.append(v.object_digest)
            self.rt.artifacts.put_bytes(to_site, data)
            row = DatasetCopy(
                version_id=v.id,
                from_site=v.site,
                to_site=to_site,
                bytes=len(data),
                created_by=principal.name,
                created_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            self.rt.meter.egress(
                s,
                team=ds.team,
                source=v.site,
                dest=to_site,
                nbytes=len(data),
                action="dataset.copy",
                ref=f"{ds.name}@{v.version}",
                at=row.created_at,
            )
            return CopyInfo(
                ref=f"{ds.name}@{v.version}",
                from_site=v.site,
                to_site=to_site,
                bytes=len(data),
                created_by=principal.name,
                created_at=row.created_at,
            )

        with self.rt.discard_on_failure(to_site, written):
            return self.rt.door.run(principal, action, do)

    # -- classification overrides ----------------------------------------------------
    def set_classification(
        self, principal: Principal, ref: str, overrides: dict[str, str]
    ) -> list[ColumnClass]:
        """Override column classes (``"none"`` clears one); audited as dataset.classify."""
        ds, v = self._lookup(ref)
        current = [ColumnClass(**c) for c in json.loads(v.classification_json)]
        lowered = check_overrides(f"{ds.name}@{v.version}", current, overrides)
        # Lowering a class (declassification) is a four-eyes request: the policy
        # 'declassify-four-eyes' refuses it here, and the refusal is on the record.
        action = Action(
            "dataset.classify",
            self._resource(ds, v),
            context={"declassifies": bool(lowered)},
            payload={"ref": f"{ds.name}@{v.version}", "set": overrides, "lowers": lowered},
        )

        def do(s: Session) -> list[ColumnClass]:
            row = s.get(DatasetVersion, v.id)
            assert row is not None
            out = []
            for c in current:
                if c.column in overrides:
                    c = overridden(c, overrides[c.column], principal.name)
                out.append(c)
            row.classification_json = canonical_json([c.model_dump() for c in out])
            # A raised class can take a derived version's verdict down (and with it the
            # residency exemption of its copies): judge them again now.
            self._rejudge(s, row, out)
            return out

        return self.rt.door.run(principal, action, do)

    # -- mask ------------------------------------------------------------------------
    def mask(
        self,
        principal: Principal,
        ref: str,
        *,
        recipe: Recipe | None = None,
        description: str = "",
    ) -> MaskResult:
        """Derive a masked version (the automatic recipe when none is given)."""
        ds, v = self._lookup(ref)
        classes = json.loads(v.classification_json)
        k_min = (recipe.k_min if recipe and recipe.k_min else None) or (
            self.rt.config.privacy.k_anonymity_min
        )
        used = recipe or auto_recipe(classes, k_min)
        action = Action(
            "dataset.mask",
            self._resource(ds, v),
            site=v.site,
            context={"purpose": ""},
            payload={"ref": f"{ds.name}@{v.version}", "recipe": used.model_dump()},
        )
        self.rt.door.check(principal, action)
        table = pq.read_table(io.BytesIO(self.rt.artifacts.get_bytes(v.site, v.object_digest)))
        master = self.rt.home.master_key()
        outcome = apply_recipe(
            table,
            used,
            classes,
            pseudonym_key=derive_key(master, "pseudonym"),
            token_key=derive_key(master, "token", 64),
            k_min=k_min,
        )
        with _scratch(self.rt) as work:
            result = self.ingest(outcome.table, work)
            original = {c["column"]: c for c in classes}
            for c in result.classification:
                op = outcome.applied.get(c.column)
                was = original.get(c.column, {}).get("pii_type")
                if op and was:
                    c.explanation = f"{op} applied to {was}; now: {c.explanation}"
            spec = {
                "recipe": used.model_dump(),
                "applied": outcome.applied,
                "k_min": k_min,
                "verdict": outcome.verdict,
                "anonymised": outcome.anonymised,
                "reasons": outcome.reasons,
                "k_anonymity": outcome.k_report,
                "k_by_suppression_only": outcome.k_by_suppression_only,
                "warnings": outcome.warnings,
            }
            info = self._store_version(
                principal,
                action,
                result,
                name=ds.name,
                site=v.site,
                jurisdiction=v.jurisdiction,
                team=ds.team,
                locked=False,
                description=description or f"masked from {ds.name}@{v.version}",
                transform="mask",
                transform_spec=spec,
                parents=[v.id],
                verdict=outcome.verdict,
            )
        return MaskResult(
            version=info,
            applied=outcome.applied,
            verdict=info.verdict,
            anonymised=info.anonymised,
            reasons=outcome.reasons,
            k_anonymity=outcome.k_report,
            k_by_suppression_only=outcome.k_by_suppression_only,
            warnings=outcome.warnings,
        )

    def detokenise(
        self, principal: Principal, ref: str, column: str, tokens: list[str]
    ) -> list[str]:
        """Reverse tokens of a masked version (data stewards only; every reversal audited)."""
        ds, v = self._lookup(ref)
        spec = json.loads(v.transform_spec)
        if spec.get("applied", {}).get(column) != "tokenise":
            raise ValidationFailed(
                f"column {column!r} of {ds.name}@{v.version} holds no tokens", column=column
            )
        action = Action(
            "dataset.detokenize",
            self._resource(ds, v),
            payload={"ref": f"{ds.name}@{v.version}", "column": column, "tokens": len(tokens)},
        )
        key = derive_key(self.rt.home.master_key(), "token", 64)
        values = detokenise(tokens, key)  # validate before recording
        self.rt.door.run(principal, action, lambda s: None)
        return values

    # -- validate --------------------------------------------------------------------
    def validate(
        self, principal: Principal, ref: str, path: Path, *, quarantine: Path | None = None
    ) -> ValidationReport:
        """Check a new batch against the registered schema of ``ref``."""
        self.rt.door.check(principal, Action("system.read", Resource("System", "datasets")))
        ds, v = self._lookup(ref)
        schema = [ColumnSchema(**c) for c in json.loads(v.schema_json)]
        return validate_file(f"{ds.name}@{v.version}", schema, Path(path), quarantine=quarantine)


class MaskResult(BaseModel):
    version: VersionInfo
    applied: dict[str, str]
    #: identifiable | pseudonymised | anonymised
    verdict: str = "identifiable"
    anonymised: bool
    reasons: list[str]
    k_anonymity: dict[str, Any]
    #: k holds only because every quasi-identifier value was suppressed
    k_by_suppression_only: bool = False
    warnings: list[str] = Field(default_factory=list)


_VALUE_KEYS = ("min", "max", "mean", "std", "quantiles", "histogram", "top", "infinite")


def _redact_summary(summary: dict[str, Any], classes: list[ColumnClass]) -> dict[str, Any]:
    """A profile summary without values of sensitive columns (counts stay)."""
    cols = _columns_of(summary)
    if not cols:
        return summary
    hidden = set(sensitive(classes))
    out = {}
    for name, col in cols.items():
        if name in hidden and isinstance(col, dict):
            col = {
                k: (None if k != "top" else []) if k in _VALUE_KEYS else v for k, v in col.items()
            }
            col["redacted"] = True
        out[name] = col
    return {**summary, "columns": out} if "columns" in summary else out


#: Column categories whose presence puts every allowed read of a version on the record.
RECORDED_CATEGORIES = frozenset({"direct", "special"})


def holds_personal_data(classification_json: str) -> bool:
    """Whether a version's classification has a direct or special-category column."""
    try:
        classes = json.loads(classification_json or "[]")
    except ValueError:
        return True  # unreadable: treat as personal (record rather than miss)
    return any(isinstance(c, dict) and c.get("category") in RECORDED_CATEGORIES for c in classes)


def _columns_of(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cols = summary.get("columns", summary)
    return cols if isinstance(cols, dict) else {}


def _from_dataframe(frame: Any) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (TypeError, ValueError, AttributeError, pa.ArrowException) as exc:
        raise ValidationFailed(
            f"source: expected a file path, an Arrow table or a pandas DataFrame; "
            f"found {type(frame).__name__} ({exc})"
        ) from None
