"""Rate-limit storage that fails open.

Flask-Limiter counts in ``TRAINER_RATELIMIT_STORAGE_URI`` (``memory://`` for one process, ``redis://`` shared by
several processes and servers). When Redis is unreachable, sign-in and ``/verify`` must keep working: the limiter
falls back to counting in this process's memory (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``), swallows any other
storage error, and waits at most one second for Redis (socket timeouts). The per-account sign-in throttle lives in
the database (services/throttle.py) and keeps holding either way.

One warning goes to the ``trainer.ratelimit`` logger when the storage is lost (and one info line when it is back),
not one per request.
"""
from __future__ import annotations

import logging

from flask import Flask

logger = logging.getLogger("trainer.ratelimit")

#: Seconds to wait for Redis (connecting and each command) before counting in memory instead.
REDIS_TIMEOUT_SECONDS = 1.0


def storage_options(uri: str) -> dict:
    """Options passed to the storage: short socket timeouts for Redis, none for memory."""
    if uri.startswith(("redis://", "rediss://", "redis+")):
        return {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
    return {}


class _StorageHealth(logging.Handler):
    """Turns Flask-Limiter's own log lines about its storage into one warning per outage."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.down = False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and not self.down:
            self.down = True
            logger.warning("レート制限の保存先（Redis）に接続できません。このプロセスのメモリで数えて続けます"
                           "（ログインの失敗回数の制限はデータベースで続きます）: %s", message)
        elif "recovered" in message and self.down:
            self.down = False
            logger.info("レート制限の保存先（Redis）に再び接続しました。")


_health = _StorageHealth()


def configure(app: Flask) -> None:
    """Fail-open settings for the limiter (before ``limiter.init_app``) and the warning bridge."""
    uri = app.config.get("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", storage_options(uri))
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    source = logging.getLogger("flask-limiter")
    if source.level == logging.NOTSET:
        source.setLevel(logging.INFO)  # so that "storage recovered" (INFO) reaches the bridge
    if _health not in source.handlers:
        source.addHandler(_health)
