"""atgen-nlg-metrics: model-based metrics for atgen (BERTScore, AlignScore, Hugging Face evaluate).

Importing this package is cheap: torch and transformers are imported only when a metric computes.
"""

from __future__ import annotations

__version__ = "0.1.0"
