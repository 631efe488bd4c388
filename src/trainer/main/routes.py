"""The entry point: send each person to the home page of their role."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import SelectChoice

from trainer.extensions import db, limiter
from trainer.models import Point, Role
from trainer.main.forms import RegisterForm
from trainer.auth.signin import sign_in
from trainer.services import accounts, certificates, walkins, workshops
from trainer.models.user import ROLE_PRIORITY

bp = Blueprint("main", __name__)

ROLE_HOMES = {
    Role.ADMIN: "admin.home",
    Role.REVIEWER: "review.home",
    Role.NATIONAL: "national.home",
    Role.FACILITATOR: "facilitate.home",
    Role.TRAINEE: "learn.home",
}

NAV_LABELS = {
    Role.ADMIN: "管理",
    Role.REVIEWER: "受講状況の確認",
    Role.NATIONAL: "全国の受講状況",
    Role.FACILITATOR: "研修会の運営",
    Role.TRAINEE: "学習",
}


def role_homes(user) -> list[tuple[Role, str]]:
    """(role, endpoint) for each role the user holds, most senior first."""
    return [(role, ROLE_HOMES[role]) for role in ROLE_PRIORITY if user.has_role(role)]


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    return redirect(url_for("main.home"))


@bp.get("/home")
@login_required
def home():
    homes = role_homes(current_user)
    if not homes:
        return render_template("main/no_role.html")
    return redirect(url_for(homes[0][1]))


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/verify")
@bp.get("/verify/<code>")
@limiter.limit("60 per minute")
def verify(code: str | None = None):
    """Public: anyone holding a certificate code can check it. Shows the certificate and nothing more."""
    code = code or request.args.get("code", "").strip()
    cert = certificates.find(code) if code else None
    points = []
    if cert is not None:
        points = db.session.scalars(select(Point).where(Point.id.in_(cert.points)).order_by(Point.sort)).all()
    return render_template("main/verify.html", code=code, cert=cert, points=points,
                           japanese_date=certificates.japanese_date), (404 if code and cert is None else 200)


# --- joining a workshop with its code --------------------------------------------------------

def _code_failures() -> str:
    return current_app.config["JOIN_CODE_FAILURES_PER_ADDRESS"]


def _unknown_code(response) -> bool:
    """Only a code that leads nowhere counts against the address (a venue's phones share one)."""
    return response.status_code == 404


CODE_LIMIT = "参加コードの確認が多すぎるため、しばらく受け付けを止めています。時間をおいてからお試しください。"


@bp.route("/join", methods=["GET", "POST"])
def join_form():
    code = workshops.normalise_code(request.values.get("code", ""))
    if request.method == "POST" and code:
        return redirect(url_for("main.join", code=code))
    return render_template("main/join_code.html", code=workshops.format_code(code))


@bp.route("/join/<code>", methods=["GET", "POST"])
@limiter.limit(_code_failures, deduct_when=_unknown_code, error_message=CODE_LIMIT)
@limiter.limit("300 per 15 minutes", methods=["POST"])
def join(code: str):
    workshop = walkins.by_code(code)
    if workshop is None:
        shown = workshops.format_code(workshops.normalise_code(code))
        return render_template("main/join_code.html", code=shown, unknown=True), 404
    if request.method == "GET" and code != workshop.join_code:  # typed in full width or with a hyphen
        return redirect(url_for("main.join", code=workshop.join_code))
    if current_user.is_authenticated:
        if request.method == "POST":
            workshops.join(workshop, current_user)
            db.session.commit()
            flash(f"研修会「{workshop.title}」に参加しました。", "success")
            return redirect(url_for("learn.workshops_list"))
        return render_template("main/join.html", workshop=workshop, form=None)
    form = RegisterForm()
    form.organization.choices = [SelectChoice(str(o.id), o.full_name) for o in walkins.registration_orgs(workshop)]
    if form.validate_on_submit():
        try:
            user = walkins.register_walk_in(
                workshop, name=form.display_name.data, furigana=form.furigana.data or "",
                org_id=int(form.organization.data), password=form.password.data, form_token=form.form_token.data)
        except (workshops.WorkshopError, accounts.AccountError) as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            sign_in(user)
            db.session.commit()
            flash(f"登録しました。あなたのログインIDは {user.login_id} です。次回のログインに使いますので、"
                  f"メモしてください。研修会「{workshop.title}」に参加しています。", "success")
            return redirect(url_for("learn.workshops_list"))
    return render_template("main/join.html", workshop=workshop, form=form)
