"""Login, logout and the user's own password."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from trainer.auth.forms import LoginForm, PasswordChangeForm
from trainer.auth.redirects import safe_next
from trainer.extensions import db, limiter
from trainer.services import audit
from trainer.services.accounts import AccountError, change_password
from trainer.services.auth import authenticate

bp = Blueprint("auth", __name__, url_prefix="/auth")

GENERIC_FAILURE = "ログインIDまたはパスワードが正しくありません。"


def _address_limit() -> str:
    return current_app.config["LOGIN_FAILURES_PER_ADDRESS"]


def _is_failure(response) -> bool:
    """Only failed logins count against an address (a success redirects)."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_is_failure,
               error_message="このネットワークからのログイン失敗が多いため、一時的に受け付けを停止しています。")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.login_id.data, form.password.data, request.remote_addr)
        db.session.commit()
        if result.user is not None:
            login_user(result.user)
            if result.user.must_change_password:
                flash("初期パスワードのままです。新しいパスワードを設定してください。", "info")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
        if result.locked:
            form.form_errors.append(
                "ログインの失敗が続いたため、このアカウントへのログインを一時的に停止しています。"
                f"約{result.retry_minutes}分後にもう一度お試しください。"
            )
        else:
            form.form_errors.append(GENERIC_FAILURE)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    audit.record("logout", actor=current_user, subject=current_user.login_id, ip=request.remote_addr)
    db.session.commit()
    logout_user()
    flash("ログアウトしました。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current.data, form.new.data)
        except AccountError as exc:
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # new session_version in the session
            flash("パスワードを変更しました。", "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form)
