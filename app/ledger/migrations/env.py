"""Alembic's environment: migrations run only on the connection `app.ledger.migrate` hands
over (`ai-gateway migrate`, or the gateway's start), never from an alembic.ini."""

from alembic import context

from app.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the ledger's migrations with `ai-gateway migrate`")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
