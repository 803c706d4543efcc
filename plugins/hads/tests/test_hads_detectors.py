"""The hallucination detectors: model-free ones, BERTScore (tiny BERT and the real MiniLM), NLI (tiny)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from atgen_hads import DetectorOptions, HADASConfig, HADASStrategy
from atgen_hads.detectors import (
    BertScorePrecision,
    NLIEntailment,
    UnsupportedContent,
    UnsupportedEntities,
)
from atgen_hads.detectors.bertscore import default_encoder_path
from atgen_hads.detectors.lexical import content_words, normalise_word, word_tokens

from atgen_core import Example, Generation, LabelledView, PoolView, SelectionContext, Signals

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

CORPUS = [
    "name the eagle food japanese price cheap near burger king",
    "the eagle is a cheap japanese place near burger king",
    "blue spice coffee shop city centre riverside family friendly",
    "the moon is made of green cheese and rocks",
    "a b c d e f g h i j k l m n o p",
]

E2E_SOURCES = [
    "name: Blue Spice, eatType: coffee shop, area: city centre",
    "name: The Eagle, food: Japanese, priceRange: less than £20, near: Burger King",
    "name: Alimentum, area: riverside, familyFriendly: yes",
]
COPIES = [
    "Blue Spice is a coffee shop in the city centre.",
    "The Eagle serves Japanese food for less than £20 near Burger King.",
    "Alimentum is a family friendly place by the riverside.",
]
FABRICATIONS = [
    "Our galaxy contains billions of stars, and astronomers measured 4 new exoplanets in 2019.",
    "The football match ended with a late penalty that stunned the visiting supporters.",
    "Quantum computers rely on entangled qubits cooled close to absolute zero.",
]


# --------------------------------------------------------------------------------------------------
# tiny models built in the test
# --------------------------------------------------------------------------------------------------


def _tiny_tokenizer(directory: Path) -> int:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=64,
    )
    fast.save_pretrained(directory)
    return int(tok.get_vocab_size())


def _tiny_config(vocab: int, **extra: object) -> object:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        **extra,
    )


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertModel

    directory = tmp_path_factory.mktemp("tiny-bert")
    vocab = _tiny_tokenizer(directory)
    torch.manual_seed(0)
    BertModel(_tiny_config(vocab)).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertForSequenceClassification

    directory = tmp_path_factory.mktemp("tiny-nli")
    vocab = _tiny_tokenizer(directory)
    torch.manual_seed(1)
    labels = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}
    config = _tiny_config(vocab, num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory


# --------------------------------------------------------------------------------------------------
# model-free detectors
# --------------------------------------------------------------------------------------------------


def test_tokens_split_camel_case_and_flag_sentence_starts() -> None:
    tokens = word_tokens("eatType: coffee shop. Near Burger King, 5 out of 5")
    assert [t for t, _ in tokens] == [
        "eat",
        "Type",
        "coffee",
        "shop",
        "Near",
        "Burger",
        "King",
        "5",
        "out",
        "of",
        "5",
    ]
    starts = [t for t, s in tokens if s]
    assert starts == ["eat", "coffee", "Near"]  # first word, after ":", after "."


def test_normalised_words_match_across_inflections() -> None:
    assert normalise_word("rated") == normalise_word("rating") == normalise_word("rate")
    assert normalise_word("Prices") == normalise_word("price")
    assert normalise_word("friendly") == normalise_word("friend")
    assert content_words("The shop is in the city") == ["shop", "city"]


def test_unsupported_content_share() -> None:
    det = UnsupportedContent(DetectorOptions())
    source = "name: Blue Spice, eatType: coffee shop, customer rating: low"
    values = det.score(
        ["Blue Spice is a coffee shop.", "Blue Spice serves sushi and ramen.", "It is.", "A low rated shop."],
        [source] * 4,
    )
    # 2: blue, spice, serv(e), sushi, ramen -> 3 of 5 unsupported; 3: no content word; 4: rated ~ rating
    np.testing.assert_allclose(values, [0.0, 0.6, 0.0, 0.0])


def test_unsupported_entities_share() -> None:
    det = UnsupportedEntities(DetectorOptions())
    source = "name: The Eagle, near: Burger King, priceRange: £20-25"
    values = det.score(
        [
            "It is near Burger King, says the Eagle.",
            "It opened in 1987 in Paris.",
            "Paris is lovely.",
            "It costs 20.",
        ],
        [source] * 4,
    )
    # 3: "Paris" starts the sentence, so nothing entity-like is left; 4: "20" is in the source
    np.testing.assert_allclose(values, [0.0, 1.0, 0.0, 0.0])


# --------------------------------------------------------------------------------------------------
# BERTScore precision
# --------------------------------------------------------------------------------------------------


def _naive_precision(path: Path, layer: int, output: str, source: str) -> float:
    """Reference: one text at a time, no padding, explicit loops over candidate tokens."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def vectors(text: str) -> tuple[torch.Tensor, list[bool]]:
        enc = tok(text, return_tensors="pt", return_special_tokens_mask=True)
        special = enc.pop("special_tokens_mask")[0].tolist()
        with torch.no_grad():
            h = model(**enc, output_hidden_states=True).hidden_states[layer][0]
        return h / h.norm(dim=-1, keepdim=True), [not s for s in special]

    hyp, keep = vectors(output)
    ref, _ = vectors(source)
    best = [float((hyp[i] @ ref.T).max()) for i in range(hyp.shape[0]) if keep[i]]
    return sum(best) / len(best)


def test_bertscore_matches_naive_reference_and_is_batch_invariant(tiny_bert: Path) -> None:
    outputs = ["the eagle is cheap", "blue spice near the riverside family friendly", "moon", "a b c d e f g"]
    sources = [
        "name the eagle food japanese",
        "blue spice coffee shop",
        "the moon is made of cheese",
        "k l m",
    ]
    det = BertScorePrecision(DetectorOptions(encoder_path=str(tiny_bert), layer=1, batch_size=3))
    assert not det.loaded
    batched = det.precision(outputs, sources)
    assert det.loaded and det.layer == 1
    expected = [_naive_precision(tiny_bert, 1, o, s) for o, s in zip(outputs, sources)]
    np.testing.assert_allclose(batched, expected, atol=1e-5)
    one_by_one = BertScorePrecision(DetectorOptions(encoder_path=str(tiny_bert), layer=1, batch_size=1))
    np.testing.assert_allclose(one_by_one.precision(outputs, sources), batched, atol=1e-5)
    # an output identical to its source matches itself token for token
    assert det.score(["the eagle is cheap"], ["the eagle is cheap"])[0] == pytest.approx(0.0, abs=1e-5)
    det.close()
    assert not det.loaded


def test_bertscore_layer_out_of_range(tiny_bert: Path) -> None:
    det = BertScorePrecision(DetectorOptions(encoder_path=str(tiny_bert), layer=3))
    with pytest.raises(ValueError, match=r"layer = 3 .* only 2 layers"):
        det.score(["the eagle"], ["the eagle"])


def test_real_minilm_bertscore_agrees_with_the_bert_score_package() -> None:
    bert_score = pytest.importorskip("bert_score")
    outputs = COPIES + FABRICATIONS[:2]
    sources = E2E_SOURCES + E2E_SOURCES[:2]
    det = BertScorePrecision(DetectorOptions(batch_size=2))
    ours = det.precision(outputs, sources)
    scorer = bert_score.BERTScorer(model_type=default_encoder_path(), num_layers=6)
    theirs = scorer.score(outputs, sources)[0].double().numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def _e2e_ctx(k: int) -> SelectionContext:
    ids = [f"copy{i}" for i in range(3)] + [f"fab{i}" for i in range(3)]
    sources = E2E_SOURCES + E2E_SOURCES
    outputs = COPIES + FABRICATIONS
    pool = PoolView(tuple(Example(id=i, input=s, prompt=s) for i, s in zip(ids, sources)))
    labelled = LabelledView(
        examples=(
            Example(id="l0", input="name: Zizzi, eatType: pub, area: riverside", prompt=""),
            Example(id="l1", input="name: Loch Fyne, food: French, near: The Rice Boat", prompt=""),
        ),
        labels=("Zizzi is a pub by the riverside.", "Loch Fyne serves French food near The Rice Boat."),
    )
    return SelectionContext(
        pool=pool,
        labelled=labelled,
        k=k,
        rng=np.random.default_rng(0),
        signals=Signals(generations={i: Generation(text=o) for i, o in zip(ids, outputs)}),
    )


def test_real_minilm_fabricated_outputs_outrank_copies() -> None:
    ctx = _e2e_ctx(k=3)
    only_bert = HADASStrategy(HADASConfig(detectors=("bertscore-precision",)))
    res = only_bert.score(ctx)
    by_id = dict(zip(res.ids, res.h_halu))
    assert min(by_id[f"fab{i}"] for i in range(3)) > max(by_id[f"copy{i}"] for i in range(3))
    assert sorted(only_bert.select(ctx)) == ["fab0", "fab1", "fab2"]
    detector = only_bert.detectors[0]
    assert isinstance(detector, BertScorePrecision)
    scorer = detector.scorer
    only_bert.select(ctx)
    assert detector.scorer is scorer  # loaded once per strategy instance
    only_bert.close()
    assert not detector.loaded

    default = HADASStrategy(HADASConfig())  # bertscore-precision + both model-free detectors
    assert sorted(default.select(ctx)) == ["fab0", "fab1", "fab2"]
    default.close()


def test_release_after_select_frees_models_between_rounds(tiny_bert: Path) -> None:
    cfg = HADASConfig(
        detectors=("bertscore-precision", "unsupported-content"),
        detector_options=DetectorOptions(encoder_path=str(tiny_bert)),
        release_after_select=True,
        cache_vectors=False,
    )
    s = HADASStrategy(cfg)
    assert len(s.select(_e2e_ctx(k=2))) == 2
    detector = s.detectors[0]
    assert isinstance(detector, BertScorePrecision) and not detector.loaded


# --------------------------------------------------------------------------------------------------
# NLI
# --------------------------------------------------------------------------------------------------


def test_nli_entailment_matches_unbatched_model_and_finds_label_case_insensitively(tiny_nli: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    outputs = ["the eagle is cheap", "moon", "blue spice near the riverside family friendly coffee shop"]
    sources = ["name the eagle food japanese price cheap", "the moon is made of green cheese", "blue spice"]
    det = NLIEntailment(DetectorOptions(nli_model_path=str(tiny_nli), batch_size=2))
    values = det.score(outputs, sources)
    tok = AutoTokenizer.from_pretrained(tiny_nli)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_nli).eval()
    expected = []
    for o, s in zip(outputs, sources):
        with torch.no_grad():
            logits = model(**tok(s, o, return_tensors="pt")).logits[0]
        expected.append(1.0 - float(torch.softmax(logits, -1)[2]))  # index 2 = ENTAILMENT
    np.testing.assert_allclose(values, expected, atol=1e-5)
    det.close()
    assert not det.loaded


def test_nli_unknown_label_lists_the_model_labels(tiny_nli: Path) -> None:
    det = NLIEntailment(DetectorOptions(nli_model_path=str(tiny_nli), nli_entailment_label="entails"))
    with pytest.raises(ValueError, match=r"no class named 'entails'.*CONTRADICTION.*nli_entailment_label"):
        det.score(["a"], ["b"])
