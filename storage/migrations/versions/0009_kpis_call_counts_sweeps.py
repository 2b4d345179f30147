"""kpi snapshots, api call counts, dead-letter sweeps

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 20:34:36.124691

Weekly KPI snapshots (aggregates that outlive the retention purge), API calls and errors per integration for
/metrics, and how often the dead-letter sweep revived a work item.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kpisnapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('week', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpisnapshot')),
    sa.UniqueConstraint('tenant_id', 'week', name=op.f('uq_kpisnapshot_tenant_id_week'))
    )
    with op.batch_alter_table('integrationhealth', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calls_total', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('errors_total', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('workitem', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revived', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_batch_sent', ['batch', 'sent_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_batch_sent')

    with op.batch_alter_table('workitem', schema=None) as batch_op:
        batch_op.drop_column('revived')

    with op.batch_alter_table('integrationhealth', schema=None) as batch_op:
        batch_op.drop_column('errors_total')
        batch_op.drop_column('calls_total')

    op.drop_table('kpisnapshot')
