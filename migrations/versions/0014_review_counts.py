"""review counts: the reviewer home's running totals per organization and Tokyo day, the trainees
whose figures changed since the last refresh (marked by triggers on attempts, users and user_roles),
each trainee's contribution, and the state of the totals

Revision ID: 0014_review_counts
Revises: 0013_revision_loop
Create Date: 2026-12-06

The totals start empty and unbuilt (review_state.fingerprint NULL): every page counts the direct way
until the background refresh (or `trainer review refresh`) has built them from the attempts.
Derived data only: the downgrade drops it.

SQLite: a later migration that rebuilds attempts, users or user_roles in batch mode drops their
triggers; it must create them again (TRIGGERS_SQLITE below).
"""
from alembic import op
import sqlalchemy as sa

import trainer.models.types


# revision identifiers, used by Alembic.
revision = '0014_review_counts'
down_revision = '0013_revision_loop'
branch_labels = None
depends_on = None

_MARK_SQLITE = ("INSERT INTO review_dirty (user_id, marks) VALUES ({uid}, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET marks = review_dirty.marks + 1;")
_ATTEMPT_COLUMNS = "user_id, module_id, started_at, completed_at, score, last_activity_at"
_USER_COLUMNS = "organization_id, active, registration_confirmed, created_at"
TRIGGERS_SQLITE = {
    "review_mark_attempts_insert": f"AFTER INSERT ON attempts BEGIN {_MARK_SQLITE.format(uid='NEW.user_id')} END",
    "review_mark_attempts_delete": f"AFTER DELETE ON attempts BEGIN {_MARK_SQLITE.format(uid='OLD.user_id')} END",
    "review_mark_attempts_update": (
        f"AFTER UPDATE OF {_ATTEMPT_COLUMNS} ON attempts BEGIN {_MARK_SQLITE.format(uid='OLD.user_id')} "
        f"{_MARK_SQLITE.format(uid='NEW.user_id')} END"),
    "review_mark_users_insert": f"AFTER INSERT ON users BEGIN {_MARK_SQLITE.format(uid='NEW.id')} END",
    "review_mark_users_delete": f"AFTER DELETE ON users BEGIN {_MARK_SQLITE.format(uid='OLD.id')} END",
    "review_mark_users_update": (
        f"AFTER UPDATE OF id, {_USER_COLUMNS} ON users BEGIN {_MARK_SQLITE.format(uid='OLD.id')} "
        f"{_MARK_SQLITE.format(uid='NEW.id')} END"),
    "review_mark_roles_insert": f"AFTER INSERT ON user_roles BEGIN {_MARK_SQLITE.format(uid='NEW.user_id')} END",
    "review_mark_roles_delete": f"AFTER DELETE ON user_roles BEGIN {_MARK_SQLITE.format(uid='OLD.user_id')} END",
    "review_mark_roles_update": (
        f"AFTER UPDATE ON user_roles BEGIN {_MARK_SQLITE.format(uid='OLD.user_id')} "
        f"{_MARK_SQLITE.format(uid='NEW.user_id')} END"),
}

_FUNCTION_PG = """
CREATE OR REPLACE FUNCTION review_mark() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_id integer;
  new_id integer;
BEGIN
  IF TG_TABLE_NAME = 'users' THEN
    IF TG_OP <> 'INSERT' THEN old_id := OLD.id; END IF;
    IF TG_OP <> 'DELETE' THEN new_id := NEW.id; END IF;
  ELSE
    IF TG_OP <> 'INSERT' THEN old_id := OLD.user_id; END IF;
    IF TG_OP <> 'DELETE' THEN new_id := NEW.user_id; END IF;
  END IF;
  IF old_id IS NOT NULL THEN
    INSERT INTO review_dirty (user_id, marks) VALUES (old_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET marks = review_dirty.marks + 1;
  END IF;
  IF new_id IS NOT NULL AND new_id IS DISTINCT FROM old_id THEN
    INSERT INTO review_dirty (user_id, marks) VALUES (new_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET marks = review_dirty.marks + 1;
  END IF;
  RETURN NULL;
END $$
"""
TRIGGERS_PG = {
    "review_mark_attempts": f"AFTER INSERT OR DELETE OR UPDATE OF {_ATTEMPT_COLUMNS} ON attempts",
    "review_mark_users": f"AFTER INSERT OR DELETE OR UPDATE OF id, {_USER_COLUMNS} ON users",
    "review_mark_roles": "AFTER INSERT OR DELETE OR UPDATE ON user_roles",
}


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION_PG)
        for name, when in TRIGGERS_PG.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION review_mark()")
    else:
        for name, body in TRIGGERS_SQLITE.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, when in TRIGGERS_PG.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {when.split(' ON ')[-1]}")
        op.execute("DROP FUNCTION IF EXISTS review_mark()")
    else:
        for name in TRIGGERS_SQLITE:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade():
    op.create_table('review_counts',
                    sa.Column('org_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('kind', sa.String(length=8), nullable=False),
                    sa.Column('key', sa.String(length=64), nullable=False),
                    sa.Column('day', sa.Date(), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.Column('cum', sa.Integer(), nullable=False),
                    sa.Column('last_at', trainer.models.types.UTCDateTime(), nullable=True),
                    sa.Column('cum_last', trainer.models.types.UTCDateTime(), nullable=True),
                    sa.PrimaryKeyConstraint('org_id', 'kind', 'key', 'day', name=op.f('pk_review_counts')))
    op.create_table('review_dirty',
                    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('marks', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_review_dirty')))
    op.create_table('review_people',
                    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('org_id', sa.Integer(), nullable=False),
                    sa.Column('created_day', sa.Date(), nullable=False),
                    sa.Column('odd', sa.Boolean(), nullable=False),
                    sa.Column('facts', sa.JSON(), nullable=False),
                    sa.Column('lasts', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_review_people')))
    with op.batch_alter_table('review_people', schema=None) as batch_op:
        batch_op.create_index('ix_review_people_odd_org', ['odd', 'org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_people_org_id'), ['org_id'], unique=False)
    state = op.create_table('review_state',
                            sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                            sa.Column('fingerprint', sa.String(length=64), nullable=True),
                            sa.Column('version', sa.Integer(), nullable=False),
                            sa.PrimaryKeyConstraint('id', name=op.f('pk_review_state')))
    op.bulk_insert(state, [{"id": 1, "fingerprint": None, "version": 0}])  # not built: pages count directly
    create_triggers()


def downgrade():
    drop_triggers()
    with op.batch_alter_table('review_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_people_org_id'))
        batch_op.drop_index('ix_review_people_odd_org')
    op.drop_table('review_state')
    op.drop_table('review_people')
    op.drop_table('review_dirty')
    op.drop_table('review_counts')
