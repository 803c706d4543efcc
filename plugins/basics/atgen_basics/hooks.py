"""Hook implementations of atgen-basics (imports of heavy libraries stay inside the components)."""

from __future__ import annotations

from atgen_core import hookimpl


@hookimpl
def atgen_register_strategies():  # type: ignore[no-untyped-def]
    from atgen_basics.random_strategy import RandomStrategy

    return [RandomStrategy]


@hookimpl
def atgen_register_annotators():  # type: ignore[no-untyped-def]
    from atgen_basics.oracle import OracleAnnotator

    return [OracleAnnotator]


@hookimpl
def atgen_register_metrics():  # type: ignore[no-untyped-def]
    from atgen_basics.metrics import METRICS

    return list(METRICS)


@hookimpl
def atgen_register_data_sources():  # type: ignore[no-untyped-def]
    from atgen_basics.sources import FilesSource, HubSource, ReasoningGymSource

    return [FilesSource, HubSource, ReasoningGymSource]


@hookimpl
def atgen_register_embedders():  # type: ignore[no-untyped-def]
    from atgen_basics.embedders import ModelHiddenStateEmbedder, SentenceTransformerEmbedder

    return [SentenceTransformerEmbedder, ModelHiddenStateEmbedder]
