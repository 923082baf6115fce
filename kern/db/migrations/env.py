"""Alembic environment: migrations run on the connection and table names Kern hands over."""

from alembic import context

from kern.db._sql.tables import Tables

connection = context.config.attributes["connection"]
tables: Tables = context.config.attributes["tables"]

context.configure(
    connection=connection,
    target_metadata=tables.metadata,
    version_table=tables.version_table,
    version_table_schema=tables.schema,
)
with context.begin_transaction():
    context.run_migrations()
