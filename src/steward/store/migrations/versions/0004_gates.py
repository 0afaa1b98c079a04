"""gates: validations, approvals, stage history

Revision ID: 0004_gates
Revises: 0003_training
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_gates"
down_revision = "0003_training"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "validations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column(
            "holdout_version_id",
            sa.Integer(),
            sa.ForeignKey("dataset_versions.id"),
            nullable=False,
        ),
        sa.Column("holdout_ref", sa.String(160), nullable=False),
        sa.Column("holdout_fingerprint", sa.String(64), nullable=False),
        sa.Column("suite_name", sa.String(128), nullable=False),
        sa.Column("suite_hash", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("report_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_validations_model_version_id", "validations", ["model_version_id"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column("validation_id", sa.String(32), sa.ForeignKey("validations.id"), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_approvals_model_version_id", "approvals", ["model_version_id"])
    op.create_table(
        "stage_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column("from_stage", sa.String(16), nullable=False),
        sa.Column("to_stage", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stage_changes_model_version_id", "stage_changes", ["model_version_id"])


def downgrade() -> None:
    op.drop_index("ix_stage_changes_model_version_id", "stage_changes")
    op.drop_table("stage_changes")
    op.drop_index("ix_approvals_model_version_id", "approvals")
    op.drop_table("approvals")
    op.drop_index("ix_validations_model_version_id", "validations")
    op.drop_table("validations")
