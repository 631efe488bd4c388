"""Trainees: their home, modules and progress."""
from __future__ import annotations

from flask import Blueprint, render_template

from trainer import policies
from trainer.models import Role

bp = Blueprint("learn", __name__, url_prefix="/learn")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.TRAINEE)


@bp.get("/")
def home():
    return render_template("learn/home.html")
