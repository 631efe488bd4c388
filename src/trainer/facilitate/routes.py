"""Facilitators: workshops and cohort dashboards."""
from __future__ import annotations

from flask import Blueprint, render_template

from trainer import policies
from trainer.models import Role

bp = Blueprint("facilitate", __name__, url_prefix="/facilitate")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.FACILITATOR)


@bp.get("/")
def home():
    return render_template("facilitate/home.html")
