"""Each DAG version's spec stored beside its payload.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

- dag_version.spec, dag_version.spec_signature: the pickled DagSpec alone,
  signed, so the scheduler reads a version's tasks without unpickling its
  operators (a 100,000-task DAG's payload unpickles to ~420 MB, its spec to a
  tenth of that). Versions stored before keep NULL: no user code runs in a
  migration. The scheduler reads such a version's spec from its payload, as
  before, and the next parse of its file stores the spec.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Give DAG versions a signed spec column pair."""
    with op.batch_alter_table("dag_version") as batch:
        batch.add_column(sa.Column("spec", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("spec_signature", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop the stored specs (the payloads still hold them)."""
    with op.batch_alter_table("dag_version") as batch:
        batch.drop_column("spec_signature")
        batch.drop_column("spec")
