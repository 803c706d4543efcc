"""atgen-openai-annotator: the ``openai`` annotator and the ``llm-judge`` metric for atgen.

Both talk to any OpenAI-compatible ``/chat/completions`` endpoint through the official ``openai`` client, with retries,
caching, cost accounting and a money budget. :mod:`atgen_openai_annotator.stub_server` and
:mod:`atgen_openai_annotator.testing` provide a local stub server (and pytest fixture) for tests.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
