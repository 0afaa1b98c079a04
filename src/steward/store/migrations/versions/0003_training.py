"""training: the job queue, job logs, models, model versions and their datasets

Revision ID: 0003_training
Revises: 0002_datasets
Create Date: 2026-11-29
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_training"
down_revision = "0002_datasets"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("placement", sa.Text(), nullable=False),
        sa.Column("executor", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        _when("created_at"),
        _when("started_at", True),
        _when("finished_at", True),
        _when("heartbeat_at", True),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("progress_json", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("result_ref", sa.String(160), nullable=True),
        sa.Column("estimate_cpu_hours", sa.Float(), nullable=False),
        sa.Column("cpu_seconds", sa.Float(), nullable=False),
        sa.Column("gpu_seconds", sa.Float(), nullable=False),
        sa.Column("wall_seconds", sa.Float(), nullable=False),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_jobs_team_created", "jobs", ["team", "created_at"])
    op.create_table(
        "job_logs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _when("at"),
        sa.Column("line", sa.Text(), nullable=False),
    )
    op.create_index("ix_job_logs_job_id", "job_logs", ["job_id"])
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("anonymised", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("object_digest", sa.String(64), nullable=False),
        sa.Column("onnx_bytes", sa.BigInteger(), nullable=False),
        sa.Column("objective", sa.String(16), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("estimator", sa.String(256), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("inputs_json", sa.Text(), nullable=False),
        sa.Column("outputs_json", sa.Text(), nullable=False),
        sa.Column("classes_json", sa.Text(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.Column("profile_json", sa.Text(), nullable=False),
        sa.Column("lineage_json", sa.Text(), nullable=False),
        sa.Column("card_json", sa.Text(), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        _when("created_at"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions"),
    )
    op.create_table(
        "model_datasets",
        sa.Column(
            "model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), primary_key=True
        ),
        sa.Column(
            "dataset_version_id",
            sa.Integer(),
            sa.ForeignKey("dataset_versions.id"),
            primary_key=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("model_datasets")
    op.drop_table("model_versions")
    op.drop_table("models")
    op.drop_index("ix_job_logs_job_id", "job_logs")
    op.drop_table("job_logs")
    op.drop_index("ix_jobs_team_created", "jobs")
    op.drop_index("ix_jobs_state", "jobs")
    op.drop_table("jobs")
