"""The templates' ``url_for``, remembered per process.

A player page builds about fifteen URLs (the header's menu and static files, the module, the point
links, the forms); Flask's ``url_for`` runs the URL defaults and Werkzeug's rule builder every time,
about a twentieth of the request. A URL depends only on the endpoint, its values and the request's
script root (no host or subdomain rules here), so the templates' ``url_for`` keeps what it built:

- only inside a request, and only for plain calls: values that are strings or integers, no
  ``_external``/``_anchor``/``_method``/``_scheme`` and no blueprint-relative (``.name``) endpoint;
  anything else goes to Flask's ``url_for`` as before;
- a static file's URL carries its content hash (operations/assets.py): the hash is asked each time
  (one stat) and is part of the key, so an edited file still gets its new URL;
- bounded: the cache is emptied when it holds ``LIMIT`` URLs (attempt URLs come and go).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, has_request_context, request

LIMIT = 5000


def register(app: Flask) -> None:
    """Replace the templates' ``url_for`` with the remembering one (routes keep Flask's)."""
    build = app.url_for
    cache: dict[tuple, str] = {}

    def url_for(endpoint: str, **values: Any) -> str:
        if not has_request_context() or endpoint.startswith("."):
            return build(endpoint, **values)
        for name, value in values.items():
            if name.startswith("_") or type(value) not in (str, int):
                return build(endpoint, **values)
        key: tuple = (request.script_root, endpoint, *sorted(values.items()))
        if endpoint == "static" and "filename" in values:
            key += (_static_version(app)(values["filename"]),)
        url = cache.get(key)
        if url is None:
            url = build(endpoint, **values)
            if len(cache) >= LIMIT:
                cache.clear()
            cache[key] = url
        return url

    app.jinja_env.globals["url_for"] = url_for


def _static_version(app: Flask) -> Callable[[str], str | None]:
    return app.jinja_env.globals.get("static_version") or (lambda _filename: None)
