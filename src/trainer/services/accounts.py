"""Accounts: creation, roles, passwords, activation."""
from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from trainer.extensions import db
from trainer.models import Organization, Role, User, UserRole
from trainer.dates import utcnow
from trainer.services import audit, fields, passwords, sessions, unique

LOGIN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 12


class AccountError(ValueError):
    """A request that cannot be carried out; the message is shown to the user (Japanese)."""


class LoginTaken(AccountError):
    """The login ID belongs to another account (found before the insert, or by its unique key)."""


def normalise_login_id(value: str) -> str:
    """Login IDs are compared after NFKC (full-width letters typed on phones) and trimming."""
    return unicodedata.normalize("NFKC", value or "").strip()


def login_id_problem(login_id: str) -> str | None:
    if not LOGIN_ID_RE.match(login_id):
        return "ログインIDは半角英数字と . _ @ - で3〜64文字にしてください（先頭は英数字）。"
    return None


def password_problem(password: str, context: passwords.Context | None = None) -> str | None:
    """The password rules (services/passwords.py), with the account's own words when known."""
    return passwords.problem(password, context)


def profile_problem(*, display_name: str, furigana: str | None = None, email: str | None = None) -> str | None:
    """The name, furigana and e-mail rules shared by every entry path (limits from the columns)."""
    if not (display_name or "").strip():
        return "氏名を入力してください。"
    if email and not EMAIL_RE.match(email):
        return "メールアドレスの形式ではありません。"
    return (fields.problem(display_name, User.display_name, "氏名") or fields.problem(furigana, User.furigana, "ふりがな")
            or fields.problem(email, User.email, "メールアドレス"))


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def hash_password(password: str) -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


def verify_password(user: User | None, password: str) -> bool:
    """Check a password; runs a hash even for unknown users so timing reveals nothing."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


_DUMMY_HASH = generate_password_hash("timing-equaliser", method="scrypt")


def find_by_login(login_id: str) -> User | None:
    return db.session.scalar(select(User).where(User.login_id == normalise_login_id(login_id)))


def login_exists(login_id: str) -> bool:
    stmt = select(func.count()).select_from(User).where(User.login_id == normalise_login_id(login_id))
    return bool(db.session.scalar(stmt))


def create_user(
    *,
    login_id: str,
    display_name: str,
    organization: Organization,
    password: str,
    roles: Iterable[Role] = (Role.TRAINEE,),
    reviewer_scope: Organization | None = None,
    furigana: str | None = None,
    email: str | None = None,
    actor: User | None = None,
    must_change_password: bool = False,
    password_hash: str | None = None,
    generated: bool = False,
    registration_confirmed: bool = True,
) -> User:
    """Create an account; raises AccountError with a Japanese message when it cannot.

    ``password_hash``: the password already hashed (bulk imports hash before their transaction).
    ``generated``: the password was generated at random here (not checked against the rules that
    concern what people choose)."""
    login_id = normalise_login_id(login_id)
    display_name, furigana, email = (display_name or "").strip(), (furigana or "").strip(), (email or "").strip()
    problem = (login_id_problem(login_id) or profile_problem(display_name=display_name, furigana=furigana, email=email)
               or (None if generated else password_problem(
                   password, passwords.context_of(login_id, (display_name, furigana), email))))
    if problem:
        raise AccountError(problem)
    taken = LoginTaken(f"ログインID「{login_id}」は既に使われています。")
    if login_exists(login_id):
        raise taken
    user = User(
        login_id=login_id, display_name=display_name, furigana=furigana or None, email=email or None,
        organization=organization, password_hash=password_hash or hash_password(password),
        password_changed_at=utcnow(), must_change_password=must_change_password,
        registration_confirmed=registration_confirmed,
    )
    set_roles(user, roles, reviewer_scope=reviewer_scope, actor=actor, record=False)
    try:
        with unique.savepoint():  # a concurrent request may take the ID since we looked
            db.session.add(user)
            db.session.flush()
    except IntegrityError as exc:
        raise taken from exc
    audit.record("user.create", actor=actor, subject=login_id, detail={"roles": sorted(str(r) for r in roles)})
    return user


def set_roles(
    user: User,
    roles: Iterable[Role],
    *,
    reviewer_scope: Organization | None = None,
    actor: User | None = None,
    record: bool = True,
) -> None:
    """Replace a user's roles. A reviewer needs a prefecture or designated city as scope."""
    wanted = {Role(r) for r in roles}
    if not wanted:
        raise AccountError("役割を1つ以上選んでください。")
    if actor is not None and actor.id == user.id and Role.ADMIN not in wanted and user.has_role(Role.ADMIN):
        raise AccountError("自分自身の管理者の役割は外せません。ほかの管理者に依頼してください。")
    if Role.REVIEWER in wanted and (reviewer_scope is None or not reviewer_scope.is_jurisdiction):
        raise AccountError("閲覧者には、担当する都道府県または政令指定都市を指定してください。")
    before = sorted(user.role_names())
    user.roles[:] = [r for r in user.roles if r.role in wanted]
    for existing in user.roles:
        if existing.role == Role.REVIEWER:
            existing.scope = reviewer_scope
    for role in wanted - {Role(r.role) for r in user.roles}:
        user.roles.append(UserRole(role=role, scope=reviewer_scope if role == Role.REVIEWER else None))
    after = sorted(str(r) for r in wanted)
    if record and before != after or record and Role.REVIEWER in wanted:
        detail = {"before": before, "after": after}
        if reviewer_scope is not None and Role.REVIEWER in wanted:
            detail["scope"] = reviewer_scope.name
        audit.record("role.change", actor=actor, subject=user.login_id, detail=detail)


def _context(user: User) -> passwords.Context:
    return passwords.context_of(user.login_id, (user.display_name, user.furigana), user.email)


def change_password(user: User, current: str, new: str) -> None:
    """The person's own change: the current password proves it is them; the new one follows the
    rules and is not the current one again. Every sign-in of the user ends (the caller signs the
    browser in again)."""
    if not verify_password(user, current):
        raise AccountError("現在のパスワードが正しくありません。")
    _set_password(user, new)
    user.must_change_password = False
    audit.record("password.change", actor=user, subject=user.login_id)


def reset_password(user: User, new: str, *, actor: User | None, generated: bool = False) -> None:
    """An administrator sets an initial password: it must be changed at the next sign-in and
    expires after INITIAL_PASSWORD_DAYS; every sign-in of the user ends."""
    _set_password(user, new, generated=generated)
    user.must_change_password = True
    audit.record("password.reset", actor=actor, subject=user.login_id)


def _set_password(user: User, new: str, *, generated: bool = False) -> None:
    problem = None if generated else password_problem(new, _context(user))
    if problem:
        raise AccountError(problem)
    if verify_password(user, new):
        raise AccountError("現在のパスワードと同じです。別のパスワードにしてください。")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    sessions.end_all(user)


def set_active(user: User, active: bool, *, actor: User | None) -> None:
    if actor is not None and actor.id == user.id and not active:
        raise AccountError("自分自身のアカウントは無効にできません。")
    user.active = active
    sessions.end_all(user)
    audit.record("user.activate" if active else "user.deactivate", actor=actor, subject=user.login_id)


def confirm_registration(user: User, *, actor: User) -> bool:
    """Count a walk-in account from now on (reviewers see it); False when it already was."""
    if user.registration_confirmed:
        return False
    user.registration_confirmed = True
    audit.record("walkin.confirm", actor=actor, subject=user.login_id)
    return True


def search_users(query: str = "", organization_id: int | None = None, *, limit: int = 100, offset: int = 0) -> list[User]:
    """Users whose login ID, name or furigana contains ``query``, optionally in one organization."""
    stmt = select(User).order_by(User.login_id)
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(User.login_id.ilike(like) | User.display_name.ilike(like) | User.furigana.ilike(like))
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    return list(db.session.scalars(stmt.limit(limit).offset(offset)))
