"""Synthetic data for strategy tests: examples, a pool with a labelled set, a selection context.

PYTEST_DONT_REWRITE: the helpers raise ``AssertionError`` with explicit messages themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atgen_core.components import SelectionContext
from atgen_core.types import Example, LabelledView, PoolView, Signals

__all__ = ["make_examples", "make_pool", "selection_context"]

_WORDS = (
    "river stone quick lamp orange seven cloud paper violet engine garden silver window marble "
    "harbor candle forest mirror copper tiger winter pepper rocket meadow"
).split()


def make_examples(
    n: int, *, seed: int = 0, prefix: str = "ex", inputs: Sequence[str] | None = None
) -> tuple[Example, ...]:
    """``n`` examples with ids ``ex0000, ex0001, ...``; inputs of 3-12 words unless ``inputs`` are given.

    Each has ``prompt = "Input: <input>\\nOutput:"`` and a target (the input's words reversed) that is
    also its only reference. Same seed, same examples.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    texts = (
        list(inputs)
        if inputs is not None
        else [" ".join(rng.choice(_WORDS, size=int(rng.integers(3, 13))).tolist()) for _ in range(n)]
    )
    out = []
    for i, text in enumerate(texts):
        target = " ".join(reversed(text.split()))
        out.append(
            Example(
                id=f"{prefix}{i:04d}",
                input=text,
                prompt=f"Input: {text}\nOutput:",
                target=target,
                references=(target,),
                fields={"position": i},
            )
        )
    return tuple(out)


def make_pool(
    n: int, *, labelled: int = 0, seed: int = 0, inputs: Sequence[str] | None = None
) -> tuple[PoolView, LabelledView]:
    """A synthetic pool of ``n`` examples plus a labelled set of ``labelled`` others (labels = targets).

    Ids are unique across both: pool examples are ``ex0000, ex0001, ...``, labelled ones ``lab0000, ...``.
    With ``inputs``, the pool's inputs are exactly those (``n`` is then ignored).
    """
    labelled_examples = make_examples(labelled, seed=seed + 1_000_003, prefix="lab")
    pool_examples = make_examples(len(inputs) if inputs is not None else n, seed=seed, inputs=inputs)
    labels = tuple(e.target or "" for e in labelled_examples)
    return PoolView(pool_examples), LabelledView(labelled_examples, labels)


def selection_context(
    pool: PoolView,
    k: int,
    *,
    labelled: LabelledView | None = None,
    signals: Signals | None = None,
    seed: int = 0,
    iteration: int = 0,
    model: Any = None,
) -> SelectionContext:
    """A ``SelectionContext`` with an rng derived from (seed, iteration), as the loop builds it."""
    import numpy as np

    return SelectionContext(
        pool=pool,
        labelled=labelled if labelled is not None else LabelledView(),
        k=k,
        rng=np.random.default_rng([seed, iteration]),
        iteration=iteration,
        seed=seed,
        signals=signals if signals is not None else Signals(),
        model=model,
    )
