"""token scope: endpoint-scoped API tokens

Revision ID: 0006_token_scope
Revises: 0005_deployments
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_token_scope"
down_revision = "0005_deployments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
