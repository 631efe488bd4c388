"""mastery orgs: the reviewers' period map summed in advance per organization, point and span of
months (mastery_orgs), with the trainees and months it holds (mastery_members, mastery_spans)

Revision ID: 0015_mastery_orgs
Revises: 0014_review_counts
Create Date: 2026-12-06

"""
from alembic import op
import sqlalchemy as sa

import trainer.models.types


# revision identifiers, used by Alembic.
revision = '0015_mastery_orgs'
down_revision = '0014_review_counts'
branch_labels = None
depends_on = None


def upgrade():
    # Derived from mastery_months; created empty. An empty mastery_members differs from the counted
    # trainees, so the reviewers' maps are computed as before until the next refresh (the background
    # thread within MASTERY_REFRESH_SECONDS, or `trainer mastery refresh`) has built them from every
    # trainee's mastery_months rows (services/mastery_spans.reconcile). No existing row changes.
    op.create_table('mastery_spans',
    sa.Column('month', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_mastery_spans'))
    )
    op.create_table('mastery_orgs',
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=8), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('secure', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('since', 'until', 'org_id', 'point_id', name=op.f('pk_mastery_orgs'))
    )
    op.create_table('mastery_members',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('registered_at', trainer.models.types.UTCDateTime(), nullable=False),
    sa.Column('early', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mastery_members'))
    )
    with op.batch_alter_table('mastery_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mastery_members_org_id'), ['org_id'], unique=False)
    with op.batch_alter_table('mastery_months', schema=None) as batch_op:
        batch_op.create_index('ix_mastery_months_repeats', ['month', 'user_id'], unique=False,
                              postgresql_where=sa.text('repeats > 0'), sqlite_where=sa.text('repeats > 0'))


def downgrade():
    # Everything dropped here is derived from mastery_months (itself derived from the answers).
    with op.batch_alter_table('mastery_months', schema=None) as batch_op:
        batch_op.drop_index('ix_mastery_months_repeats')
    with op.batch_alter_table('mastery_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mastery_members_org_id'))
    op.drop_table('mastery_members')
    op.drop_table('mastery_orgs')
    op.drop_table('mastery_spans')
