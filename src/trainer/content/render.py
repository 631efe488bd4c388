"""Markdown -> HTML once at import, sanitized with an allow-list (nh3).

Content files are reviewed like code, but the rendered HTML is still treated as untrusted: no
script, no event handlers, no style, no javascript: or data: links survive.
"""
from __future__ import annotations

import markdown
import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "h3", "h4", "h5", "code", "pre",
    "a", "hr", "table", "thead", "tbody", "tr", "th", "td", "span", "small", "ruby", "rt", "rp",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": set()}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str | None) -> str:
    """Render Markdown and keep only the allowed tags, attributes and URL schemes."""
    if not text:
        return ""
    html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    return sanitize(html)


def sanitize(html: str) -> str:
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer", strip_comments=True,
    )
