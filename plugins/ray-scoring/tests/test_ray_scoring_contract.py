"""The component contract, the entry point, light imports and the Ray connection settings."""

from __future__ import annotations

import pytest
from atgen_ray_scoring.config import RayScoringConfig
from atgen_ray_scoring.local import LocalScoring
from atgen_ray_scoring.ray_backend import RayScoring
from atgen_ray_scoring.session import RaySession
from atgen_ray_scoring.vllm_backend import VllmScoring

from atgen_core.testing import HEAVY_MODULES, check_component, check_light_import


@pytest.mark.parametrize("cls", [LocalScoring, RayScoring, VllmScoring])
def test_backends_meet_the_component_contract(cls: type) -> None:
    assert check_component(cls, check_imports=False) is not None


def test_hooks_and_backend_modules_import_neither_ray_nor_torch() -> None:
    heavy = (*HEAVY_MODULES, "ray", "vllm", "pyarrow")
    for module in ("atgen_ray_scoring.hooks", "atgen_ray_scoring.ray_backend", "atgen_ray_scoring.vllm_backend"):
        assert check_light_import(module, heavy) == [], module


def test_entry_point_registers_the_three_backends() -> None:
    from atgen_core.plugins import load_registry

    registry = load_registry()
    assert {"local", "ray", "ray-vllm"} <= set(registry.names("scoring_backend"))
    assert registry.get("scoring_backend", "ray").cls is RayScoring
    assert registry.get("scoring_backend", "ray").distribution == "atgen-ray-scoring"


def test_ray_init_arguments_for_a_private_and_an_existing_cluster() -> None:
    private = RaySession(RayScoringConfig(num_cpus=2, object_store_mb=200, temp_dir="/tmp/r1", namespace="ns"))
    assert private.init_kwargs() == {
        "address": "local", "include_dashboard": False, "num_cpus": 2, "object_store_memory": 200 * 1024 * 1024,
        "_temp_dir": "/tmp/r1", "namespace": "ns", "log_to_driver": False, "logging_level": 30,
    }
    joined = RaySession(RayScoringConfig(address="ray://head:10001", runtime_env={"pip": ["atgen-lora-trainer"]},
                                         show_progress=True))
    assert joined.init_kwargs() == {"address": "ray://head:10001", "runtime_env": {"pip": ["atgen-lora-trainer"]}}
    assert RayScoringConfig().address is None and RayScoringConfig().num_workers == 1
