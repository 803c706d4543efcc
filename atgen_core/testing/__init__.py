"""Test helpers for plugin authors (opt-in: ``pytest_plugins = ["atgen_core.testing"]``).

Fixtures (:mod:`~atgen_core.testing.fixtures`):

- ``atgen_pm``: a fresh plugin manager with the atgen hookspecs and **no** entry points loaded.
- ``atgen_registry``: a function ``atgen_registry(*plugins) -> Registry`` that builds a registry
  from ``atgen_pm`` plus the given plugin modules/objects (still without entry points).
- ``atgen_fake_site``: a :class:`FakeSite`, a temporary directory on ``sys.path`` in which a test
  creates installed-looking distributions with ``atgen`` entry points (for discovery tests).

Helpers (plain functions, usable without pytest fixtures):

- ``registered(pm, plugin)``: register a plugin for the duration of a ``with`` block.
- ``check_component(cls)`` (:mod:`~atgen_core.testing.contract`): the component contract (name,
  Config, descriptions, schema, base class, instantiation, the checks of its kind, no torch at import).
  Raises ``AssertionError`` listing every problem.
- ``make_pool(n)``: a tiny synthetic pool and labelled set; ``selection_context(...)``
  (:mod:`~atgen_core.testing.synthetic`).
- ``fake_generations``, ``fake_samples``, ``fake_embeddings``, ``FakeModel``: model signals without a
  model (:mod:`~atgen_core.testing.signals`).

The helpers raise ``AssertionError`` with explicit messages, so pytest's assertion rewriting is not
needed here (PYTEST_DONT_REWRITE): test modules may import this module directly.
"""

from __future__ import annotations

from atgen_core.testing.contract import HEAVY_MODULES, check_component, check_light_import
from atgen_core.testing.fixtures import FakeSite, atgen_fake_site, atgen_pm, atgen_registry, registered
from atgen_core.testing.signals import FakeModel, fake_embeddings, fake_generations, fake_samples
from atgen_core.testing.synthetic import make_examples, make_pool, selection_context
from atgen_core.types import MemoryCache

__all__ = [
    "HEAVY_MODULES",
    "FakeModel",
    "FakeSite",
    "MemoryCache",
    "atgen_fake_site",
    "atgen_pm",
    "atgen_registry",
    "check_component",
    "check_light_import",
    "fake_embeddings",
    "fake_generations",
    "fake_samples",
    "make_examples",
    "make_pool",
    "registered",
    "selection_context",
]
