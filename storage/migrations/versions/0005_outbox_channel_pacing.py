"""outbox channel pacing and crash recovery

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:12:31.402118
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paced_channel", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("maybe_posted", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index("ix_outbox_lane", ["paced_channel", "state", "id"], unique=False)
        batch_op.create_index("ix_outbox_lane_sent", ["paced_channel", "sent_at"], unique=False)

    # Messages queued before this revision: channel posts are paced in their channel; answers to a
    # response_url (the key is in the payload) are not.
    outbox = sa.table("outboxmessage", sa.column("channel", sa.String), sa.column("paced_channel", sa.String),
                      sa.column("payload", sa.JSON))
    op.execute(outbox.update().where(outbox.c.payload["response_url"].as_string().is_(None))
               .values(paced_channel=outbox.c.channel))


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_lane_sent")
        batch_op.drop_index("ix_outbox_lane")
        batch_op.drop_column("maybe_posted")
        batch_op.drop_column("paced_channel")
