"""The component contract: ``check_component`` and the light-import check, with the checks of each kind.

PYTEST_DONT_REWRITE: the helpers raise ``AssertionError`` with explicit messages themselves.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from atgen_core.components import KINDS, NAME_PATTERN, Component, Metric, PluginConfig, Strategy
from atgen_core.types import MetricKey, Requirements

__all__ = ["HEAVY_MODULES", "check_component", "check_light_import"]

HEAVY_MODULES: tuple[str, ...] = ("torch", "transformers", "sentence_transformers", "tensorflow", "jax")
"""Modules that must not be imported when a plugin's hooks or component modules are imported."""


def check_light_import(
    module: str, heavy: Sequence[str] = HEAVY_MODULES, *, run: str = "", timeout: float = 60.0
) -> list[str]:
    """Import ``module`` in a fresh interpreter; return the heavy modules that the import pulled in.

    ``run`` is Python code executed after the import with the module bound to ``m`` (e.g.
    ``"m.atgen_register_metrics()"``), for checks that registering or building a component stays light
    too. The child sees the parent's ``sys.path``, so modules importable here are importable there.
    Raises ``AssertionError`` when the module cannot be imported (or ``run`` fails).
    """
    code = textwrap.dedent(
        f"""
        import importlib, json, sys
        m = importlib.import_module({module!r})
        exec({run!r})
        print(json.dumps(sorted(x for x in {list(heavy)!r} if x in sys.modules)))
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"importing {module!r} in a fresh interpreter failed:\n{proc.stderr.strip()}")
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def _config_problems(cls: type[Component]) -> list[str]:
    config_cls = getattr(cls, "Config", None)
    if not (isinstance(config_cls, type) and issubclass(config_cls, PluginConfig)):
        return [f"Config is {config_cls!r}; it must be a subclass of atgen_core.PluginConfig"]
    problems = []
    if config_cls.model_config.get("extra") != "forbid":
        problems.append(
            f"{config_cls.__qualname__} allows unknown keys (extra={config_cls.model_config.get('extra')!r}); "
            "keep extra='forbid' so that typos in specs are errors"
        )
    for field_name, info in config_cls.model_fields.items():
        if not (info.description or "").strip():
            problems.append(f"config field {field_name!r} has no description; use Field(default, description='...')")
    try:
        json.dumps(config_cls.model_json_schema())
    except Exception as exc:
        problems.append(f"the JSON schema of {config_cls.__qualname__} does not build: {type(exc).__name__}: {exc}")
    return problems


def _default_config(
    cls: type[Component], config: PluginConfig | Mapping[str, Any] | None
) -> tuple[PluginConfig | None, list[str]]:
    """The config to instantiate with (the given one, else the default), and problems found."""
    from pydantic import ValidationError

    config_cls = cls.Config
    if isinstance(config, PluginConfig):
        return config, []
    try:
        return config_cls.model_validate(dict(config or {})), []
    except ValidationError as exc:
        if config is not None:
            return None, [f"the given config does not validate: {exc}"]
        unclear = [e for e in exc.errors() if not e.get("loc")]
        if unclear:
            return None, [f"the default config fails with errors that name no field: {exc}"]
        return None, []  # required fields: acceptable, the error names them; pass config= to test more
    except Exception as exc:
        return None, [
            f"validating the default config raised {type(exc).__name__}: {exc}; validators must raise "
            "ValueError (which pydantic reports with the field name), not other exceptions"
        ]


def _preflight_problems(instance: Component) -> list[str]:
    """``preflight`` must return a sequence of ``Problem``s with paths (an ``AtgenError`` is tolerated)."""
    from atgen_core.components import ModelSpec, PreflightContext
    from atgen_core.errors import AtgenError, SpecIssue

    ctx = PreflightContext(path=instance.kind or "component", model=ModelSpec(), environ={})
    try:
        found = list(instance.preflight(ctx))
    except AtgenError:
        return []
    except Exception as exc:
        return [f"preflight() raised {type(exc).__name__}: {exc}; return Problem(path, message) entries instead"]
    bad = [p for p in found if not isinstance(p, SpecIssue)]
    return [f"preflight() returned {bad[0]!r}; return atgen_core.Problem entries"] if bad else []


def _class_problems(cls: type[Component]) -> list[str]:
    """What the class itself gets wrong: kind, name, docstring, abstract methods, Config."""
    problems: list[str] = []
    kind = cls.kind
    base = KINDS.get(kind)
    if base is None or not issubclass(cls, base):
        problems.append(f"kind {kind!r} is not one of {', '.join(KINDS)}; subclass Strategy, Metric, ...")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append(f"name = {name!r} is missing or invalid: use lower case letters, digits, '-' or '_'")
    if not cls.summary():
        problems.append("no docstring: its first line is the summary shown by `atgen list-plugins`")
    if inspect.isabstract(cls):
        problems.append(f"abstract methods not implemented: {', '.join(sorted(cls.__abstractmethods__))}")
    problems.extend(_config_problems(cls))
    return problems


def _strategy_problems(instance: Component) -> list[str]:
    """A strategy's ``requirements()`` returns a ``Requirements``."""
    assert isinstance(instance, Strategy)
    try:
        reqs = instance.requirements()
    except Exception as exc:
        return [f"requirements() raised {type(exc).__name__}: {exc}"]
    return [] if isinstance(reqs, Requirements) else [f"requirements() returned {reqs!r}, not a Requirements"]


def _metric_problems(instance: Component) -> list[str]:
    """A metric's ``keys()`` is a non-empty mapping of ``MetricKey``."""
    assert isinstance(instance, Metric)
    try:
        keys = instance.keys()
    except Exception as exc:
        return [f"keys() raised {type(exc).__name__}: {exc}"]
    if not keys or not all(isinstance(v, MetricKey) for v in keys.values()):
        return [f"keys() returned {keys!r}; expected a non-empty mapping of MetricKey"]
    return []


_KIND_CHECKS: tuple[tuple[type[Component], Callable[[Component], list[str]]], ...] = (
    (Strategy, _strategy_problems),
    (Metric, _metric_problems),
)
"""The checks of an instance that only one kind has (base class -> check)."""


def _instance_problems(
    cls: type[Component], config: PluginConfig | Mapping[str, Any] | None
) -> tuple[Component | None, list[str]]:
    """An instance built from the default (or given) config, and what its config and kind checks found."""
    cfg, problems = _default_config(cls, config)
    instance: Component | None = None
    if cfg is not None:
        try:
            instance = cls(cfg)
        except Exception as exc:
            problems.append(f"{cls.__qualname__}(config) raised {type(exc).__name__}: {exc}")
    for base, check in _KIND_CHECKS:
        if isinstance(instance, base):
            problems.extend(check(instance))
    return instance, problems


def _import_problems(cls: type[Component], heavy: Sequence[str]) -> list[str]:
    """Importing the class's module (in a fresh interpreter) must not import a heavy library."""
    try:
        pulled_in = check_light_import(cls.__module__, heavy)
    except AssertionError as exc:
        return [str(exc)]
    if pulled_in:
        return [
            f"importing {cls.__module__} imports {', '.join(pulled_in)}; import heavy libraries inside "
            "methods so that `atgen list-plugins` stays fast"
        ]
    return []


def check_component(
    cls: type[Component],
    *,
    config: PluginConfig | Mapping[str, Any] | None = None,
    check_imports: bool = True,
    heavy: Sequence[str] = HEAVY_MODULES,
) -> Component | None:
    """Check the component contract of ``cls`` and return an instance (None if it could not be built).

    Checks: a subclass of its kind's base class; a valid ``name``; a docstring (the summary shown by
    ``atgen list-plugins``); not abstract; ``Config`` a ``PluginConfig`` with ``extra='forbid'``, every
    field described, a JSON schema that builds; the default config (or ``config``) validates, or fails
    with errors naming the fields; ``cls(config)`` works; strategies return ``Requirements`` and
    metrics a mapping of ``MetricKey``; ``preflight`` returns ``Problem`` entries (with an empty
    environment and the default model section); importing the class's module (in a fresh interpreter) does not
    import torch or other heavy libraries. Raises ``AssertionError`` listing every problem found.
    """
    where = f"{cls.__module__}:{cls.__qualname__}" if isinstance(cls, type) else repr(cls)
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise AssertionError(f"{where} is not a component class (subclass of atgen_core.Component)")
    problems = _class_problems(cls)
    instance: Component | None = None
    if not problems:
        instance, found = _instance_problems(cls, config)
        problems.extend(found)
    if instance is not None:
        problems.extend(_preflight_problems(instance))
    if check_imports and cls.__module__ not in ("__main__", "builtins"):
        problems.extend(_import_problems(cls, heavy))
    if problems:
        raise AssertionError(f"{where} breaks the component contract:\n- " + "\n- ".join(problems))
    return instance
