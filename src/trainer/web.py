"""The register_* steps of create_app(): extensions, security, blueprints, templates, errors."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import joinedload
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from trainer import faults, ratelimit
from trainer.dates import epoch_seconds, jst, utcnow
from trainer.extensions import csrf, db, limiter, login_manager, migrate
from trainer.auth import session_user
from trainer.auth.signin import TOKEN_KEY
from trainer.models import User, UserSession
from trainer.services import content_views, fields, sessions
from trainer.models.org import ORG_KIND_LABELS, PROGRAMME_LABELS
from trainer.models.user import ROLE_LABELS

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _sqlite_pragmas(busy_timeout_ms: int):
    """WAL, a busy timeout (TRAINER_SQLITE_BUSY_TIMEOUT, shorter than the request timeout: faults.py
    answers 503 when it runs out) and foreign keys on every SQLite connection."""
    def on_connect(dbapi_connection, _record) -> None:
        _set_pragmas(dbapi_connection, busy_timeout_ms)

    return on_connect


def _set_pragmas(dbapi_connection, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    ratelimit.configure(app)  # fails open when Redis is down
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "続けるにはログインしてください。"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            busy_ms = int(float(app.config.get("SQLITE_BUSY_TIMEOUT", 5)) * 1000)
            event.listen(db.engine, "connect", _sqlite_pragmas(busy_ms))


def _migrations_dir() -> Path:
    """migrations/ at the project root (the project is installed in editable mode)."""
    return Path(__file__).resolve().parents[2] / "migrations"


#: The session's user with their roles and organization (every page shows its name), in one query
#: that also checks the sign-in record and reads the newest content release (the key of the content
#: cache, services/content_views) — built once: this runs on every request that needs the user.
_USER_WITH_ROLES = (select(User, content_views.RELEASE_ID.label("content_release"))
                    .options(joinedload(User.roles), joinedload(User.organization))
                    .join(UserSession, UserSession.user_id == User.id)
                    .where(User.id == bindparam("user_id"), User.active.is_(True),
                           sessions.is_valid(User.id, bindparam("token_hash"), bindparam("now"))))


@login_manager.user_loader
def _load_user(identity: str) -> User | None:
    token = session.get(TOKEN_KEY)
    if not identity.isdigit() or not isinstance(token, str):
        return None
    params = {"user_id": int(identity), "token_hash": sessions.token_hash(token), "now": utcnow()}
    if request.endpoint in session_user.LIGHT_ENDPOINTS:  # the player: a read-only user from one Core statement
        found = session_user.load(params)
        if found is None:
            return None
        g.content_release = found[1]
        return found[0]
    row = db.session.execute(_USER_WITH_ROLES, params).unique().first()
    if row is None:
        return None
    g.content_release = row.content_release
    return row.User


class BoundedInt(IntegerConverter):
    """``<int:...>`` paths hold what an INTEGER column can: a larger number is 404, not a 500."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=fields.INT_MAX if max is None else max,
                         signed=signed)


def register_security(app: Flask) -> None:
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    app.url_map.converters["int"] = BoundedInt  # before the blueprints add their routes

    @app.before_request
    def _refuse_nul():
        """NUL never belongs in anything typed (PostgreSQL refuses it in text): one clear answer here,
        for every path, query and form value, instead of a 500 wherever it reaches the database."""
        values = [request.path, *(v for _, vs in request.args.lists() for v in vs)]
        if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [v for _, vs in request.form.lists() for v in vs]
        if any("\x00" in v for v in values) or any("\x00" in k for k in (*request.args, *request.form)):
            title = "入力に使えない文字が含まれています"
            detail = "制御文字（NUL）は入力できません。入力内容を確かめて、もう一度お試しください。"
            return render_template("error.html", code=400, title=title, detail=detail), 400
        return None

    @app.before_request
    def _idle_timeout() -> None:
        """Idle timeout of a signed-in browser: the permanent session's expiry (and the age of its
        signature) moves on with activity, at most once a minute. Anonymous requests get no cookie
        from here (static files and health checks set none)."""
        if not session.get("_user_id"):
            return
        now = epoch_seconds()
        if now - session.get("_seen", 0) >= 60:
            session["_seen"] = now

    @app.before_request
    def _password_change_first():
        """An account that must change its password reaches only the change page, logout and
        static files until it has (the live poll, panel and answer check this in their own query)."""
        if request.endpoint in PASSWORD_CHANGE_ALLOWED or request.endpoint in SELF_CHECKED or not session.get("_user_id"):
            return None
        if current_user.is_authenticated and current_user.must_change_password:
            return redirect(url_for("auth.password"))
        return None

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config["HSTS_SECONDS"]:
            response.headers["Strict-Transport-Security"] = f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains"
        if session.get("_user_id"):  # signed in (read from the cookie: no user query on every response)
            response.headers.setdefault("Cache-Control", "no-store")
        return response


#: What an account with a pending password change may still reach.
PASSWORD_CHANGE_ALLOWED = frozenset({"static", "auth.password", "auth.logout", "live.state"})
#: Views that check the pending password change in their own statement (the live poll, panel and
#: answer, live/routes.py), sending the account to the change page themselves: no user loaded here.
SELF_CHECKED = frozenset({"live.state", "live.panel", "live.answer"})


def register_blueprints(app: Flask) -> None:
    from trainer.admin.routes import bp as admin_bp
    from trainer.admin import roster_routes  # noqa: F401 - adds the roster routes to admin_bp
    from trainer.auth.routes import bp as auth_bp
    from trainer.facilitate.routes import bp as facilitate_bp
    from trainer.learn.routes import bp as learn_bp
    from trainer.live.routes import bp as live_bp
    from trainer.main.routes import bp as main_bp
    from trainer.national.routes import bp as national_bp
    from trainer.review.routes import bp as review_bp
    from trainer.editor.routes import bp as editor_bp

    for blueprint in (main_bp, auth_bp, learn_bp, live_bp, facilitate_bp, review_bp, admin_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(editor_bp)
    app.register_blueprint(national_bp)  # issue 18.5: the national view (国)
    for blueprint in (learn_bp, live_bp, facilitate_bp, review_bp, admin_bp, editor_bp, national_bp):
        limiter.exempt(blueprint)  # only sign-in, joining and verification carry rate limits
    from trainer.cli import register_commands

    register_commands(app)
    faults.register(app)  # after the blueprints: wraps the idempotent writes' views


def register_templates(app: Flask) -> None:
    from trainer import policies
    from trainer.services.disclosure import min_group
    from trainer.services.framework import honesty_note
    from trainer.services.workshops import format_code

    from trainer.main.routes import NAV_LABELS, role_homes

    from trainer import urlcache

    urlcache.register(app)
    app.add_template_filter(jst, "jst")
    app.add_template_filter(format_code, "join_code")
    app.jinja_env.globals.update(
        policies=policies, ROLE_LABELS=ROLE_LABELS, PROGRAMME_LABELS=PROGRAMME_LABELS,
        ORG_KIND_LABELS=ORG_KIND_LABELS, NAV_LABELS=NAV_LABELS, honesty_note=honesty_note, min_group=min_group,
    )

    @app.context_processor
    def _navigation() -> dict:
        user = current_user._get_current_object()  # one proxy lookup, not one per role
        return {"nav_homes": role_homes(user) if user.is_authenticated else []}


def register_errors(app: Flask) -> None:
    messages = {
        400: ("リクエストを処理できませんでした", "入力内容をご確認のうえ、もう一度お試しください。"),
        403: ("このページを表示する権限がありません", "必要な場合は、所属の管理者にお問い合わせください。"),
        404: ("ページが見つかりません", "URLが正しいか、リンク元のページからもう一度お試しください。"),
        405: ("この操作はできません", "ページを開き直してからもう一度お試しください。"),
        413: ("ファイルが大きすぎます", "5MB以下のファイルを指定してください。"),
        429: ("操作が多すぎます", "しばらく時間をおいてから、もう一度お試しください。"),
        500: ("システムでエラーが発生しました", "時間をおいてもう一度お試しください。続く場合は管理者にお知らせください。"),
    }

    def handler(error):
        code = getattr(error, "code", 500) or 500
        if code == 500:
            db.session.rollback()
        title, detail = messages.get(code, messages[500])
        limit = getattr(error, "limit", None)  # a rate limit with its own (Japanese) message
        if code == 429 and limit is not None and isinstance(limit.error_message, str):
            detail = limit.error_message
        return render_template("error.html", code=code, title=title, detail=detail), code

    for code in messages:
        app.register_error_handler(code, handler)

    @app.errorhandler(CSRFError)
    def _csrf(_error):
        title = "画面の有効期限が切れました"
        detail = "お手数ですが、ページを開き直してからもう一度送信してください。"
        return render_template("error.html", code=400, title=title, detail=detail), 400
