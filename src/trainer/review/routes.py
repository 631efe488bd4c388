"""Reviewers (prefectures and designated cities): records within their jurisdiction only."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from trainer import policies
from trainer.extensions import db
from trainer.models import Organization, Role
from trainer.services import review as review_service

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.REVIEWER)


@bp.get("/")
def home():
    scope = db.session.get(Organization, policies.reviewer_scope_id(current_user))
    rows = review_service.municipality_overview(scope.id)
    return render_template("review/home.html", scope=scope, rows=rows)
