"""Test helpers for plugin authors (opt-in: ``pytest_plugins = ["atgen_core.testing"]``).

Fixtures:

- ``atgen_pm``: a fresh plugin manager with the atgen hookspecs and **no** entry points loaded.
- ``atgen_registry``: a function ``atgen_registry(*plugins) -> Registry`` that builds a registry
  from ``atgen_pm`` plus the given plugin modules/objects (still without entry points).
- ``atgen_fake_site``: a :class:`FakeSite`, a temporary directory on ``sys.path`` in which a test
  creates installed-looking distributions with ``atgen`` entry points (for discovery tests).

Helpers (plain functions, usable without pytest fixtures):

- ``registered(pm, plugin)``: register a plugin for the duration of a ``with`` block.
- ``check_component(cls)``: the component contract (name, Config, descriptions, schema, base class,
  instantiation, no torch at import). Raises ``AssertionError`` listing every problem.
- ``make_pool(n)``: a tiny synthetic pool and labelled set; ``selection_context(...)``.
- ``fake_generations``, ``fake_samples``, ``fake_embeddings``, ``FakeModel``: model signals without a model.

The helpers raise ``AssertionError`` with explicit messages, so pytest's assertion rewriting is not
needed here (PYTEST_DONT_REWRITE): test modules may import this module directly.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from atgen_core.components import KINDS, NAME_PATTERN, Component, Metric, PluginConfig, SelectionContext, Strategy
from atgen_core.plugins import (
    ENTRY_POINT_GROUP,
    AtgenPluginManager,
    build_registry,
    create_plugin_manager,
    hook_problems,
    load_registry,
)
from atgen_core.registry import Registry
from atgen_core.types import (
    Embeddings,
    Example,
    Generation,
    GenerationSettings,
    LabelledView,
    MemoryCache,
    MetricKey,
    PoolView,
    ProgressFn,
    Requirements,
    Signals,
    no_progress,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "HEAVY_MODULES",
    "FakeModel",
    "FakeSite",
    "MemoryCache",
    "atgen_fake_site",
    "atgen_pm",
    "atgen_registry",
    "check_component",
    "check_light_import",
    "fake_embeddings",
    "fake_generations",
    "fake_samples",
    "make_examples",
    "make_pool",
    "registered",
    "selection_context",
]

HEAVY_MODULES: tuple[str, ...] = ("torch", "transformers", "sentence_transformers", "tensorflow", "jax")
"""Modules that must not be imported when a plugin's hooks or component modules are imported."""


# --------------------------------------------------------------------------------------------------
# Plugin manager fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def atgen_pm() -> AtgenPluginManager:
    """A fresh plugin manager with the atgen hookspecs and no entry points loaded."""
    return create_plugin_manager(load_entrypoints=False)


@pytest.fixture
def atgen_registry(atgen_pm: AtgenPluginManager) -> Callable[..., Registry]:
    """``atgen_registry(*plugins)``: the registry of ``atgen_pm`` with ``plugins`` registered meanwhile."""

    def build(*plugins: object) -> Registry:
        with ExitStack() as stack:
            for plugin in plugins:
                stack.enter_context(registered(atgen_pm, plugin))
            return build_registry(atgen_pm)

    return build


@contextmanager
def registered(pm: AtgenPluginManager, plugin: object, name: str | None = None) -> Iterator[object]:
    """Register ``plugin`` in ``pm`` for the ``with`` block; it is unregistered even if the block raises.

    Misspelt hook names and functions missing ``@hookimpl`` raise ``ValueError`` here, with the same
    message discovery would report.
    """
    plugin_name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
    problems = hook_problems(pm, plugin, plugin_name)
    if problems:
        raise ValueError("; ".join(problems))
    pm.register(plugin, name=plugin_name)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


class FakeSite:
    """A directory on ``sys.path`` holding installed-looking distributions (``*.dist-info`` folders).

    ``add_distribution`` writes the metadata and the given source files; ``registry()`` runs real
    discovery restricted to this directory, so other installed plugins do not interfere.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)

    def add_distribution(
        self,
        name: str,
        *,
        version: str = "0.1.0",
        entry_points: Mapping[str, str] | None = None,
        files: Mapping[str, str] | None = None,
    ) -> Path:
        """Create distribution ``name`` with ``[atgen]`` ``entry_points`` and source ``files``.

        ``files`` maps paths relative to the site (``"my_pkg/hooks.py"``) to their source text.
        Returns the ``.dist-info`` directory.
        """
        for rel, text in (files or {}).items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")
        info = self.path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{k} = {v}" for k, v in (entry_points or {}).items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        importlib.invalidate_caches()
        return info

    def registry(self, **kwargs: Any) -> Registry:
        """``load_registry`` over this directory only (keyword arguments are passed on)."""
        return load_registry(search_path=[str(self.path)], **kwargs)


@pytest.fixture
def atgen_fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """A :class:`FakeSite` on ``sys.path``; modules imported from it are forgotten afterwards."""
    site = FakeSite(tmp_path / "fake-site")
    monkeypatch.syspath_prepend(str(site.path))
    yield site
    root = str(site.path)
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]
    importlib.invalidate_caches()


# --------------------------------------------------------------------------------------------------
# Component contract
# --------------------------------------------------------------------------------------------------


def check_light_import(
    module: str, heavy: Sequence[str] = HEAVY_MODULES, *, run: str = "", timeout: float = 60.0
) -> list[str]:
    """Import ``module`` in a fresh interpreter; return the heavy modules that the import pulled in.

    ``run`` is Python code executed after the import with the module bound to ``m`` (e.g.
    ``"m.atgen_register_metrics()"``), for checks that registering or building a component stays light
    too. The child sees the parent's ``sys.path``, so modules importable here are importable there.
    Raises ``AssertionError`` when the module cannot be imported (or ``run`` fails).
    """
    code = textwrap.dedent(
        f"""
        import importlib, json, sys
        m = importlib.import_module({module!r})
        exec({run!r})
        print(json.dumps(sorted(x for x in {list(heavy)!r} if x in sys.modules)))
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"importing {module!r} in a fresh interpreter failed:\n{proc.stderr.strip()}")
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def _config_problems(cls: type[Component]) -> list[str]:
    config_cls = getattr(cls, "Config", None)
    if not (isinstance(config_cls, type) and issubclass(config_cls, PluginConfig)):
        return [f"Config is {config_cls!r}; it must be a subclass of atgen_core.PluginConfig"]
    problems = []
    if config_cls.model_config.get("extra") != "forbid":
        problems.append(
            f"{config_cls.__qualname__} allows unknown keys (extra={config_cls.model_config.get('extra')!r}); "
            "keep extra='forbid' so that typos in specs are errors"
        )
    for field_name, info in config_cls.model_fields.items():
        if not (info.description or "").strip():
            problems.append(
                f"config field {field_name!r} has no description; use Field(default, description='...')"
            )
    try:
        json.dumps(config_cls.model_json_schema())
    except Exception as exc:
        problems.append(f"the JSON schema of {config_cls.__qualname__} does not build: {type(exc).__name__}: {exc}")
    return problems


def _default_config(cls: type[Component], config: PluginConfig | Mapping[str, Any] | None) -> tuple[
    PluginConfig | None, list[str]
]:
    """The config to instantiate with (the given one, else the default), and problems found."""
    from pydantic import ValidationError

    config_cls = cls.Config
    if isinstance(config, PluginConfig):
        return config, []
    try:
        return config_cls.model_validate(dict(config or {})), []
    except ValidationError as exc:
        if config is not None:
            return None, [f"the given config does not validate: {exc}"]
        unclear = [e for e in exc.errors() if not e.get("loc")]
        if unclear:
            return None, [f"the default config fails with errors that name no field: {exc}"]
        return None, []  # required fields: acceptable, the error names them; pass config= to test more
    except Exception as exc:
        return None, [
            f"validating the default config raised {type(exc).__name__}: {exc}; validators must raise "
            "ValueError (which pydantic reports with the field name), not other exceptions"
        ]


def _preflight_problems(instance: Component) -> list[str]:
    """``preflight`` must return a sequence of ``Problem``s with paths (an ``AtgenError`` is tolerated)."""
    from atgen_core.components import ModelSpec, PreflightContext
    from atgen_core.errors import AtgenError, SpecIssue

    ctx = PreflightContext(path=instance.kind or "component", model=ModelSpec(), environ={})
    try:
        found = list(instance.preflight(ctx))
    except AtgenError:
        return []
    except Exception as exc:
        return [f"preflight() raised {type(exc).__name__}: {exc}; return Problem(path, message) entries instead"]
    bad = [p for p in found if not isinstance(p, SpecIssue)]
    return [f"preflight() returned {bad[0]!r}; return atgen_core.Problem entries"] if bad else []


def check_component(
    cls: type[Component],
    *,
    config: PluginConfig | Mapping[str, Any] | None = None,
    check_imports: bool = True,
    heavy: Sequence[str] = HEAVY_MODULES,
) -> Component | None:
    """Check the component contract of ``cls`` and return an instance (None if it could not be built).

    Checks: a subclass of its kind's base class; a valid ``name``; a docstring (the summary shown by
    ``atgen list-plugins``); not abstract; ``Config`` a ``PluginConfig`` with ``extra='forbid'``, every
    field described, a JSON schema that builds; the default config (or ``config``) validates, or fails
    with errors naming the fields; ``cls(config)`` works; strategies return ``Requirements`` and
    metrics a mapping of ``MetricKey``; ``preflight`` returns ``Problem`` entries (with an empty
    environment and the default model section); importing the class's module (in a fresh interpreter) does not
    import torch or other heavy libraries. Raises ``AssertionError`` listing every problem found.
    """
    where = f"{cls.__module__}:{cls.__qualname__}" if isinstance(cls, type) else repr(cls)
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise AssertionError(f"{where} is not a component class (subclass of atgen_core.Component)")
    problems: list[str] = []
    kind = cls.kind
    base = KINDS.get(kind)
    if base is None or not issubclass(cls, base):
        problems.append(f"kind {kind!r} is not one of {', '.join(KINDS)}; subclass Strategy, Metric, ...")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append(f"name = {name!r} is missing or invalid: use lower case letters, digits, '-' or '_'")
    if not cls.summary():
        problems.append("no docstring: its first line is the summary shown by `atgen list-plugins`")
    if inspect.isabstract(cls):
        problems.append(f"abstract methods not implemented: {', '.join(sorted(cls.__abstractmethods__))}")
    problems.extend(_config_problems(cls))

    instance: Component | None = None
    if not problems:
        cfg, config_problems = _default_config(cls, config)
        problems.extend(config_problems)
        if cfg is not None:
            try:
                instance = cls(cfg)
            except Exception as exc:
                problems.append(f"{cls.__qualname__}(config) raised {type(exc).__name__}: {exc}")
        if isinstance(instance, Strategy):
            try:
                reqs = instance.requirements()
                if not isinstance(reqs, Requirements):
                    problems.append(f"requirements() returned {reqs!r}, not a Requirements")
            except Exception as exc:
                problems.append(f"requirements() raised {type(exc).__name__}: {exc}")
        if isinstance(instance, Metric):
            try:
                keys = instance.keys()
                if not keys or not all(isinstance(v, MetricKey) for v in keys.values()):
                    problems.append(f"keys() returned {keys!r}; expected a non-empty mapping of MetricKey")
            except Exception as exc:
                problems.append(f"keys() raised {type(exc).__name__}: {exc}")

    if instance is not None:
        problems.extend(_preflight_problems(instance))

    if check_imports and cls.__module__ not in ("__main__", "builtins"):
        try:
            pulled_in = check_light_import(cls.__module__, heavy)
        except AssertionError as exc:
            problems.append(str(exc))
        else:
            if pulled_in:
                problems.append(
                    f"importing {cls.__module__} imports {', '.join(pulled_in)}; import heavy libraries inside "
                    "methods so that `atgen list-plugins` stays fast"
                )
    if problems:
        raise AssertionError(f"{where} breaks the component contract:\n- " + "\n- ".join(problems))
    return instance


# --------------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------------

_WORDS = (
    "river stone quick lamp orange seven cloud paper violet engine garden silver window marble "
    "harbor candle forest mirror copper tiger winter pepper rocket meadow"
).split()


def make_examples(
    n: int, *, seed: int = 0, prefix: str = "ex", inputs: Sequence[str] | None = None
) -> tuple[Example, ...]:
    """``n`` examples with ids ``ex0000, ex0001, ...``; inputs of 3-12 words unless ``inputs`` are given.

    Each has ``prompt = "Input: <input>\\nOutput:"`` and a target (the input's words reversed) that is
    also its only reference. Same seed, same examples.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    texts = list(inputs) if inputs is not None else [
        " ".join(rng.choice(_WORDS, size=int(rng.integers(3, 13))).tolist()) for _ in range(n)
    ]
    out = []
    for i, text in enumerate(texts):
        target = " ".join(reversed(text.split()))
        out.append(
            Example(
                id=f"{prefix}{i:04d}",
                input=text,
                prompt=f"Input: {text}\nOutput:",
                target=target,
                references=(target,),
                fields={"position": i},
            )
        )
    return tuple(out)


def make_pool(
    n: int, *, labelled: int = 0, seed: int = 0, inputs: Sequence[str] | None = None
) -> tuple[PoolView, LabelledView]:
    """A synthetic pool of ``n`` examples plus a labelled set of ``labelled`` others (labels = targets).

    Ids are unique across both: pool examples are ``ex0000, ex0001, ...``, labelled ones ``lab0000, ...``.
    With ``inputs``, the pool's inputs are exactly those (``n`` is then ignored).
    """
    labelled_examples = make_examples(labelled, seed=seed + 1_000_003, prefix="lab")
    pool_examples = make_examples(len(inputs) if inputs is not None else n, seed=seed, inputs=inputs)
    labels = tuple(e.target or "" for e in labelled_examples)
    return PoolView(pool_examples), LabelledView(labelled_examples, labels)


def selection_context(
    pool: PoolView,
    k: int,
    *,
    labelled: LabelledView | None = None,
    signals: Signals | None = None,
    seed: int = 0,
    iteration: int = 0,
    model: Any = None,
) -> SelectionContext:
    """A ``SelectionContext`` with an rng derived from (seed, iteration), as the loop builds it."""
    import numpy as np

    return SelectionContext(
        pool=pool,
        labelled=labelled if labelled is not None else LabelledView(),
        k=k,
        rng=np.random.default_rng([seed, iteration]),
        iteration=iteration,
        seed=seed,
        signals=signals if signals is not None else Signals(),
        model=model,
    )


def _per_id(value: float | Sequence[float] | Mapping[str, float], ids: Sequence[str], what: str) -> list[float]:
    if isinstance(value, Mapping):
        missing = [i for i in ids if i not in value]
        if missing:
            raise KeyError(f"{what}: no value for id {missing[0]!r}")
        return [float(value[i]) for i in ids]
    if isinstance(value, (int, float)):
        return [float(value)] * len(ids)
    values = [float(v) for v in value]
    if len(values) != len(ids):
        raise ValueError(f"{what}: {len(values)} values for {len(ids)} ids")
    return values


def fake_generations(
    ids: Sequence[str],
    *,
    nnll: float | Sequence[float] | Mapping[str, float] = 1.0,
    entropy: float | Sequence[float] | Mapping[str, float] = 1.0,
    length: int = 4,
    texts: Sequence[str] | Mapping[str, str] | None = None,
) -> dict[str, Generation]:
    """Greedy outputs keyed by id whose ``.nnll`` and ``.mean_entropy`` are the given values.

    Each value may be one number for all ids, a sequence aligned with ``ids`` or a mapping by id.
    Every output has ``length`` tokens with the same log-probability ``-nnll`` and entropy.
    """
    if length < 1:
        raise ValueError("length must be >= 1")
    nnlls = _per_id(nnll, ids, "nnll")
    entropies = _per_id(entropy, ids, "entropy")
    out = {}
    for i, id_ in enumerate(ids):
        if texts is None:
            text = f"output for {id_}"
        elif isinstance(texts, Mapping):
            text = texts[id_]
        else:
            text = texts[i]
        out[id_] = Generation(text, (-nnlls[i],) * length, (entropies[i],) * length)
    return out


def fake_samples(samples: Mapping[str, Sequence[str]], *, logprob: float = -1.0) -> dict[str, list[Generation]]:
    """Sampled outputs keyed by id from plain texts (e.g. ``{"ex0000": ["a b", "a c"]}``)."""
    return {
        id_: [Generation(t, (logprob,) * max(1, len(t.split())), (1.0,) * max(1, len(t.split()))) for t in texts]
        for id_, texts in samples.items()
    }


def fake_embeddings(
    ids: Sequence[str],
    *,
    dim: int = 8,
    seed: int = 0,
    vectors: Mapping[str, Sequence[float]] | None = None,
) -> Embeddings:
    """Embeddings for ``ids``: random unit vectors (seeded), or exactly ``vectors`` when given."""
    import numpy as np

    if vectors is not None:
        matrix = np.asarray([list(vectors[i]) for i in ids], dtype=np.float32).reshape(len(ids), -1)
    else:
        rng = np.random.default_rng(seed)
        matrix = rng.standard_normal((len(ids), dim)).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.maximum(norms, 1e-12)
    return Embeddings(list(ids), matrix)


class FakeModel:
    """A deterministic ``ModelHandle`` for tests: no weights, outputs derived from the prompt text.

    ``generate`` returns ``outputs[prompt]`` when given, else the prompt's last word repeated; token
    scores grow with the prompt length (longer prompts look less certain). ``embed`` hashes words
    into ``dim`` buckets. Calls are recorded in ``calls`` as ``(method, number_of_prompts)``.
    """

    def __init__(self, outputs: Mapping[str, str] | None = None, dim: int = 16) -> None:
        self.outputs = dict(outputs or {})
        self.dim = dim
        self.calls: list[tuple[str, int]] = []

    def _one(self, prompt: str, variant: int = 0) -> Generation:
        words = prompt.split()
        text = self.outputs.get(prompt, " ".join(words[-1:] * 2)) + ("" if variant == 0 else f" v{variant}")
        n = max(1, len(text.split()))
        uncertainty = min(5.0, 0.1 * len(words) + 0.05 * variant)
        return Generation(text, (-uncertainty,) * n, (uncertainty * 0.5,) * n)

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]:
        """One output per prompt."""
        del settings
        self.calls.append(("generate", len(prompts)))
        return [self._one(p) for p in progress(prompts, total=len(prompts), desc="generate")]

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]:
        """``n`` outputs per prompt (the same text with a variant suffix)."""
        del settings
        self.calls.append(("sample", len(prompts)))
        return [[self._one(p, v) for v in range(n)] for p in progress(prompts, total=len(prompts), desc="sample")]

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """Bag-of-words vectors hashed into ``dim`` buckets, L2-normalised."""
        import zlib

        import numpy as np

        self.calls.append(("embed", len(texts)))
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(progress(texts, total=len(texts), desc="embed")):
            for word in text.lower().split():
                matrix[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)
