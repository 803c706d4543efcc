"""Helpers of the ray-scoring tests (a unique module name, so tests of all plugins can share a session)."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atgen_core import GenerationSettings, ModelSpec, ScoringRequest

FAKE_MODULE = "ray_scoring_fake_trainer"
TESTS = Path(__file__).resolve().parent

CORPUS = [
    "name: Blue Spice, eatType: coffee shop, area: city centre",
    "Blue Spice is a coffee shop in the city centre.",
    "name: The Eagle, food: French, priceRange: cheap, area: riverside",
    "The Eagle serves cheap French food by the riverside.",
    "Describe the restaurant. Summarise the text. The quick brown fox jumps over the lazy dog.",
]
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def prompts(n: int) -> tuple[list[str], list[str]]:
    """``n`` ids and distinct prompts of varying length."""
    words = " ".join(CORPUS).split()
    ids = [f"row{i:04d}" for i in range(n)]
    texts = [f"Describe: {' '.join(words[i % 17 : i % 17 + 2 + i % 7])} #{i}" for i in range(n)]
    return ids, texts


def request(
    ids: Sequence[str],
    texts: Sequence[str],
    *,
    run_dir: Path | None,
    trainer: str = "fake-counting",
    trainer_config: dict[str, Any] | None = None,
    model_path: str = "fake-model",
    adapter: Path | None = None,
    settings: GenerationSettings | None = None,
    n_samples: int = 0,
    **extra: Any,
) -> ScoringRequest:
    """A scoring request as the loop builds it (no in-process model unless ``local_model`` is given)."""
    return ScoringRequest(
        round=1,
        ids=list(ids),
        prompts=list(texts),
        settings=settings or GenerationSettings(max_new_tokens=6, batch_size=4, seed=7),
        trainer_name=trainer,
        trainer_config=trainer_config or {},
        model=ModelSpec(path=model_path, max_input_tokens=64),
        adapter=adapter,
        n_samples=n_samples,
        seed=3,
        run_dir=run_dir,
        **extra,
    )


def scored_counts(counter_dir: Path) -> collections.Counter[str]:
    """How many times each prompt was scored, over every process's log."""
    counts: collections.Counter[str] = collections.Counter()
    if counter_dir.is_dir():
        for log in counter_dir.glob("*.log"):
            counts.update(line for line in log.read_text(encoding="utf-8").splitlines() if line)
    return counts


def make_tiny_llama(root: Path, seed: int = 0) -> Path:
    """Save a 2-layer Llama (random weights) with a BPE tokenizer trained here into ``root``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>")
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger than default weights: outputs then differ from prompt to prompt
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.4)
    root.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(root)
    tok.save_pretrained(root)
    return root


def loop_spec(data_file: Path, scoring: dict[str, Any] | None, strategy: str = "nsp") -> dict[str, Any]:
    """A small experiment with the fake trainer: a warm start of 4, then 2 rounds of 4 scored by ``strategy``."""
    spec: dict[str, Any] = {
        "name": "scoring-test",
        "seed": 5,
        "data": {"source": {"name": "files", "config": {"train": str(data_file)}}, "test_size": 0.2,
                 "prompt": "{input}"},
        "model": {"path": "fake-model", "generation": {"max_new_tokens": 8, "batch_size": 4}},
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 2, "evaluate_untrained": False},
        "strategy": {"name": strategy},
        "annotator": {"name": "oracle"},
        "trainer": {"name": "fake-counting"},
        "metrics": [{"name": "exact-match"}],
    }
    if scoring is not None:
        spec["scoring"] = scoring
    return spec


def write_data(path: Path, n: int = 30) -> Path:
    """A JSONL file of ``n`` rows (id, input, target)."""
    ids, texts = prompts(n)
    path.write_text("".join(json.dumps({"id": i, "input": t, "target": t.upper()}) + "\n" for i, t in zip(ids, texts)))
    return path


def run_loop(spec: dict[str, Any], run_dir: Path) -> list[list[str]]:
    """Run the experiment with the fake trainer registered; the selection of every round."""
    import importlib

    from atgen_core.loop import Experiment
    from atgen_core.plugins import load_registry

    registry = load_registry(plugins=[(FAKE_MODULE, importlib.import_module(FAKE_MODULE))])
    with Experiment.from_spec(spec, registry=registry, run_dir=run_dir) as exp:
        exp.run()
        rounds = []
        r = 0
        while (sel := exp.store.selection(r)) is not None:
            rounds.append(sel)
            r += 1
    return rounds


def processes_under(marker: str) -> set[int]:
    """Pids whose command line mentions ``marker`` (a unique Ray temp dir), plus all their descendants."""
    parents: dict[int, int] = {}
    roots: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if marker in cmdline:
            roots.add(int(entry.name))
    found = set(roots)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        grew = bool(children)
        found |= children
    return found


def kill_pids(pids: set[int], grace: float = 5.0) -> list[int]:
    """SIGKILL the pids still alive after ``grace`` seconds; the ones that had to be killed."""
    deadline = time.monotonic() + grace
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if Path(f"/proc/{p}").exists() and "(Z" not in _state(p)}
        if alive:
            time.sleep(0.2)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(alive)


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "(Z"
    return "(" + stat.rsplit(")", 1)[1].split()[0]


def _job_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), *(p for p in sys.path if p)])
    return env


def run_killed_job(args: dict[str, Any], run_dir: Path, min_shards: int, timeout: float = 120.0) -> set[str]:
    """Start ``ray_scoring_job.py``, SIGKILL it once ``min_shards`` shard files exist; the finished shards.

    The job's output goes to ``<run_dir>.log`` (a file, so that a chatty job never blocks on a full pipe).
    """
    log_path = run_dir.with_name(run_dir.name + ".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(TESTS / "ray_scoring_job.py"), json.dumps(args)],
            env=_job_env(), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if len(list(run_dir.glob("scoring/*/shard-*.parquet"))) >= min_shards:
                    break
                if proc.poll() is not None:
                    tail = log_path.read_bytes().decode(errors="replace")[-2000:]
                    raise AssertionError(f"the job ended before it was killed:\n{tail}")
                time.sleep(0.05)
            else:
                raise AssertionError(f"the job wrote no {min_shards} shards in {timeout} s")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return {p.stem for p in run_dir.glob("scoring/*/shard-*.parquet")}
