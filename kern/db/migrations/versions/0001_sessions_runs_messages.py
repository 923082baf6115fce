"""Sessions, runs and the append-only messages table.

Revision ID: 0001
Revises:
"""

from alembic import context, op

from kern.db._sql.tables import Tables, fk_target, messages_columns, runs_columns, sessions_columns

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create sessions, runs and messages."""
    tables: Tables = context.config.attributes["tables"]
    p, schema = tables.prefix, tables.schema
    op.create_table(f"{p}sessions", *sessions_columns(p), schema=schema)
    session_fk = fk_target(p, schema, "sessions", "session_id")
    op.create_table(f"{p}runs", *runs_columns(p, session_fk), schema=schema)
    run_fk = fk_target(p, schema, "runs", "run_id")
    op.create_table(f"{p}messages", *messages_columns(p, session_fk, run_fk), schema=schema)


def downgrade() -> None:
    """Drop messages, runs and sessions."""
    tables: Tables = context.config.attributes["tables"]
    for name in ("messages", "runs", "sessions"):
        op.drop_table(f"{tables.prefix}{name}", schema=tables.schema)
