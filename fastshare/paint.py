"""Painting primitives: validated Python wrappers around the numba kernels in ``fastshare.kernels``.

Frames are ``numpy.ndarray`` H×W×3 ``uint8`` C-contiguous sRGB, allocated and owned by the
caller; every function here paints into the frame in place and returns ``None`` (the blur and mask
helpers return new arrays). Everything is validated in Python before any kernel runs; a bad
argument raises a :class:`~fastshare.errors.ClientError` subclass (``ValueRangeError``,
``ColorError``) naming the parameter and the value.

Geometry: ``box = (x0, y0, x1, y1)`` in float pixels, frame coordinates (pixel ``(x, y)`` covers
``[x, x+1) × [y, y+1)``); boxes may be partly or wholly outside the frame (clipped) and may be empty
(nothing is painted); a negative size or a NaN is an error. Gradient geometry is relative to the box
(CSS background semantics), or to ``gradient_box`` for :func:`composite_mask`.

Compositing: shapes and rectangles blend in plain sRGB by default (``blend="srgb"``, matching
browsers: ``opacity=0.5`` white over black is 128); :func:`composite_mask` (text, shadows) blends
in linear light by default (``blend="linear"``; research/text.md §6: naive sRGB makes light-on-dark
text thin). Both accept either. :func:`blit_rgba` is plain sRGB "source over". Fully covered,
opaque pixels always get the exact fill colour.

Thread safety: the functions keep no mutable state (lookup tables are built once at import and
never written; stop tables and dither tables come from LRU caches and are never written); kernels
release the GIL, so threads may paint separate frames concurrently. Two threads painting the same
frame at once is the caller's race.

Public API (the "Paint API" contract):

``fill_rect(frame, box, fill, *, opacity=1.0, blend="srgb")``
``draw_rounded_rect(frame, box, fill, *, radii=0.0, stroke=None, stroke_width=0.0, opacity=1.0,
blend="srgb")`` — ``radii`` is one radius or ``(top_left, top_right, bottom_right, bottom_left)``;
radii larger than the box are scaled down together as CSS does; the stroke lies inside the box
(a CSS border); ``fill`` may be ``None`` for a stroke-only shape.
``draw_ellipse(frame, box, fill, *, stroke=None, stroke_width=0.0, opacity=1.0, blend="srgb")``
``composite_mask(frame, mask, x, y, fill, *, opacity=1.0, blend="linear", gradient_box=None)``
``blit_rgba(frame, src, x, y, *, opacity=1.0)`` — ``src`` h×w×4 uint8 premultiplied RGBA.
``blur_mask(mask, radius) -> ndarray`` and ``blur_rgba(src, radius) -> ndarray`` — a Gaussian of
σ = radius / 2 (CSS ``blur`` / ``box-shadow`` radius) by three box passes; the result is a NEW
array padded by ``blur_padding(radius)`` pixels on every side: composite it at
``(x - pad, y - pad)``.
``rounded_rect_mask(width, height, radii=0.0) -> ndarray`` and ``ellipse_mask(width, height)`` —
8-bit coverage masks of the same shapes (for shadows and image corners).
``warm_up()`` — compile (or load from numba's cache) every kernel; call once in each worker.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from fastshare.colors import Color, parse_color
from fastshare.errors import ValueRangeError
from fastshare.gradients import (
    ConicGradient,
    Fill,
    LinearGradient,
    RadialGradient,
    StopTable,
    linear_to_srgb,
    parse_fill,
    srgb_to_linear,
    stop_table,
)
from fastshare.kernels import blit as _blit
from fastshare.kernels import blur as _blur_kernels
from fastshare.kernels import composite as _composite
from fastshare.kernels import fill as _fill
from fastshare.kernels import gradient as _gradient
from fastshare.kernels import shapes as _shapes

__all__ = [
    "Blend",
    "Box",
    "blit_rgba",
    "blur_mask",
    "blur_padding",
    "blur_rgba",
    "composite_mask",
    "draw_ellipse",
    "draw_rounded_rect",
    "ellipse_mask",
    "fill_rect",
    "rounded_rect_mask",
    "warm_up",
]

Box: TypeAlias = tuple[float, float, float, float]
Blend: TypeAlias = Literal["linear", "srgb"]
Radii: TypeAlias = float | tuple[float, float, float, float]

#: entries of the linear → sRGB encode table (research/text.md §6: 4096 keeps blending ≤ 1 LSB)
ENCODE_LUT_SIZE = 4096
#: largest blur radius accepted (px); a Gaussian of σ = 250 px is beyond any share card
MAX_BLUR_RADIUS = 500.0
#: coordinates are clamped to ±this before reaching the kernels (int64-safe, far off any frame)
_COORD_LIMIT = float(1 << 40)


def _build_luts() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    dec = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
    levels = np.arange(ENCODE_LUT_SIZE) / (ENCODE_LUT_SIZE - 1)
    enc = np.floor(linear_to_srgb(levels) * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    dec.setflags(write=False)
    enc.setflags(write=False)
    return dec, enc


DECODE_LUT, ENCODE_LUT = _build_luts()
_NO_DITHER = np.zeros((1, 1), np.float32)
_NO_DITHER.setflags(write=False)
_NO_SHAPE = np.zeros(8, np.float64)


def _bayer8() -> npt.NDArray[np.float64]:
    m = np.zeros((1, 1))
    while m.shape[0] < 8:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return m


@functools.lru_cache(maxsize=16)
def dither_rows(width: int) -> npt.NDArray[np.float32]:
    """Ordered-dither rounding offsets pre-tiled for a frame width: float32[8, 3·width]."""
    offsets = (_bayer8() + 0.5) / 64.0
    tiled = np.repeat(np.tile(offsets, (1, (width + 7) // 8))[:, :width], 3, axis=1)
    out = np.ascontiguousarray(tiled, dtype=np.float32)
    out.setflags(write=False)  # cached and shared between threads
    return out


# --------------------------------------------------------------------------- validation


def _check_frame(frame: Any) -> npt.NDArray[np.uint8]:
    if not isinstance(frame, np.ndarray):
        msg = "a frame is a numpy array H×W×3 uint8"
        raise ValueRangeError(msg, field="frame", value=type(frame).__name__)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        msg = "a frame is a numpy array H×W×3 uint8"
        raise ValueRangeError(msg, field="frame", value=f"{frame.dtype} {frame.shape}")
    if not frame.flags.c_contiguous or not frame.flags.writeable:
        msg = "a frame must be C-contiguous and writeable"
        raise ValueRangeError(msg, field="frame", value=f"{frame.dtype} {frame.shape}")
    return frame


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = "must be a number"
        raise ValueRangeError(msg, field=field, value=value)
    number = float(value)
    if not math.isfinite(number):
        msg = "must be a finite number"
        raise ValueRangeError(msg, field=field, value=value)
    return number


def _nonneg(value: Any, field: str) -> float:
    number = _number(value, field)
    if number < 0.0:
        msg = "must not be negative"
        raise ValueRangeError(msg, field=field, value=value)
    return number


def _unit(value: Any, field: str) -> float:
    number = _number(value, field)
    if not 0.0 <= number <= 1.0:
        msg = "must be between 0 and 1"
        raise ValueRangeError(msg, field=field, value=value)
    return number


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool):
        msg = "must be an integer"
        raise ValueRangeError(msg, field=field, value=value)
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None:
        f = _number(value, field)
        if not f.is_integer():
            msg = "must be an integer"
            raise ValueRangeError(msg, field=field, value=value)
        number = int(f)
    if abs(number) > _COORD_LIMIT:
        msg = f"must be within ±{_COORD_LIMIT:.0f}"
        raise ValueRangeError(msg, field=field, value=value)
    return number


def _check_box(box: Any, field: str = "box") -> Box:
    if isinstance(box, str | bytes) or not isinstance(box, Sequence | np.ndarray) or len(box) != 4:
        msg = "a box is (x0, y0, x1, y1)"
        raise ValueRangeError(msg, field=field, value=box)
    x0, y0, x1, y1 = (_number(v, f"{field}[{i}]") for i, v in enumerate(box))
    if x1 < x0:
        msg = "the width (x1 - x0) must not be negative"
        raise ValueRangeError(msg, field=field, value=box)
    if y1 < y0:
        msg = "the height (y1 - y0) must not be negative"
        raise ValueRangeError(msg, field=field, value=box)
    return (x0, y0, x1, y1)


def _check_blend(blend: Any) -> bool:
    if blend not in ("linear", "srgb"):
        msg = "blend must be 'linear' or 'srgb'"
        raise ValueRangeError(msg, field="blend", value=blend)
    return bool(blend == "linear")


def _check_fill(fill: Any, field: str, *, optional: bool = False) -> Fill | None:
    if fill is None and optional:
        return None
    return parse_fill(fill, field)


def _check_radii(radii: Any) -> tuple[float, float, float, float]:
    if isinstance(radii, Sequence) and not isinstance(radii, str | bytes):
        if len(radii) != 4:
            msg = "radii is one number or (top_left, top_right, bottom_right, bottom_left)"
            raise ValueRangeError(msg, field="radii", value=radii)
        values = tuple(_nonneg(r, f"radii[{i}]") for i, r in enumerate(radii))
        return (values[0], values[1], values[2], values[3])
    r = _nonneg(radii, "radii")
    return (r, r, r, r)


def _span(box: Box, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer pixel span covering ``box``, clipped to the frame."""
    x0, y0, x1, y1 = box
    ix0 = max(math.floor(max(x0, -_COORD_LIMIT)), 0)
    iy0 = max(math.floor(max(y0, -_COORD_LIMIT)), 0)
    ix1 = min(math.ceil(min(x1, _COORD_LIMIT)), width)
    iy1 = min(math.ceil(min(y1, _COORD_LIMIT)), height)
    return ix0, iy0, ix1, iy1


def _aligned(box: Box) -> bool:
    return all(float(v).is_integer() for v in box)


# --------------------------------------------------------------------------- fill sources


_KIND_SOLID = _gradient.KIND_SOLID
_EXACT_SIN_COS = {0.0: (0.0, 1.0), 90.0: (1.0, 0.0), 180.0: (0.0, -1.0), 270.0: (-1.0, 0.0)}


def _sin_cos_deg(angle: float) -> tuple[float, float]:
    a = angle % 360.0
    exact = _EXACT_SIN_COS.get(a)
    if exact is not None:
        return exact
    rad = math.radians(a)
    return math.sin(rad), math.cos(rad)


class _Source:
    """A fill resolved for the kernels: kind, geometry in frame coordinates, stop table."""

    __slots__ = ("dither", "geom", "kind", "table")

    def __init__(self, kind: int, geom: npt.NDArray[np.float64], table: StopTable, dither: bool):
        self.kind = kind
        self.geom = geom
        self.table = table
        self.dither = dither


@functools.lru_cache(maxsize=256)
def _solid_table(color: Color) -> StopTable:
    a = color.a / 255.0
    pos = np.zeros(1, np.float32)
    col = np.array([[color.r * a, color.g * a, color.b * a, color.a]], np.float32)
    seg = np.zeros(1, np.int32)
    for array in (pos, col, seg):
        array.setflags(write=False)  # cached and shared between threads
    return StopTable(pos, col, seg, color.a == 255)


def linear_geometry(angle: float, box: Box) -> tuple[float, float, float]:
    """``(t00, dtx, dty)``: ``t = t00 + dtx·x + dty·y`` at the centre of frame pixel ``(x, y)``."""
    bx0, by0, bx1, by1 = box
    w = bx1 - bx0
    h = by1 - by0
    sin_a, cos_a = _sin_cos_deg(angle)
    length = abs(w * sin_a) + abs(h * cos_a)
    if not length > 0.0:
        return 0.5, 0.0, 0.0
    dtx = sin_a / length
    dty = -cos_a / length
    cx = 0.5 * (bx0 + bx1)
    cy = 0.5 * (by0 + by1)
    return 0.5 + (0.5 - cx) * dtx + (0.5 - cy) * dty, dtx, dty


def radial_radii(gradient: RadialGradient, box: Box) -> tuple[float, float]:
    """The ending shape's radii in px (CSS ``farthest-corner`` when the gradient gives none)."""
    bx0, by0, bx1, by1 = box
    ccx = bx0 + gradient.cx * (bx1 - bx0)
    ccy = by0 + gradient.cy * (by1 - by0)
    if gradient.rx is not None:
        rx = gradient.rx
        ry = gradient.ry if gradient.ry is not None and gradient.shape == "ellipse" else rx
        return rx, ry
    far_x = max(abs(ccx - bx0), abs(bx1 - ccx))
    far_y = max(abs(ccy - by0), abs(by1 - ccy))
    if gradient.shape == "circle":
        r = math.hypot(far_x, far_y)
        return r, r
    near_x = min(abs(ccx - bx0), abs(bx1 - ccx))
    near_y = min(abs(ccy - by0), abs(by1 - ccy))
    if near_x > 0.0 and near_y > 0.0:
        ratio = near_x / near_y
    elif far_x > 0.0 and far_y > 0.0:
        ratio = far_x / far_y  # centre on an edge: closest-side is degenerate
    else:
        r = math.hypot(far_x, far_y)
        return r, r
    # the ellipse x²/rx² + y²/ry² = 1 with rx/ry = ratio through the farthest corner
    return math.hypot(far_x, far_y * ratio), math.hypot(far_x / ratio, far_y)


def _resolve(fill: Fill, box: Box) -> _Source:
    geom = np.zeros(8, np.float64)
    if isinstance(fill, Color):
        return _Source(_KIND_SOLID, geom, _solid_table(fill), False)
    table = stop_table(fill.stops, fill.interpolation)
    if table.pos.shape[0] == 1:
        return _Source(_KIND_SOLID, geom, table, False)
    bx0, by0, bx1, by1 = box
    if isinstance(fill, LinearGradient):
        geom[:3] = linear_geometry(fill.angle, box)
        return _Source(_gradient.KIND_LINEAR, geom, table, fill.dither)
    ccx = bx0 + fill.cx * (bx1 - bx0)
    ccy = by0 + fill.cy * (by1 - by0)
    if isinstance(fill, RadialGradient):
        rx, ry = radial_radii(fill, box)
        # a zero (or subnormal) radius: every pixel but the exact centre is past the last stop
        geom[:4] = (ccx, ccy, 1.0 / max(rx, 1e-30), 1.0 / max(ry, 1e-30))
        return _Source(_gradient.KIND_RADIAL, geom, table, fill.dither)
    geom[:3] = (ccx, ccy, (fill.start_angle / 360.0) % 1.0)
    return _Source(_gradient.KIND_CONIC, geom, table, fill.dither)


def _solid_rgb(color: Color) -> tuple[int, int, int]:
    return color.r, color.g, color.b


# --------------------------------------------------------------------------- shapes


def _scaled_radii(box: Box, radii: tuple[float, float, float, float]) -> tuple[float, ...]:
    """CSS: when adjacent radii exceed a side, scale every radius by the same factor."""
    x0, y0, x1, y1 = box
    w = x1 - x0
    h = y1 - y0
    tl, tr, br, bl = radii
    factor = 1.0
    for side, a, b in ((w, tl, tr), (w, bl, br), (h, tl, bl), (h, tr, br)):
        if a + b > side:
            factor = min(factor, side / (a + b))
    return tuple(r * factor for r in radii)


def _paint_shape(
    frame: npt.NDArray[np.uint8],
    box: Box,
    shape: int,
    outer: npt.NDArray[np.float64],
    inner: npt.NDArray[np.float64] | None,
    fill: Fill | None,
    stroke: Color | None,
    opacity: float,
    linear: bool,
) -> None:
    height, width = frame.shape[:2]
    ix0, iy0, ix1, iy1 = _span(box, height, width)
    if ix0 >= ix1 or iy0 >= iy1 or opacity <= 0.0:
        return
    source = _resolve(fill if fill is not None else Color(0, 0, 0, 0), box)
    table = source.table
    stroke_arr = np.zeros(4, np.float32)
    if stroke is not None:
        a = stroke.a / 255.0
        stroke_arr[:] = (stroke.r * a, stroke.g * a, stroke.b * a, stroke.a)
    dither = source.dither and fill is not None
    _shapes.paint_shape(
        frame,
        ix0,
        iy0,
        ix1,
        iy1,
        shape,
        outer,
        inner if inner is not None else _NO_SHAPE,
        inner is not None,
        source.kind,
        source.geom,
        table.pos,
        table.col,
        table.seg,
        fill is not None,
        stroke_arr,
        stroke is not None,
        float(opacity),
        linear,
        DECODE_LUT,
        ENCODE_LUT,
        dither_rows(width) if dither else _NO_DITHER,
        dither,
    )


def fill_rect(
    frame: npt.NDArray[np.uint8],
    box: Box,
    fill: Fill | str,
    *,
    opacity: float = 1.0,
    blend: Blend = "srgb",
) -> None:
    """Fill ``box`` with a colour or gradient; fractional edges are antialiased.

    Integer boxes with an opaque colour or an opaque linear gradient at full opacity take the
    fast kernels (plain stores; 0.6 ns per pixel for the gradient).
    """
    frame = _check_frame(frame)
    box = _check_box(box)
    resolved = _check_fill(fill, "fill")
    assert resolved is not None
    opacity = _unit(opacity, "opacity")
    linear = _check_blend(blend)
    height, width = frame.shape[:2]
    ix0, iy0, ix1, iy1 = _span(box, height, width)
    if ix0 >= ix1 or iy0 >= iy1 or opacity <= 0.0:
        return
    aligned = _aligned(box)
    if aligned and opacity >= 1.0:
        if isinstance(resolved, Color) and resolved.a == 255:
            _fill.fill_solid(frame, ix0, iy0, ix1, iy1, *_solid_rgb(resolved))
            return
        if isinstance(resolved, LinearGradient):
            table = stop_table(resolved.stops, resolved.interpolation)
            if table.opaque:
                t00, dtx, dty = linear_geometry(resolved.angle, box)
                _gradient.linear_gradient(
                    frame,
                    ix0,
                    iy0,
                    ix1,
                    iy1,
                    t00,
                    dtx,
                    dty,
                    table.pos,
                    table.col,
                    dither_rows(width) if resolved.dither else _NO_DITHER,
                    resolved.dither,
                )
                return
    if isinstance(resolved, Color) and resolved.a == 0:
        return
    if aligned:
        _paint_shape(
            frame, box, _shapes.SHAPE_FULL, _NO_SHAPE, None, resolved, None, opacity, linear
        )
    else:
        outer = np.array([*box, 0.0, 0.0, 0.0, 0.0], np.float64)
        _paint_shape(frame, box, _shapes.SHAPE_RRECT, outer, None, resolved, None, opacity, linear)


def _stroke_args(stroke: Any, stroke_width: Any) -> tuple[Color | None, float]:
    width = _nonneg(stroke_width, "stroke_width")
    color = None if stroke is None else parse_color(stroke, "stroke")
    if color is not None and (width <= 0.0 or color.a == 0):
        color = None
    return color, width


def draw_rounded_rect(
    frame: npt.NDArray[np.uint8],
    box: Box,
    fill: Fill | str | None,
    *,
    radii: Radii | Sequence[float] = 0.0,
    stroke: Color | str | None = None,
    stroke_width: float = 0.0,
    opacity: float = 1.0,
    blend: Blend = "srgb",
) -> None:
    """Draw an antialiased rounded rectangle: ``radii`` one value or (tl, tr, br, bl) in px.

    Radii that do not fit are scaled down together (CSS). The stroke is drawn inside the box, like a
    CSS border, with inner radii ``max(r - stroke_width, 0)``; ``fill=None`` draws the stroke only.
    """
    frame = _check_frame(frame)
    box = _check_box(box)
    resolved = _check_fill(fill, "fill", optional=True)
    corner = _check_radii(radii)
    stroke_color, width = _stroke_args(stroke, stroke_width)
    opacity = _unit(opacity, "opacity")
    linear = _check_blend(blend)
    if resolved is None and stroke_color is None:
        return
    scaled = _scaled_radii(box, corner)
    outer = np.array([*box, *scaled], np.float64)
    inner = None
    if stroke_color is not None:
        x0, y0, x1, y1 = box
        ibox = (x0 + width, y0 + width, x1 - width, y1 - width)
        if ibox[2] > ibox[0] and ibox[3] > ibox[1]:
            inner = np.array([*ibox, *(max(r - width, 0.0) for r in scaled)], np.float64)
    _paint_shape(
        frame, box, _shapes.SHAPE_RRECT, outer, inner, resolved, stroke_color, opacity, linear
    )


def draw_ellipse(
    frame: npt.NDArray[np.uint8],
    box: Box,
    fill: Fill | str | None,
    *,
    stroke: Color | str | None = None,
    stroke_width: float = 0.0,
    opacity: float = 1.0,
    blend: Blend = "srgb",
) -> None:
    """Draw the antialiased ellipse inscribed in ``box``; the stroke lies inside its edge."""
    frame = _check_frame(frame)
    box = _check_box(box)
    resolved = _check_fill(fill, "fill", optional=True)
    stroke_color, width = _stroke_args(stroke, stroke_width)
    opacity = _unit(opacity, "opacity")
    linear = _check_blend(blend)
    if resolved is None and stroke_color is None:
        return
    outer = np.array([*box, 0.0, 0.0, 0.0, 0.0], np.float64)
    inner = None
    if stroke_color is not None:
        x0, y0, x1, y1 = box
        ibox = (x0 + width, y0 + width, x1 - width, y1 - width)
        if ibox[2] > ibox[0] and ibox[3] > ibox[1]:
            inner = np.array([*ibox, 0.0, 0.0, 0.0, 0.0], np.float64)
    _paint_shape(
        frame, box, _shapes.SHAPE_ELLIPSE, outer, inner, resolved, stroke_color, opacity, linear
    )


# --------------------------------------------------------------------------- masks and images


def _check_mask(mask: Any, field: str = "mask") -> npt.NDArray[np.uint8]:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim != 2:
        shown = (
            f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
        )
        msg = "a mask is a numpy array H×W uint8"
        raise ValueRangeError(msg, field=field, value=shown)
    if not mask.flags.c_contiguous:
        msg = "a mask must be C-contiguous"
        raise ValueRangeError(msg, field=field, value=f"{mask.dtype} {mask.shape}")
    return mask


def _check_rgba(src: Any, field: str = "src") -> npt.NDArray[np.uint8]:
    if (
        not isinstance(src, np.ndarray)
        or src.dtype != np.uint8
        or src.ndim != 3
        or src.shape[2] != 4
    ):
        shown = f"{src.dtype} {src.shape}" if isinstance(src, np.ndarray) else type(src).__name__
        msg = "an image is a numpy array H×W×4 uint8 (premultiplied RGBA)"
        raise ValueRangeError(msg, field=field, value=shown)
    if not src.flags.c_contiguous:
        msg = "an image must be C-contiguous"
        raise ValueRangeError(msg, field=field, value=f"{src.dtype} {src.shape}")
    return src


def composite_mask(
    frame: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.uint8],
    x: int,
    y: int,
    fill: Fill | str,
    *,
    opacity: float = 1.0,
    blend: Blend = "linear",
    gradient_box: Box | None = None,
) -> None:
    """Composite an 8-bit coverage ``mask`` with its top-left at integer ``(x, y)``, filled with a
    colour or gradient (geometry relative to ``gradient_box``, default the mask's rectangle).

    ``blend="linear"`` (default) blends in linear light through lookup tables; ``"srgb"`` is plain
    sRGB blending, pixel-identical to Pillow's ``Image.paste(color, box, mask)``. A colour fill
    (text) takes the solid-colour kernel: zero coverage skipped a mask word at a time, full
    coverage stored, edges blended in integer arithmetic (~0.5 ns per mask pixel on text).
    """
    frame = _check_frame(frame)
    mask = _check_mask(mask)
    ix = _integer(x, "x")
    iy = _integer(y, "y")
    resolved = _check_fill(fill, "fill")
    assert resolved is not None
    opacity = _unit(opacity, "opacity")
    linear = _check_blend(blend)
    mh, mw = mask.shape
    gbox = (
        (float(ix), float(iy), float(ix + mw), float(iy + mh))
        if gradient_box is None
        else _check_box(gradient_box, "gradient_box")
    )
    height, width = frame.shape[:2]
    if opacity <= 0.0 or mw == 0 or mh == 0:
        return
    if ix >= width or iy >= height or ix + mw <= 0 or iy + mh <= 0:
        return
    if isinstance(resolved, Color):
        # the plan for a solid fill (text): skip zero coverage, store full coverage, blend the
        # edges in integer arithmetic (kernels.composite.composite_mask_solid)
        alpha = opacity * resolved.a / 255.0
        if alpha > 0.0:
            r, g, b = _solid_rgb(resolved)
            _composite.composite_mask_solid(
                frame, mask, ix, iy, r, g, b, alpha, linear, DECODE_LUT, ENCODE_LUT
            )
        return
    source = _resolve(resolved, gbox)
    table = source.table
    _composite.composite_mask(
        frame,
        mask,
        ix,
        iy,
        source.kind,
        source.geom,
        table.pos,
        table.col,
        table.seg,
        float(opacity),
        linear,
        DECODE_LUT,
        ENCODE_LUT,
        dither_rows(width) if source.dither else _NO_DITHER,
        source.dither,
    )


def blit_rgba(
    frame: npt.NDArray[np.uint8],
    src: npt.NDArray[np.uint8],
    x: int,
    y: int,
    *,
    opacity: float = 1.0,
) -> None:
    """Composite a premultiplied RGBA image (h×w×4 uint8), its top-left at integer ``(x, y)``."""
    frame = _check_frame(frame)
    src = _check_rgba(src)
    ix = _integer(x, "x")
    iy = _integer(y, "y")
    opacity = _unit(opacity, "opacity")
    height, width = frame.shape[:2]
    sh, sw = src.shape[:2]
    if opacity <= 0.0 or ix >= width or iy >= height or ix + sw <= 0 or iy + sh <= 0:
        return
    _blit.blit_rgba(frame, src, ix, iy, float(opacity))


def _box_passes(radius: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    sigma = radius / 2.0
    d = math.floor(sigma * 3.0 * math.sqrt(2.0 * math.pi) / 4.0 + 0.5)
    if d <= 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if d % 2:
        h = (d - 1) // 2
        return np.array([h, h, h], np.int64), np.array([h, h, h], np.int64)
    h = d // 2
    return np.array([h, h - 1, h], np.int64), np.array([h - 1, h, h], np.int64)


def _check_radius(radius: Any) -> float:
    r = _nonneg(radius, "radius")
    if r > MAX_BLUR_RADIUS:
        msg = f"blur radius must be at most {MAX_BLUR_RADIUS:g} px"
        raise ValueRangeError(msg, field="radius", value=radius)
    return r


def blur_padding(radius: float) -> int:
    """Pixels added on each side by :func:`blur_mask` / :func:`blur_rgba` for this radius."""
    lo, _ = _box_passes(_check_radius(radius))
    return int(lo.sum())


def _blur(src2d: npt.NDArray[np.uint8], h: int, w: int, nch: int, radius: float) -> Any:
    lo, hi = _box_passes(radius)
    pad = int(lo.sum())
    out = np.empty((h + 2 * pad, (w + 2 * pad) * nch), np.uint8)
    if pad == 0:
        out[...] = src2d
        return out
    buf = np.empty(out.shape, np.float32)
    tmp = np.empty(out.shape, np.float32)
    _blur_kernels.box_blur(out, src2d, nch, lo, hi, buf, tmp)
    return out


def blur_mask(mask: npt.NDArray[np.uint8], radius: float) -> npt.NDArray[np.uint8]:
    """Gaussian blur (σ = radius/2) of a coverage mask; returns a NEW mask padded by
    ``blur_padding(radius)`` px on each side (composite it at ``(x - pad, y - pad)``)."""
    mask = _check_mask(mask)
    r = _check_radius(radius)
    h, w = mask.shape
    out: npt.NDArray[np.uint8] = _blur(mask, h, w, 1, r)
    return out


def blur_rgba(src: npt.NDArray[np.uint8], radius: float) -> npt.NDArray[np.uint8]:
    """Gaussian blur (σ = radius/2) of a premultiplied RGBA image; returns a NEW image padded by
    ``blur_padding(radius)`` px on each side."""
    src = _check_rgba(src)
    r = _check_radius(radius)
    h, w = src.shape[:2]
    flat = _blur(src.reshape(h, w * 4), h, w, 4, r)
    pad = (flat.shape[0] - h) // 2
    out: npt.NDArray[np.uint8] = flat.reshape(h + 2 * pad, w + 2 * pad, 4)
    return out


def _shape_mask(width: Any, height: Any, shape: int, params: npt.NDArray[np.float64]) -> Any:
    mask = np.empty((height, width), np.uint8)
    if width and height:
        _shapes.shape_mask(mask, 0.0, 0.0, shape, params)
    return mask


def _mask_size(width: Any, height: Any) -> tuple[int, int]:
    w = _integer(width, "width")
    h = _integer(height, "height")
    if w < 0:
        msg = "must not be negative"
        raise ValueRangeError(msg, field="width", value=width)
    if h < 0:
        msg = "must not be negative"
        raise ValueRangeError(msg, field="height", value=height)
    return w, h


def rounded_rect_mask(
    width: int, height: int, radii: Radii | Sequence[float] = 0.0
) -> npt.NDArray[np.uint8]:
    """An 8-bit coverage mask (height×width) of a rounded rectangle filling it."""
    w, h = _mask_size(width, height)
    box = (0.0, 0.0, float(w), float(h))
    params = np.array([*box, *_scaled_radii(box, _check_radii(radii))], np.float64)
    out: npt.NDArray[np.uint8] = _shape_mask(w, h, _shapes.SHAPE_RRECT, params)
    return out


def ellipse_mask(width: int, height: int) -> npt.NDArray[np.uint8]:
    """An 8-bit coverage mask (height×width) of the ellipse inscribed in it."""
    w, h = _mask_size(width, height)
    params = np.array([0.0, 0.0, float(w), float(h), 0.0, 0.0, 0.0, 0.0], np.float64)
    out: npt.NDArray[np.uint8] = _shape_mask(w, h, _shapes.SHAPE_ELLIPSE, params)
    return out


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) every kernel with the argument types used here.

    Call once per worker before taking work, so no request pays for compilation.
    """
    from fastshare.gradients import Stop

    frame = np.zeros((4, 4, 3), np.uint8)
    stops = (Stop(Color(255, 0, 0), 0.0), Stop(Color(0, 0, 255, 128), 1.0))
    opaque = (Stop(Color(255, 0, 0), 0.0), Stop(Color(0, 0, 255), 1.0))
    fill_rect(frame, (0, 0, 4, 4), Color(1, 2, 3))
    fill_rect(frame, (0, 0, 4, 4), LinearGradient(45.0, opaque))
    fill_rect(frame, (0, 0, 4, 4), LinearGradient(45.0, opaque, dither=True))
    fill_rect(frame, (0.5, 0, 4, 4), RadialGradient(stops), opacity=0.5)
    draw_rounded_rect(frame, (0, 0, 4, 4), Color(9, 9, 9), radii=1.0, stroke="red", stroke_width=1)
    draw_ellipse(frame, (0, 0, 4, 4), ConicGradient(stops))
    mask = np.full((2, 2), 128, np.uint8)
    composite_mask(frame, mask, 1, 1, Color(255, 255, 255))
    composite_mask(frame, mask, 1, 1, LinearGradient(45.0, stops), blend="srgb")
    blit_rgba(frame, np.full((2, 2, 4), 128, np.uint8), 1, 1)
    blur_mask(mask, 4.0)
    blur_rgba(np.zeros((2, 2, 4), np.uint8), 4.0)
    rounded_rect_mask(3, 3, 1.0)
