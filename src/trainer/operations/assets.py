"""Static files under content-hashed URLs: ``url_for('static', filename=...)`` adds ``?v=<hash>``.

A changed file gets a new URL, so the proxy (deploy/nginx) and browsers may keep a versioned URL for a
year (``immutable``); a URL without ``v`` (or with an old one) is revalidated as before.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask, request

YEAR = 365 * 24 * 3600


def register(app: Flask) -> None:
    folder = Path(app.static_folder or "").resolve()
    #: filename -> (its resolved path, mtime, hash): a page names a few static files, each looked up
    #: once per process; later calls cost one stat (a file edited while running gets its new hash)
    hashes: dict[str, tuple[str, float, str]] = {}

    def version(filename: str) -> str | None:
        cached = hashes.get(filename)
        if cached is not None:
            try:
                mtime = os.stat(cached[0]).st_mtime
            except OSError:
                hashes.pop(filename, None)
                return None
            if mtime == cached[1]:
                return cached[2]
        path = (folder / filename).resolve()
        if folder not in path.parents or not path.is_file():
            return None
        mtime = path.stat().st_mtime
        cached = (str(path), mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
        if len(hashes) > 1000:  # only names of existing files get here; bounded anyway
            hashes.clear()
        hashes[filename] = cached
        return cached[2]

    @app.url_defaults
    def _static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            v = version(values["filename"])
            if v:
                values["v"] = v

    @app.after_request
    def _static_cache(response):
        if request.endpoint == "static" and response.status_code == 200:
            filename = (request.view_args or {}).get("filename", "")
            if request.args.get("v") and request.args.get("v") == version(filename):
                response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response

    app.jinja_env.globals["static_version"] = version
