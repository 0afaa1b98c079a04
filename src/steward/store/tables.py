"""SQLAlchemy 2 tables. Every change here comes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Alert",
    "AlertOccurrence",
    "ApiToken",
    "Approval",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Dataset",
    "DatasetCopy",
    "DatasetParent",
    "DatasetRequest",
    "DatasetVersion",
    "Endpoint",
    "EndpointCount",
    "EndpointRevision",
    "EndpointRollback",
    "Job",
    "JobLog",
    "Model",
    "ModelDataset",
    "ModelDeclaration",
    "ModelVersion",
    "MonitorCursor",
    "MonitorWindow",
    "Prediction",
    "PredictionFeedback",
    "ReadMark",
    "StageChange",
    "StoredObject",
    "Validation",
]


class UTCDateTime(TypeDecorator[datetime]):
    """``UTCDateTime()`` that always reads back an aware UTC datetime (SQLite
    stores no zone and returns naive values; PostgreSQL returns aware ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class AuditEntry(Base):
    """One link of the hash chain. ``hash`` covers every other column."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(512))
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entries_actor", "actor"),
        Index("ix_audit_entries_action", "action"),
        Index("ix_audit_entries_resource", "resource"),
        Index("ix_audit_entries_ts", "ts"),
    )


class AuditHead(Base):
    """A single row holding the chain's head; locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """An Ed25519 signature over (seq, hash) of the head at one moment, chained to the
    checkpoint before it: ``position`` (how many came before it) and ``prev_checkpoint``
    (the sha256 of its signed message). Both are NULL on checkpoints signed before the
    chain existed."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    prev_checkpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (UniqueConstraint("position", name="uq_audit_checkpoints_position"),)


class ApiToken(Base):
    """An API token; only the sha256 of its secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # None: the user's full rights; "endpoint:<name>": only that endpoint's predictions
    scope: Mapped[str | None] = mapped_column(String(160), nullable=True)


class StoredObject(Base):
    """An object put in a site's artifact root through the one door."""

    __tablename__ = "objects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    label: Mapped[str] = mapped_column(String(256), default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("site", "digest", name="uq_objects_site_digest"),)


class Dataset(Base):
    """A named dataset: its versions share a home site, a team and a schema lineage."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatasetVersion(Base):
    """``name@version``: content stored as encrypted Parquet at its home site."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(Integer, ForeignKey("datasets.id"))
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    object_digest: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    # identifiable | pseudonymised | anonymised (the masking verdict; `anonymised` mirrors it)
    verdict: Mapped[str] = mapped_column(String(16), default="identifiable")
    source_format: Mapped[str] = mapped_column(String(16))
    transform: Mapped[str] = mapped_column(String(32))
    transform_spec: Mapped[str] = mapped_column(Text, default="{}")
    schema_json: Mapped[str] = mapped_column(Text)
    profile_json: Mapped[str] = mapped_column(Text)
    classification_json: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_dataset_versions"),)


class DatasetParent(Base):
    """Lineage: ``child`` was derived from ``parent``."""

    __tablename__ = "dataset_parents"

    child_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dataset_versions.id"), primary_key=True
    )
    parent_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dataset_versions.id"), primary_key=True
    )


class DatasetCopy(Base):
    """A copy of a version's bytes at another site (bytes moved are recorded for cost)."""

    __tablename__ = "dataset_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(Integer, ForeignKey("dataset_versions.id"))
    from_site: Mapped[str] = mapped_column(String(64))
    to_site: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatasetRequest(Base):
    """A four-eyes request on a dataset version: a declassification (a classification
    override that lowers a column's class) or a copy of non-anonymised data to another
    jurisdiction. Requested by one data steward, decided by another."""

    __tablename__ = "dataset_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, ForeignKey("dataset_versions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # declassify | copy
    spec: Mapped[str] = mapped_column(Text, default="{}")  # overrides, or the target site
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))  # pending|approved|rejected|used
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="{}")


class Job(Base):
    """A training job: a row in the durable queue, its state, progress and metering.

    ``state``: queued → running → succeeded | failed | cancelled. A running job whose
    ``heartbeat_at`` is older than the timeout lost its worker: it is queued again while
    ``attempts < max_attempts``, else failed with the reason.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    spec_json: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(String(128))
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    site: Mapped[str] = mapped_column(String(64))
    placement: Mapped[str] = mapped_column(Text, default="")
    executor: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress_json: Mapped[str] = mapped_column(Text, default="{}")
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_ref: Mapped[str | None] = mapped_column(String(160), nullable=True)
    estimate_cpu_hours: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    peak_memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_jobs_team_created", "team", "created_at"),)


class JobLog(Base):
    """One line of a job's log (phases, progress, errors), per attempt."""

    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    line: Mapped[str] = mapped_column(Text)


class Model(Base):
    """A named model: its versions are ``name@1``, ``name@2``, ..."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelVersion(Base):
    """``name@version``: an ONNX artifact (encrypted at its site) with its evidence."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(Integer, ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    site: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    private_only: Mapped[bool] = mapped_column(Boolean, default=False)
    object_digest: Mapped[str] = mapped_column(String(64))
    onnx_bytes: Mapped[int] = mapped_column(BigInteger)
    objective: Mapped[str] = mapped_column(String(16))
    family: Mapped[str] = mapped_column(String(32))
    estimator: Mapped[str] = mapped_column(String(256))
    spec_json: Mapped[str] = mapped_column(Text)
    inputs_json: Mapped[str] = mapped_column(Text)
    outputs_json: Mapped[str] = mapped_column(Text)
    classes_json: Mapped[str] = mapped_column(Text)
    metrics_json: Mapped[str] = mapped_column(Text)
    profile_json: Mapped[str] = mapped_column(Text)
    lineage_json: Mapped[str] = mapped_column(Text)
    card_json: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions"),)


class ModelDataset(Base):
    """Lineage: the model version was trained on the dataset version."""

    __tablename__ = "model_datasets"

    model_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id"), primary_key=True
    )
    dataset_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dataset_versions.id"), primary_key=True
    )


class ModelDeclaration(Base):
    """What an importer declares about an external model (its data's jurisdiction,
    anonymised or not): pending until a data steward other than the importer approves it;
    the version keeps the strictest attributes until then."""

    __tablename__ = "model_declarations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id"), index=True
    )
    jurisdiction: Mapped[str] = mapped_column(String(8))
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class ReadMark(Base):
    """When an allowed read of personal data by (actor, action, resource) was last put
    on the record: with sampled read records, each such triple is recorded at least once
    per period. A record of the ledger's, not state."""

    __tablename__ = "audit_read_marks"
    __table_args__ = (UniqueConstraint("actor", "action", "resource", name="uq_audit_read_marks"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(512))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Validation(Base):
    """One evaluation of a model version on a locked holdout, against a gate suite."""

    __tablename__ = "validations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id"), index=True
    )
    holdout_version_id: Mapped[int] = mapped_column(Integer, ForeignKey("dataset_versions.id"))
    holdout_ref: Mapped[str] = mapped_column(String(160))
    holdout_fingerprint: Mapped[str] = mapped_column(String(64))
    suite_name: Mapped[str] = mapped_column(String(128))
    suite_hash: Mapped[str] = mapped_column(String(64))
    passed: Mapped[bool] = mapped_column(Boolean)
    report_json: Mapped[str] = mapped_column(Text)
    report_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Approval(Base):
    """An approver's decision on a validated model version (four eyes): one per (version,
    validation, approver), held by the database, not only by a check before the write."""

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("model_version_id", "validation_id", "user", name="uq_approvals_decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id"), index=True
    )
    validation_id: Mapped[str] = mapped_column(String(32), ForeignKey("validations.id"))
    user: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))  # approve | reject
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StageChange(Base):
    """The stage history of a model version (every transition, who and why)."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id"), index=True
    )
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Endpoint(Base):
    """A named prediction endpoint at one site; its revisions are its history."""

    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    site: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    current_revision: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EndpointRevision(Base):
    """One configuration of an endpoint: the model serving it and, for a canary or a
    shadow, the candidate and its share of traffic. Never changed: a change is a new one."""

    __tablename__ = "endpoint_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(Integer, ForeignKey("endpoints.id"))
    revision: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(16))  # direct | canary | shadow
    primary_version_id: Mapped[int] = mapped_column(Integer, ForeignKey("model_versions.id"))
    candidate_version_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("model_versions.id"), nullable=True
    )
    percent: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("endpoint_id", "revision", name="uq_endpoint_revisions"),)


_LogId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class Prediction(Base):
    """One scored row: the prediction log. ``role`` is ``primary`` for the answer that was
    returned and ``shadow`` for a shadow model's answer to the same row (never returned).
    Inputs are stored with personal-data columns masked (see :mod:`steward.serving.log`).
    One row per (endpoint, request id, row, role): a repeated request id is logged once."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(_LogId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    row: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))  # primary | shadow
    revision: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(160))
    source: Mapped[str] = mapped_column(String(8))  # http | stream
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    latency_ms: Mapped[float] = mapped_column(Float)
    inputs: Mapped[str] = mapped_column(Text)  # JSON object, column -> value (masked)
    outputs: Mapped[str] = mapped_column(Text)  # JSON object, output -> value

    __table_args__ = (
        UniqueConstraint("endpoint", "request_id", "row", "role", name="uq_predictions"),
        Index("ix_predictions_endpoint_at", "endpoint", "at"),
    )


class PredictionFeedback(Base):
    """The ground truth for one logged row, attached later through the feedback API."""

    __tablename__ = "prediction_feedback"

    id: Mapped[int] = mapped_column(_LogId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    row: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)  # JSON value
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (
        UniqueConstraint("endpoint", "request_id", "row", name="uq_prediction_feedback"),
    )


class EndpointCount(Base):
    """Requests answered per endpoint, minute and outcome (``ok``, ``rejected`` for bad
    input, ``error``), added up by every server that answered some (monitoring reads the
    error and rejection rates from here)."""

    __tablename__ = "endpoint_counts"

    id: Mapped[int] = mapped_column(_LogId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    minute: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("endpoint", "minute", "outcome", name="uq_endpoint_counts"),)


class MonitorCursor(Base):
    """How far monitoring has read an endpoint's prediction log (the last row id)."""

    __tablename__ = "monitor_cursors"

    endpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonitorWindow(Base):
    """The live profiles of one endpoint's traffic served by one model in one time window:
    inputs, predictions and latency, merged from every batch of log rows read (mergeable
    profiles, so several readers' partial profiles combine), and the last evaluation."""

    __tablename__ = "monitor_windows"

    id: Mapped[int] = mapped_column(_LogId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(160))
    minutes: Mapped[int] = mapped_column(Integer)  # the window's length
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(BigInteger)
    features: Mapped[str] = mapped_column(Text)  # TableProfile state (JSON)
    predictions: Mapped[str] = mapped_column(Text)  # TableProfile state (JSON)
    latency: Mapped[str] = mapped_column(Text)  # NumericProfile state of latency_ms (JSON)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)  # last evaluation (JSON)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("endpoint", "model", "minutes", "start", name="uq_monitor_windows"),
    )


class Alert(Base):
    """A monitoring signal a rule turned into an alert. One open (or acknowledged) alert
    per key (endpoint, rule, signal): a signal seen again adds to its count."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400))
    endpoint: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(128))
    signal: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    count: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # JSON: what triggered it, last seen
    actions: Mapped[str] = mapped_column(Text)  # JSON list: what was done about it
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # a team's alert (a budget, a cost anomaly) has a team and an empty endpoint
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (Index("ix_alerts_key_state", "key", "state"),)


class AlertOccurrence(Base):
    """One time an alert's signal was seen (number 1 opened it): the evidence as it was
    then, never overwritten, and what was done about it (each automatic action's ledger
    payload, its hash and the entry's seq). Migration 0013."""

    __tablename__ = "alert_occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(Integer, ForeignKey("alerts.id"))
    number: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # JSON
    actions: Mapped[str] = mapped_column(Text)  # JSON list
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("alert_id", "number", name="uq_alert_occurrences"),)


class EndpointRollback(Base):
    """A model a rollback took off an endpoint, and when: automatic rollbacks never bring
    it back within ``monitoring.flap_guard_hours`` (the flap guard). Migration 0013."""

    __tablename__ = "endpoint_rollbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(Integer, ForeignKey("endpoints.id"))
    revision: Mapped[int] = mapped_column(Integer)  # the revision the rollback made
    version_id: Mapped[int] = mapped_column(Integer, ForeignKey("model_versions.id"))
    automatic: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_endpoint_rollbacks_endpoint", "endpoint_id", "created_at"),)


class CostRecord(Base):
    """One metered cost: what was used (``units`` of ``resource``), at which price, for
    which team and site, and the action that caused it. ``amount = units × unit_price``.
    Allocation follows OpenCost: ``units = max(requested, used) × hours``; ``requested``,
    ``used`` and ``hours`` say how. ``dedupe`` makes an accrual (a day's storage) once."""

    __tablename__ = "cost_records"

    id: Mapped[int] = mapped_column(_LogId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC) of `at`
    team: Mapped[str] = mapped_column(String(128))  # "" when no team owns it
    site: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # training|validation|inference|stream|...
    resource: Mapped[str] = mapped_column(String(16))  # cpu|memory|gpu|storage|egress
    units: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))  # cpu-hour|gb-hour|gpu-hour|gb-month|gb
    unit_price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model: Mapped[str | None] = mapped_column(String(160), nullable=True)
    requested: Mapped[float | None] = mapped_column(Float, nullable=True)
    used: Mapped[float | None] = mapped_column(Float, nullable=True)
    hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    dest: Mapped[str | None] = mapped_column(String(128), nullable=True)  # egress: where to
    dedupe: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        UniqueConstraint("dedupe", name="uq_cost_records_dedupe"),
        Index("ix_cost_records_team_day", "team", "day"),
        Index("ix_cost_records_day", "day"),
    )
