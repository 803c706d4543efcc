"""Model signals without a model: fake generations, samples, embeddings and a deterministic ``FakeModel``.

PYTEST_DONT_REWRITE: the helpers raise ``AssertionError`` with explicit messages themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from atgen_core.types import Embeddings, Generation, GenerationSettings, ProgressFn, no_progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FakeModel", "fake_embeddings", "fake_generations", "fake_samples"]


def _per_id(value: float | Sequence[float] | Mapping[str, float], ids: Sequence[str], what: str) -> list[float]:
    if isinstance(value, Mapping):
        missing = [i for i in ids if i not in value]
        if missing:
            raise KeyError(f"{what}: no value for id {missing[0]!r}")
        return [float(value[i]) for i in ids]
    if isinstance(value, (int, float)):
        return [float(value)] * len(ids)
    values = [float(v) for v in value]
    if len(values) != len(ids):
        raise ValueError(f"{what}: {len(values)} values for {len(ids)} ids")
    return values


def fake_generations(
    ids: Sequence[str],
    *,
    nnll: float | Sequence[float] | Mapping[str, float] = 1.0,
    entropy: float | Sequence[float] | Mapping[str, float] = 1.0,
    length: int = 4,
    texts: Sequence[str] | Mapping[str, str] | None = None,
) -> dict[str, Generation]:
    """Greedy outputs keyed by id whose ``.nnll`` and ``.mean_entropy`` are the given values.

    Each value may be one number for all ids, a sequence aligned with ``ids`` or a mapping by id.
    Every output has ``length`` tokens with the same log-probability ``-nnll`` and entropy.
    """
    if length < 1:
        raise ValueError("length must be >= 1")
    nnlls = _per_id(nnll, ids, "nnll")
    entropies = _per_id(entropy, ids, "entropy")
    out = {}
    for i, id_ in enumerate(ids):
        if texts is None:
            text = f"output for {id_}"
        elif isinstance(texts, Mapping):
            text = texts[id_]
        else:
            text = texts[i]
        out[id_] = Generation(text, (-nnlls[i],) * length, (entropies[i],) * length)
    return out


def fake_samples(samples: Mapping[str, Sequence[str]], *, logprob: float = -1.0) -> dict[str, list[Generation]]:
    """Sampled outputs keyed by id from plain texts (e.g. ``{"ex0000": ["a b", "a c"]}``)."""
    return {
        id_: [Generation(t, (logprob,) * max(1, len(t.split())), (1.0,) * max(1, len(t.split()))) for t in texts]
        for id_, texts in samples.items()
    }


def fake_embeddings(
    ids: Sequence[str],
    *,
    dim: int = 8,
    seed: int = 0,
    vectors: Mapping[str, Sequence[float]] | None = None,
) -> Embeddings:
    """Embeddings for ``ids``: random unit vectors (seeded), or exactly ``vectors`` when given."""
    import numpy as np

    if vectors is not None:
        matrix: np.ndarray = np.asarray([list(vectors[i]) for i in ids], dtype=np.float32).reshape(len(ids), -1)
    else:
        rng = np.random.default_rng(seed)
        matrix = rng.standard_normal((len(ids), dim)).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.maximum(norms, 1e-12)
    return Embeddings(list(ids), matrix)


class FakeModel:
    """A deterministic ``ModelHandle`` for tests: no weights, outputs derived from the prompt text.

    ``generate`` returns ``outputs[prompt]`` when given, else the prompt's last word repeated; token
    scores grow with the prompt length (longer prompts look less certain). ``embed`` hashes words
    into ``dim`` buckets. Calls are recorded in ``calls`` as ``(method, number_of_prompts)``.
    """

    def __init__(self, outputs: Mapping[str, str] | None = None, dim: int = 16) -> None:
        self.outputs = dict(outputs or {})
        self.dim = dim
        self.calls: list[tuple[str, int]] = []

    def _one(self, prompt: str, variant: int = 0) -> Generation:
        words = prompt.split()
        text = self.outputs.get(prompt, " ".join(words[-1:] * 2)) + ("" if variant == 0 else f" v{variant}")
        n = max(1, len(text.split()))
        uncertainty = min(5.0, 0.1 * len(words) + 0.05 * variant)
        return Generation(text, (-uncertainty,) * n, (uncertainty * 0.5,) * n)

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]:
        """One output per prompt."""
        del settings
        self.calls.append(("generate", len(prompts)))
        return [self._one(p) for p in progress(prompts, total=len(prompts), desc="generate")]

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]:
        """``n`` outputs per prompt (the same text with a variant suffix)."""
        del settings
        self.calls.append(("sample", len(prompts)))
        return [[self._one(p, v) for v in range(n)] for p in progress(prompts, total=len(prompts), desc="sample")]

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """Bag-of-words vectors hashed into ``dim`` buckets, L2-normalised."""
        import zlib

        import numpy as np

        self.calls.append(("embed", len(texts)))
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(progress(texts, total=len(texts), desc="embed")):
            for word in text.lower().split():
                matrix[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)
