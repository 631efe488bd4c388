"""mastery months: exact summaries (trainees marked dirty by their answers) and per-month figures

Revision ID: 0009_mastery_months
Revises: 0008_security
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa

import trainer.models.types


# revision identifiers, used by Alembic.
revision = '0009_mastery_months'
down_revision = '0008_security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mastery_dirty',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('marked_at', trainer.models.types.UTCDateTime(), nullable=False),
    sa.Column('marks', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mastery_dirty_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mastery_dirty'))
    )
    op.create_table('mastery_months',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('point_id', sa.String(length=8), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('score_sum', sa.Float(), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mastery_months_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'month', 'point_id', name=op.f('pk_mastery_months'))
    )
    with op.batch_alter_table('mastery_months', schema=None) as batch_op:
        batch_op.create_index('ix_mastery_months_month', ['month', 'point_id'], unique=False)
        batch_op.create_index('ix_mastery_months_totals', ['month', 'user_id'], unique=False,
                              postgresql_where=sa.text("point_id = '*'"), sqlite_where=sa.text("point_id = '*'"))
    # Every trainee with a scored answer is marked: the next refresh (the background thread within
    # MASTERY_REFRESH_SECONDS, or `trainer mastery refresh --all`) builds their months and summary.
    op.execute("INSERT INTO mastery_dirty (user_id, marked_at, marks) "
               "SELECT user_id, max(created_at), 1 FROM answers WHERE score IS NOT NULL GROUP BY user_id")
    op.drop_table('mastery_watermark')


def downgrade():
    # Everything dropped here is derived from the answers: nothing is lost. The old watermark starts
    # at 0, so the old code refolds every trainee on its first read.
    op.create_table('mastery_watermark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mastery_watermark'))
    )
    op.execute("INSERT INTO mastery_watermark (id, answer_id) VALUES (1, 0)")
    with op.batch_alter_table('mastery_months', schema=None) as batch_op:
        batch_op.drop_index('ix_mastery_months_totals')
        batch_op.drop_index('ix_mastery_months_month')
    op.drop_table('mastery_months')
    op.drop_table('mastery_dirty')
