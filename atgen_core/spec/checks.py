"""Checks across spec sections (start mode vs strategy, embedder, stopping thresholds, sizes)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from atgen_core.errors import SpecIssue
from atgen_core.spec.models import ExperimentSpec
from atgen_core.spec.resolution import ResolvedComponent, needs_embeddings

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["cross_checks"]


def cross_checks(
    spec: ExperimentSpec,
    raw: Mapping[str, Any],
    resolved: Mapping[tuple[Any, ...], ResolvedComponent],
    registry: Registry,
) -> Iterator[SpecIssue]:
    """Checks across sections; each runs when the parts it needs resolved, whatever else is wrong."""
    from atgen_core.components import Strategy

    strategy = resolved.get(("strategy",))
    if strategy is not None:
        strategy_cls = strategy.info.cls
        assert issubclass(strategy_cls, Strategy)
        cold = spec.loop.start == "cold" or spec.loop.mode == "design"
        if cold and not strategy_cls.cold_start:
            yield SpecIssue(
                "loop.start" if spec.loop.mode == "iterative" else "loop.mode",
                f"strategy {strategy.name!r} cannot pick the first batch without labelled data",
                hint="use start 'warm' (a random first batch), or a cold-start strategy",
            )
        if (
            needs_embeddings(strategy)
            and ("embedder",) not in resolved
            and (registry.default_name("embedder") is None)
            and raw.get("embedder") is None
        ):
            yield SpecIssue(
                "embedder",
                f"strategy {strategy.name!r} needs input embeddings but no embedder is set",
                hint="set `embedder` (see `atgen list-plugins --kind embedder`) or install a plugin providing one",
            )
    yield from _stop_when_checks(spec, resolved)
    yield from _size_checks(spec)


def _stop_when_checks(
    spec: ExperimentSpec, resolved: Mapping[tuple[Any, ...], ResolvedComponent]
) -> Iterator[SpecIssue]:
    """Stopping thresholds must name a reported metric value and lie in its range."""
    from atgen_core.components import Metric

    keys: dict[str, Any] = {}
    complete = True
    for i in range(len(spec.metrics)):
        component = resolved.get(("metrics", i))
        if component is None:
            complete = False
            continue
        metric = component.build()
        assert isinstance(metric, Metric)
        try:
            keys.update(metric.keys())
        finally:
            metric.close()
    for key, threshold in spec.loop.stop_when.items():
        path = f"loop.stop_when.{key}"
        if key not in keys:
            if not complete:
                continue  # it may belong to the metric that did not resolve (reported already)
            close = difflib.get_close_matches(key, list(keys), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "reported: " + ", ".join(sorted(keys))
            yield SpecIssue(path, "no configured metric reports this value", hint=hint)
            continue
        info = keys[key]
        if not (info.low <= threshold <= info.high):
            yield SpecIssue(path, f"threshold outside the metric's range [{info.low}, {info.high}]", value=threshold)


def _size_checks(spec: ExperimentSpec) -> Iterator[SpecIssue]:
    loop, data = spec.loop, spec.data
    if data.pool_size is not None and loop.initial_size > data.pool_size:
        yield SpecIssue("loop.initial_size", f"larger than data.pool_size ({data.pool_size})", value=loop.initial_size)
    if loop.budget.labels is not None and loop.budget.labels < loop.initial_size:
        yield SpecIssue(
            "loop.budget.labels",
            f"smaller than loop.initial_size ({loop.initial_size}): the first batch could not be labelled",
            value=loop.budget.labels,
            hint="raise the budget or lower initial_size",
        )
    if loop.budget.money == 0:
        yield SpecIssue(
            "loop.budget.money",
            "a money budget of 0 buys nothing",
            value=0,
            hint="leave money out (or null) for no limit",
        )
    if data.test_split is None and data.test_size is None:
        yield SpecIssue("data.test_size", "no test set: set data.test_split or data.test_size")
    if data.test_size is not None and data.test_size >= 1 and data.test_size != int(data.test_size):
        yield SpecIssue(
            "data.test_size", "a count must be a whole number (or use a fraction < 1)", value=data.test_size
        )
