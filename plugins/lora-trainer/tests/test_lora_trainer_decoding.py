"""Scores of generated tokens match a direct forward pass; padding and batching change no score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from atgen_lora_trainer.decoding import DecodeOptions, decode_causal
from atgen_lora_trainer.trainer import LoraTrainer

from atgen_core import GenerationSettings, ModelContext, ModelSpec

SHORT = "Describe: Blue Spice"
LONGER = [
    "Describe: name: The Eagle, food: French, priceRange: cheap, area: riverside, near the city centre",
    "What is the capital of France? The quick brown fox jumps over the lazy dog. Summarise the text.",
    "name: Blue Spice, eatType: coffee shop",
]


def load(model_dir: Path) -> Any:
    return LoraTrainer().load(ModelContext(model=ModelSpec(path=str(model_dir))))


def direct_scores(handle: Any, prompt: str, generated: list[int]) -> tuple[list[float], list[float], list[float]]:
    """Log-probs, entropies and best log-probs of ``generated`` after ``prompt`` (one unpadded forward)."""
    import torch

    (ids,) = handle.prompt_format.prompt_ids([prompt])
    seq = torch.tensor([ids + generated])
    with torch.no_grad():
        logits = handle.model(input_ids=seq).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    steps = range(len(ids) - 1, len(ids) - 1 + len(generated))
    lps = [float(logp[t, tok]) for t, tok in zip(steps, generated)]
    ents = [float(-(logp[t].exp() * logp[t]).sum()) for t in steps]
    best = [float(logp[t].max()) for t in steps]
    return lps, ents, best


def generated_ids(handle: Any, text_len: int, gen: Any, prompt: str) -> list[int]:
    """Re-run the decoder for ``prompt`` to get its token ids (the Generation only has text)."""
    import torch

    (ids,) = handle.prompt_format.prompt_ids([prompt])
    options = DecodeOptions(max_new_tokens=text_len, eos_ids=handle.eos_ids, pad_id=handle.pad_id)
    with torch.inference_mode():
        (row,) = decode_causal(handle.model, [ids], options)
    assert row.logprobs == pytest.approx(list(gen.token_logprobs), abs=1e-5)
    return row.tokens


@pytest.mark.parametrize("fixture", ["chatml_model_dir", "plain_model_dir"])
def test_greedy_scores_match_forward_pass_and_ignore_padding(fixture: str, request: pytest.FixtureRequest) -> None:
    handle = load(request.getfixturevalue(fixture))
    settings = GenerationSettings(max_new_tokens=12, batch_size=8)
    alone = handle.generate([SHORT], settings)[0]
    batched = handle.generate([*LONGER, SHORT], settings)
    with_padding = batched[-1]
    assert alone.num_tokens >= 1
    assert with_padding.text == alone.text
    assert with_padding.token_logprobs == pytest.approx(alone.token_logprobs, abs=1e-4)
    assert with_padding.token_entropies == pytest.approx(alone.token_entropies, abs=1e-4)

    tokens = generated_ids(handle, settings.max_new_tokens, alone, SHORT)
    lps, ents, best = direct_scores(handle, SHORT, tokens)
    assert list(alone.token_logprobs) == pytest.approx(lps, abs=1e-4)
    assert list(alone.token_entropies) == pytest.approx(ents, abs=1e-4)
    assert all(e > 0 for e in alone.token_entropies)
    assert lps == pytest.approx(best, abs=1e-6)  # greedy picks the arg-max at every step

    # Each output in the batch equals its own unbatched generation (order restored).
    for prompt, gen in zip(LONGER, batched):
        single = handle.generate([prompt], settings)[0]
        assert gen.text == single.text
        assert gen.token_logprobs == pytest.approx(single.token_logprobs, abs=1e-4)


def test_scores_stop_at_the_first_end_of_sequence(chatml_model_dir: Path) -> None:
    import torch

    handle = load(chatml_model_dir)
    prompts = handle.prompt_format.prompt_ids([SHORT, LONGER[0]])
    options = DecodeOptions(max_new_tokens=10, eos_ids=frozenset({-1}), pad_id=handle.pad_id)
    with torch.inference_mode():
        free = decode_causal(handle.model, prompts, options)
    # Declare the 4th token of the first output an end-of-sequence token: that row must stop there.
    stop = free[0].tokens[3]
    first = free[0].tokens.index(stop)
    options = DecodeOptions(max_new_tokens=10, eos_ids=frozenset({stop}), pad_id=handle.pad_id)
    with torch.inference_mode():
        cut = decode_causal(handle.model, prompts, options)
    assert cut[0].tokens == free[0].tokens[: first + 1]
    assert cut[0].logprobs == pytest.approx(free[0].logprobs[: first + 1], abs=1e-5)
    assert len(cut[0].entropies) == first + 1
    # The other row continues unaffected until its own first occurrence (or the limit).
    other = free[1].tokens
    expected = other[: other.index(stop) + 1] if stop in other else other
    assert cut[1].tokens == expected
    assert cut[1].logprobs == pytest.approx(free[1].logprobs[: len(expected)], abs=1e-5)


def test_sampling_is_seeded_and_scored_from_the_raw_distribution(chatml_model_dir: Path) -> None:
    handle = load(chatml_model_dir)
    settings = GenerationSettings(max_new_tokens=8, temperature=1.5, top_p=0.9, seed=3)
    first = handle.sample([SHORT, LONGER[1]], 4, settings)
    again = handle.sample([SHORT, LONGER[1]], 4, settings)
    other_seed = handle.sample([SHORT, LONGER[1]], 4, GenerationSettings(max_new_tokens=8, seed=4))
    assert [len(s) for s in first] == [4, 4]
    assert [[g.text for g in s] for s in first] == [[g.text for g in s] for s in again]
    assert [[g.text for g in s] for s in first] != [[g.text for g in s] for s in other_seed]
    assert len({g.text for g in first[0]}) > 1
    # A tiny nucleus keeps only the most likely token: sampling then equals greedy decoding.
    greedy = handle.generate([SHORT], GenerationSettings(max_new_tokens=8))[0]
    narrow = handle.sample([SHORT], 2, GenerationSettings(max_new_tokens=8, top_p=1e-6, seed=5))[0]
    assert [g.text for g in narrow] == [greedy.text, greedy.text]
    # Scores of a sampled output are log-probs under the untempered model.
    import torch

    (ids,) = handle.prompt_format.prompt_ids([SHORT])
    options = DecodeOptions(
        max_new_tokens=8, eos_ids=handle.eos_ids, pad_id=handle.pad_id, do_sample=True, temperature=1.5, top_p=0.9
    )
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        rows = decode_causal(handle.model, [ids], options, num_samples=2, generator=generator)
    for row in rows:
        lps, ents, _ = direct_scores(handle, SHORT, row.tokens)
        assert row.logprobs == pytest.approx(lps, abs=1e-4)
        assert row.entropies == pytest.approx(ents, abs=1e-4)


def test_embeddings_are_mean_pooled_and_padding_free(chatml_model_dir: Path) -> None:
    import numpy as np
    import torch

    handle = load(chatml_model_dir)
    texts = ["Blue Spice", "The Eagle serves cheap French food by the riverside near the city centre.", ""]
    matrix = handle.embed(texts)
    assert matrix.shape == (3, 32) and matrix.dtype == np.float32
    alone = handle.embed([texts[0]])
    assert np.allclose(alone[0], matrix[0], atol=1e-5)
    ids = handle.tokenizer(texts[1])["input_ids"]
    with torch.no_grad():
        hidden = handle.model.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
    assert np.allclose(hidden.mean(0).numpy(), matrix[1], atol=1e-5)
    assert np.isfinite(matrix).all()


def test_decoding_passes_the_cache_under_the_name_the_model_accepts(chatml_model_dir: Path) -> None:
    """transformers 5.25+ renamed ``past_key_values`` to ``cache`` (the old name goes in 5.40)."""
    import inspect
    import warnings

    from atgen_lora_trainer.decoding import forward_kwargs_supported

    handle = load(chatml_model_dir)
    params = inspect.signature(handle.model.forward).parameters
    assert ("cache" in forward_kwargs_supported(handle.model)) == ("cache" in params)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*past_key_values.*deprecated", category=FutureWarning)
        out = handle.generate(LONGER, GenerationSettings(max_new_tokens=6, batch_size=4))
    assert len(out) == 3 and all(g.num_tokens > 0 for g in out)
