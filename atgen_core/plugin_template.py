"""``atgen plugin new``: a new plugin distribution from the cookiecutter template in ``atgen_core/templates``.

The template (``templates/plugin``) is a plain cookiecutter template kept in the repository and shipped
in the atgen-core wheel; ``cookiecutter`` itself is imported only here, when a plugin is generated
(``pip install 'atgen-core[template]'``). The generated distribution installs as it is, shows in
``atgen list-plugins``, and passes its own tests and the ``atgen_core.testing`` contract checks.
"""

from __future__ import annotations

import keyword
from pathlib import Path

from atgen_core.components import NAME_PATTERN
from atgen_core.errors import AtgenError

__all__ = ["TEMPLATE_DIR", "TEMPLATE_KINDS", "TemplateError", "new_plugin"]

TEMPLATE_DIR = Path(__file__).parent / "templates" / "plugin"
TEMPLATE_KINDS: tuple[str, ...] = ("strategy", "annotator", "metric", "trainer")


class TemplateError(AtgenError):
    """A plugin that cannot be generated (bad name, existing folder, cookiecutter missing)."""


def _check(name: str, kind: str, target: Path) -> None:
    if not NAME_PATTERN.match(name):
        raise TemplateError(
            f"plugin name {name!r} is not a valid component name: use lower case letters, digits, '-' or '_', "
            "starting with a letter (e.g. 'shortest-first')"
        )
    if keyword.iskeyword(name.replace("-", "_")):
        raise TemplateError(f"plugin name {name!r} is a Python keyword; choose another name")
    if kind not in TEMPLATE_KINDS:
        raise TemplateError(f"unknown plugin kind {kind!r}; choose one of: {', '.join(TEMPLATE_KINDS)}")
    if target.exists():
        raise TemplateError(f"{target} already exists; choose another name or output directory (-o)")


def new_plugin(name: str, kind: str, output_dir: Path = Path("."), *, description: str | None = None) -> Path:
    """Generate the distribution ``atgen-NAME`` with one ``kind`` component named ``name``; return its folder."""
    output_dir = Path(output_dir)
    target = output_dir / f"atgen-{name}"
    _check(name, kind, target)
    try:
        from cookiecutter.main import cookiecutter
    except ImportError:
        raise TemplateError(
            "`atgen plugin new` needs cookiecutter, which is not installed; "
            "install it with `pip install 'atgen-core[template]'`"
        ) from None
    context = {"name": name, "kind": kind}
    if description:
        context["description"] = description
    output_dir.mkdir(parents=True, exist_ok=True)
    made = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=context, output_dir=str(output_dir))
    return Path(made)
