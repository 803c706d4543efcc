"""Validated configurations of the scoring backends ``local``, ``ray`` and ``ray-vllm`` (no heavy imports)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from atgen_core import PluginConfig

__all__ = ["LocalScoringConfig", "RayClusterFields", "RayScoringConfig", "ShardingFields", "VllmScoringConfig"]

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class ShardingFields(PluginConfig):
    """Options shared by every backend: how results are cut into resumable shard files."""

    shard_size: int = Field(
        64,
        ge=1,
        le=1_000_000,
        description="Pool items per shard file. A shard is the unit of resume (a killed job loses at most the "
        "shards in flight) and of work handed to a worker. Part of the manifest key: changing it starts a new "
        "shard folder.",
    )
    output_dir: str | None = Field(
        None,
        description="Root folder of the shard folders when the request carries no run directory. The loop "
        "always passes one; shards then live in <run_dir>/scoring/<manifest key>/ and this field is ignored.",
    )
    extra_plugin_modules: list[str] = Field(
        default_factory=list,
        description="Dotted names of Python modules registered as extra atgen plugins when the trainer is "
        "rebuilt from the registry (for trainers that are not installed as distributions, e.g. in tests). "
        "Each module must be importable wherever the model is loaded (on every Ray worker).",
    )

    @field_validator("extra_plugin_modules")
    @classmethod
    def _check_modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _MODULE.match(name):
                raise ValueError(
                    f"extra_plugin_modules: {name!r} is not a dotted module name (e.g. 'my_package.hooks')"
                )
        return value


class LocalScoringConfig(ShardingFields):
    """Options of the ``local`` backend (in-process, one shard after the other)."""

    reuse_loop_model: bool = Field(
        True,
        description="Score with the model the loop already has in memory (request.local_model) instead of "
        "rebuilding the trainer from the registry and loading the model a second time.",
    )


class RayClusterFields(PluginConfig):
    """Where the Ray backends run: a private local cluster, or an existing one given by ``address``."""

    address: str | None = Field(
        None,
        description="null: start a private single-machine Ray cluster for the run (shut down on close); "
        "'auto': connect to the cluster already running on this machine (`ray start --head`, or RAY_ADDRESS); "
        "'host:6379' or 'ray://host:10001': connect to that cluster. If Ray is already initialised in this "
        "process, that connection is used and this field is ignored.",
    )
    num_cpus: int | None = Field(
        None, ge=1, description="Private cluster only: CPUs Ray may use (null: every core of the machine)."
    )
    object_store_mb: int | None = Field(
        None, ge=64, description="Private cluster only: size of Ray's object store in MiB (null: Ray's default)."
    )
    temp_dir: str | None = Field(
        None,
        description="Private cluster only: Ray's session folder (null: Ray's default under /tmp). Keep the path "
        "short: Ray's socket paths must stay under about 100 characters.",
    )
    namespace: str | None = Field(None, description="Ray namespace of the job (null: an anonymous one).")
    runtime_env: dict[str, Any] | None = Field(
        None,
        description="Ray runtime environment for the job's workers, e.g. {'pip': ['atgen-lora-trainer']} or "
        "{'env_vars': {'HF_HOME': '/shared/hf'}} (see Ray's docs on runtime environments).",
    )
    show_progress: bool = Field(False, description="Show Ray Data's own progress bars and execution logs.")

    @model_validator(mode="after")
    def _check_private_only(self) -> RayClusterFields:
        if self.address is not None:
            given = [n for n in ("num_cpus", "object_store_mb", "temp_dir") if getattr(self, n) is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: only apply when atgen starts a private cluster (address: null); "
                    f"with address {self.address!r} the cluster's own settings are used, so remove them"
                )
        return self


class RayScoringConfig(ShardingFields, RayClusterFields):
    """Options of the ``ray`` backend (Ray Data ``map_batches`` over shards, one model-holding actor per worker)."""

    num_workers: int = Field(
        1, ge=1, le=100_000, description="Actors scoring shards in parallel; each loads the model once."
    )
    num_cpus_per_worker: float = Field(
        1.0,
        gt=0,
        description="CPUs reserved per actor; Ray sets the actor's OMP_NUM_THREADS (torch threads) from it, "
        "at least 1. Fractions let more actors share cores.",
    )
    num_gpus_per_worker: float = Field(0.0, ge=0, description="GPUs reserved per actor (0: CPU only).")
    ship_adapter: bool = Field(
        True,
        description="Send the adapter's files to the workers through Ray's object store (so workers need no "
        "shared file system for the run directory). False: workers read the adapter from its path.",
    )


Engine = Literal["chat", "plain"]
_RESERVED_ENGINE_KWARGS = {
    "task_type": "the backend always generates",
    "tensor_parallel_size": "use the field tensor_parallel_size",
    "max_lora_rank": "use the field max_lora_rank",
}


class VllmScoringConfig(ShardingFields, RayClusterFields):
    """Options of the ``ray-vllm`` backend (``ray.data.llm`` with the vLLM engine, for GPU machines)."""

    model_source: str | None = Field(
        None,
        description="Model folder or hub id served by vLLM; null uses the spec's model.path. vLLM needs a "
        "Hugging Face format model: for the built-in 'smollm2-135m-instruct' or a .gguf file, point this at a "
        "converted folder (e.g. <cache_dir>/models/<...> written by the lora trainer).",
    )
    concurrency: int = Field(1, ge=1, le=10_000, description="vLLM engine replicas (each on its own GPU set).")
    batch_size: int = Field(64, ge=1, le=100_000, description="Rows per batch handed to a vLLM engine.")
    accelerator_type: str | None = Field(
        None, description="Ray accelerator type required for the engines, e.g. 'A100' or 'L4' (null: any GPU)."
    )
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs per engine (vLLM tensor parallelism).")
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra keyword arguments of the vLLM engine (e.g. {'gpu_memory_utilization': 0.85, "
        "'max_model_len': 2048, 'enable_prefix_caching': true}).",
    )
    logprobs: int = Field(
        20,
        ge=1,
        le=1000,
        description="Top alternatives vLLM returns per generated token. The chosen token's log-probability is "
        "exact; the token entropy is estimated from these alternatives (a lower bound of the full entropy).",
    )
    prompt_format: Engine = Field(
        "chat",
        description="'chat': the prompt is the user message of the tokenizer's chat template (what the lora "
        "trainer does for chat models); 'plain': the prompt followed by a newline, no template.",
    )
    system_prompt: str | None = Field(
        None, description="System message placed before the user turn (chat format only); match the trainer's."
    )
    max_lora_rank: int = Field(64, ge=1, le=1024, description="Largest LoRA rank vLLM reserves memory for.")

    @field_validator("engine_kwargs")
    @classmethod
    def _check_engine_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, why in _RESERVED_ENGINE_KWARGS.items():
            if key in value:
                raise ValueError(f"engine_kwargs: remove {key!r} ({why})")
        return value

    @model_validator(mode="after")
    def _check_logprobs(self) -> VllmScoringConfig:
        limit = self.engine_kwargs.get("max_logprobs")
        if limit is not None and int(limit) < self.logprobs:
            raise ValueError(
                f"logprobs: {self.logprobs} is more than engine_kwargs.max_logprobs ({limit}); lower logprobs "
                "or raise max_logprobs"
            )
        if self.system_prompt is not None and self.prompt_format == "plain":
            raise ValueError("system_prompt: only used with prompt_format 'chat'; remove it or use 'chat'")
        return self
