"""Login, logout and the user's own password."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from trainer.auth.forms import LoginForm, PasswordChangeForm
from trainer.auth.redirects import safe_next
from trainer.auth.signin import sign_in, sign_out
from trainer.extensions import db
from trainer.services import audit, sessions
from trainer.services.accounts import AccountError, change_password
from trainer.services.auth import authenticate, wait_text

bp = Blueprint("auth", __name__, url_prefix="/auth")

GENERIC_FAILURE = "ログインIDまたはパスワードが正しくありません。"
EXPIRED = ("初期パスワードの有効期限が切れています。所属の管理者に、パスワードの再設定を依頼してください。")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.login_id.data, form.password.data, request.remote_addr)
        if result.user is not None:
            sign_in(result.user)
            db.session.commit()
            if result.user.must_change_password:
                flash("初期パスワードのままです。新しいパスワードを設定してください。", "info")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
        db.session.commit()
        if result.locked:
            form.form_errors.append(
                "ログインの失敗が続いたため、この接続元からこのアカウントへのログインを一時的に止めています。"
                f"{wait_text(result.retry_seconds)}後にもう一度お試しください。")
        else:
            form.form_errors.append(EXPIRED if result.expired else GENERIC_FAILURE)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    audit.record("logout", actor=current_user, subject=current_user.login_id, ip=request.remote_addr)
    sign_out()
    db.session.commit()
    flash("ログアウトしました。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_password(user, form.current.data, form.new.data)
        except AccountError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            sessions.end_all(user)  # every other browser (and copy of this cookie) signs in again
            sign_in(user)  # this browser continues with a new sign-in
            db.session.commit()
            flash("パスワードを変更しました。", "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form)
