"""GET requests that leave a trace (an audit entry, a participant's attempt) run only when the
person navigated to them from this site, typed or bookmarked the address: a link or an image on
another site (``Sec-Fetch-Site: cross-site`` or ``same-site``) gets a page with a button-like link
instead, so nobody can plant "viewed this record" entries in a reviewer's audit trail or join a
trainee to a live session by making their browser open a URL.

Browsers send ``Sec-Fetch-Site`` on every request (Chrome/Edge 76+, Firefox 90+, Safari 16.4+);
a request without it (an old browser, a script with its own cookies) is treated as before.
"""
from __future__ import annotations

from functools import wraps

from flask import render_template, request

FOREIGN = frozenset({"cross-site", "same-site"})


def from_elsewhere() -> bool:
    return request.headers.get("Sec-Fetch-Site", "").lower() in FOREIGN


def leaves_a_trace(view):
    """Mark a GET view that writes (audit, attempt): foreign navigations get a confirmation page."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if from_elsewhere():
            target = request.full_path.rstrip("?")
            return render_template("navigate.html", target=target)
        return view(*args, **kwargs)

    wrapped.leaves_a_trace = True
    return wrapped
