"""The Pillow + numpy baseline: card A drawn the way a competent Python developer would draw it.

Every speed goal of fastshare is a ratio against this module, measured in the same run on the same
cards (``fastshare bench``, ``benchmarks/``). It is deliberately *not* sandbagged:

* the background is a numpy-vectorised CSS linear gradient (float32 ramps, a 1024-entry colour
  lookup table, one gather), converted once per target size with ``Image.fromarray`` and cached
  (``cache_background=True``, the default): a developer rendering many cards at one size hoists
  the invariant background, as fastshare's own base frame does. ``cache_background=False`` paints
  it per card;
* fonts are the bundled Inter files fastshare uses, opened once per (file, size) with
  ``ImageFont.truetype`` (Pillow's default layout engine: libraqm when available);
* text is wrapped greedily with ``FreeTypeFont.getlength`` on the candidate line (so kerning is
  measured), ellipsised on the last allowed line, and drawn with ``ImageDraw.text`` at its
  baseline; the badge is ``ImageDraw.rounded_rectangle``;
* encoding is ``Image.save`` into memory, with the same settings as fastshare's defaults where
  Pillow has them (:data:`PILLOW_OPTIONS`: JPEG q85 4:2:0, WebP q80 method 0) and Pillow's own
  default for PNG (zlib level 6).

Card A's values (:data:`CARD_A`) mirror ``fastshare/examples/card-a.toml``; a test checks that they
match. Sizes scale with the target's scale factor; the right and bottom offsets follow the target's
width and height, so every preset (``og``, ``square``, ``story``...) renders the same card.

Images are PIL ``RGB`` images owned by the caller. Thread safety: a :class:`PillowCard` may be
shared by threads (its caches are guarded); FreeType fonts are shared by Pillow as it allows.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from fastshare.errors import DataError, EncodeError
from fastshare.targets import Target, parse_target

__all__ = [
    "CARD_A",
    "ELLIPSIS",
    "PILLOW_OPTIONS",
    "CardLayout",
    "CardPlan",
    "CardSpec",
    "PillowCard",
    "TextBlock",
    "TextSpec",
    "linear_gradient",
    "load_font",
    "save_bytes",
    "wrap_text",
]

ELLIPSIS = "…"

#: Pillow ``save`` options per format: fastshare's default settings where Pillow has the same knob
PILLOW_OPTIONS: dict[str, dict[str, Any]] = {
    "png": {},  # Pillow's default: zlib level 6, adaptive filters
    "jpeg": {"quality": 85, "subsampling": "4:2:0"},
    "webp": {"quality": 80, "method": 0},
}


# --------------------------------------------------------------------------- the card


@dataclass(frozen=True)
class TextSpec:
    """One text layer: a ``str.format`` pattern over item fields, its font and its box.

    Horizontal extent: ``left`` and ``right`` offsets, or ``left`` and ``width``. Vertical: ``top``
    and ``height`` (a fixed box, text aligned by ``valign``), or ``bottom`` only (the box grows
    upwards with the lines).
    """

    text: str
    font_file: str
    size: float
    color: str
    left: float
    top: float | None = None
    height: float | None = None
    bottom: float | None = None
    right: float | None = None
    width: float | None = None
    line_height: float = 1.2
    max_lines: int | None = None
    align: str = "left"
    valign: str = "top"


@dataclass(frozen=True)
class CardSpec:
    """A card with a linear-gradient background, a rounded badge and text layers."""

    name: str
    gradient_angle: float
    gradient_stops: tuple[tuple[str, float], ...]
    badge: tuple[float, float, float, float]  # left, top, width, height
    badge_radius: float
    badge_fill: str
    texts: tuple[TextSpec, ...]


#: card A, as in ``fastshare/examples/card-a.toml``
CARD_A = CardSpec(
    name="card-a",
    gradient_angle=135.0,
    gradient_stops=(("#0F2027", 0.0), ("#203A43", 0.5), ("#2C5364", 1.0)),
    badge=(80.0, 60.0, 180.0, 44.0),
    badge_radius=22.0,
    badge_fill="#38BDF8",
    texts=(
        TextSpec(
            text="{category}",
            font_file="Inter-Bold.otf",
            size=20.0,
            color="#0F172A",
            left=80.0,
            top=60.0,
            width=180.0,
            height=44.0,
            align="center",
            valign="middle",
        ),
        TextSpec(
            text="{title}",
            font_file="Inter-Bold.otf",
            size=64.0,
            color="#FFFFFF",
            left=80.0,
            right=80.0,
            top=120.0,
            height=240.0,
            line_height=1.2,
            max_lines=3,
        ),
        TextSpec(
            text="{site} · {read_time}",
            font_file="Inter-Regular.otf",
            size=32.0,
            color="#CBD5E1",
            left=80.0,
            right=80.0,
            bottom=72.0,
            line_height=1.2,
        ),
    ),
)


# --------------------------------------------------------------------------- building blocks


def _rgb(color: str) -> tuple[int, int, int]:
    text = color.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


@functools.lru_cache(maxsize=16)
def _gradient_lut(stops: tuple[tuple[str, float], ...], size: int) -> npt.NDArray[np.uint8]:
    positions = np.array([p for _, p in stops], dtype=np.float64)
    colors = np.array([_rgb(c) for c, _ in stops], dtype=np.float64)
    t = np.linspace(0.0, 1.0, size)
    lut = np.empty((size, 3), dtype=np.uint8)
    for channel in range(3):
        lut[:, channel] = np.rint(np.interp(t, positions, colors[:, channel]))
    return lut


def linear_gradient(
    width: int,
    height: int,
    angle: float,
    stops: Sequence[tuple[str, float]],
    *,
    lut_size: int = 1024,
) -> npt.NDArray[np.uint8]:
    """A CSS ``linear-gradient(angle, stops)`` as an H×W×3 ``uint8`` array (sRGB interpolation).

    The gradient line passes through the centre at ``angle`` (0° points up, 90° right) and is
    ``|W sin a| + |H cos a|`` long, as CSS defines it. Positions are two float32 ramps added by
    an outer sum, quantised to a ``lut_size``-entry colour table and gathered with ``np.take``.
    """
    rad = math.radians(angle)
    dx, dy = math.sin(rad), -math.cos(rad)
    length = abs(width * dx) + abs(height * dy)
    scale = (lut_size - 1) / length
    xs = (np.arange(width, dtype=np.float32) + np.float32(0.5 - width / 2)) * np.float32(dx * scale)
    ys = (np.arange(height, dtype=np.float32) + np.float32(0.5 - height / 2)) * np.float32(
        dy * scale
    ) + np.float32(0.5 * (lut_size - 1) + 0.5)
    index = np.add.outer(ys, xs).astype(np.int32)
    np.clip(index, 0, lut_size - 1, out=index)
    lut = _gradient_lut(tuple(stops), lut_size)
    pixels: npt.NDArray[np.uint8] = np.take(lut, index, axis=0)
    return pixels


@functools.lru_cache(maxsize=64)
def load_font(path: str, size: float) -> ImageFont.FreeTypeFont:
    """``ImageFont.truetype(path, size)``, opened once per (file, size)."""
    return ImageFont.truetype(path, size)


def _fits(font: ImageFont.FreeTypeFont, text: str, max_width: float) -> bool:
    return font.getlength(text) <= max_width


def _ellipsize(font: ImageFont.FreeTypeFont, text: str, max_width: float) -> str:
    """``text`` cut (at a word, else a character) so that ``text + "…"`` fits ``max_width``."""
    text = text.rstrip()
    while text and not _fits(font, text + ELLIPSIS, max_width):
        cut = text.rfind(" ")
        text = text[:cut].rstrip() if cut > 0 else text[:-1]
    return text + ELLIPSIS


def wrap_text(
    font: ImageFont.FreeTypeFont, text: str, max_width: float, max_lines: int | None = None
) -> list[str]:
    """Greedy word wrap measured with ``getlength``; the last allowed line ends in an ellipsis.

    A word wider than the line on its own is broken between characters.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if _fits(font, candidate, max_width):
                line = candidate
                continue
            if line:
                lines.append(line)
            while not _fits(font, word, max_width) and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and not _fits(font, word[:cut], max_width):
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    if max_lines is not None and len(lines) > max_lines:
        last = " ".join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], _ellipsize(font, last, max_width)]
    return lines


def save_bytes(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """``image.save`` into memory with :data:`PILLOW_OPTIONS` for ``fmt``, then ``options``."""
    name = fmt.lower()
    name = "jpeg" if name == "jpg" else name
    settings = {**PILLOW_OPTIONS.get(name, {}), **options}
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=name.upper(), **settings)
    except (KeyError, ValueError, OSError) as exc:
        msg = f"Pillow cannot write this format: {exc}"
        raise EncodeError(msg, field="format", value=fmt) from None
    return buffer.getvalue()


# --------------------------------------------------------------------------- plan and layout


@dataclass(frozen=True)
class TextBlock:
    """Lines of one text layer, each drawn with its baseline at ``(x, baseline)``."""

    font: ImageFont.FreeTypeFont
    color: str
    lines: tuple[tuple[str, float, float], ...]  # text, x, baseline y


@dataclass(frozen=True)
class CardPlan:
    """A card's geometry at one target, in pixels, with its fonts opened."""

    spec: CardSpec
    target: Target
    width: int
    height: int
    badge: tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive, as ImageDraw takes them)
    badge_radius: int
    boxes: tuple[tuple[float, float, float | None, float | None, float | None], ...]
    fonts: tuple[ImageFont.FreeTypeFont, ...]


@dataclass(frozen=True)
class CardLayout:
    """An item laid out on a plan: every text layer's lines, ready to draw."""

    plan: CardPlan
    blocks: tuple[TextBlock, ...]


def _text_box(
    spec: TextSpec, width: int, height: int, scale: float
) -> tuple[float, float, float | None, float | None, float | None]:
    """(x0, x1, top, box height, bottom edge) in pixels; unset vertical values are None."""
    x0 = spec.left * scale
    right_edge = width - (spec.right or 0.0) * scale
    x1 = right_edge if spec.width is None else x0 + spec.width * scale
    top = None if spec.top is None else spec.top * scale
    box_h = None if spec.height is None else spec.height * scale
    bottom = None if spec.bottom is None else height - spec.bottom * scale
    return x0, x1, top, box_h, bottom


class PillowCard:
    """Renders a :class:`CardSpec` (card A by default) with Pillow and numpy.

    ``plan(target)`` → :class:`CardPlan`; ``layout(plan, item)`` → :class:`CardLayout`;
    ``paint(layout)`` → PIL image; ``render(item, target)`` does all three; ``encode(image, fmt)``
    → bytes. ``font_dir`` defaults to fastshare's bundled fonts.
    """

    def __init__(
        self,
        spec: CardSpec = CARD_A,
        *,
        font_dir: str | Path | None = None,
        cache_background: bool = True,
        lut_size: int = 1024,
    ) -> None:
        if font_dir is None:
            from fastshare.text import bundled_font_dir

            font_dir = bundled_font_dir()
        self.spec = spec
        self.font_dir = Path(font_dir)
        self.cache_background = cache_background
        self.lut_size = lut_size
        self._lock = threading.Lock()
        self._backgrounds: dict[tuple[int, int, float], Image.Image] = {}

    # ------------------------------------------------------------------ stages

    def plan(self, target: Target | str = "og") -> CardPlan:
        """Resolve the card's boxes for ``target`` and open its fonts (cached per size)."""
        tgt = parse_target(target) if isinstance(target, str) else target
        width, height = tgt.size
        scale = tgt.scale
        spec = self.spec
        left, top, bw, bh = (v * scale for v in spec.badge)
        badge = (round(left), round(top), round(left + bw) - 1, round(top + bh) - 1)
        boxes = tuple(_text_box(t, width, height, scale) for t in spec.texts)
        fonts = tuple(
            load_font(str(self.font_dir / t.font_file), t.size * scale) for t in spec.texts
        )
        return CardPlan(
            spec, tgt, width, height, badge, round(spec.badge_radius * scale), boxes, fonts
        )

    def layout(self, plan: CardPlan, item: Mapping[str, Any]) -> CardLayout:
        """Bind ``item``'s fields, wrap and place every text layer's lines."""
        blocks = []
        for text_spec, box, font in zip(plan.spec.texts, plan.boxes, plan.fonts, strict=True):
            try:
                text = text_spec.text.format_map(item)
            except KeyError as exc:
                field = str(exc.args[0])
                msg = "the item has no such field"
                raise DataError(msg, field=field, value=sorted(item)) from None
            x0, x1, top, box_h, bottom = box
            line_h = text_spec.size * plan.target.scale * text_spec.line_height
            max_lines = text_spec.max_lines
            if box_h is not None:
                fitting = max(1, int(box_h // line_h))
                max_lines = fitting if max_lines is None else min(max_lines, fitting)
            lines = wrap_text(font, text, x1 - x0, max_lines)
            block_h = line_h * len(lines)
            if top is None:
                y = (bottom if bottom is not None else plan.height) - block_h
            elif box_h is not None and text_spec.valign == "middle":
                y = top + (box_h - block_h) / 2
            elif box_h is not None and text_spec.valign == "bottom":
                y = top + box_h - block_h
            else:
                y = top
            ascent, descent = font.getmetrics()
            first_baseline = y + (line_h - (ascent + descent)) / 2 + ascent
            placed = []
            for n, line in enumerate(lines):
                x = x0
                if text_spec.align in ("center", "right"):
                    free = (x1 - x0) - font.getlength(line)
                    x += free / 2 if text_spec.align == "center" else free
                placed.append((line, x, first_baseline + n * line_h))
            blocks.append(TextBlock(font, text_spec.color, tuple(placed)))
        return CardLayout(plan, tuple(blocks))

    def background(self, plan: CardPlan) -> Image.Image:
        """The gradient background as a PIL image (cached per size unless disabled)."""
        key = (plan.width, plan.height, plan.target.scale)
        if self.cache_background:
            with self._lock:
                found = self._backgrounds.get(key)
            if found is not None:
                return found
        pixels = linear_gradient(
            plan.width,
            plan.height,
            self.spec.gradient_angle,
            self.spec.gradient_stops,
            lut_size=self.lut_size,
        )
        image = Image.fromarray(pixels, "RGB")
        if self.cache_background:
            with self._lock:
                self._backgrounds[key] = image
        return image

    def paint(self, layout: CardLayout) -> Image.Image:
        """Background, badge and text: a new RGB image."""
        plan = layout.plan
        image = self.background(plan)
        image = image.copy() if self.cache_background else image
        draw = ImageDraw.Draw(image)
        draw.rounded_rectangle(plan.badge, radius=plan.badge_radius, fill=self.spec.badge_fill)
        for block in layout.blocks:
            for text, x, baseline in block.lines:
                draw.text((x, baseline), text, font=block.font, fill=block.color, anchor="ls")
        return image

    # ------------------------------------------------------------------ one call

    def render(self, item: Mapping[str, Any], target: Target | str = "og") -> Image.Image:
        """Plan, lay out and paint one card."""
        return self.paint(self.layout(self.plan(target), item))

    def encode(self, image: Image.Image, fmt: str = "png", **options: Any) -> bytes:
        """:func:`save_bytes`: ``Image.save`` into memory."""
        return save_bytes(image, fmt, **options)

    def render_bytes(
        self, item: Mapping[str, Any], target: Target | str = "og", fmt: str = "png"
    ) -> bytes:
        """Render and encode one card."""
        return self.encode(self.render(item, target), fmt)
