"""Alembic environment: runs on the connection Steward hands over (see Store.upgrade)."""

from alembic import context

from steward.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Steward always passes a connection
    raise RuntimeError("run migrations through 'steward db upgrade'")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
