"""The entry point: send each person to the home page of their role."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from trainer.extensions import db, limiter
from trainer.models import Point, Role
from trainer.services import certificates
from trainer.models.user import ROLE_PRIORITY

bp = Blueprint("main", __name__)

ROLE_HOMES = {
    Role.ADMIN: "admin.home",
    Role.REVIEWER: "review.home",
    Role.FACILITATOR: "facilitate.home",
    Role.TRAINEE: "learn.home",
}

NAV_LABELS = {
    Role.ADMIN: "管理",
    Role.REVIEWER: "受講状況の確認",
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
