"""The JSON Schema of a spec for editors, with every installed plugin's config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, create_model

from atgen_core.spec.models import ComponentRef, DataSpec, ExperimentSpec
from atgen_core.spec_defaults import default_field as _default_field

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["build_schema"]


def _union_for(kind: str, registry: Registry) -> Any:
    infos = registry.all(kind)
    if not infos:
        return ComponentRef
    variants = []
    for info in infos:
        model_name = "".join(p.capitalize() for p in f"{kind}_{info.name}".replace("-", "_").split("_")) + "Ref"
        variants.append(
            create_model(
                model_name,
                __config__=ConfigDict(extra="forbid"),
                __doc__=info.summary or None,
                name=(Literal[info.name], Field(description=info.summary or info.name)),  # type: ignore[valid-type,arg-type]
                config=(info.cls.Config, Field(default_factory=info.cls.Config)),
            )
        )
    names = Literal[tuple(info.name for info in infos)]  # type: ignore[valid-type]
    if len(variants) == 1:
        return Union[names, variants[0]]  # noqa: UP007
    # A bare name is shorthand for {"name": ...}; objects are told apart by their "name".
    return Union[names, Annotated[Union[tuple(variants)], Field(discriminator="name")]]  # noqa: UP007


def build_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema of a spec, with a discriminated union of every installed plugin's config."""
    data_model = create_model(
        "DataSpecWithSources",
        __base__=DataSpec,
        source=(_union_for("data_source", registry), _default_field(registry, "data_source", "Data source component.")),
    )
    spec_model = create_model(
        "AtgenExperimentSpec",
        __base__=ExperimentSpec,
        data=(data_model, Field(description="Data section.")),
        strategy=(_union_for("strategy", registry), Field(description="Selection strategy.")),
        annotator=(_union_for("annotator", registry), _default_field(registry, "annotator", "Annotator.")),
        trainer=(_union_for("trainer", registry), _default_field(registry, "trainer", "Trainer.")),
        metrics=(list[_union_for("metric", registry)], _default_field(registry, "metric", "Metrics.", many=True)),  # type: ignore[misc,arg-type,maybe-unrecognized-str-typeform]
        embedder=(_union_for("embedder", registry) | None, Field(None, description="Input embedder.")),  # type: ignore[maybe-unrecognized-str-typeform]
        scoring=(_union_for("scoring_backend", registry) | None, Field(None, description="Scoring backend.")),  # type: ignore[maybe-unrecognized-str-typeform]
        tracking=(list[_union_for("tracker", registry)], Field([], description="Experiment trackers.")),  # type: ignore[misc,arg-type,maybe-unrecognized-str-typeform]
    )
    schema = spec_model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "atgen experiment spec"
    return schema
