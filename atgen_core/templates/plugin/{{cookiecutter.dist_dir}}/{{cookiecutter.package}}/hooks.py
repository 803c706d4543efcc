"""Hook implementations of {{ cookiecutter.dist_name }}.

Imported by every ``atgen`` command: keep it cheap (import the component module inside the hook, and
heavy libraries only inside the component's methods).
"""

from __future__ import annotations

from atgen_core import {{ cookiecutter.kind.title() }}, hookimpl


@hookimpl
def {{ cookiecutter._hooks[cookiecutter.kind] }}() -> list[type[{{ cookiecutter.kind.title() }}]]:
    """Register the ``{{ cookiecutter.name }}`` {{ cookiecutter.kind }}."""
    from {{ cookiecutter.package }}.component import {{ cookiecutter.class_name }}

    return [{{ cookiecutter.class_name }}]
