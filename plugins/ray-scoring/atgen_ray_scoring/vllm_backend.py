"""The ``ray-vllm`` backend: shards scored by ``ray.data.llm``'s vLLM processor (GPU machines)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from atgen_core import Generation, ScoringRequest
from atgen_core.atomic import atomic_write
from atgen_ray_scoring.backend import ShardedBackend
from atgen_ray_scoring.config import VllmScoringConfig
from atgen_ray_scoring.records import generations_to_parquet
from atgen_ray_scoring.session import RaySession, require_ray
from atgen_ray_scoring.shards import Shard, shard_path, shard_seed
from atgen_ray_scoring.vllm_rows import VllmRequestBuilder, VllmResultReader, row_seed
from atgen_ray_scoring.work import ShardTask

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VllmModel", "VllmScoring", "require_vllm"]

VLLM_INSTALL = "pip install 'atgen-ray-scoring[vllm]'  (vLLM needs a CUDA GPU)"
_BUILTIN = "smollm2-135m-instruct"


def require_vllm() -> None:
    """Raise an ImportError naming the install command when vLLM or ``ray.data.llm`` is missing."""
    require_ray("the 'ray-vllm' scoring backend")
    if importlib.util.find_spec("vllm") is None:
        raise ImportError(
            "the 'ray-vllm' scoring backend needs vLLM, which is not installed; on a machine with a CUDA GPU "
            f"install it with: {VLLM_INSTALL}. Without a GPU use the 'ray' or 'local' backend"
        )
    if importlib.util.find_spec("ray.data.llm") is None:
        raise ImportError(f"this Ray has no ray.data.llm (Ray >= 2.44 is needed); upgrade with: {VLLM_INSTALL}")


@dataclass(frozen=True)
class VllmModel:
    """What vLLM serves for a request: the base (or fully fine-tuned) model and an optional LoRA folder."""

    source: str
    lora_path: str | None = None


class VllmScoring(ShardedBackend):
    """Pool scoring with vLLM through Ray Data LLM (ray.data.llm): fast batched generation on GPUs.

    The round's LoRA adapter is served as a vLLM LoRA request (its folder must be readable by the GPU
    workers); log-probabilities of the chosen tokens are vLLM's, token entropies are estimated from the
    top ``logprobs`` alternatives.
    """

    name: ClassVar[str] = "ray-vllm"
    Config = VllmScoringConfig
    config: VllmScoringConfig
    can_embed: ClassVar[bool] = False
    """vLLM serves generation here; the loop embeds in-process (its embedder's own cache) instead."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.session = RaySession(self.config)

    # -- what vLLM serves --------------------------------------------------------------------------

    def served_model(self, request: ScoringRequest) -> VllmModel:
        """The model folder (or hub id) and LoRA folder for ``request``; errors name the field to fix."""
        spec = request.model
        source = self.config.model_source
        if source is None:
            if spec.path == _BUILTIN or spec.path.endswith(".gguf") or spec.gguf_file is not None:
                raise ValueError(
                    f"model_source: vLLM needs a Hugging Face format model, but model.path is {spec.path!r} "
                    "(GGUF). Set the ray-vllm config field model_source to a converted model folder or hub id"
                )
            source = spec.path
        if request.adapter is None:
            return VllmModel(source)
        adapter = Path(request.adapter)
        if (adapter / "adapter_config.json").is_file():
            return VllmModel(source, str(adapter.resolve()))
        if (adapter / "config.json").is_file():
            return VllmModel(str(adapter.resolve()))  # a fully fine-tuned model replaces the base
        raise ValueError(
            f"the adapter {adapter} holds neither a LoRA adapter (adapter_config.json) nor a model (config.json)"
        )

    def _engine(self, request: ScoringRequest) -> Mapping[str, Any]:
        self.served_model(request)  # fail early, before a shard folder is made, on a model vLLM cannot serve
        cfg = self.config
        return {
            "kind": "vllm",
            "model_source": cfg.model_source or request.model.path,
            "logprobs": cfg.logprobs,
            "prompt_format": cfg.prompt_format,
            "system_prompt": cfg.system_prompt,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "engine_kwargs": cfg.engine_kwargs,
        }

    def engine_kwargs(self, served: VllmModel) -> dict[str, Any]:
        """vLLM engine arguments: the user's, plus parallelism, log-prob capacity and LoRA when needed."""
        cfg = self.config
        kwargs = dict(cfg.engine_kwargs)
        kwargs["tensor_parallel_size"] = cfg.tensor_parallel_size
        kwargs["max_logprobs"] = max(int(kwargs.get("max_logprobs", 0)), cfg.logprobs)
        kwargs.setdefault("trust_remote_code", False)
        if served.lora_path is not None:
            kwargs["enable_lora"] = True
            kwargs["max_lora_rank"] = cfg.max_lora_rank
        return kwargs

    def processor_config(self, request: ScoringRequest) -> Any:
        """The ``ray.data.llm.vLLMEngineProcessorConfig`` this request runs with (needs Ray, not vLLM)."""
        require_ray("the 'ray-vllm' scoring backend")
        from ray.data.llm import vLLMEngineProcessorConfig

        served = self.served_model(request)
        cfg = self.config
        return vLLMEngineProcessorConfig(
            model_source=served.source,
            engine_kwargs=self.engine_kwargs(served),
            batch_size=cfg.batch_size,
            concurrency=cfg.concurrency,
            accelerator_type=cfg.accelerator_type,
            runtime_env=cfg.runtime_env,
            chat_template_stage=cfg.prompt_format == "chat",
            tokenize_stage=True,
            detokenize_stage=True,
            log_engine_metrics=False,
        )

    def request_builder(self, request: ScoringRequest, task: ShardTask) -> VllmRequestBuilder:
        """The processor's ``preprocess`` for this request."""
        return VllmRequestBuilder(
            settings=task.settings,
            logprobs=self.config.logprobs,
            prompt_format=self.config.prompt_format,
            system_prompt=self.config.system_prompt,
            max_input_tokens=request.model.max_input_tokens,
            lora_path=self.served_model(request).lora_path,
        )

    def _build_processor(self, request: ScoringRequest, task: ShardTask) -> Any:
        from ray.data.llm import build_processor

        return build_processor(
            self.processor_config(request), preprocess=self.request_builder(request, task),
            postprocess=VllmResultReader(),
        )

    # -- the job -----------------------------------------------------------------------------------

    @staticmethod
    def input_rows(task: ShardTask, shards: Sequence[Shard]) -> list[dict[str, Any]]:
        """One row per (id, sample): vLLM's stage returns one output per request, so samples are rows."""
        per_id = task.n_samples if task.task == "sample" else 1
        rows = []
        for shard in shards:
            seed = shard_seed(task.settings.seed, shard.name)
            for index, (id_, prompt) in enumerate(zip(shard.ids, shard.prompts)):
                for sample in range(per_id):
                    rows.append({"shard": shard.name, "id": id_, "sample": sample, "prompt": prompt,
                                 "seed": row_seed(seed, index, sample)})
        return rows

    def embed(self, request: ScoringRequest) -> np.ndarray:
        """Not supported: vLLM serves generation here; use the ``ray`` or ``local`` backend for embeddings."""
        del request
        raise NotImplementedError("the 'ray-vllm' backend does not embed; use the 'ray' backend for embeddings")

    def _compute(
        self, request: ScoringRequest, task: ShardTask, shards: Sequence[Shard], folder: Path
    ) -> dict[str, Any] | None:
        if task.task == "embed":
            raise NotImplementedError("the 'ray-vllm' backend does not embed; use the 'ray' backend for embeddings")
        require_vllm()
        self._run_processor(request, task, shards, folder, self._build_processor(request, task))
        return None

    def _run_processor(
        self, request: ScoringRequest, task: ShardTask, shards: Sequence[Shard], folder: Path, processor: Any
    ) -> None:
        """Feed the rows of ``shards`` through ``processor`` and write each shard once all its rows are back."""
        self.session.ensure()
        import ray.data

        per_id = task.n_samples if task.task == "sample" else 1
        by_name = {s.name: s for s in shards}
        pending: dict[str, dict[tuple[str, int], Generation]] = {s.name: {} for s in shards}
        rows = self.input_rows(task, shards)
        ds = processor(ray.data.from_items(rows))
        for row in request.progress(ds.iter_rows(), total=len(rows), desc=f"{task.task} (vllm rows)"):
            name = str(row["shard"])
            if name not in pending:
                raise RuntimeError(f"vLLM returned a row of unknown shard {name!r}")
            result = json.loads(str(row["result"]))
            pending[name][(str(row["id"]), int(row["sample"]))] = Generation(
                text=result["text"],
                token_logprobs=tuple(result["token_logprobs"]),
                token_entropies=tuple(result["token_entropies"]),
            )
            shard = by_name[name]
            if len(pending[name]) == len(shard) * per_id:
                outputs = [[pending[name][(id_, j)] for j in range(per_id)] for id_ in shard.ids]
                atomic_write(shard_path(folder, name), generations_to_parquet(shard.ids, outputs))
                del pending[name]

    def close(self) -> None:
        """Shut down the private Ray cluster, if this backend started one."""
        self.session.close()
