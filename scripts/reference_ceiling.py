"""How far a model could climb on a multi-reference task: ROUGE of each reference against the others.

On a task whose inputs have several human references (E2E: about 4.7 per input), one reference scored
against the others with the metric the loop uses (rouge-score, Porter stemming, best reference per
example) says what a *human* output scores. When a small model's learning curve already sits close to that
figure, later labels cannot add much, whichever strategy picks them, and no strategy can show large label
savings on that metric. Run it before paying for a grid:

    python scripts/reference_ceiling.py "$ATGEN_SHARED_DATA/e2e_nlg.jsonl"
    python scripts/reference_ceiling.py data.jsonl --input-column source --references-column refs --metric rouge1

Rows with the same input are grouped and their references pooled (duplicates dropped). Inputs with fewer
than two distinct references are left out. The held-out reference competes against one reference fewer
than a model's output does, so the figure slightly understates the ceiling.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def pooled_references(
    rows: Iterable[Mapping[str, Any]], input_column: str, references_column: str
) -> dict[str, list[str]]:
    """Distinct references per input text, in order of appearance (a plain string counts as one)."""
    pooled: dict[str, list[str]] = {}
    for number, row in enumerate(rows, start=1):
        if input_column not in row or references_column not in row:
            missing = input_column if input_column not in row else references_column
            raise KeyError(f"row {number} has no column {missing!r}; columns: {', '.join(sorted(row))}")
        refs = row[references_column]
        refs = [refs] if isinstance(refs, str) else list(refs)
        bucket = pooled.setdefault(str(row[input_column]), [])
        bucket.extend(r for r in refs if isinstance(r, str) and r.strip() and r not in bucket)
    return pooled


def leave_one_out(pooled: Mapping[str, Sequence[str]], metric: str = "rougeL") -> dict[str, list[float]]:
    """Per input with >= 2 references, one F1 per reference: that reference against the others."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer([metric], use_stemmer=True)
    scores: dict[str, list[float]] = {}
    for text, refs in pooled.items():
        if len(refs) < 2:
            continue
        scores[text] = [
            float(scorer.score_multi([*refs[:i], *refs[i + 1 :]], held_out)[metric].fmeasure)
            for i, held_out in enumerate(refs)
        ]
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jsonl", type=Path, help="JSON Lines file, one example per line")
    parser.add_argument("--input-column", default="input")
    parser.add_argument("--references-column", default="references")
    parser.add_argument("--metric", default="rougeL", help="rouge-score type: rouge1, rouge2, rougeL, ...")
    args = parser.parse_args(argv)
    try:
        lines = args.jsonl.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        pooled = pooled_references(rows, args.input_column, args.references_column)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.jsonl}: {exc}", file=sys.stderr)
        return 2
    scores = leave_one_out(pooled, args.metric)
    if not scores:
        print(f"error: {args.jsonl}: no input has two or more distinct references", file=sys.stderr)
        return 1
    flat = [s for per_input in scores.values() for s in per_input]
    per_input = statistics.fmean(statistics.fmean(v) for v in scores.values())
    print(f"{len(rows)} rows, {len(pooled)} distinct inputs, {len(scores)} with >= 2 distinct references")
    print(f"{args.metric} of a held-out human reference against the others: {statistics.fmean(flat):.3f} "
          f"over {len(flat)} references, {per_input:.3f} averaged per input")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
