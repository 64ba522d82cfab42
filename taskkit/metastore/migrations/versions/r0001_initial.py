"""Initial schema: dag, dag_version, dag_run, task_instance, xcom, pool, import_error.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written out in plain types (String for enums, DateTime for UTC timestamps) so
the revision never changes when the models' Python classes do.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_SCHEDULED_ONLY = sa.text("run_type = 'scheduled'")


def _ts(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "dag",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("schedule", sa.Text(), nullable=True),
        _ts("next_run"),
        sa.Column("max_active_runs", sa.Integer(), nullable=True),
        sa.Column("max_active_tasks", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dag")),
    )
    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fileloc", sa.String(1000), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_error")),
    )
    op.create_index("ix_import_error_fileloc", "import_error", ["fileloc"])
    op.create_table(
        "pool",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pool")),
    )
    op.create_table(
        "xcom",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "key", name=op.f("pk_xcom")),
    )
    op.create_table(
        "dag_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        _ts("created_at", nullable=False),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_version_dag_id_dag")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_version")),
        sa.UniqueConstraint(
            "dag_id", "content_hash", name=op.f("uq_dag_version_dag_id_content_hash")
        ),
    )
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        _ts("logical_date", nullable=False),
        sa.Column("run_type", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("conf", sa.JSON(), nullable=False),
        sa.Column("dag_version_id", sa.Integer(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("started_at"),
        _ts("ended_at"),
        _ts("data_interval_start"),
        _ts("data_interval_end"),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_run_dag_id_dag")),
        sa.ForeignKeyConstraint(
            ["dag_version_id"],
            ["dag_version.id"],
            name=op.f("fk_dag_run_dag_version_id_dag_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
    )
    op.create_index("ix_dag_run_state_dag_id", "dag_run", ["state", "dag_id"])
    op.create_index(
        "uq_dag_run_scheduled_logical_date",
        "dag_run",
        ["dag_id", "logical_date"],
        unique=True,
        sqlite_where=_SCHEDULED_ONLY,
        postgresql_where=_SCHEDULED_ONLY,
    )
    op.create_table(
        "task_instance",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("priority_weight", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(256), nullable=False),
        _ts("queued_at"),
        _ts("started_at"),
        _ts("ended_at"),
        _ts("next_retry_at"),
        sa.Column("hostname", sa.String(1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        _ts("heartbeat_at"),
        sa.Column("wait_reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_run.id"],
            name=op.f("fk_task_instance_dag_run_id_dag_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", name=op.f("pk_task_instance")),
    )
    op.create_index("ix_task_instance_dag_run_id_state", "task_instance", ["dag_run_id", "state"])
    op.create_index("ix_task_instance_state_pool", "task_instance", ["state", "pool"])


def downgrade() -> None:
    """Drop every table, dependents first."""
    for table in ("task_instance", "dag_run", "dag_version", "xcom", "pool", "import_error", "dag"):
        op.drop_table(table)
