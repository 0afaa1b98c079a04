"""gates: one decision per (model version, validation, approver); applicable suites

The race this closes could already have left duplicate decisions behind: the earliest
decision of each (version, validation, approver) is kept, later ones are removed, before
the unique constraint is created. Applicability of a validation lives in its report JSON
(no column change); the stage ``failed`` fits the existing ``model_versions.stage``.

Revision ID: 0010_gates
Revises: 0009_cost
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_gates"
down_revision = "0009_cost"
branch_labels = None
depends_on = None

_approvals = sa.table(
    "approvals",
    sa.column("id", sa.Integer),
    sa.column("model_version_id", sa.Integer),
    sa.column("validation_id", sa.String),
    sa.column("user", sa.String),
)


def upgrade() -> None:
    first = sa.select(sa.func.min(_approvals.c.id)).group_by(
        _approvals.c.model_version_id, _approvals.c.validation_id, _approvals.c.user
    )
    op.execute(sa.delete(_approvals).where(_approvals.c.id.not_in(first)))
    with op.batch_alter_table("approvals") as batch:
        batch.create_unique_constraint(
            "uq_approvals_decision", ["model_version_id", "validation_id", "user"]
        )


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_constraint("uq_approvals_decision", type_="unique")
