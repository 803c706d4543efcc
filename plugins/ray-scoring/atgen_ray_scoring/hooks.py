"""Hook implementations of atgen-ray-scoring (imports neither Ray nor torch)."""

from __future__ import annotations

from atgen_core import ScoringBackend, hookimpl


@hookimpl
def atgen_register_scoring_backends() -> list[type[ScoringBackend]]:
    """The scoring backends ``local`` (in-process), ``ray`` (Ray Data actors) and ``ray-vllm`` (vLLM on GPUs)."""
    from atgen_ray_scoring.local import LocalScoring
    from atgen_ray_scoring.ray_backend import RayScoring
    from atgen_ray_scoring.vllm_backend import VllmScoring

    return [LocalScoring, RayScoring, VllmScoring]
