"""Variables and connections.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

- variable: key, Fernet-encrypted value, description.
- connection: conn_id and its fields; password and extra Fernet-encrypted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create variable and connection."""
    op.create_table(
        "variable",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("val", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_variable")),
    )
    op.create_table(
        "connection",
        sa.Column("conn_id", sa.String(250), nullable=False),
        sa.Column("conn_type", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(500), nullable=True),
        sa.Column("schema", sa.String(500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("conn_id", name=op.f("pk_connection")),
    )


def downgrade() -> None:
    """Back to revision 0007."""
    op.drop_table("connection")
    op.drop_table("variable")
