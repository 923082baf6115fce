"""The workflow journal and user memories.

Revision ID: 0002
Revises: 0001
"""

from alembic import context, op

from kern.db._sql.tables import Tables, fk_target, memories_columns, workflow_steps_columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create workflow_steps and memories."""
    tables: Tables = context.config.attributes["tables"]
    p, schema = tables.prefix, tables.schema
    run_fk = fk_target(p, schema, "runs", "run_id")
    op.create_table(f"{p}workflow_steps", *workflow_steps_columns(p, run_fk), schema=schema)
    op.create_table(f"{p}memories", *memories_columns(p), schema=schema)


def downgrade() -> None:
    """Drop memories and workflow_steps."""
    tables: Tables = context.config.attributes["tables"]
    for name in ("memories", "workflow_steps"):
        op.drop_table(f"{tables.prefix}{name}", schema=tables.schema)
