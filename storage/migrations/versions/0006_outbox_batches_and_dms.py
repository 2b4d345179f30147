"""outbox: coalescing kinds, and direct messages addressed by email

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 10:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        # A direct message is addressed "@<email>" until the relay finds the person's Slack user: 64 is too short.
        batch_op.alter_column("channel", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=255), existing_nullable=False)
        batch_op.alter_column("paced_channel", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=255), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.alter_column("paced_channel", existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=64), existing_nullable=True)
        batch_op.alter_column("channel", existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=64), existing_nullable=False)
        batch_op.drop_column("batch")
