"""Template parsing, validation (every problem at once), data binding, targets and the plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastshare.binding import compile_pattern
from fastshare.errors import DataError, LimitError, TemplateError, ValueRangeError
from fastshare.examples import EXAMPLES, example_path
from fastshare.planner import plan
from fastshare.targets import MAX_PIXELS, TARGETS, Target, parse_target, parse_targets
from fastshare.template import ImageLayer, RectLayer, TextLayer, load_template


def _card(**extra: Any) -> dict[str, Any]:
    layer = {"id": "t", "type": "text", "text": "{title}", "left": 10, "right": 10, "top": 10}
    layer.update(extra)
    return {"name": "t", "layers": [layer]}


# ------------------------------------------------------------------ examples


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load(name: str) -> None:
    path = example_path(name)
    assert path is not None
    template = load_template(path)
    assert template.name == name
    assert template.layers


def test_card_a_loads_exactly_as_written() -> None:
    template = load_template(example_path("card-a"))  # type: ignore[arg-type]
    assert [layer.id for layer in template.layers] == ["badge", "badge-text", "title", "subtitle"]
    badge, badge_text, title, subtitle = template.layers
    assert isinstance(badge, RectLayer) and badge.radii == (22.0,) * 4
    assert isinstance(badge_text, TextLayer) and badge_text.text.fields == ("category",)
    assert isinstance(title, TextLayer)
    assert (title.size, title.max_lines, title.overflow, title.weight) == (64.0, 3, "ellipsis", 700)
    assert isinstance(subtitle, TextLayer) and subtitle.text.fields == ("site", "read_time")
    assert template.targets == ("og", "x", "square", "story")


def test_template_round_trips_through_json() -> None:
    for name in EXAMPLES:
        template = load_template(example_path(name))  # type: ignore[arg-type]
        again = load_template(json.loads(template.to_json()), base_dir=template.base_dir)
        assert again.layers == template.layers
        assert again.background == template.background
        assert again.targets == template.targets


# ------------------------------------------------------------------ validation


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "name": "bad",
        "colour": "red",
        "layers": [
            {
                "id": "a",
                "type": "rect",
                "left": 0,
                "top": 0,
                "width": 10,
                "height": 10,
                "fill": "blue-ish",
            },
            {"id": "b", "type": "text", "text": "x", "left": 0, "top": 0, "size": "big"},
            {"id": "c", "type": "text", "text": "x", "left": 0, "right": 0, "width": 5, "top": 0},
            {"id": "d", "type": "rect", "fill": "#fff", "width": 4, "height": 4},
            {"id": "e", "type": "circle"},
        ],
    }
    with pytest.raises(TemplateError) as info:
        load_template(raw)
    fields = [p.field for p in info.value.problems]
    assert "colour" in fields
    assert "layers[0].fill" in fields
    assert "layers[1].size" in fields
    assert "layers[2].width" in fields  # over-constrained
    assert "layers[3]" in fields  # no offsets
    assert "layers[4].type" in fields
    text = str(info.value)
    assert "blue-ish" in text and "'big'" in text


def test_unknown_key_names_path_and_value() -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_card(colour="#fff"))
    assert info.value.problems[0].field == "layers[0].colour"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"size": -3}, "layers[0].size"),
        ({"size": float("nan")}, "layers[0].size"),
        ({"color": "rgb(300,0,0)"}, "layers[0].color"),
        ({"max_lines": 0}, "layers[0].max_lines"),
        ({"align": "justify-ish"}, "layers[0].align"),
        ({"size": [80, 20]}, "layers[0].size"),
        ({"text": "{title"}, "layers[0].text"),
        ({"below": "nothing"}, "layers[0].below"),
        ({"width": -5}, "layers[0].width"),
    ],
)
def test_bad_values(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_card(**extra))
    assert field in [p.field for p in info.value.problems]


def test_image_src_url_refused() -> None:
    raw = {
        "layers": [
            {
                "type": "image",
                "src": "https://example.com/x.png",
                "left": 0,
                "top": 0,
                "width": 5,
                "height": 5,
            }
        ]
    }
    with pytest.raises(TemplateError, match="never fetched"):
        load_template(raw)


def test_override_unknown_layer_id() -> None:
    raw = _card()
    raw["overrides"] = {"story": {"nope": {"size": 90}}}
    with pytest.raises(TemplateError) as info:
        load_template(raw)
    assert "overrides.story.nope" in [p.field for p in info.value.problems]


def test_overrides_apply_per_target() -> None:
    raw = _card(size=64)
    raw["overrides"] = {"story": {"t": {"size": 96}}}
    template = load_template(raw)
    og_layers, _ = template.layers_for(TARGETS["og"])
    story_layers, _ = template.layers_for(TARGETS["story"])
    assert isinstance(og_layers[0], TextLayer) and og_layers[0].size == 64
    assert isinstance(story_layers[0], TextLayer) and story_layers[0].size == 96


def test_template_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", encoding="utf-8")
    with pytest.raises(TemplateError, match="TOML"):
        load_template(bad)
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(tmp_path / "missing.toml")
    other = tmp_path / "t.yaml"
    other.write_text("x: 1", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"\.toml or \.json"):
        load_template(other)


# ------------------------------------------------------------------ binding


def test_placeholders_defaults_and_formats() -> None:
    pattern = compile_pattern("{title} · {read_time|5 min} · {n:,} {{x}} {author.name}")
    item = {"title": "Hi", "read_time": "", "n": 12345, "author": {"name": "Ada"}}
    assert pattern.render(item) == "Hi · 5 min · 12,345 {x} Ada"
    assert compile_pattern("{score}").render({"score": 3.0}) == "3"
    assert compile_pattern("{ok}").render({"ok": True}) == "true"


def test_missing_field_is_a_data_error_naming_it() -> None:
    with pytest.raises(DataError) as info:
        compile_pattern("{category}").render({}, "layers[1].text")
    assert info.value.field == "category"
    assert "layers[1].text" in str(info.value)


# ------------------------------------------------------------------ targets


def test_targets_and_pixel_cap() -> None:
    assert parse_target("og").size == (1200, 630)
    assert parse_target("og@2x").size == (2400, 1260)
    assert parse_target("800x600").size == (800, 600)
    assert [t.name for t in parse_targets("og, story,og")] == ["og", "story"]
    with pytest.raises(ValueRangeError, match="unknown target"):
        parse_target("poster")
    with pytest.raises(LimitError):
        parse_target("8000x8000")
    assert MAX_PIXELS >= 4000 * 4000
    with pytest.raises(ValueRangeError):
        parse_target("og@0x")


# ------------------------------------------------------------------ plan


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
    scale=st.sampled_from([1.0, 1.5, 2.0]),
    left=st.integers(0, 200),
    bottom=st.integers(0, 200),
    w=st.integers(1, 300),
    h=st.integers(1, 300),
)
def test_planned_boxes_sit_where_their_offsets_say(
    width: int, height: int, scale: float, left: int, bottom: int, w: int, h: int
) -> None:
    if width * height * scale * scale > MAX_PIXELS:
        return
    raw = {
        "layers": [
            {
                "id": "lb",
                "type": "rect",
                "fill": "#000",
                "left": left,
                "bottom": bottom,
                "width": w,
                "height": h,
            },
            {
                "id": "rt",
                "type": "rect",
                "fill": "#000",
                "right": left,
                "top": bottom,
                "width": "10%",
                "height": "20%",
            },
            {
                "id": "txt",
                "type": "text",
                "text": "x",
                "left": left,
                "right": left,
                "bottom": bottom,
            },
        ]
    }
    template = load_template(raw)
    target = Target("custom", width, height, scale)
    planned = plan(template, target)
    fw, fh = target.pixel_width, target.pixel_height
    lb, rt, txt = planned.layers
    assert lb.x0 == pytest.approx(left * scale)
    assert fh - lb.y1 == pytest.approx(bottom * scale)
    assert lb.x1 - lb.x0 == pytest.approx(w * scale)
    assert fw - rt.x1 == pytest.approx(left * scale)
    assert rt.x1 - rt.x0 == pytest.approx(0.1 * fw)
    assert rt.y1 - rt.y0 == pytest.approx(0.2 * fh)
    assert txt.mode == "up" and fh - txt.y1 == pytest.approx(bottom * scale)


def test_static_prefix_and_plan_cache() -> None:
    template = load_template(example_path("card-a"))  # type: ignore[arg-type]
    first = plan(template, TARGETS["og"])
    assert first is plan(template, TARGETS["og"])
    assert first.static_prefix == 1  # the badge rect; badge text needs {category}
    assert plan(template, TARGETS["story"]).height == 1920


def test_image_layer_parses() -> None:
    template = load_template(example_path("logo"))  # type: ignore[arg-type]
    logo = template.layers[0]
    assert isinstance(logo, ImageLayer) and logo.fit == "contain"
    assert template.asset_dirs and template.asset_dirs[0].name == "assets"


def test_json_and_toml_same_schema(tmp_path: Path) -> None:
    raw = _card(size=40, color="#123456")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert load_template(path).layers == load_template(raw).layers


def test_template_generator_runs_in_the_pipeline() -> None:
    import asyncio

    import numpy as np
    from PIL import Image

    from fastshare.pipeline import run_pipeline
    from fastshare.renderer import TemplateGenerator, render
    from fastshare.sinks import MemorySink

    template = load_template(example_path("card-a"))  # type: ignore[arg-type]
    item = {
        "title": "A card from the pipeline",
        "category": "Test",
        "site": "x.dev",
        "read_time": "1 min",
    }
    sink = MemorySink()
    generator = TemplateGenerator(template, item)

    async def run() -> None:
        result = await asyncio.wait_for(
            run_pipeline(generator, ["og", "story"], sink, workers=1), 120
        )
        assert {o.target for o in result.outputs} == {"og", "story"}
        again = await asyncio.wait_for(
            run_pipeline(generator, ["og", "story"], sink, workers=1), 120
        )
        assert again.reused

    asyncio.run(run())
    import io

    for (_key, target), data in sink.files.items():
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert np.array_equal(decoded, render(template, item, target))
