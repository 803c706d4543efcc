"""The common contract, checked for every strategy of the distribution."""

from __future__ import annotations

import importlib.metadata
import re
import warnings
from pathlib import Path

import pytest
from atgen_baselines import hooks
from atgen_baselines.signals import MissingSignalError
from pydantic import ValidationError

from atgen_core import Strategy
from atgen_core.testing import check_light_import

STRATEGIES: list[type[Strategy]] = hooks.atgen_register_strategies()
NAMES = ["entropy", "nsp", "idds", "te-delfy", "bleuvar", "graph-cut", "dual"]


def test_registered_through_the_entry_point() -> None:
    eps = [ep for ep in importlib.metadata.entry_points(group="atgen") if ep.name == "baselines"]
    assert len(eps) == 1 and eps[0].value == "atgen_baselines.hooks"
    assert eps[0].dist is not None and eps[0].dist.name == "atgen-baselines"
    assert [cls.name for cls in eps[0].load().atgen_register_strategies()] == NAMES


def test_importing_hooks_stays_light() -> None:
    heavy = ("torch", "transformers", "sacrebleu", "nltk")
    assert check_light_import("atgen_baselines.hooks", heavy, run="m.atgen_register_strategies()") == []


@pytest.mark.parametrize("cls", STRATEGIES, ids=NAMES)
def test_metadata_and_config(cls: type[Strategy]) -> None:
    assert cls.kind == "strategy" and cls.summary() and cls.cold_start
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^### `{re.escape(cls.name)}`$(.*?)(?=^##)", readme, re.M | re.S)
    assert section, f"README has no section for {cls.name}"
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", section.group(1), re.M))
    assert documented == set(cls.Config.model_fields), f"README table of {cls.name} is out of date"
    for field_name, field in cls.Config.model_fields.items():
        assert field.description, f"{cls.name}.{field_name} has no description"
    with pytest.raises(ValidationError):
        cls.Config.model_validate({"no_such_option": 1})


@pytest.mark.parametrize("cls", STRATEGIES, ids=NAMES)
@pytest.mark.parametrize(("n", "k", "n_labelled"), [(40, 7, 0), (40, 7, 5), (5, 9, 3), (6, 0, 2), (1, 1, 0)])
def test_returns_k_distinct_pool_ids_reproducibly(make_full_ctx, cls: type[Strategy], n: int, k: int,
                                                  n_labelled: int) -> None:
    strategy = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the synthetic signals are all valid: no NaN warning expected
        picks = list(strategy.select(make_full_ctx(n, k, n_labelled, seed=4)))
        again = list(strategy.select(make_full_ctx(n, k, n_labelled, seed=4)))
    pool_ids = {f"p{i:04d}" for i in range(n)}
    assert len(picks) == min(k, n) == len(set(picks))
    assert set(picks) <= pool_ids
    assert picks == again


@pytest.mark.parametrize("cls", STRATEGIES, ids=NAMES)
def test_negative_k_is_rejected(make_full_ctx, cls: type[Strategy]) -> None:
    with pytest.raises(ValueError, match="k \\(query size\\)"):
        cls().select(make_full_ctx(5, -1))


@pytest.mark.parametrize("cls", STRATEGIES, ids=NAMES)
def test_missing_signals_are_a_clear_error(make_ctx, cls: type[Strategy]) -> None:
    with pytest.raises(MissingSignalError, match=f"strategy '{cls.name}' needs .* is None"):
        cls().select(make_ctx(["a", "b"], k=1))
    assert list(cls().select(make_ctx(["a", "b"], k=0))) == []  # nothing to pick: no signal needed


@pytest.mark.parametrize("cls", STRATEGIES, ids=NAMES)
def test_requirements_declared(cls: type[Strategy]) -> None:
    req = cls().requirements()
    needs = {"entropy": "generations", "nsp": "generations", "te-delfy": "generations", "idds": "embeddings",
             "graph-cut": "embeddings", "bleuvar": "samples", "dual": "embeddings"}[cls.name]
    assert getattr(req, needs)
    assert not req.model
