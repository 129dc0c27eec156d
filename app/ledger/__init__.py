"""The usage ledger: one row per AI call, written off the request path.

schema.py      the `ai_calls` table (SQLAlchemy Core)
database.py    the engine from Settings: SQLite under DATA_DIR, or DATABASE_URL
migrate.py     Alembic, run from the package (so an installed wheel can run it)
writer.py      the bounded queue and the batched background writer
inserts.py     one batch into `ai_calls`: COPY on PostgreSQL, one multi-row INSERT on SQLite
record.py      the pipeline's record hook that turns a call into a queued row
"""
