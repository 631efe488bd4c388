"""Bare extension singletons, bound to the app in create_app()."""
from __future__ import annotations

from flask import request
from flask_limiter import ExemptionScope, Limiter as _Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: expire_on_commit=False: objects stay readable after the one commit at the end of a request.
#: What ``limiter.exempt(blueprint)`` opts a blueprint out of by default.
_FULLY_EXEMPT = ExemptionScope.APPLICATION | ExemptionScope.DEFAULT | ExemptionScope.META


class Limiter(_Limiter):
    """Flask-Limiter, minus its before-request work for blueprints exempted from every limit.

    Its hook resolves the endpoint, the blueprint's exemption scope and the limits on every request;
    for an exempt blueprint (the player, live sessions, every signed-in area: web.register_blueprints)
    that ends in "no limits" at ~0.1 ms a request. Limits decorated on a view still apply (they are
    checked by the view's own wrapper), and so does every limit of the blueprints that carry them
    (sign-in, joining, verification): tests/test_security.py, tests/test_join_codes.py.
    """

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and callable_name is None:
            blueprint = request.blueprint
            if (blueprint and "." not in blueprint
                    and self.limit_manager._blueprint_exemptions.get(blueprint, ExemptionScope.NONE) & _FULLY_EXEMPT == _FULLY_EXEMPT
                    and not self.limit_manager.has_hints(request.endpoint or "")):
                return None
        return super()._check_request_limit(callable_name, in_middleware)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
