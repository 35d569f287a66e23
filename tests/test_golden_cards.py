"""Golden images of every bundled example at og, square and story (see tests/_golden.py)."""

from __future__ import annotations

import pytest
from _golden import check_golden

from fastshare.examples import EXAMPLES, example_path, sample_items
from fastshare.renderer import Renderer
from fastshare.template import load_template

ITEM_FOR = {"rtl": "arabic"}
CASES = [(name, target) for name in EXAMPLES for target in ("og", "square", "story")]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("name", "target"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_golden_example(renderer: Renderer, name: str, target: str) -> None:
    items = {item["id"]: item for item in sample_items()}
    item = items[ITEM_FOR.get(name, "fast-cards")]
    template = load_template(example_path(name))  # type: ignore[arg-type]
    frame = renderer.render(template, item, target)
    problem = check_golden("cards", f"{name}-{target}", frame)
    assert problem is None, problem
