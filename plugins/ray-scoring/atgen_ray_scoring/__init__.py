"""atgen-ray-scoring: resumable, sharded pool scoring in-process, on Ray Data, or with vLLM on GPUs."""

__version__ = "0.1.0"
