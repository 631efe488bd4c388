"""Configuration: safe local defaults, overridden by TRAINER_* environment variables.

The embedded default is a SQLite file under the instance folder. Production deployments set
TRAINER_ENV=production, TRAINER_SECRET_KEY and TRAINER_DATABASE_URL (PostgreSQL).
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

#: Values that must never be used as a production secret.
WEAK_SECRETS = frozenset({"", "dev", "change-me", "secret", "development"})
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """Raised when the application refuses to start with an unsafe configuration."""


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"TRAINER_{name}", default)


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _instance_secret(instance_path: Path) -> str:
    """Return the secret key kept under instance/, creating it once with mode 0600."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key


def build_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Assemble the configuration mapping for one application instance."""
    overrides = dict(overrides or {})
    env_name = overrides.get("TRAINER_ENV") or _env("ENV", "development")
    production = env_name == "production"
    secret = overrides.get("SECRET_KEY") or _env("SECRET_KEY")
    if production:
        _check_production_secret(secret)
    elif not secret:
        secret = _instance_secret(instance_path)
    database_url = overrides.get("SQLALCHEMY_DATABASE_URI") or _env("DATABASE_URL")
    if not database_url:  # the embedded default: a SQLite file in the instance folder
        instance_path.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance_path / 'trainer.sqlite3'}"
    config = {
        "TRAINER_ENV": env_name,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(normalise_database_url(database_url)),
        "CONTENT_DIR": _env("CONTENT_DIR", str(Path.cwd() / "content")),
        # rosters with more rows than this import in a background job with a progress page
        "ROSTER_BACKGROUND_ROWS": int(_env("ROSTER_BACKGROUND_ROWS", "20")),
        # seconds a SQLite write waits for another writer before the request answers 503 (faults.py)
        "SQLITE_BUSY_TIMEOUT": float(_env("SQLITE_BUSY_TIMEOUT", "5")),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_I18N_ENABLED": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SECURE_COOKIES", production),
        # __Host-: the browser accepts it only over HTTPS, for this host, for every path
        "SESSION_COOKIE_NAME": "__Host-session" if _env_bool("SECURE_COOKIES", production) else "session",
        "HSTS_SECONDS": int(_env("HSTS_SECONDS", str(365 * 24 * 3600) if production else "0")),
        "SESSION_REFRESH_EACH_REQUEST": False,  # refreshed once a minute instead (web._idle_timeout)
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=int(_env("IDLE_MINUTES", "120"))),
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "SESSION_ABSOLUTE_HOURS": float(_env("SESSION_HOURS", "12")),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        # sign-in throttling (services/throttle.py): failures allowed before delays start, per key
        "LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT": int(_env("LOGIN_FREE_FAILURES", "5")),
        "LOGIN_FREE_FAILURES_PER_ACCOUNT": int(_env("LOGIN_FREE_FAILURES_PER_ACCOUNT", "20")),
        "LOGIN_FREE_FAILURES_PER_ADDRESS": int(_env("LOGIN_FREE_FAILURES_PER_ADDRESS", "100")),
        "LOGIN_FAILURE_WINDOW_MINUTES": int(_env("LOGIN_FAILURE_WINDOW_MINUTES", "15")),
        "LOGIN_MAX_DELAY_SECONDS": int(_env("LOGIN_MAX_DELAY_SECONDS", "900")),
        "INITIAL_PASSWORD_DAYS": int(_env("INITIAL_PASSWORD_DAYS", "14")),
        "JOIN_CODE_FAILURES_PER_ADDRESS": _env("JOIN_CODE_FAILURES_PER_ADDRESS", "30 per 15 minutes"),
        "JOIN_CODE_MAX_DAYS": int(_env("JOIN_CODE_MAX_DAYS", "3")),
        "OPINIONS_PER_HOUR": int(_env("OPINIONS_PER_HOUR", "20")),
        "REFLECTIONS_PER_HOUR": int(_env("REFLECTIONS_PER_HOUR", "120")),
        "TRUSTED_PROXIES": int(_env("TRUSTED_PROXIES", "0")),
        # operations (docs/operations.md): the public base URL for absolute links (certificate QR and
        # verify links), who may read /metrics, JSON request logs, and how long departed trainees' records stay
        "PUBLIC_URL": _env("PUBLIC_URL", "").rstrip("/"),
        "METRICS_ALLOW": _env("METRICS_ALLOW", "127.0.0.1/32,::1/128"),
        "METRICS_TOKEN": _env("METRICS_TOKEN", ""),
        "JSON_LOGS": _env_bool("JSON_LOGS", False),
        "RETENTION_YEARS": int(_env("RETENTION_YEARS", "5")),
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "PASSWORD_HASH_METHOD": _env("PASSWORD_HASH_METHOD", "scrypt"),
        # reviewers' mastery summary: rebuilt by a thread per process (0: when read; mastery_refresh.py)
        "MASTERY_REFRESH_SECONDS": float(_env("MASTERY_REFRESH_SECONDS", "10")),
        "MASTERY_REFRESH_BATCH": int(_env("MASTERY_REFRESH_BATCH", "5000")),
        # period maps from the per-organization spans (services/mastery_spans; 0: from mastery_months)
        "MASTERY_SPANS": _env_bool("MASTERY_SPANS", True),
        # the issuer line printed on certificates (e.g. 〇〇県 ひきこもり地域支援センター)
        "CERTIFICATE_ISSUER": _env("CERTIFICATE_ISSUER", "ひきこもり支援 研修 運営事務局"),
    }
    config.update(overrides)
    return config


def _check_production_secret(secret: str | None) -> None:
    if not secret:
        raise ConfigError(
            "TRAINER_ENV=production requires TRAINER_SECRET_KEY: set a random value of at least "
            f"{MIN_SECRET_LENGTH} characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    if secret.lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            "TRAINER_SECRET_KEY is a default or too short for production: use a random value of at "
            f"least {MIN_SECRET_LENGTH} characters."
        )


def engine_options(url: str) -> dict:
    """PostgreSQL: a pool as large as a worker's threads, checked before use. SQLite: defaults."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True, "pool_size": int(_env("DB_POOL_SIZE", "10")), "max_overflow": 10}


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
