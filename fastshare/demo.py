"""A showcase of the paint kernels: gradients, shapes, shadows and mask compositing as PNG files.

``render_showcase(out_dir)`` paints a few 1200×630 frames with ``fastshare.paint`` and writes them
with Pillow (this is a demo, not the fast encode path). It allocates its own frames and is safe to
call from any thread. The CLI exposes it as ``fastshare demo --out DIR``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from fastshare import paint
from fastshare.colors import Color, parse_color
from fastshare.errors import EncodeError
from fastshare.gradients import (
    ConicGradient,
    Gradient,
    LinearGradient,
    RadialGradient,
    parse_stops,
)

__all__ = ["render_showcase", "run_demo"]

WIDTH, HEIGHT = 1200, 630
Frame = npt.NDArray[np.uint8]


def _frame(background: str = "#f1f5f9") -> Frame:
    frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    paint.fill_rect(frame, (0, 0, WIDTH, HEIGHT), parse_color(background))
    return frame


def _label_mask(text: str, size: int) -> Frame:
    """Coverage mask of a label, drawn with Pillow's default font (the text engine is separate)."""
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    image = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), text, fill=255, font=font)
    return np.ascontiguousarray(np.asarray(image, np.uint8))


def _label(frame: Frame, text: str, x: int, y: int, color: str = "#0f172a", size: int = 22) -> None:
    paint.composite_mask(frame, _label_mask(text, size), x, y, parse_color(color))


def _gradients() -> Frame:
    frame = _frame()
    warm = parse_stops(["#1d4ed8", "#facc15"])
    three = parse_stops(["#0f2027", "#203a43 50%", "#2c5364"])
    vivid = parse_stops(["#ff0080", "#7928ca 50%", "#00d4ff"])
    hard = parse_stops(["#ef4444 0%", "#ef4444 33%", "#22c55e 33%", "#22c55e 66%", "#3b82f6 66%"])
    panels: list[tuple[str, Gradient]] = [
        ("linear 90° sRGB", LinearGradient(90, warm)),
        ("linear 90° Oklab", LinearGradient(90, warm, "oklab")),
        ("linear 115° 3 stops", LinearGradient(115, three)),
        ("hard stops 45°", LinearGradient(45, hard)),
        ("radial ellipse", RadialGradient(vivid)),
        ("radial circle r=120", RadialGradient(vivid, cx=0.3, cy=0.4, rx=120, shape="circle")),
        ("conic from 0°", ConicGradient(parse_stops(["#ff0080", "#7928ca", "#00d4ff", "#ff0080"]))),
        (
            "conic Oklab from 90°",
            ConicGradient(
                parse_stops(["red", "blue", "red"]), start_angle=90, interpolation="oklab"
            ),
        ),
    ]
    w, h, gap = 270, 250, 24
    for i, (title, gradient) in enumerate(panels):
        x = gap + (i % 4) * (w + gap)
        y = 40 + (i // 4) * (h + 50)
        paint.draw_rounded_rect(frame, (x, y, x + w, y + h), gradient, radii=16)
        _label(frame, title, x + 4, y + h + 8, size=20)
    return frame


def _shapes() -> Frame:
    frame = _frame("#0f172a")
    paint.fill_rect(
        frame, (0, 0, WIDTH, HEIGHT), LinearGradient(160, parse_stops(["#0f172a", "#1e293b"]))
    )
    teal = LinearGradient(135, parse_stops(["#14b8a6", "#0ea5e9"]))
    paint.draw_rounded_rect(frame, (60, 60, 360, 260), teal, radii=(0, 40, 80, 120))
    paint.draw_rounded_rect(
        frame,
        (420, 60.5, 720.5, 260),
        Color(250, 204, 21),
        radii=24,
        stroke="#f97316",
        stroke_width=8,
    )
    paint.draw_rounded_rect(
        frame, (780, 60, 1140, 260), None, radii=60, stroke="rgba(255,255,255,0.8)", stroke_width=3
    )
    paint.draw_rounded_rect(frame, (790, 300, 900, 560), "#a855f7", radii=200)  # radius > half side
    paint.draw_ellipse(
        frame, (60, 320, 360, 560), RadialGradient(parse_stops(["#fde68a", "#f43f5e"]))
    )
    paint.draw_ellipse(frame, (420, 320, 720, 420), "#38bdf8", stroke="#f8fafc", stroke_width=4)
    paint.draw_ellipse(frame, (470, 380, 680, 580), "#22c55e", opacity=0.6)
    paint.draw_ellipse(frame, (560, 300, 740, 480), "#ef4444", opacity=0.6)
    for i in range(8):  # thin and sub-pixel shapes
        x = 960.25 + i * 22.3
        paint.draw_ellipse(frame, (x, 320.5, x + 2 + i * 2.3, 322.5 + i * 2.3), "#f8fafc")
        paint.fill_rect(frame, (x, 420.3, x + 0.3 + i * 0.4, 540.0), "#f8fafc")
    for i, text in enumerate(("per-corner radii", "fill + stroke", "stroke only", "r > side/2")):
        _label(frame, text, 60 + i * 360 if i < 3 else 780, 270 if i < 3 else 570, "#e2e8f0", 20)
    return frame


def _shadows() -> Frame:
    frame = _frame("#e2e8f0")
    card = (100, 70, 520, 390)
    radius = 28.0
    mask = paint.rounded_rect_mask(int(card[2] - card[0]), int(card[3] - card[1]), radius)
    for blur, dy, alpha in ((40.0, 24, 0.35), (8.0, 4, 0.25)):
        shadow = paint.blur_mask(mask, blur)
        pad = paint.blur_padding(blur)
        paint.composite_mask(
            frame,
            shadow,
            int(card[0]) - pad,
            int(card[1]) + dy - pad,
            Color(15, 23, 42),
            opacity=alpha,
            blend="srgb",
        )
    paint.draw_rounded_rect(frame, card, "#ffffff", radii=radius)
    _label(frame, "drop shadow: blur 40 + blur 8", 130, 100, "#0f172a", 26)

    # an RGBA layer: a premultiplied sticker and its blurred copy as a glow, both blitted
    sticker = np.zeros((110, 110, 4), np.uint8)
    cov = paint.ellipse_mask(110, 110).astype(np.uint16)
    for c, v in enumerate((34, 197, 94, 255)):
        sticker[..., c] = (cov * v + 127) // 255
    pad = paint.blur_padding(24.0)
    paint.blit_rgba(frame, paint.blur_rgba(sticker, 24.0), 150 - pad, 470 - pad)
    paint.blit_rgba(frame, sticker, 150, 470)
    _label(frame, "RGBA blit + blurred RGBA glow", 290, 515, "#0f172a", 22)

    # one coverage mask composited twice: linear light (default) against plain sRGB
    panel = (600, 60, 1160, 400)
    paint.draw_rounded_rect(
        frame, panel, LinearGradient(180, parse_stops(["#111827", "#1e3a8a"])), radii=20
    )
    paint.composite_mask(frame, _label_mask("Linear light", 64), 630, 100, Color(255, 255, 255))
    paint.composite_mask(
        frame, _label_mask("plain sRGB", 64), 630, 230, Color(255, 255, 255), blend="srgb"
    )
    _label(frame, "blend='linear' (default) / blend='srgb'", 630, 350, "#cbd5e1", 20)

    # gradient-filled text with a blurred glow of the same mask
    text = _label_mask("Gradient text", 72)
    glow = paint.blur_mask(text, 14.0)
    pad = paint.blur_padding(14.0)
    gradient_text = LinearGradient(90, parse_stops(["#db2777", "#f59e0b"]))
    paint.composite_mask(frame, glow, 620 - pad, 460 - pad, "#f472b6", opacity=0.7)
    paint.composite_mask(frame, text, 620, 460, gradient_text)
    return frame


def _dither() -> Frame:
    frame = _frame()
    slow = parse_stops(["#101820", "#1c2833"])
    paint.fill_rect(frame, (0, 0, WIDTH, HEIGHT // 2), LinearGradient(90, slow))
    paint.fill_rect(frame, (0, HEIGHT // 2, WIDTH, HEIGHT), LinearGradient(90, slow, dither=True))
    _label(frame, "rounded (bands)", 20, 20, "#e2e8f0")
    _label(frame, "ordered dither", 20, HEIGHT // 2 + 20, "#e2e8f0")
    return frame


_SUFFIXES = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "webp": "webp"}


def render_showcase(out_dir: Path, fmt: str = "png") -> list[Path]:
    """Render the showcase images into ``out_dir`` (created if missing); return their paths.

    ``fmt`` is ``"png"`` (default), ``"jpeg"``/``"jpg"`` or ``"webp"`` (written by Pillow).
    """
    suffix = _SUFFIXES.get(fmt.lower())
    if suffix is None:
        msg = "demo images are written as png, jpeg or webp"
        raise EncodeError(msg, field="format", value=fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, make in (
        ("gradients", _gradients),
        ("shapes", _shapes),
        ("shadows-and-masks", _shadows),
        ("dither", _dither),
    ):
        path = out / f"{name}.{suffix}"
        Image.fromarray(make()).save(path)
        written.append(path)
    return written


def run_demo(out_dir: Path, *, fmt: str = "png", quiet: bool = False) -> list[Path]:
    """The ``fastshare demo`` command: every bundled example template, for each sample item that
    has the fields it needs, at every preset target, written to
    ``out_dir/<template>/<item>/<target>.<ext>``; plus the kernel showcase in ``out_dir/showcase``.
    """
    from fastshare.encoders import encode
    from fastshare.examples import EXAMPLES, example_path, sample_items
    from fastshare.renderer import Renderer
    from fastshare.stores import write_atomic
    from fastshare.targets import TARGETS
    from fastshare.template import load_template

    suffix = _SUFFIXES.get(fmt.lower())
    if suffix is None:
        msg = "demo images are written as png, jpeg or webp"
        raise EncodeError(msg, field="format", value=fmt)
    out = Path(out_dir)
    renderer = Renderer()
    items = sample_items()
    written: list[Path] = []
    for name in EXAMPLES:
        template = load_template(example_path(name))  # type: ignore[arg-type]
        needed = template.required_fields
        for item in items:
            if any(not item.get(field) for field in needed):
                continue
            folder = out / name / str(item["id"])
            folder.mkdir(parents=True, exist_ok=True)
            for target in TARGETS.values():
                frame = renderer.render(template, item, target)
                path = folder / f"{target.name}.{suffix}"
                write_atomic(path, encode(frame, fmt))
                written.append(path)
                if not quiet:
                    print(path)
    showcase = render_showcase(out / "showcase", fmt)
    if not quiet:
        for path in showcase:
            print(path)
    return written + showcase
