"""Render every picture used by the docs from real templates (nothing is drawn by hand).

Run from the repository root::

    python docs/scripts/make_docs_images.py

Writes ``docs/images/*.png``. Each picture is a small template below rendered by fastshare itself;
the cookbook pictures are the bundled examples. Re-run after changing rendering code.
"""

# ruff: noqa: E501
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from fastshare.examples import EXAMPLES, example_path, sample_items
from fastshare.renderer import Renderer
from fastshare.template import load_template

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
ASSETS = ROOT / "fastshare" / "examples" / "assets"
ITEM = {
    "title": "Rendering a million share cards overnight",
    "category": "Engineering",
    "site": "fastshare.dev",
    "read_time": "8 min read",
}
SMALL = "600x315"


def _text(text: str, **extra: Any) -> dict[str, Any]:
    layer = {"type": "text", "text": text, "font": "Inter", "weight": 700, "color": "#FFFFFF"}
    layer.update(extra)
    return layer


DARK = {"color": "#0F172A"}

FEATURES: dict[str, dict[str, Any]] = {
    "placement": {
        "background": DARK,
        "layers": [
            {"type": "rect", "left": 24, "top": 24, "width": 150, "height": 60, "radius": 8, "fill": "#38BDF8"},
            _text("left=24 top=24", left=24, top=24, width=150, height=60, size=16, align="center", valign="middle", color="#0F172A"),
            {"type": "rect", "right": 24, "bottom": 24, "width": 180, "height": 60, "radius": 8, "fill": "#F472B6"},
            _text("right=24 bottom=24", right=24, bottom=24, width=180, height=60, size=16, align="center", valign="middle", color="#0F172A"),
            {"type": "rect", "left": "25%", "right": "25%", "top": "40%", "height": 44, "radius": 22, "fill": "#A3E635"},
            _text("left/right = 25%", left="25%", right="25%", top="40%", height=44, size=16, align="center", valign="middle", color="#0F172A"),
        ],
    },
    "gradient-linear": {
        "background": {"type": "linear-gradient", "angle": 135, "stops": ["#0F2027", "#203A43 50%", "#2C5364"]},
        "layers": [_text("linear-gradient, 135°", left=24, bottom=24, size=28)],
    },
    "gradient-radial": {
        "background": {"type": "radial-gradient", "cx": 0.3, "cy": 0.4, "stops": ["#F59E0B", "#B91C1C 45%", "#1E1B4B"]},
        "layers": [_text("radial-gradient", left=24, bottom=24, size=28)],
    },
    "gradient-conic": {
        "background": {"type": "conic-gradient", "start_angle": 30, "stops": ["#22D3EE", "#A78BFA", "#F472B6", "#22D3EE"]},
        "layers": [_text("conic-gradient", left=24, bottom=24, size=28, color="#0F172A")],
    },
    "gradient-oklab": {
        "background": DARK,
        "layers": [
            {"type": "rect", "left": 24, "right": 24, "top": 40, "height": 90, "radius": 12,
             "fill": {"type": "linear-gradient", "angle": 90, "stops": ["#0000FF", "#FFFF00"]}},
            _text("interpolation = srgb", left=36, top=140, size=18),
            {"type": "rect", "left": 24, "right": 24, "top": 180, "height": 90, "radius": 12,
             "fill": {"type": "linear-gradient", "angle": 90, "interpolation": "oklab", "stops": ["#0000FF", "#FFFF00"]}},
            _text("interpolation = oklab", left=36, top=280, size=18),
        ],
    },
    "shapes": {
        "background": {"color": "#F8FAFC"},
        "layers": [
            {"type": "rect", "left": 30, "top": 40, "width": 160, "height": 110, "radius": [40, 8, 40, 8], "fill": "#6366F1",
             "shadow": {"color": "rgba(15,23,42,0.35)", "blur": 16, "dy": 8}},
            {"type": "rect", "left": 220, "top": 40, "width": 160, "height": 110, "radius": 20, "fill": "#FFFFFF",
             "stroke": {"color": "#0EA5E9", "width": 6}},
            {"type": "ellipse", "left": 410, "top": 40, "width": 160, "height": 110,
             "fill": {"type": "radial-gradient", "stops": ["#FDE68A", "#F97316"]}},
            _text("per-corner radii + shadow", left=30, top=170, width=160, size=13, color="#0F172A", align="center"),
            _text("stroke", left=220, top=170, width=160, size=13, color="#0F172A", align="center"),
            _text("ellipse, radial fill", left=410, top=170, width=160, size=13, color="#0F172A", align="center"),
        ],
    },
    "text-fit": {
        "background": DARK,
        "layers": [
            {"type": "rect", "left": 24, "right": 24, "top": 24, "height": 170, "fill": "rgba(255,255,255,0.06)"},
            _text("{title}", left=24, right=24, top=24, height=170, size=[16, 64], max_lines=3, wrap="balance"),
            _text("size = [16, 64], max_lines = 3, wrap = balance", left=24, bottom=20, size=14, weight=400, color="#94A3B8"),
        ],
    },
    "text-ellipsis": {
        "background": DARK,
        "layers": [
            _text("{title} — with a subtitle that is far too long to fit in two lines of this box", left=24, right=24, top=24, size=40, max_lines=2),
            _text("size = 40, max_lines = 2, overflow = ellipsis", left=24, bottom=20, size=14, weight=400, color="#94A3B8"),
        ],
    },
    "text-align": {
        "background": DARK,
        "layers": [
            _text("align = left", left=24, right=24, top=30, size=26, align="left"),
            _text("align = center", left=24, right=24, top=110, size=26, align="center"),
            _text("align = right", left=24, right=24, top=190, size=26, align="right"),
        ],
    },
    "text-rtl": {
        "background": {"type": "linear-gradient", "angle": 180, "stops": ["#1E1B4B", "#312E81"]},
        "layers": [
            _text("مؤتمر PyCon 2025 في دبي: 120 متحدثاً", left=24, right=24, top=40, size=34, align="start"),
            _text("ועידת Python 2025 בתל אביב (12 הרצאות)", left=24, right=24, top=130, size=30, align="start"),
            _text("align = start follows the paragraph direction", left=24, bottom=20, size=14, weight=400, color="#A5B4FC"),
        ],
    },
    "text-shadow": {
        "background": {"color": "#E2E8F0"},
        "layers": [
            _text("Shadowed title", left=24, right=24, top=90, size=56, shadow={"color": "rgba(15,23,42,0.6)", "blur": 10, "dy": 6}),
        ],
    },
    "image-fit": {
        "assets": [str(ASSETS)],
        "background": {"color": "#0F172A"},
        "layers": [
            {"type": "image", "src": "mountains.jpg", "fit": "cover", "left": 20, "top": 30, "width": 170, "height": 220, "radius": 16},
            {"type": "image", "src": "mountains.jpg", "fit": "contain", "left": 215, "top": 30, "width": 170, "height": 220},
            {"type": "image", "src": "mountains.jpg", "fit": "fill", "left": 410, "top": 30, "width": 170, "height": 220},
            _text("cover + radius", left=20, top=262, width=170, size=14, weight=400, align="center"),
            _text("contain", left=215, top=262, width=170, size=14, weight=400, align="center"),
            _text("fill", left=410, top=262, width=170, size=14, weight=400, align="center"),
        ],
    },
    "anchor-below": {
        "background": {"type": "linear-gradient", "angle": 160, "stops": ["#FFF7ED", "#FED7AA"]},
        "layers": [
            _text("{title}", id="title", left=32, right=32, top=32, size=[24, 44], max_lines=3, color="#431407"),
            {"type": "rect", "left": 32, "width": 150, "below": "title", "top": 16, "height": 36, "radius": 18, "fill": "#EA580C"},
            _text("{category}", left=32, width=150, below="title", top=16, height=36, size=15, align="center", valign="middle"),
        ],
    },
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    written = []
    for name, raw in FEATURES.items():
        template = load_template({"name": name, **raw})
        frame = renderer.render(template, ITEM, SMALL)
        path = OUT / f"feature-{name}.png"
        Image.fromarray(frame).save(path, optimize=True)
        written.append(path)
    items = {item["id"]: item for item in sample_items()}
    for name in EXAMPLES:
        template = load_template(example_path(name))  # type: ignore[arg-type]
        item = items["arabic" if name == "rtl" else "fast-cards"]
        for target in ("og", "square", "story"):
            frame = renderer.render(template, item, target)
            image = Image.fromarray(frame)
            image.thumbnail((600, 600), Image.Resampling.LANCZOS)
            path = OUT / f"example-{name}-{target}.png"
            image.save(path, optimize=True)
            written.append(path)
    for path in written:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
