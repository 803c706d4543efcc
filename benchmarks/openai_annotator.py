"""Benchmark of the ``openai`` annotator against the local stub server (no network, no API key).

Each request takes ``--delay`` seconds at the stub (a stand-in for API latency). The baseline is the
same annotator with ``concurrency=1`` in the same process; the script prints the speed-up of the
configured concurrency, and of a resumed run served entirely from the cache.

    python benchmarks/openai_annotator.py [--items 48] [--delay 0.05] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from atgen_openai_annotator.annotator import OpenAIAnnotator
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply

from atgen_core import AnnotationContext, AnnotationItem, Example
from atgen_core.types import MemoryCache


def timed_run(annotator: OpenAIAnnotator, items: list[AnnotationItem], cache: MemoryCache | None) -> float:
    ctx = AnnotationContext(cache=cache) if cache is not None else AnnotationContext()
    start = time.perf_counter()
    results = list(annotator.annotate(items, ctx))
    elapsed = time.perf_counter() - start
    bad = [r for r in results if r.status != "ok"]
    if len(results) != len(items) or bad:
        raise SystemExit(f"benchmark run failed: {len(bad)} of {len(results)} results not ok")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per request at the stub")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    os.environ["ATGEN_BENCH_STUB_KEY"] = "sk-bench-not-a-real-key"
    items = [AnnotationItem(Example(f"b{i}", f"input {i}", f"Question {i}?")) for i in range(args.items)]
    with OpenAIStub() as stub:
        stub.responder = lambda req: StubReply.slow(args.delay, "answer")

        def build(concurrency: int) -> OpenAIAnnotator:
            return OpenAIAnnotator(
                OpenAIAnnotator.Config(
                    base_url=stub.base_url, api_key_env="ATGEN_BENCH_STUB_KEY", concurrency=concurrency
                )
            )

        timed_run(build(1), items[:1], None)  # warm-up: the openai client is imported on first use
        baseline = timed_run(build(1), items, None)
        concurrent = timed_run(build(args.concurrency), items, None)
        cache = MemoryCache()
        timed_run(build(args.concurrency), items, cache)
        sent = stub.count()
        cached = timed_run(build(args.concurrency), items, cache)
        assert stub.count() == sent, "the cached replay sent requests"
    print(f"items={args.items} delay={args.delay}s concurrency={args.concurrency}")
    print(f"baseline (concurrency=1):     {baseline:.3f}s  ({args.items / baseline:.1f} items/s)")
    print(f"concurrency={args.concurrency:<3}             {concurrent:.3f}s  ({args.items / concurrent:.1f} items/s)")
    print(f"speed-up ratio:               {baseline / concurrent:.2f}x (ideal {args.concurrency}x)")
    print(f"cached replay (0 requests):   {cached:.3f}s  ratio vs baseline {baseline / max(cached, 1e-9):.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
