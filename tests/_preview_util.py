"""Shared by the preview tests: a small template that exercises the playground, and waits.

The template reads a plain field (``title``), a ``when`` field (``tag``), a nested field with a
default (``author.name``) and a number with a format spec (``count``); it has an auto-height text
layer, a layer placed ``below`` it and a bottom-anchored footer, so the box outlines cover
planned, measured and anchored boxes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

TEMPLATE = """
name = "playground"
targets = ["og", "square", "story"]
background = "#0F172A"

[[layers]]
id = "title"
type = "text"
text = "{title}"
left = 64
right = 64
top = 64
size = 56
max_lines = 3
color = "#F8FAFC"

[[layers]]
id = "tag"
type = "rect"
when = "tag"
left = 64
width = 160
below = "title"
top = 24
height = 40
radius = 20
fill = "#38BDF8"

[[layers]]
id = "footer"
type = "text"
text = "{author.name|anonymous} · {count:,} views"
left = 64
right = 64
bottom = 48
size = 28
color = "#94A3B8"
"""

#: the same template with another background: a valid edit
TEMPLATE_EDITED = TEMPLATE.replace('background = "#0F172A"', 'background = "#7C2D12"')

#: two problems with field paths: an unknown colour and a size that is not a number
TEMPLATE_BROKEN = TEMPLATE.replace('color = "#F8FAFC"', 'color = "blue-ish"').replace(
    "size = 28", 'size = "big"'
)

ITEM: dict[str, Any] = {
    "title": "Ship cards at every size",
    "tag": "new",
    "author": {"name": "Ada"},
    "count": 12345,
}

#: the template's targets and their frame sizes
SIZES = {"og": (1200, 630), "square": (1080, 1080), "story": (1080, 1920)}

#: the layer ids the template draws for ITEM
LAYERS = ("title", "tag", "footer")


def write(path: Path, text: str) -> None:
    """Replace the file's content as an editor does: write a new file, then rename it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
