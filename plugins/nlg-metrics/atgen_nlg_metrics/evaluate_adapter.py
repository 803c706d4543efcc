"""An adapter that runs a Hugging Face ``evaluate`` module as an atgen metric.

The module is loaded once per metric instance with ``evaluate.load`` from a hub name (online) or a
local path (a folder holding ``<folder name>.py``, or the script itself), and called as
``module.compute(predictions=..., references=..., **compute_kwargs)``. Each configured key reads one
value of the returned dict: a number becomes a corpus value, a list with one number per example
becomes per-example scores and their mean. ``evaluate`` is an optional dependency
(``pip install 'atgen-nlg-metrics[evaluate]'``), imported only when the metric is used.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PluginConfig
from atgen_nlg_metrics._common import checked_references

__all__ = ["EvaluateConfig", "EvaluateKey", "EvaluateMetric"]


class EvaluateKey(PluginConfig):
    """One reported value: where it comes from in the module's result, and its range and direction."""

    result_key: str | None = Field(
        None, description="Name of the value in the module's result dict. Null: the reported key's own name."
    )
    low: float = Field(0.0, description="Lowest possible value (thresholds are checked against it).")
    high: float = Field(1.0, description="Highest possible value (use 100 for 0-100 scores).")
    higher_is_better: bool = Field(True, description="Direction of the value.")

    @model_validator(mode="after")
    def _check_range(self) -> EvaluateKey:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class EvaluateConfig(PluginConfig):
    """Options of the ``evaluate`` metric adapter."""

    module: str = Field(
        description="evaluate module: a hub name such as 'rouge' or 'org/metric' (needs internet the first "
        "time), or a local path: a folder holding '<folder name>.py', or the metric script itself "
        "(an absolute path is safest: relative paths are resolved against the working directory).",
    )
    keys: dict[str, EvaluateKey] = Field(
        min_length=1,
        description="Values to report: reported name -> {result_key, low, high, higher_is_better}, e.g. "
        "{'meteor': {'high': 1.0}}.",
    )
    references: Literal["first", "all"] = Field(
        "first",
        description="'first': pass one reference string per example (accepted by every module); 'all': pass "
        "the list of all references per example (for multi-reference modules such as bleu or rouge).",
    )
    sources_argument: str | None = Field(
        None,
        description="Name of the compute() argument that receives the source texts (e.g. 'sources' for SARI).",
    )
    config_name: str | None = Field(None, description="Configuration name passed to evaluate.load().")
    load_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra keyword arguments of evaluate.load().")
    compute_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments of module.compute()."
    )


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return float(value.item())
    return None


class EvaluateMetric(Metric[EvaluateConfig]):
    """Any Hugging Face `evaluate` module (by hub name or local path) as a metric."""

    name = "evaluate"
    Config = EvaluateConfig

    def __init__(self, config: EvaluateConfig | None = None) -> None:
        super().__init__(config)
        self._module: Any = None

    def keys(self) -> Mapping[str, MetricKey]:
        return {
            name: MetricKey(low=key.low, high=key.high, higher_is_better=key.higher_is_better)
            for name, key in self.config.keys.items()
        }

    def _load(self) -> Any:
        if self._module is not None:
            return self._module
        try:
            import evaluate
        except ImportError as exc:
            raise ImportError(
                "metric 'evaluate' needs the evaluate package: pip install 'atgen-nlg-metrics[evaluate]'"
            ) from exc
        cfg = self.config
        local = Path(cfg.module).expanduser()
        path = str(local.resolve()) if local.exists() else cfg.module
        try:
            self._module = evaluate.load(path, config_name=cfg.config_name, **cfg.load_kwargs)
        except (FileNotFoundError, ConnectionError, OSError, ValueError) as exc:
            raise ValueError(
                f"metric 'evaluate': could not load module {cfg.module!r} ({exc}); give a local folder "
                "holding '<folder name>.py' or the script's path, or a hub name while online"
            ) from exc
        return self._module

    def close(self) -> None:
        """Drop the loaded module."""
        self._module = None

    def compute(self, ctx: MetricContext) -> MetricResult:
        """Call the module once on all examples and read the configured keys from its result."""
        start = time.perf_counter()
        cfg = self.config
        references = checked_references(ctx, self.name)
        module = self._load()
        kwargs: dict[str, Any] = dict(cfg.compute_kwargs)
        kwargs["predictions"] = [str(p) for p in ctx.predictions]
        kwargs["references"] = references if cfg.references == "all" else [refs[0] for refs in references]
        if cfg.sources_argument:
            kwargs[cfg.sources_argument] = [str(s) for s in ctx.sources]
        result = module.compute(**kwargs)
        if not isinstance(result, Mapping):
            raise ValueError(f"metric 'evaluate': module {cfg.module!r} returned {type(result).__name__}, not a dict")
        n = len(ctx.predictions)
        values: dict[str, float] = {}
        per_example: dict[str, list[float]] = {}
        for name, key in cfg.keys.items():
            source_key = key.result_key or name
            if source_key not in result:
                raise ValueError(
                    f"metric 'evaluate': module {cfg.module!r} returned no {source_key!r} "
                    f"(it returned {sorted(result)}); fix keys.{name}.result_key"
                )
            raw = result[source_key]
            scalar = _as_float(raw)
            if scalar is None:
                items = raw.tolist() if hasattr(raw, "tolist") else raw
                floats = [_as_float(v) for v in items] if isinstance(items, (list, tuple)) else []
                if len(floats) != n or any(v is None for v in floats):
                    raise ValueError(
                        f"metric 'evaluate': {source_key!r} of module {cfg.module!r} is neither a number "
                        f"nor a list of {n} numbers (one per example): {str(raw)[:80]}"
                    )
                scores = [float(v) for v in floats if v is not None]
                per_example[name] = scores
                scalar = float(sum(scores) / n)
            if math.isnan(scalar):
                raise ValueError(f"metric 'evaluate': {source_key!r} of module {cfg.module!r} is NaN")
            values[name] = scalar
        return MetricResult(values=values, per_example=per_example, seconds=time.perf_counter() - start)
