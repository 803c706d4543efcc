"""The ``lora`` trainer component: loads models for evaluation/scoring and fine-tunes them per round."""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from atgen_core import ModelContext, ModelSpec, PreflightContext, Problem, TrainContext, Trainer, TrainResult
from atgen_lora_trainer.config import LoraTrainerConfig
from atgen_lora_trainer.handle import TorchModelHandle
from atgen_lora_trainer.loading import LoadedModel, ModelUnavailableError, load_base_model, resolve_device
from atgen_lora_trainer.preflight import model_problems
from atgen_lora_trainer.prompts import PromptFormat
from atgen_lora_trainer.training import LoopSettings, run_training

__all__ = ["LoraTrainer"]

ADAPTER_DIR = "adapter"
FULL_MODEL_DIR = "model"
META_FILE = "atgen-trainer.json"


@contextmanager
def _peft_deprecations_hidden() -> Iterator[None]:
    """peft reads ``model.is_gradient_checkpointing``, which transformers 5 deprecates with a FutureWarning
    on every adapter a run builds; nothing a user can act on, so it is hidden (only that warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


class LoraTrainer(Trainer[LoraTrainerConfig]):
    """Fine-tunes a causal (or seq2seq) LM with LoRA, DoRA, QLoRA or full fine-tuning (completion-only loss).

    ``load`` returns a :class:`TorchModelHandle` over the base model (with an adapter or fully
    fine-tuned weights applied when given). ``train`` fine-tunes on the labelled pairs and saves only
    the adapter (or, for ``method: full``, the whole model) under ``ctx.output_dir``. With zero training
    examples nothing is trained: the base model is returned untrained and ``adapter_path`` is ``None``.
    """

    name: ClassVar[str] = "lora"
    default: ClassVar[bool] = True
    """The default of its kind: specs that leave it out get this component."""
    Config = LoraTrainerConfig

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """The model path (or GGUF file) must exist, or be a well-formed hub id; no model is loaded."""
        return model_problems(ctx.model, ctx.environ)

    # -- helpers -----------------------------------------------------------------------------------

    def _max_input_tokens(self, spec: ModelSpec) -> int:
        return self.config.max_input_tokens or spec.max_input_tokens

    def _prompt_format(self, loaded: LoadedModel, spec: ModelSpec) -> PromptFormat:
        return PromptFormat(
            loaded.tokenizer,
            mode=self.config.prompt_format,
            system_prompt=self.config.system_prompt,
            max_input_tokens=self._max_input_tokens(spec),
            encoder_decoder=bool(getattr(loaded.model.config, "is_encoder_decoder", False)),
        )

    def _quantization(self) -> Any:
        if self.config.method != "qlora":
            return None
        import torch

        if not torch.cuda.is_available():
            raise ModelUnavailableError(
                "trainer.config.method: 'qlora' needs a CUDA GPU (4-bit bitsandbytes kernels); none is available here. "
                "Use method: lora on the CPU"
            )
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )

    def _load_base(self, spec: ModelSpec, cache_dir: Path | None) -> LoadedModel:
        return load_base_model(spec, cache_dir, self.config.device, self._quantization())

    def _handle(self, model: Any, loaded: LoadedModel, fmt: PromptFormat, note: str) -> TorchModelHandle:
        return TorchModelHandle(
            model,
            loaded.tokenizer,
            fmt,
            device=resolve_device(self.config.device),
            description=f"{loaded.source.describe()}{note}",
        )

    def _for_inference(self, model: Any) -> Any:
        """Merge LoRA/DoRA weights into the base weights (not for 4-bit bases), in eval mode."""
        from peft import PeftModel

        if isinstance(model, PeftModel) and self.config.merge_for_inference and self.config.method != "qlora":
            model = model.merge_and_unload()
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    # -- Trainer API -------------------------------------------------------------------------------

    def load(self, ctx: ModelContext, adapter: Path | None = None) -> TorchModelHandle:
        """The base model, with the adapter (or full fine-tuned weights) saved at ``adapter`` applied."""
        loaded = self._load_base(ctx.model, ctx.cache_dir)
        fmt = self._prompt_format(loaded, ctx.model)
        if adapter is None:
            return self._handle(loaded.model, loaded, fmt, "")
        adapter = Path(adapter)
        model = self._apply_saved(loaded, adapter, ctx.model, trainable=False)
        return self._handle(self._for_inference(model), loaded, fmt, f" + {adapter}")

    def _apply_saved(self, loaded: LoadedModel, path: Path, spec: ModelSpec, trainable: bool) -> Any:
        """A LoRA adapter folder on top of the base, or a fully fine-tuned model folder."""
        if (path / "adapter_config.json").is_file():
            from peft import PeftModel

            with _peft_deprecations_hidden():
                return PeftModel.from_pretrained(loaded.model, str(path), is_trainable=trainable)
        if (path / "config.json").is_file():
            from atgen_lora_trainer.loading import torch_dtype

            model = type(loaded.model).from_pretrained(str(path), dtype=torch_dtype(spec.dtype))
            return model.to(resolve_device(self.config.device))
        raise FileNotFoundError(
            f"{path} holds neither a LoRA adapter (adapter_config.json) nor a model (config.json); "
            "pass the adapter_path returned by a previous training round"
        )

    def _trainable(self, loaded: LoadedModel, ctx: TrainContext) -> tuple[Any, str]:
        """The model to train and how it started ('fresh' or 'previous')."""
        import torch

        cfg = self.config
        if cfg.warm_start == "previous" and ctx.previous_adapter is not None:
            previous = Path(ctx.previous_adapter)
            if not previous.exists():
                raise FileNotFoundError(f"warm_start: previous adapter {previous} does not exist")
            model = self._apply_saved(loaded, previous, ctx.model, trainable=True)
            if cfg.method == "full":
                for p in model.parameters():
                    p.requires_grad_(True)
            return model, "previous"
        if cfg.method == "full":
            model = loaded.model
            for p in model.parameters():
                p.requires_grad_(True)
            return model, "fresh"
        from peft import LoraConfig, TaskType, get_peft_model

        if cfg.method == "qlora":
            from peft import prepare_model_for_kbit_training

            loaded.model = prepare_model_for_kbit_training(loaded.model, use_gradient_checkpointing=False)
        encoder_decoder = bool(getattr(loaded.model.config, "is_encoder_decoder", False))
        targets = cfg.target_modules if isinstance(cfg.target_modules, str) else list(cfg.target_modules)
        lora = LoraConfig(
            r=cfg.r,
            lora_alpha=cfg.alpha,
            lora_dropout=cfg.dropout,
            target_modules=targets,
            use_dora=cfg.method == "dora",
            bias="none",
            task_type=TaskType.SEQ_2_SEQ_LM if encoder_decoder else TaskType.CAUSAL_LM,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed)  # LoRA A matrices are initialised from the torch RNG
            with _peft_deprecations_hidden():
                model = get_peft_model(loaded.model, lora)
        return model, "fresh"

    def train(self, ctx: TrainContext) -> TrainResult:
        """Fine-tune on ``ctx.examples`` and save the adapter under ``ctx.output_dir``."""
        started = time.perf_counter()
        cfg = self.config
        model_ctx = ModelContext(model=ctx.model, seed=ctx.seed, cache_dir=ctx.cache_dir, progress=ctx.progress)
        if not ctx.examples:
            handle = self.load(model_ctx)
            return TrainResult(
                model=handle,
                adapter_path=None,
                train_loss=None,
                steps=0,
                seconds=time.perf_counter() - started,
                extra={"skipped": "no training examples: the base model is returned untrained"},
            )
        loaded = self._load_base(ctx.model, ctx.cache_dir)
        fmt = self._prompt_format(loaded, ctx.model)
        pairs = [fmt.encode_pair(e.prompt, e.target, cfg.max_output_tokens) for e in ctx.examples]
        model, start = self._trainable(loaded, ctx)
        device = resolve_device(cfg.device)
        settings = LoopSettings(
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            gradient_accumulation=cfg.gradient_accumulation,
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            warmup_ratio=cfg.warmup_ratio,
            lr_scheduler=cfg.lr_scheduler,
            max_grad_norm=cfg.max_grad_norm,
            seed=ctx.seed,
        )
        train_started = time.perf_counter()
        stats = run_training(
            model,
            pairs,
            settings,
            pad_id=int(loaded.tokenizer.pad_token_id),
            device=device,
            progress=ctx.progress,
            desc=f"train round {ctx.iteration}",
        )
        train_seconds = time.perf_counter() - train_started
        saved = self._save(model, loaded, ctx, stats.final_loss, start)
        handle = self._handle(self._for_inference(model), loaded, fmt, f" + {saved}")
        return TrainResult(
            model=handle,
            adapter_path=saved,
            train_loss=stats.final_loss,
            steps=stats.steps,
            seconds=time.perf_counter() - started,
            extra={
                "method": cfg.method,
                "start": start,
                "examples": len(pairs),
                "completion_tokens": stats.tokens,
                "epoch_losses": stats.epoch_losses,
                "first_step_loss": stats.step_losses[0] if stats.step_losses else None,
                "train_seconds": train_seconds,
                "prompt_format": fmt.name,
                "fast_head": stats.fast_head,
            },
        )

    def _save(self, model: Any, loaded: LoadedModel, ctx: TrainContext, loss: float | None, start: str) -> Path:
        """Save the adapter (or full model) atomically into ``output_dir/adapter`` (or ``/model``)."""
        name = FULL_MODEL_DIR if self.config.method == "full" else ADAPTER_DIR
        out = Path(ctx.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        final, tmp = out / name, out / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp))
        if self.config.method == "full":
            loaded.tokenizer.save_pretrained(str(tmp))
        meta = {
            "trainer": self.name,
            "method": self.config.method,
            "base_model": ctx.model.path,
            "iteration": ctx.iteration,
            "seed": ctx.seed,
            "start": start,
            "examples": len(ctx.examples),
            "train_loss": loss,
            "config": self.config.model_dump(),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        return final
