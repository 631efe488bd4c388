"""wall: the reflection wall is opt-in — a post's wall state (consent and moderation), the wall
opened per question by the facilitator, and whether the current question was closed

Revision ID: 0012_wall
Revises: 0008_security
Create Date: 2026-12-05

Existing reflections get wall state "none": their authors were never asked, so nothing already
written reaches the wall without its author's consent.
"""
from alembic import context, op
import sqlalchemy as sa

from trainer.migrating import MigrationRefused


# revision identifiers, used by Alembic.
revision = '0012_wall'
down_revision = '0010_roster_jobs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wall', sa.String(length=8), server_default='none', nullable=False))

    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('question_closed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('wall_open', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    # A participant's consent to the wall and the facilitator's moderation are records: refuse to
    # drop them unless forced. question_closed / wall_open are the session's current state only.
    _refuse_data_loss()
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.drop_column('wall_open')
        batch_op.drop_column('question_closed')

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_column('wall')


def _refuse_data_loss() -> None:
    if context.get_x_argument(as_dictionary=True).get("force") == "1":
        return
    bind = op.get_bind()
    posts = bind.execute(sa.text("SELECT count(*) FROM answers WHERE wall <> 'none'")).scalar_one()
    if posts:
        raise MigrationRefused(
            f"リビジョン 0012_wall から戻すと、次のデータが失われます: テーブル answers の列 wall（{posts} 行）＝振り返りの壁への同意と表示の記録"
            "。バックアップ（trainer backup）を取ったうえで、本当に戻す場合は --force を付けてください。")
