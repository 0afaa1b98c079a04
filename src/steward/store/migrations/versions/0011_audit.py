"""audit: checkpoints chained to the previous checkpoint; witness

Each checkpoint records its position in the chain of checkpoints (how many came before it)
and the sha256 of the previous checkpoint's signed message. Rows signed before this
revision keep NULL in both and verify as they did.

Revision ID: 0011_audit
Revises: 0010_gates
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_audit"
down_revision = "0010_gates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_checkpoint", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_audit_checkpoints_position", ["position"])


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_constraint("uq_audit_checkpoints_position", type_="unique")
        batch.drop_column("prev_checkpoint")
        batch.drop_column("position")
