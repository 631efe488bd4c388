"""trainer: ひきこもり支援ハンドブックに基づく支援者研修プラットフォーム."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from trainer import web
from trainer.config import build_config
from trainer.operations import register as register_operations


def create_app(config: dict | None = None) -> Flask:
    """Application factory: a list of register_* calls and no side effects beyond them."""
    instance = Path(os.environ.get("TRAINER_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.from_mapping(build_config(instance, config))
    web.register_extensions(app)
    web.register_security(app)
    web.register_blueprints(app)
    web.register_templates(app)
    web.register_errors(app)
    register_operations(app)  # /readyz, /metrics, request ids and JSON logs, versioned static URLs
    return app
