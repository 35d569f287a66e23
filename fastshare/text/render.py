"""Rasterising a :class:`~fastshare.text.layout.TextLayout` and drawing it into a frame.

:func:`rasterize` turns a layout placed at frame position ``(x, y)`` into one A8 coverage mask
(glyph bitmaps from the registry's glyph cache, accumulated by the ``accumulate_glyphs`` kernel
with a saturating add) plus a list of colour-glyph pieces (RGBA premultiplied). Positions stay in
26.6 until here: x is split into a whole pixel and a quarter-pixel bucket, the baseline y is
rounded to a whole pixel.

:func:`draw_text` composites that mask with :func:`fastshare.paint.composite_mask` (linear light by
default, solid or gradient fill), an optional shadow first, then the colour glyphs with
:func:`fastshare.paint.blit_rgba`.

Thread safety: the layout is read-only; the glyph cache locks itself; the mask is allocated per
call and owned by the caller afterwards; the frame is written only by the paint functions.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fastshare.colors import Color, parse_color
from fastshare.errors import TextError, ValueRangeError
from fastshare.kernels.text import accumulate_glyphs
from fastshare.text.layout import TextLayout
from fastshare.text.raster import BUCKETS, GlyphCache

__all__ = [
    "ColorPiece",
    "DrawStats",
    "Shadow",
    "TextRaster",
    "draw_text",
    "rasterize",
    "warm_up",
]


@dataclass(frozen=True)
class Shadow:
    """A drop shadow under a text block: colour, offset (px) and blur radius (px)."""

    color: Color | str | tuple[int, ...] = "rgba(0,0,0,0.5)"
    dx: float = 0.0
    dy: float = 2.0
    blur: float = 4.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "color", parse_color(self.color, "shadow.color"))
        for name in ("dx", "dy", "blur"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                msg = "must be a number"
                raise ValueRangeError(msg, field=f"shadow.{name}", value=value)
            if not math.isfinite(value) or abs(value) > 1000 or (name == "blur" and value < 0):
                msg = "must be finite, within ±1000 (blur ≥ 0)"
                raise ValueRangeError(msg, field=f"shadow.{name}", value=value)


@dataclass(frozen=True)
class ColorPiece:
    """A colour glyph to blit: RGBA premultiplied pixels at frame position (x, y)."""

    rgba: np.ndarray
    x: int
    y: int


@dataclass(frozen=True)
class TextRaster:
    """A rasterised text block: coverage mask with its frame position, and colour glyphs."""

    mask: np.ndarray  # H×W uint8, C-contiguous
    x: int
    y: int
    color_glyphs: tuple[ColorPiece, ...]
    glyphs: int
    failures: int


@dataclass(frozen=True)
class DrawStats:
    """What :func:`draw_text` did."""

    glyphs: int  # coverage glyphs accumulated into the mask
    color_glyphs: int  # colour glyphs blitted
    failures: int  # glyphs that could not be rasterised (skipped, not fatal)
    missing: int  # characters no font covered (from the layout)
    mask_shape: tuple[int, int]
    cache_hits: int
    cache_misses: int
    seconds: dict[str, float]


def _cache(layout: TextLayout) -> GlyphCache:
    if layout.registry is None:
        msg = "layout has no registry (build it with layout_text)"
        raise TextError(msg, field="layout")
    return layout.registry.glyph_cache


def rasterize(
    layout: TextLayout,
    x: float = 0.0,
    y: float = 0.0,
    *,
    clip: tuple[int, int, int, int] | None = None,
) -> TextRaster:
    """Coverage mask and colour glyphs of ``layout`` with its box's top-left at frame (x, y).

    ``clip`` = (x0, y0, x1, y1) limits the mask to that frame rectangle (glyphs outside are
    dropped, partially visible ones cut).
    """
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) > 1e6:
            msg = "must be a finite number within ±1e6"
            raise ValueRangeError(msg, field=name, value=value)
    g = layout.glyphs
    empty = np.zeros((0, 0), dtype=np.uint8)
    if g.count == 0:
        return TextRaster(empty, math.floor(x), math.floor(y), (), 0, 0)
    cache = _cache(layout)
    size = layout.size
    size26 = round(size * 64)
    gx = g.x26 + round(x * 64)
    gy = g.y26 + round(y * 64)
    px = gx >> 6
    bucket = ((gx & 63) + 8) >> 4
    carry = bucket == BUCKETS
    px = px + carry
    bucket = np.where(carry, 0, bucket)
    py = (gy + 32) >> 6

    fonts = layout.fonts
    color_font = np.zeros(len(fonts), dtype=np.bool_)
    for i, font in enumerate(fonts):
        color_font[i] = font.color or font.color_png
    is_color = color_font[g.font]
    pieces: list[ColorPiece] = []
    if is_color.any():
        for i in np.flatnonzero(is_color).tolist():
            font = fonts[int(g.font[i])]
            cg = cache.color_glyph(font, size, int(g.gid[i]))
            if cg is None:
                is_color[i] = False  # no colour data for this glyph: draw its outline
                continue
            cx = int((gx[i] + 32) >> 6) + cg.left
            cy = int(py[i]) - cg.top
            pieces.append(ColorPiece(cg.rgba, cx, cy))
    plain = np.flatnonzero(~is_color)
    groups = []
    order = []
    for f in np.unique(g.font[plain]).tolist():
        sel = plain[g.font[plain] == f]
        groups.append((fonts[f], size26, g.gid[sel], bucket[sel]))
        order.append(sel)
    arena, entries, ids_list, failures = cache.lookup(groups)
    if order:
        sel_all = np.concatenate(order)
        ids = np.concatenate(ids_list)
    else:
        sel_all = np.zeros(0, dtype=np.int64)
        ids = np.zeros(0, dtype=np.int64)
    ok = ids >= 0
    sel_all, ids = sel_all[ok], ids[ok]
    ent = entries[ids]
    x0s = px[sel_all] + ent[:, 3]
    y0s = py[sel_all] - ent[:, 4]
    inked = (ent[:, 1] > 0) & (ent[:, 2] > 0)
    if not inked.any() and not pieces:
        return TextRaster(empty, math.floor(x), math.floor(y), (), 0, failures)
    if inked.any():
        mx0 = int(x0s[inked].min())
        my0 = int(y0s[inked].min())
        mx1 = int((x0s + ent[:, 1])[inked].max())
        my1 = int((y0s + ent[:, 2])[inked].max())
    else:
        mx0, my0, mx1, my1 = 0, 0, 0, 0
    if clip is not None:
        cx0, cy0, cx1, cy1 = clip
        mx0, my0 = max(mx0, cx0), max(my0, cy0)
        mx1, my1 = min(mx1, cx1), min(my1, cy1)
    w, h = max(0, mx1 - mx0), max(0, my1 - my0)
    mask = np.zeros((h, w), dtype=np.uint8)
    if w and h and inked.any():
        # the glyphs' own entry rows (``ent``), not a copy of the whole cache's entry table
        accumulate_glyphs(
            mask,
            arena,
            np.ascontiguousarray(ent, dtype=np.int64),
            np.arange(ent.shape[0], dtype=np.int64),
            np.ascontiguousarray(x0s - mx0, dtype=np.int64),
            np.ascontiguousarray(y0s - my0, dtype=np.int64),
        )
    return TextRaster(mask, mx0, my0, tuple(pieces), int(inked.sum()), failures)


def _paint() -> Any:
    try:
        from fastshare import paint
    except ImportError as exc:  # pragma: no cover - paint ships with fastshare
        msg = "fastshare.paint is not available"
        raise TextError(msg, field="paint") from exc
    return paint


def draw_text(
    frame: np.ndarray,
    layout: TextLayout,
    x: float,
    y: float,
    fill: Any = "#000000",
    *,
    opacity: float = 1.0,
    blend: Literal["linear", "srgb"] = "linear",
    shadow: Shadow | None = None,
    gradient_box: tuple[float, float, float, float] | None = None,
) -> DrawStats:
    """Draw ``layout`` into ``frame`` (H×W×3 uint8) with its box's top-left at (x, y).

    ``fill`` is a colour (anything :func:`~fastshare.colors.parse_color` accepts) or a gradient
    from :mod:`fastshare.gradients`; a gradient spans ``gradient_box`` (frame coordinates),
    by default the layout's box. Text is composited in linear light (``blend="linear"``) unless
    ``blend="srgb"``. A ``shadow`` is drawn first, from the same mask, blurred.
    """
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        msg = "frame must be an H×W×3 uint8 array"
        raise ValueRangeError(msg, field="frame", value=getattr(frame, "shape", type(frame)))
    if (
        isinstance(opacity, bool)
        or not isinstance(opacity, (int, float))
        or not (0.0 <= float(opacity) <= 1.0)
    ):
        msg = "must be a number in [0, 1]"
        raise ValueRangeError(msg, field="opacity", value=opacity)
    paint = _paint()
    if isinstance(fill, (str, tuple, list, Color)):
        fill = parse_color(fill, "fill")
    cache = _cache(layout)
    hits0, misses0 = cache.hits, cache.misses
    t0 = time.perf_counter()
    height, width = frame.shape[0], frame.shape[1]
    margin = 0
    if shadow is not None:
        margin = math.ceil(abs(shadow.dx) + abs(shadow.dy) + 3 * shadow.blur + 2)
    raster = rasterize(layout, x, y, clip=(-margin, -margin, width + margin, height + margin))
    t1 = time.perf_counter()
    mask = raster.mask
    if shadow is not None and (mask.size or raster.color_glyphs):
        shadow_mask, sx, sy = _shadow_mask(raster)
        sx += round(shadow.dx)
        sy += round(shadow.dy)
        if shadow.blur > 0:
            blurred = paint.blur_mask(shadow_mask, float(shadow.blur))
            pad_y = (blurred.shape[0] - shadow_mask.shape[0]) // 2
            pad_x = (blurred.shape[1] - shadow_mask.shape[1]) // 2
            shadow_mask, sx, sy = blurred, sx - pad_x, sy - pad_y
        paint.composite_mask(
            frame, np.ascontiguousarray(shadow_mask), sx, sy, shadow.color,
            opacity=float(opacity), blend=blend,
        )  # fmt: skip
    if mask.size:
        if gradient_box is None and not isinstance(fill, Color):  # a colour needs no box
            bw = layout.box_width if layout.box_width is not None else layout.width
            bh = layout.box_height if layout.box_height is not None else layout.height
            gradient_box = (float(x), float(y), float(x) + bw, float(y) + bh)
        paint.composite_mask(
            frame, mask, raster.x, raster.y, fill, opacity=float(opacity), blend=blend,
            gradient_box=gradient_box,
        )  # fmt: skip
    for piece in raster.color_glyphs:
        paint.blit_rgba(frame, piece.rgba, piece.x, piece.y, opacity=float(opacity))
    t2 = time.perf_counter()
    return DrawStats(
        raster.glyphs,
        len(raster.color_glyphs),
        raster.failures,
        layout.missing,
        (int(mask.shape[0]), int(mask.shape[1])),
        cache.hits - hits0,
        cache.misses - misses0,
        {"glyphs": t1 - t0, "composite": t2 - t1},
    )


def _shadow_mask(raster: TextRaster) -> tuple[np.ndarray, int, int]:
    """The text mask united with the colour glyphs' alpha (so emoji cast shadows too)."""
    if not raster.color_glyphs:
        return raster.mask, raster.x, raster.y
    boxes = [(raster.x, raster.y, raster.x + raster.mask.shape[1], raster.y + raster.mask.shape[0])]
    if raster.mask.size == 0:
        boxes = []
    for p in raster.color_glyphs:
        boxes.append((p.x, p.y, p.x + p.rgba.shape[1], p.y + p.rgba.shape[0]))
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    out = np.zeros((y1 - y0, x1 - x0), dtype=np.uint16)
    if raster.mask.size:
        mh, mw = raster.mask.shape
        out[raster.y - y0 : raster.y - y0 + mh, raster.x - x0 : raster.x - x0 + mw] += raster.mask
    for p in raster.color_glyphs:
        ph, pw = p.rgba.shape[:2]
        out[p.y - y0 : p.y - y0 + ph, p.x - x0 : p.x - x0 + pw] += p.rgba[:, :, 3]
    return np.minimum(out, 255).astype(np.uint8), x0, y0


def warm_up(registry: Any = None) -> None:
    """Compile (or load from numba's cache) the text kernels and exercise the whole pipeline once:
    itemise, shape, fit, balance, raster and composite. Call once per worker before taking work.

    ``registry`` defaults to a throwaway registry of the bundled fonts (its glyph cache is
    dropped afterwards); pass the worker's registry to also warm its glyph cache.
    """
    from fastshare.text.fonts import FontRegistry
    from fastshare.text.layout import TextStyle, layout_text

    reg = registry if registry is not None else FontRegistry()
    style = TextStyle(weight=700, size_range=(32, 48), max_lines=2, wrap="balance")
    layout = layout_text(reg, "Warm up: fast text, مرحبا שלום नमस्ते", style, 400, 120)
    frame = np.zeros((160, 440, 3), dtype=np.uint8)
    draw_text(frame, layout, 10, 10, "#ffffff", shadow=Shadow(blur=2))
