"""The templates' url_for remembers URLs (urlcache.py) and gives exactly what Flask's url_for gives."""
from __future__ import annotations

import os

from flask import url_for as flask_url_for

from trainer.urlcache import register


def test_remembered_urls_are_flasks_urls(app):
    template_url_for = app.jinja_env.globals["url_for"]
    calls = [("main.index", {}), ("learn.page", {"attempt_id": 7, "index": 2}), ("learn.point", {"point_id": "P01"}),
             ("static", {"filename": "css/app.css"}), ("main.join_form", {"_external": True}),
             ("learn.module", {"module_id": "m-values", "_anchor": "top"})]
    for script_root in ("", "/trainer"):
        with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
            for endpoint, values in calls * 2:  # the second time from the cache
                assert template_url_for(endpoint, **values) == flask_url_for(endpoint, **values)
            assert template_url_for("main.index").startswith(f"{script_root}/")


def test_an_edited_static_file_gets_its_new_url(tmp_path):
    from flask import Flask

    from trainer.operations import assets

    static = tmp_path / "static"
    static.mkdir()
    (static / "a.css").write_text("one")
    app = Flask(__name__, static_folder=str(static))
    assets.register(app)
    register(app)
    template_url_for = app.jinja_env.globals["url_for"]
    with app.test_request_context("/"):
        first = template_url_for("static", filename="a.css")
        assert first == template_url_for("static", filename="a.css") and "?v=" in first
        (static / "a.css").write_text("two")
        os.utime(static / "a.css", (1, 1))  # a different mtime whatever the clock's resolution
        second = template_url_for("static", filename="a.css")
        assert second != first and second == flask_url_for("static", filename="a.css")
