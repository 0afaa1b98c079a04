"""The model registry: versions ``NAME@k`` of ONNX models with their evidence.

A version holds the ONNX artifact (encrypted at its site, content-addressed), the input
and output schema, the classes, the validation metrics, the reference profile of the
training features and predictions, the lineage (dataset fingerprints, spec, library and
code versions, seed, who, where) and its stage (``candidate`` at first). Training jobs
register versions through :meth:`ModelService.add_version` inside the worker's recorded
step; ``steward model import`` registers an external ONNX file as a governed action.
Nothing here ever unpickles anything: models are ONNX bytes, evidence is JSON.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.audit import canonical_json
from steward.door import Action
from steward.errors import NotFound, ValidationFailed
from steward.governance.resolve import register_resolver
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import Dataset, DatasetVersion, Model, ModelDataset, ModelVersion

__all__ = [
    "MODEL_NAME",
    "STAGES",
    "ModelComparison",
    "ModelDetail",
    "ModelService",
    "ModelVersionInfo",
    "NewVersion",
    "onnx_signature",
    "parse_model_ref",
]

MODEL_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
STAGES = ("candidate", "validated", "failed", "approved", "production", "retired")
_ONNX_TYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(string)": "BYTES",
    "tensor(bool)": "BOOL",
}


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    name, sep, version = ref.partition("@")
    if not name or (sep and not version.isdigit()):
        raise ValidationFailed(
            f"model {ref!r}: expected NAME or NAME@VERSION, e.g. loans-default@2", ref=ref
        )
    return name, int(version) if sep else None


class ModelVersionInfo(BaseModel):
    ref: str
    name: str
    version: int
    stage: str
    team: str | None
    site: str
    jurisdiction: str
    anonymised: bool
    external: bool
    private_only: bool = False
    objective: str
    family: str
    estimator: str
    metrics: dict[str, float]
    datasets: list[str]
    onnx_bytes: int
    object_digest: str
    job_id: str | None
    created_by: str
    created_at: datetime
    # set by an import whose declaration (jurisdiction, anonymised) awaits a data steward
    pending_declaration: str | None = None


class ModelDetail(ModelVersionInfo):
    spec: dict[str, Any]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    classes: list[Any] | None
    lineage: dict[str, Any]
    card: dict[str, Any]
    profile: dict[str, Any] = Field(default_factory=dict)


class ModelComparison(BaseModel):
    a: str
    b: str
    metrics: dict[str, dict[str, float | None]]  # metric -> {a, b, delta}
    params: dict[str, dict[str, Any]]  # parameter that differs -> {a, b}
    data: dict[str, list[str]]  # {"a": [...], "b": [...], "only_a": [...], "only_b": [...]}
    same_data: bool


class NewVersion(BaseModel):
    """Everything a new version needs (from a training job or an import)."""

    name: str
    team: str | None
    site: str
    jurisdiction: str
    anonymised: bool
    external: bool = False
    private_only: bool = False
    onnx_digest: str
    onnx_bytes: int
    objective: str
    family: str
    estimator: str
    spec: dict[str, Any]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    classes: list[Any] | None
    metrics: dict[str, float]
    profile: dict[str, Any]
    lineage: dict[str, Any]
    card: dict[str, Any]
    job_id: str | None = None
    created_by: str
    dataset_version_ids: list[int] = Field(default_factory=list)


def onnx_signature(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inputs and outputs of an ONNX model, read by ONNX Runtime (refused if it won't load)."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ValidationFailed(
            f"not a loadable ONNX model: {e}", expected="an ONNX model file"
        ) from None

    def describe(args: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": a.name,
                "datatype": _ONNX_TYPES.get(a.type, a.type),
                "shape": [d if isinstance(d, int) else -1 for d in a.shape],
            }
            for a in args
        ]

    return describe(sess.get_inputs()), describe(sess.get_outputs())


class ModelService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- lookups ---------------------------------------------------------------------------
    def version_row(
        self, s: Session, ref: str, *, lock: bool = False
    ) -> tuple[Model, ModelVersion]:
        """The model and version rows of ``NAME@k`` (``NAME``: the latest version).

        ``lock`` takes the model row's lock first (PostgreSQL ``FOR UPDATE``; SQLite's
        write transaction is already exclusive), so that two changes of one model's stages
        run one after the other.
        """
        name, version = parse_model_ref(ref)
        q = select(Model).where(Model.name == name)
        if lock and self.rt.store.dialect == "postgresql":
            q = q.with_for_update()
        m = s.execute(q).scalar_one_or_none()
        if m is None:
            raise NotFound(
                f"model {name!r} not found; list them with 'steward model list'", model=name
            )
        vq = select(ModelVersion).where(ModelVersion.model_id == m.id)
        vq = (
            vq.order_by(ModelVersion.version.desc()).limit(1)
            if version is None
            else vq.where(ModelVersion.version == version)
        )
        v = s.execute(vq).scalar_one_or_none()
        if v is None:
            raise NotFound(f"model version {ref!r} not found", ref=ref)
        return m, v

    @staticmethod
    def policy_resource(info: ModelVersionInfo) -> Resource:
        """The Cedar resource of a model version (what training, gates and deployment
        decide on)."""
        return Resource(
            "Model",
            info.ref,
            {
                "jurisdiction": info.jurisdiction,
                "anonymised": info.anonymised,
                "producers": [info.created_by],
                "privateOnly": info.private_only,
                "stage": info.stage,
                "team": info.team,
            },
        )

    def _datasets(self, s: Session, version_id: int) -> list[str]:
        rows = s.execute(
            select(Dataset.name, DatasetVersion.version)
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .join(ModelDataset, ModelDataset.dataset_version_id == DatasetVersion.id)
            .where(ModelDataset.model_version_id == version_id)
            .order_by(Dataset.name, DatasetVersion.version)
        ).all()
        return [f"{n}@{k}" for n, k in rows]

    def _info(self, s: Session, m: Model, v: ModelVersion) -> ModelVersionInfo:
        return ModelVersionInfo(
            ref=f"{m.name}@{v.version}",
            name=m.name,
            version=v.version,
            stage=v.stage,
            team=m.team,
            site=v.site,
            jurisdiction=v.jurisdiction,
            anonymised=v.anonymised,
            external=v.external,
            private_only=v.private_only,
            objective=v.objective,
            family=v.family,
            estimator=v.estimator,
            metrics=json.loads(v.metrics_json),
            datasets=self._datasets(s, v.id),
            onnx_bytes=v.onnx_bytes,
            object_digest=v.object_digest,
            job_id=v.job_id,
            created_by=v.created_by,
            created_at=v.created_at,
        )

    # -- write (inside a governed step of the caller) ---------------------------------------
    def add_version(self, s: Session, new: NewVersion) -> ModelVersionInfo:
        """Create ``name@k`` (k = next version) in the caller's transaction."""
        m = s.execute(select(Model).where(Model.name == new.name)).scalar_one_or_none()
        t = datetime.now(UTC)
        if m is None:
            m = Model(name=new.name, team=new.team, created_by=new.created_by, created_at=t)
            s.add(m)
            s.flush()
        elif m.team != new.team:
            raise ValidationFailed(
                f"model {new.name!r} belongs to team {m.team!r}, not {new.team!r}; "
                "choose another model name",
                model=new.name,
                expected=m.team,
                found=new.team,
            )
        last = s.execute(
            select(func.max(ModelVersion.version)).where(ModelVersion.model_id == m.id)
        ).scalar_one()
        v = ModelVersion(
            model_id=m.id,
            version=(last or 0) + 1,
            stage="candidate",
            site=new.site,
            jurisdiction=new.jurisdiction,
            anonymised=new.anonymised,
            external=new.external,
            private_only=new.private_only,
            object_digest=new.onnx_digest,
            onnx_bytes=new.onnx_bytes,
            objective=new.objective,
            family=new.family,
            estimator=new.estimator,
            spec_json=canonical_json(new.spec),
            inputs_json=canonical_json(new.inputs),
            outputs_json=canonical_json(new.outputs),
            classes_json=canonical_json(new.classes),
            metrics_json=canonical_json(new.metrics),
            profile_json=canonical_json(new.profile),
            lineage_json=canonical_json(new.lineage),
            card_json=canonical_json(new.card),
            job_id=new.job_id,
            created_by=new.created_by,
            created_at=t,
        )
        s.add(v)
        s.flush()
        for dv in new.dataset_version_ids:
            s.add(ModelDataset(model_version_id=v.id, dataset_version_id=dv))
        s.flush()
        return self._info(s, m, v)

    # -- reads -----------------------------------------------------------------------------
    def _read_check(self, principal: Principal) -> None:
        self.rt.door.check(principal, Action("system.read", Resource("System", "models")))

    def versions(self, principal: Principal, *, stage: str | None = None) -> list[ModelVersionInfo]:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            q = (
                select(Model, ModelVersion)
                .join(ModelVersion, ModelVersion.model_id == Model.id)
                .order_by(Model.name, ModelVersion.version)
            )
            if stage is not None:
                q = q.where(ModelVersion.stage == stage)
            return [self._info(s, m, v) for m, v in s.execute(q).all()]

    def show(self, principal: Principal, ref: str) -> ModelDetail:
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            m, v = self.version_row(s, ref)
            profile = json.loads(v.profile_json)
            return ModelDetail(
                **self._info(s, m, v).model_dump(),
                spec=json.loads(v.spec_json),
                inputs=json.loads(v.inputs_json),
                outputs=json.loads(v.outputs_json),
                classes=json.loads(v.classes_json),
                lineage=json.loads(v.lineage_json),
                card=json.loads(v.card_json),
                profile=_profile_summary(
                    profile, _sensitive_features(s, json.loads(v.lineage_json))
                ),
            )

    def reference_profile(self, principal: Principal, ref: str) -> dict[str, Any]:
        """The full mergeable reference profile (features and predictions)."""
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            _, v = self.version_row(s, ref)
            out: dict[str, Any] = json.loads(v.profile_json)
            return out

    def onnx(self, principal: Principal, ref: str) -> bytes:
        """The ONNX bytes (decrypted). Reading a model is a read of its site's objects."""
        self._read_check(principal)
        with self.rt.store.transaction() as s:
            m, v = self.version_row(s, ref)
            resource = self.policy_resource(self._info(s, m, v))
            site, digest = v.site, v.object_digest
        self.rt.door.check(
            principal,
            Action(
                "object.read",
                Resource(
                    "Object",
                    digest,
                    {
                        "jurisdiction": resource.attrs["jurisdiction"],
                        "anonymised": resource.attrs["anonymised"],
                        "team": resource.attrs["team"],
                    },
                ),
                site=site,
                payload={"model": resource.id, "digest": digest},
            ),
            record=True,  # a model download is on the record (audit.reads samples it)
        )
        return self.rt.artifacts.get_bytes(site, digest)

    def serving_artifact(self, ref: str) -> tuple[ModelDetail, bytes]:
        """Detail and ONNX bytes of a deployed version, for the inference server (the
        deployment was decided and recorded; each prediction is authorised on its own)."""
        with self.rt.store.transaction() as s:
            m, v = self.version_row(s, ref)
            detail = ModelDetail(
                **self._info(s, m, v).model_dump(),
                spec=json.loads(v.spec_json),
                inputs=json.loads(v.inputs_json),
                outputs=json.loads(v.outputs_json),
                classes=json.loads(v.classes_json),
                lineage=json.loads(v.lineage_json),
                card={},
                profile={},
            )
            site, digest = v.site, v.object_digest
        return detail, self.rt.artifacts.get_bytes(site, digest)

    def compare(self, principal: Principal, a: str, b: str) -> ModelComparison:
        da, db = self.show(principal, a), self.show(principal, b)
        metrics: dict[str, dict[str, float | None]] = {}
        for k in sorted(set(da.metrics) | set(db.metrics)):
            x, y = da.metrics.get(k), db.metrics.get(k)
            metrics[k] = {
                "a": x,
                "b": y,
                "delta": (y - x) if x is not None and y is not None else None,
            }
        params: dict[str, dict[str, Any]] = {}
        pa_, pb = _flat_params(da), _flat_params(db)
        for k in sorted(set(pa_) | set(pb)):
            if pa_.get(k) != pb.get(k):
                params[k] = {"a": pa_.get(k), "b": pb.get(k)}
        fa = {d["ref"]: d.get("fingerprint") for d in da.lineage.get("datasets", [])}
        fb = {d["ref"]: d.get("fingerprint") for d in db.lineage.get("datasets", [])}
        return ModelComparison(
            a=da.ref,
            b=db.ref,
            metrics=metrics,
            params=params,
            data={
                "a": sorted(fa),
                "b": sorted(fb),
                "only_a": sorted(set(fa) - set(fb)),
                "only_b": sorted(set(fb) - set(fa)),
            },
            same_data=sorted(fa.values(), key=str) == sorted(fb.values(), key=str),
        )

    # -- import ----------------------------------------------------------------------------
    def import_onnx(
        self,
        principal: Principal,
        path: Path | bytes,
        *,
        name: str,
        team: str | None,
        site: str | None = None,
        objective: str,
        schema: list[dict[str, Any]] | None = None,
        lineage: dict[str, Any] | None = None,
        jurisdiction: str | None = None,
        anonymised: bool = False,
        metrics: dict[str, float] | None = None,
        intended_use: str | None = None,
    ) -> ModelVersionInfo:
        """Register an externally trained ONNX model, marked ``external``, with the
        lineage its owner declares (Steward cannot check it, and the card says so)."""
        from steward.registry.card import build_card

        data = path if isinstance(path, bytes) else Path(path).read_bytes()
        if objective not in ("binary", "multiclass", "regression"):
            raise ValidationFailed(
                f"objective: expected binary, multiclass or regression; found {objective!r}"
            )
        if not MODEL_NAME.fullmatch(name):
            raise ValidationFailed(
                f"model name {name!r}: expected lower-case letters, digits, '_', '-' or '.', "
                "starting with a letter (at most 64)",
                name=name,
            )
        inputs, outputs = onnx_signature(data)
        if schema is not None:
            _check_declared_schema(schema, inputs)
        where = site or self.rt.config.default_site
        if where is None:
            raise ValidationFailed(
                "site: none given and no default_site in steward.yaml", parameter="site"
            )
        cfg_site = self.rt.config.site(where)
        # The importer's word is a declaration, not a fact: the version takes the
        # strictest attributes (the site's jurisdiction, not anonymised) and a declaration
        # that differs waits for a data steward other than the importer (declarations.py).
        # The import is decided on the declared jurisdiction (data said to be EU is not
        # stored in the US), never on a declared "anonymised".
        juris = cfg_site.jurisdiction
        if jurisdiction is not None:
            from steward.config.model import JURISDICTIONS

            if jurisdiction not in JURISDICTIONS:
                raise ValidationFailed(
                    f"jurisdiction: expected one of {', '.join(JURISDICTIONS)}; "
                    f"found {jurisdiction!r}",
                    parameter="jurisdiction",
                )
        claim = jurisdiction or juris
        pending = claim != juris or anonymised
        resource = Resource(
            "Model",
            f"{name}@new",
            {
                "jurisdiction": claim,
                "anonymised": False,
                "producers": [principal.name],
                "privateOnly": False,
                "team": team,
            },
        )
        declared = dict(lineage or {})
        action = Action(
            "model.import",
            resource,
            site=where,
            payload={
                "name": name,
                "bytes": len(data),
                "lineage": declared,
                "declared": {"jurisdiction": claim, "anonymised": anonymised},
            },
        )
        written: list[str] = []

        def do(s: Session) -> ModelVersionInfo:
            digest = self.rt.artifacts.put_bytes(where, data).digest
            written.append(digest)
            spec = {"name": name, "objective": objective, "external": True}
            card = build_card(
                name=name,
                objective=objective,
                intended_use=intended_use,
                spec=spec,
                metrics=metrics or {},
                lineage={"declared": declared, "external": True},
                datasets=[],
                external=True,
            )
            info = self.add_version(
                s,
                NewVersion(
                    name=name,
                    team=team,
                    site=where,
                    jurisdiction=juris,
                    anonymised=False,
                    external=True,
                    onnx_digest=digest,
                    onnx_bytes=len(data),
                    objective=objective,
                    family="external",
                    estimator="external",
                    spec=spec,
                    inputs=schema_merge(inputs, schema),
                    outputs=outputs,
                    classes=None,
                    metrics=metrics or {},
                    profile={},
                    lineage={"declared": declared, "external": True},
                    card=card,
                    created_by=principal.name,
                ),
            )
            if not pending:
                return info
            from steward.registry.declarations import add_declaration

            decl = add_declaration(
                s, info, jurisdiction=claim, anonymised=anonymised, by=principal.name
            )
            return info.model_copy(update={"pending_declaration": decl})

        with self.rt.discard_on_failure(where, written):
            return self.rt.door.run(principal, action, do)


def schema_merge(
    inputs: list[dict[str, Any]], schema: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    if not schema:
        return inputs
    extra = {c["name"]: c for c in schema}
    return [
        {**i, **{k: v for k, v in extra.get(i["name"], {}).items() if k != "name"}} for i in inputs
    ]


def _check_declared_schema(schema: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> None:
    have = {i["name"]: i for i in inputs}
    problems = []
    for c in schema:
        name = c.get("name")
        if name not in have:
            problems.append(f"{name!r} is not an input of the model")
        elif c.get("datatype") and c["datatype"] != have[name]["datatype"]:
            problems.append(
                f"{name!r}: declared {c['datatype']}, the model takes {have[name]['datatype']}"
            )
    missing = sorted(set(have) - {c.get("name") for c in schema})
    if missing:
        problems.append(f"inputs not declared: {', '.join(missing)}")
    if problems:
        raise ValidationFailed(
            "the declared schema does not match the ONNX model: " + "; ".join(problems),
            expected=[{"name": i["name"], "datatype": i["datatype"]} for i in inputs],
            found=schema,
        )


def _flat_params(d: ModelDetail) -> dict[str, Any]:
    out: dict[str, Any] = {"family": d.family, "estimator": d.estimator}
    for k in ("target", "features", "exclude", "seed", "validation_fraction", "objective"):
        if k in d.spec:
            out[k] = d.spec[k]
    for k, v in (d.lineage.get("params") or {}).items():
        out[f"params.{k}"] = v
    return out


def _profile_summary(profile: dict[str, Any], hide: set[str] | None = None) -> dict[str, Any]:
    """The profile's summary for metadata reads; the ``hide`` columns keep counts only."""
    from steward.kernels.profile import TableProfile

    out: dict[str, Any] = {}
    for part in ("features", "predictions"):
        if part in profile:
            try:
                table = TableProfile.from_dict(profile[part])
                out[part] = (table.redact(sorted(hide)) if hide else table).summary()
            except Exception:  # a malformed stored profile must not break `show`
                out[part] = {}
    return out


def _sensitive_features(s: Session, lineage: dict[str, Any]) -> set[str]:
    """Columns that are direct identifiers, special-category data or free text in any of
    the model's training data versions, as their classification says now (a raised class
    hides values at once). The stored reference profile keeps them for drift, which the
    monitor reads internally; metadata reads never show them."""
    from steward.datasets.classes import ColumnClass, sensitive

    hide: set[str] = set()
    for d in lineage.get("datasets", []):
        name, _, version = str(d.get("ref") or "").partition("@")
        if not version.isdigit():
            continue
        raw = s.execute(
            select(DatasetVersion.classification_json)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(Dataset.name == name, DatasetVersion.version == int(version))
        ).scalar_one_or_none()
        if raw:
            hide.update(sensitive([ColumnClass(**c) for c in json.loads(raw)]))
    return hide


# -- the real resources, for `policy explain` -------------------------------------------------
def _resolve_model(rt: Runtime, ref: str) -> Resource | None:
    svc = ModelService(rt)
    try:
        with rt.store.transaction() as s:
            m, v = svc.version_row(s, ref)
            return svc.policy_resource(svc._info(s, m, v))
    except (NotFound, ValidationFailed):
        return None


def _resolve_dataset(rt: Runtime, ref: str) -> Resource | None:
    from steward.datasets import DatasetService

    try:
        return DatasetService(rt).governed_view(ref)[1]
    except (NotFound, ValidationFailed):
        return None


register_resolver("Model", _resolve_model)
register_resolver("Dataset", _resolve_dataset)
