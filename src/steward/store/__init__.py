"""The metadata store: SQLAlchemy 2 tables, Alembic migrations, engines and transactions.

SQLite (WAL) is the embedded default; PostgreSQL is used when ``STEWARD_DATABASE_URL``
is set. Writes are only accepted inside a governed action (see :mod:`steward.door`):
the write guard raises :class:`~steward.errors.BypassError` otherwise.
"""

from steward.store.engine import Store
from steward.store.guard import governed_writes, writes_open
from steward.store.tables import (
    Alert,
    ApiToken,
    Approval,
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    Base,
    CostRecord,
    Dataset,
    DatasetCopy,
    DatasetParent,
    DatasetVersion,
    Endpoint,
    EndpointCount,
    EndpointRevision,
    Job,
    JobLog,
    Model,
    ModelDataset,
    ModelVersion,
    MonitorCursor,
    MonitorWindow,
    Prediction,
    PredictionFeedback,
    StageChange,
    StoredObject,
    Validation,
)

__all__ = [
    "Alert",
    "ApiToken",
    "Approval",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Base",
    "CostRecord",
    "Dataset",
    "DatasetCopy",
    "DatasetParent",
    "DatasetVersion",
    "Endpoint",
    "EndpointCount",
    "EndpointRevision",
    "Job",
    "JobLog",
    "Model",
    "ModelDataset",
    "ModelVersion",
    "MonitorCursor",
    "MonitorWindow",
    "Prediction",
    "PredictionFeedback",
    "StageChange",
    "Store",
    "StoredObject",
    "Validation",
    "governed_writes",
    "writes_open",
]
