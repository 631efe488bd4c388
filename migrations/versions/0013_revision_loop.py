"""revision loop: opinions get a status, an editor's reply, tags, the question they were sent from and
the content release that answered them (意見照会)

Revision ID: 0013_revision_loop
Revises: 0008_security
Create Date: 2026-12-05

"""
from alembic import context, op
import sqlalchemy as sa

from trainer.migrating import MigrationRefused, losses

import trainer.models.types


# revision identifiers, used by Alembic.
revision = '0013_revision_loop'
down_revision = '0012_wall'
branch_labels = None
depends_on = None

ADDED = ('question_id', 'reply', 'replied_at', 'replied_by_id', 'tags', 'resolved_release_id')


def upgrade():
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('question_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='open', nullable=False))
        batch_op.add_column(sa.Column('reply', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('replied_at', trainer.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('replied_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('resolved_release_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_opinions_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_opinions_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_opinions_question_id_questions'), 'questions',
                                    ['question_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_opinions_replied_by_id_users'), 'users', ['replied_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_opinions_resolved_release_id_content_releases'),
                                    'content_releases', ['resolved_release_id'], ['id'])


def downgrade():
    # Replies, statuses, tags and links are the editors' work on the opinions: refuse to drop them.
    _refuse_data_loss()
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_opinions_resolved_release_id_content_releases'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_opinions_replied_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_opinions_question_id_questions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_opinions_status'))
        batch_op.drop_index(batch_op.f('ix_opinions_question_id'))
        for name in ('resolved_release_id', 'tags', 'replied_by_id', 'replied_at', 'reply', 'status', 'question_id'):
            batch_op.drop_column(name)


def _refuse_data_loss() -> None:
    if context.get_x_argument(as_dictionary=True).get("force") == "1":
        return
    bind = op.get_bind()
    found = [f"テーブル opinions の列 {loss}" for loss in losses(bind, (), {"opinions": ADDED})]
    worked = bind.execute(sa.text("SELECT count(*) FROM opinions WHERE status <> 'open'")).scalar_one()
    if worked:
        found.append(f"テーブル opinions の列 opinions.status（対応状況のついた意見 {worked} 行）")
    if found:
        raise MigrationRefused(
            f"リビジョン 0013_revision_loop から戻すと、次のデータが失われます: {'、'.join(found)}"
            "。バックアップ（trainer backup）を取ったうえで、本当に戻す場合は --force を付けてください。")
