"""roster jobs: progress of roster imports that run in the background

Revision ID: 0010_roster_jobs
Revises: 0008_security
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa

from trainer.migrating import refuse_data_loss

import trainer.models.types


# revision identifiers, used by Alembic.
revision = '0010_roster_jobs'
down_revision = '0009_mastery_months'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('roster_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done_rows', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', trainer.models.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', trainer.models.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', trainer.models.types.UTCDateTime(), nullable=True),
    sa.Column('passwords_closed_at', trainer.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_roster_jobs_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['import_id'], ['roster_imports.id'], name=op.f('fk_roster_jobs_import_id_roster_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_jobs')),
    sa.UniqueConstraint('import_id', name=op.f('uq_roster_jobs_import_id'))
    )
    with op.batch_alter_table('roster_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_jobs_actor_id'), ['actor_id'], unique=False)


def downgrade():
    # the progress of imports (who imported how many rows, when, and whether it finished) is a record
    # the audit log only partly keeps: refuse to drop it unless forced
    refuse_data_loss(("roster_jobs",))
    with op.batch_alter_table('roster_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_jobs_actor_id'))
    op.drop_table('roster_jobs')
