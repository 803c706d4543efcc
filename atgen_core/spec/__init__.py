"""JSON experiment specs: the envelope model, two-phase validation, and the JSON Schema for editors.

- :mod:`~atgen_core.spec.models`: the envelope (core sections, component references).
- :mod:`~atgen_core.spec.resolution`: phase 2, components looked up and their configs validated.
- :mod:`~atgen_core.spec.analysis`: both phases and the cross-checks (:mod:`~atgen_core.spec.checks`),
  every problem collected into one ``SpecError``.
- :mod:`~atgen_core.spec.schema`: the JSON Schema with every installed plugin's config.
"""

from __future__ import annotations

from atgen_core.spec.analysis import SpecAnalysis, analyse_spec, resolve_spec
from atgen_core.spec.models import SCHEMA_VERSION, ComponentRef, DataSpec, ExperimentSpec, LoopSpec, raw_run_dir
from atgen_core.spec.resolution import COMPONENT_FIELDS, ResolvedComponent, ResolvedSpec
from atgen_core.spec.schema import build_schema
from atgen_core.spec_file import LoadedSpec, load_spec_file

__all__ = [
    "COMPONENT_FIELDS",
    "SCHEMA_VERSION",
    "ComponentRef",
    "DataSpec",
    "ExperimentSpec",
    "LoadedSpec",
    "LoopSpec",
    "ResolvedComponent",
    "ResolvedSpec",
    "SpecAnalysis",
    "analyse_spec",
    "build_schema",
    "load_spec_file",
    "raw_run_dir",
    "resolve_spec",
]
