"""Running the application for real: backups, health and metrics, static asset URLs, data lifecycle.

- backup:    ``trainer backup`` / ``backup verify`` / ``restore`` (SQLite backup API, pg_dump -Fc)
- health:    /readyz, Prometheus metrics (multiprocess under gunicorn), JSON request logs
- assets:    ``?v=<content hash>`` static URLs, so a proxy can cache them for a year
- lifecycle: retention of departed trainees' personal fields, one person's record for disclosure
"""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Health and metrics routes, request ids and logs, versioned static URLs (the CLI commands backup,
    restore and data are added by cli.register_commands through operations.commands.register)."""
    from trainer.operations import assets, health

    health.register(app)
    assets.register(app)
