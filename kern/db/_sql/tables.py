"""The schema at head: the tables every store face reads and writes.

Migrations under ``kern/db/migrations`` build exactly this (a test compares them) from the same column
factories below. Rule: changing a factory needs a new migration, and the migrations that used the old
definition must keep a frozen copy of it. Table names carry a
configurable prefix (default ``kern_``) and, on PostgreSQL, an optional schema. JSON columns are JSONB on
PostgreSQL and JSON text on SQLite; timestamps are unix seconds as doubles so ordering keeps sub-second
precision while the API exposes whole seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

DEFAULT_PREFIX = "kern_"


def json_type() -> TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL."""
    return JSON().with_variant(JSONB(), "postgresql")


def id_type() -> TypeEngine[int]:
    """An auto-incrementing 64-bit key (plain INTEGER on SQLite, where only that is the rowid)."""
    return BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True, slots=True)
class Tables:
    """The tables of one store, named with its prefix and schema."""

    prefix: str
    schema: str | None
    metadata: MetaData
    sessions: Table
    runs: Table
    messages: Table
    workflow_steps: Table
    memories: Table

    @property
    def version_table(self) -> str:
        """Name of the table in which Alembic records the schema revision."""
        return f"{self.prefix}schema_version"


def fk_target(prefix: str, schema: str | None, table: str, column: str) -> str:
    """A foreign-key target spelled with a store's prefix and schema."""
    name = f"{prefix}{table}"
    return f"{schema}.{name}.{column}" if schema else f"{name}.{column}"


def sessions_columns(prefix: str) -> list[Column[object] | Index]:
    """Columns and indexes of ``{prefix}sessions``."""
    return [
        Column("session_id", String(255), primary_key=True),
        Column("session_type", String(16), nullable=False),
        Column("user_id", String(255)),
        Column("component_id", String(255)),
        Column("session_name", String(255)),
        Column("session_state", json_type(), nullable=False),
        Column("summary", json_type()),
        Column("session_metadata", json_type(), nullable=False),
        Column("version", Integer, nullable=False),
        Column("lease_owner", String(64)),
        Column("lease_token", BigInteger, nullable=False),
        Column("lease_expires_at", Double),
        Column("created_at", Double, nullable=False),
        Column("updated_at", Double, nullable=False),
        Index(f"ix_{prefix}sessions_user_updated", "user_id", "updated_at"),
        Index(f"ix_{prefix}sessions_user_created", "user_id", "created_at"),
    ]


def runs_columns(prefix: str, fk: str) -> list[Column[object] | Index | UniqueConstraint]:
    """Columns and indexes of ``{prefix}runs``; ``fk`` is the sessions.session_id target."""
    return [
        Column("run_id", String(64), primary_key=True),
        Column("session_id", String(255), ForeignKey(fk, ondelete="CASCADE"), nullable=False),
        Column("user_id", String(255)),
        Column("component_id", String(255)),
        Column("parent_run_id", String(64)),
        Column("status", String(16), nullable=False),
        Column("input", json_type()),
        Column("output", json_type()),
        Column("metrics", json_type(), nullable=False),
        Column("error", Text),
        Column("idempotency_key", String(255)),
        Column("fence_token", BigInteger, nullable=False),
        Column("created_at", Double, nullable=False),
        Column("updated_at", Double, nullable=False),
        Index(f"ix_{prefix}runs_session_created", "session_id", "created_at"),
        Index(f"ix_{prefix}runs_parent", "parent_run_id"),
        UniqueConstraint("session_id", "idempotency_key", name=f"uq_{prefix}runs_idempotency"),
    ]


def messages_columns(prefix: str, session_fk: str, run_fk: str) -> list[Column[object] | Index]:
    """Columns and indexes of the append-only ``{prefix}messages``."""
    return [
        Column("id", id_type(), primary_key=True, autoincrement=True),
        Column("session_id", String(255), ForeignKey(session_fk, ondelete="CASCADE"), nullable=False),
        Column("run_id", String(64), ForeignKey(run_fk, ondelete="CASCADE"), nullable=False),
        Column("user_id", String(255)),
        Column("seq", Integer, nullable=False),
        Column("role", String(16), nullable=False),
        Column("message", json_type(), nullable=False),
        Column("created_at", Double, nullable=False),
        Index(f"ix_{prefix}messages_session_created", "session_id", "created_at"),
        Index(f"ix_{prefix}messages_run_seq", "run_id", "seq"),
    ]


def workflow_steps_columns(prefix: str, run_fk: str) -> list[Column[object] | Index | PrimaryKeyConstraint]:
    """Columns of ``{prefix}workflow_steps``, the workflow journal keyed by (run_id, step_path)."""
    return [
        Column("run_id", String(64), ForeignKey(run_fk, ondelete="CASCADE"), nullable=False),
        Column("step_path", String(255), nullable=False),
        Column("session_id", String(255), nullable=False),
        Column("step_name", String(255)),
        Column("status", String(16), nullable=False),
        Column("output", json_type()),
        Column("state_patch", json_type()),
        Column("decision", json_type()),
        Column("error", Text),
        Column("attempt", Integer, nullable=False),
        Column("started_at", Double, nullable=False),
        Column("finished_at", Double),
        PrimaryKeyConstraint("run_id", "step_path", name=f"pk_{prefix}workflow_steps"),
    ]


def memories_columns(prefix: str) -> list[Column[object] | Index]:
    """Columns and indexes of ``{prefix}memories``, durable facts about a user across sessions."""
    return [
        Column("memory_id", String(64), primary_key=True),
        Column("user_id", String(255)),
        Column("memory", Text, nullable=False),
        Column("topics", json_type(), nullable=False),
        Column("input", Text),
        Column("component_id", String(255)),
        Column("created_at", Double, nullable=False),
        Column("updated_at", Double, nullable=False),
        Index(f"ix_{prefix}memories_user_updated", "user_id", "updated_at"),
    ]


def build_tables(prefix: str = DEFAULT_PREFIX, schema: str | None = None) -> Tables:
    """The head schema for one prefix and (PostgreSQL) schema."""
    metadata = MetaData(schema=schema)
    names = {
        name: f"{prefix}{name}" for name in ("sessions", "runs", "messages", "workflow_steps", "memories")
    }
    session_fk = fk_target(prefix, schema, "sessions", "session_id")
    run_fk = fk_target(prefix, schema, "runs", "run_id")
    return Tables(
        prefix=prefix,
        schema=schema,
        metadata=metadata,
        sessions=Table(names["sessions"], metadata, *sessions_columns(prefix)),
        runs=Table(names["runs"], metadata, *runs_columns(prefix, session_fk)),
        messages=Table(names["messages"], metadata, *messages_columns(prefix, session_fk, run_fk)),
        workflow_steps=Table(names["workflow_steps"], metadata, *workflow_steps_columns(prefix, run_fk)),
        memories=Table(names["memories"], metadata, *memories_columns(prefix)),
    )
