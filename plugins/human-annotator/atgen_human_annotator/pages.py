"""The annotation pages: Jinja2 templates (``templates/``) with autoescaping of every value.

The pages work without JavaScript (plain forms, post/redirect/get); ``static/app.js`` only adds keyboard
shortcuts, the draft reset button, a client-side empty check, an unsaved-changes warning and the wait
for the next batch. The Content-Security-Policy forbids inline scripts and styles, so the templates
hold no ``style=`` or ``on...=`` attributes.
"""

from __future__ import annotations

import html
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

__all__ = ["render"]

STATUS_TEXT = {"pending": "not answered", "ok": "saved", "skipped": "skipped"}


def _escaped(value: Any) -> Any:
    """Every ``{{ value }}`` escaped with ``html.escape`` (quotes too; safe in attributes)."""
    return value if isinstance(value, Markup) else Markup(html.escape("" if value is None else str(value)))


def _shorten(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_ENV = Environment(loader=PackageLoader("atgen_human_annotator", "templates"), autoescape=True,
                   finalize=_escaped, trim_blocks=True)
_ENV.filters["shorten"] = _shorten


def render(template: str, **context: Any) -> str:
    """The HTML of ``template`` with ``context`` (values are escaped, never trusted as markup)."""
    return _ENV.get_template(template).render(status_text=STATUS_TEXT, **context)
