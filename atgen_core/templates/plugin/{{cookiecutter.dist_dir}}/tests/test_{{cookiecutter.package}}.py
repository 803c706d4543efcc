"""Tests of {{ cookiecutter.dist_name }}: the atgen contract, discovery through the entry point, behaviour."""

from __future__ import annotations

{% if cookiecutter.kind == "annotator" %}from atgen_core import AnnotationContext, AnnotationItem, Example
{% elif cookiecutter.kind == "metric" %}from atgen_core import MetricContext
{% elif cookiecutter.kind == "trainer" %}from atgen_core import GenerationSettings, ModelContext, ModelSpec, TrainContext, TrainExample
{% endif %}from atgen_core.plugins import load_registry
{% if cookiecutter.kind == "strategy" %}from atgen_core.testing import check_component, check_light_import, make_pool, selection_context
{% else %}from atgen_core.testing import check_component, check_light_import
{% endif %}
{% if cookiecutter.kind == "trainer" %}from {{ cookiecutter.package }}.component import {{ cookiecutter.class_name }}
{% else %}from {{ cookiecutter.package }}.component import {{ cookiecutter.class_name }}, {{ cookiecutter.class_name }}Config
{% endif %}

def test_contract() -> None:
    assert isinstance(check_component({{ cookiecutter.class_name }}), {{ cookiecutter.class_name }})


def test_found_through_the_installed_entry_point() -> None:
    registry = load_registry()
    info = registry.get("{{ cookiecutter.kind }}", "{{ cookiecutter.name }}")
    assert info.cls is {{ cookiecutter.class_name }}
    assert info.distribution == "{{ cookiecutter.dist_name }}"
    assert not registry.failures_of("{{ cookiecutter.name }}")


def test_hooks_import_no_heavy_library() -> None:
    assert check_light_import("{{ cookiecutter.package }}.hooks") == []
{% if cookiecutter.kind == "strategy" %}

def test_picks_the_most_distinct_words_first() -> None:
    pool, _ = make_pool(0, inputs=["a a a a", "a b c", "a b", "d e f g", "c"])
    assert list({{ cookiecutter.class_name }}().select(selection_context(pool, k=2))) == ["ex0003", "ex0001"]
    fewest = {{ cookiecutter.class_name }}({{ cookiecutter.class_name }}Config(fewest_first=True))
    assert list(fewest.select(selection_context(pool, k=2))) == ["ex0000", "ex0004"]
{% elif cookiecutter.kind == "annotator" %}

def test_labels_with_the_target_and_fails_without_one() -> None:
    annotator = {{ cookiecutter.class_name }}({{ cookiecutter.class_name }}Config(prefix="> ", price=0.5))
    items = [AnnotationItem(Example(id="a", input="x", prompt="x", target="gold")),
             AnnotationItem(Example(id="b", input="y", prompt="y", target=None))]
    results = list(annotator.annotate(items, AnnotationContext()))
    assert [(r.id, r.status, r.text, r.cost) for r in results] == [("a", "ok", "> gold", 0.5), ("b", "failed", "", 0.0)]
    assert annotator.max_cost(items[0]) == 0.5
{% elif cookiecutter.kind == "metric" %}

def test_scores_matches_against_any_reference() -> None:
    ctx = MetricContext(ids=["a", "b", "c"], predictions=["The  cat", "dog", "x"],
                        references=[["the cat"], ["a dog", "dog"], ["y"]], sources=["", "", ""])
    result = {{ cookiecutter.class_name }}().compute(ctx)
    key = {{ cookiecutter.class_name }}.key
    assert result.values == {key: 2 / 3}
    assert list(result.per_example[key]) == [1.0, 1.0, 0.0]
    strict = {{ cookiecutter.class_name }}({{ cookiecutter.class_name }}Config(case_sensitive=True)).compute(ctx)
    assert strict.values[key] == 1 / 3
{% elif cookiecutter.kind == "trainer" %}

def test_trains_saves_and_reloads_what_it_learned(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trainer = {{ cookiecutter.class_name }}()
    examples = [TrainExample(id="a", prompt="Q: one", target="1"), TrainExample(id="b", prompt="Q: two", target="2")]
    result = trainer.train(TrainContext(examples=examples, model=ModelSpec(), output_dir=tmp_path / "round-0"))
    assert result.adapter_path == tmp_path / "round-0"
    settings = GenerationSettings()
    assert [g.text for g in result.model.generate(["Q: one", "Q: two", "Q: three"], settings)] == ["1", "2", "Q: three"]
    reloaded = trainer.load(ModelContext(model=ModelSpec()), result.adapter_path)
    assert [g.text for g in reloaded.generate(["Q: two"], settings)] == ["2"]
    base = trainer.load(ModelContext(model=ModelSpec()))
    assert [g.text for g in base.generate(["Q: two"], settings)] == ["Q: two"]
    assert reloaded.embed(["a b", "a b"]).shape == (2, 32)
{% endif %}
