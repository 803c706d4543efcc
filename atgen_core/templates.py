"""The one prompt-template engine of atgen (``data.prompt``, annotator and judge prompts).

``PromptTemplate("Q: {input}").render({"input": "a {b} c"})`` gives ``"Q: a {b} c"``. The rules:

- ``{name}`` is a field (a Python identifier) filled from the values; ``None`` renders as "";
- ``{{`` and ``}}`` are literal braces;
- any other ``{`` or ``}`` is an error when the template is built (write ``{{``/``}}``), so a typo
  such as ``{input`` is caught before any data is read or any request is sent;
- the template is scanned once and values are inserted verbatim: braces inside the data never break
  rendering and are never interpreted (unlike ``str.format``);
- a field missing from the values is a :class:`TemplateError` naming it and the available ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from atgen_core.errors import DataError

__all__ = ["PromptTemplate", "TemplateError"]

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|\{|\}")


class TemplateError(DataError, ValueError):
    """A template that cannot be parsed, or that uses a field the values do not have."""


class PromptTemplate:
    """A ``{field}`` template (see the module docstring); ``where`` names it in error messages."""

    def __init__(self, template: str, where: str = "data.prompt") -> None:
        self.template = template
        self.where = where
        self.fields: list[str] = []
        """Field names in order of use (a repeated field is listed again: content ids depend on it)."""
        for match in _TOKEN.finditer(template):
            text, name = match.group(0), match.group(1)
            if name:
                self.fields.append(name)
            elif text in ("{", "}"):
                raise TemplateError(
                    f"{where}: unmatched {text!r} at position {match.start()} of {template!r}; "
                    "write {{ or }} for a literal brace"
                )

    def render(self, values: Mapping[str, Any]) -> str:
        """The template with every field replaced by ``str(values[field])``."""

        def fill(match: re.Match[str]) -> str:
            text, name = match.group(0), match.group(1)
            if name is None:
                return text[0]  # "{{" -> "{", "}}" -> "}"
            if name not in values:
                known = ", ".join(sorted(values))
                raise TemplateError(f"{self.where} uses {{{name}}} but there is no such field (available: {known})")
            value = values[name]
            return "" if value is None else str(value)

        return _TOKEN.sub(fill, self.template)
