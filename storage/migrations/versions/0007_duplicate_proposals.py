"""duplicate proposals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 18:37:50.008832

Proposals of possible duplicate pairs, decided in Slack (merge into one record, or not a duplicate), and
the candidates' name keys an import-time look-up for likely duplicates reads.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('duplicateproposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pair_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('record_a', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('record_b', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('confidence', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('posted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('survivor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_duplicateproposal_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicateproposal')),
    sa.UniqueConstraint('tenant_id', 'pair_key', name=op.f('uq_duplicateproposal_tenant_id_pair_key'))
    )
    with op.batch_alter_table('duplicateproposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicateproposal_status'), ['status'], unique=False)

    op.create_table('candidateblock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_candidateblock_candidate_id_candidate')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_candidateblock_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidateblock'))
    )
    with op.batch_alter_table('candidateblock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_candidateblock_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index('ix_candidateblock_lookup', ['tenant_id', 'key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('candidateblock', schema=None) as batch_op:
        batch_op.drop_index('ix_candidateblock_lookup')
        batch_op.drop_index(batch_op.f('ix_candidateblock_candidate_id'))

    op.drop_table('candidateblock')
    with op.batch_alter_table('duplicateproposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicateproposal_status'))

    op.drop_table('duplicateproposal')
