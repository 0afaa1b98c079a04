"""datasets: the masking verdict; declassification and cross-jurisdiction copy requests (four eyes)

Revision ID: 0012_datasets
Revises: 0011_audit
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_datasets"
down_revision = "0011_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(
            sa.Column("verdict", sa.String(16), nullable=False, server_default="identifiable")
        )
    # Versions marked anonymised before the verdict existed cannot be re-judged without
    # reading their data (keyed hashes and kept diagnoses counted as anonymised then):
    # they become pseudonymised, so residency binds them until they are masked again.
    versions = sa.table(
        "dataset_versions",
        sa.column("anonymised", sa.Boolean()),
        sa.column("verdict", sa.String(16)),
    )
    op.execute(
        versions.update()
        .where(versions.c.anonymised == sa.true())
        .values(verdict="pseudonymised", anonymised=False)
    )
    op.create_table(
        "dataset_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
    )
    op.create_index("ix_dataset_requests_version_id", "dataset_requests", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_requests_version_id", "dataset_requests")
    op.drop_table("dataset_requests")
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("verdict")
