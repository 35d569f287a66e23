"""Shapes with analytic antialiased coverage: rounded rectangles and ellipses, filled and stroked.

Pixel format and ownership: ``dst`` is a caller-allocated H×W×3 ``uint8`` C-contiguous sRGB frame.
``paint_shape`` touches only pixels of the integer span ``[x0, x1) × [y0, y1)`` clipped to the
frame; pixels with zero coverage there keep their value. Scratch rows are allocated once per
call; kernels keep no state and release the GIL.

Coverage (float64, stored as float32 in [0, 1]) of the pixel ``[x, x+1) × [y, y+1)``, centre
``(px, py) = (x + .5, y + .5)``:

* box ``(bx0, by0, bx1, by1)``: the exact area ``clamp(min(x+1, bx1) − max(x, bx0)) ·
  clamp(min(y+1, by1) − max(y, by0))`` (``clamp`` to [0, 1]);
* rounded rectangle, radii ``(tl, tr, br, bl)`` (already scaled down by the caller as CSS does when
  two radii exceed a side): the box area, lowered to ``clamp(0.5 + r − |p − c|)`` for pixels whose
  centre lies inside a corner's ``r×r`` square (``c`` the corner circle's centre);
* ellipse inscribed in the box: ``min(box area, clamp(0.5 − d))`` with the first-order distance
  ``d = (f² − 1) / (2·|∇|)``, ``f² = (dx/rx)² + (dy/ry)²``, ``|∇| = |(dx/rx², dy/ry²)|``; an
  ellipse with a semi-axis under ``MIN_RADIUS`` (1e-6 px) is empty.

Straight edges are exact; curved edges are within 0.1 of the true area for radii ≥ 2 px (see the
tests). A stroke is the ring between the shape and an inner shape (the box inset by the stroke
width, radii reduced by it, as CSS borders do); ``paint_shape`` composites the group "stroke over
fill" once, so the shared edge has no seam and opacity applies to the whole shape as CSS
``opacity`` does:

``G = cs·(S + F·(1 − S_a/255)) + ci·F`` with ``ci`` the inner coverage, ``cs = max(co − ci, 0)``
the ring's, ``F``/``S`` premultiplied fill/stroke colours; then ``kernels.blend.blend_row``.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .blend import blend_row, store_row
from .gradient import KIND_SOLID, gradient_row

__all__ = [
    "MIN_RADIUS",
    "SHAPE_ELLIPSE",
    "SHAPE_FULL",
    "SHAPE_RRECT",
    "coverage_row",
    "ellipse_coverage_row",
    "paint_shape",
    "rrect_coverage_row",
    "shape_mask",
]

SHAPE_FULL = 0  # coverage 1 over the whole (integer) span
SHAPE_RRECT = 1  # params [x0, y0, x1, y1, r_tl, r_tr, r_br, r_bl]
SHAPE_ELLIPSE = 2  # params [x0, y0, x1, y1] (the bounding box)
#: an ellipse with a semi-axis below this (px) is empty
MIN_RADIUS = 1e-6


@kernel
def _clamp01(v: float) -> float:
    return min(max(v, 0.0), 1.0)


@kernel
def rrect_coverage_row(
    cov: np.ndarray, y: int | np.int64, xa: int | np.int64, p: np.ndarray
) -> None:
    """Coverage of pixels ``xa .. xa+n-1`` of row ``y`` by a rounded rectangle into ``cov``.

    ``cov`` is float32[n]; ``p`` float64[8] = box ``x0, y0, x1, y1`` then radii ``tl, tr, br, bl``.
    """
    n = cov.shape[0]
    bx0 = p[0]
    by0 = p[1]
    bx1 = p[2]
    by1 = p[3]
    cy = _clamp01(min(y + 1.0, by1) - max(float(y), by0))
    for i in range(n):
        x = float(xa + i)
        cov[i] = _clamp01(min(x + 1.0, bx1) - max(x, bx0)) * cy
    if cy <= 0.0:
        return
    py = y + 0.5
    for corner in range(4):
        r = p[4 + corner]
        if not r > 0.0:
            continue
        left = corner == 0 or corner == 3
        top = corner == 0 or corner == 1
        ccx = bx0 + r if left else bx1 - r
        ccy = by0 + r if top else by1 - r
        if (top and not py < ccy) or (not top and not py > ccy):
            continue
        dy = py - ccy
        if left:  # pixel centres left of ccx: x + .5 < ccx
            i0 = 0
            i1 = min(max(np.int64(math.ceil(ccx - 0.5)) - xa, 0), n)
        else:  # x + .5 > ccx
            i0 = min(max(np.int64(math.floor(ccx - 0.5)) + 1 - xa, 0), n)
            i1 = n
        for i in range(i0, i1):
            dx = xa + i + 0.5 - ccx
            c = _clamp01(0.5 + r - math.sqrt(dx * dx + dy * dy))
            if c < cov[i]:
                cov[i] = c


@kernel
def ellipse_coverage_row(
    cov: np.ndarray, y: int | np.int64, xa: int | np.int64, p: np.ndarray
) -> None:
    """Coverage of pixels ``xa .. xa+n-1`` of row ``y`` by the ellipse inscribed in ``p[:4]``."""
    n = cov.shape[0]
    bx0 = p[0]
    by0 = p[1]
    bx1 = p[2]
    by1 = p[3]
    rx = 0.5 * (bx1 - bx0)
    ry = 0.5 * (by1 - by0)
    cy_ext = _clamp01(min(y + 1.0, by1) - max(float(y), by0))
    if not (rx >= MIN_RADIUS and ry >= MIN_RADIUS and cy_ext > 0.0):
        for i in range(n):
            cov[i] = 0.0
        return
    ccx = bx0 + rx
    dy = y + 0.5 - (by0 + ry)
    iry = 1.0 / ry
    ey = dy * iry
    gy = ey * iry
    ey2 = ey * ey
    gy2 = gy * gy
    irx = 1.0 / rx
    irx2 = irx * irx
    for i in range(n):
        x = float(xa + i)
        dx = x + 0.5 - ccx
        ex = dx * irx
        gx = dx * irx2
        # |∇| is 0 only at the centre, where f² − 1 = −1: the guard makes d → −∞ (covered)
        g = math.sqrt(max(gx * gx + gy2, 1e-300))
        f2 = ex * ex + ey2
        c = min(max(0.5 - (f2 - 1.0) * 0.5 / g, 0.0), 1.0)
        box = min(max(min(x + 1.0, bx1) - max(x, bx0), 0.0), 1.0) * cy_ext
        cov[i] = min(c, box)


@kernel
def coverage_row(
    cov: np.ndarray, y: int | np.int64, xa: int | np.int64, shape: int, p: np.ndarray
) -> None:
    """Dispatch on ``shape`` (``SHAPE_FULL``, ``SHAPE_RRECT`` or ``SHAPE_ELLIPSE``)."""
    if shape == SHAPE_RRECT:
        rrect_coverage_row(cov, y, xa, p)
    elif shape == SHAPE_ELLIPSE:
        ellipse_coverage_row(cov, y, xa, p)
    else:
        for i in range(cov.shape[0]):
            cov[i] = 1.0


@kernel
def shape_mask(mask: np.ndarray, ox: float, oy: float, shape: int, p: np.ndarray) -> None:
    """Write the coverage of a shape into an 8-bit mask: ``mask[j, i] = round(255·coverage)``.

    ``mask`` is uint8[h, w] C-contiguous; mask pixel ``(i, j)`` is frame pixel ``(ox+i, oy+j)``
    (``ox``, ``oy`` integers given as float64 or int64). Every mask pixel is written.
    """
    h = mask.shape[0]
    w = mask.shape[1]
    cov = np.empty(w, np.float32)
    x_off = np.int64(ox)
    for j in range(h):
        coverage_row(cov, np.int64(oy) + j, x_off, shape, p)
        row = mask[j]
        for i in range(w):
            row[i] = np.uint8(cov[i] * np.float32(255.0) + np.float32(0.5))


@kernel
def paint_shape(
    dst: np.ndarray,
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    shape: int,
    outer: np.ndarray,
    inner: np.ndarray,
    has_inner: bool,
    fill_kind: int,
    geom: np.ndarray,
    pos: np.ndarray,
    col: np.ndarray,
    seg: np.ndarray,
    has_fill: bool,
    stroke: np.ndarray,
    has_stroke: bool,
    opacity: float,
    linear: bool,
    dec: np.ndarray,
    enc: np.ndarray,
    dither_rows: np.ndarray,
    dither: bool,
) -> None:
    """Paint a filled and/or stroked shape over ``dst`` within the span ``[x0, x1) × [y0, y1)``.

    Parameters
    ----------
    dst : uint8[H, W, 3], C-contiguous; written in place.
    x0, y0, x1, y1 : int64; pixels that may be touched (the shape's bounding span); clipped here.
    shape : int64; ``SHAPE_FULL``, ``SHAPE_RRECT`` or ``SHAPE_ELLIPSE``.
    outer, inner : float64[8]; the shape's and the stroke's inner shape's parameters.
    has_inner : bool; false when the stroke fills the shape completely (no inner shape).
    fill_kind, geom, pos, col, seg : the fill (see ``kernels.gradient.gradient_row``).
    has_fill : bool; false for a stroke-only shape.
    stroke : float32[4]; premultiplied stroke colour, 0–255.
    has_stroke : bool.
    opacity : float64 in [0, 1]; applies to the composited group.
    linear, dec, enc, dither_rows, dither : see ``kernels.blend.blend_row``.
    """
    height = dst.shape[0]
    width = dst.shape[1]
    x0 = max(x0, 0)
    y0 = max(y0, 0)
    x1 = min(x1, width)
    y1 = min(y1, height)
    if x0 >= x1 or y0 >= y1 or not (has_fill or has_stroke):
        return
    n = x1 - x0
    flat = dst.reshape(height, 3 * width)
    fill = np.zeros((4, n), np.float32)
    group = np.empty((4, n), np.float32)
    tbuf = np.empty(n, np.float32)
    cov_o = np.empty(n, np.float32)
    cov_i = np.zeros(n, np.float32)
    ones = np.ones(n, np.float32)
    scratch = np.empty((5, n), np.float32)
    solid = fill_kind == KIND_SOLID
    if has_fill and solid:
        gradient_row(fill, tbuf, y0, x0, KIND_SOLID, geom, pos, col, seg)
    s_a = stroke[3] * np.float32(1.0 / 255.0) if has_stroke else np.float32(0.0)
    # plan once: an opaque fill over the whole span at full opacity is a plain store
    direct = shape == SHAPE_FULL and has_fill and not has_stroke and opacity >= 1.0
    opaque_fill = has_fill
    for k in range(col.shape[0]):
        opaque_fill = opaque_fill and col[k, 3] >= 255.0
    direct = direct and opaque_fill
    interior = opaque_fill and opacity >= 1.0
    for y in range(y0, y1):
        if direct:
            if not solid or y == y0:
                gradient_row(fill, tbuf, y, x0, fill_kind, geom, pos, col, seg)
            store_row(flat[y, 3 * x0 : 3 * x1], fill, 0, y, x0, dither_rows, dither)
            continue
        coverage_row(cov_o, y, x0, shape, outer)
        if has_fill and not solid:
            gradient_row(fill, tbuf, y, x0, fill_kind, geom, pos, col, seg)
        if has_stroke:
            if has_inner:
                coverage_row(cov_i, y, x0, shape, inner)
            for ch in range(4):
                sc = stroke[ch]
                f = fill[ch]
                g = group[ch]
                for i in range(n):
                    ci = cov_i[i]
                    cs = max(cov_o[i] - ci, np.float32(0.0))
                    g[i] = cs * (sc + f[i] * (np.float32(1.0) - s_a)) + ci * f[i]
        else:
            for ch in range(4):
                f = fill[ch]
                g = group[ch]
                for i in range(n):
                    g[i] = cov_o[i] * f[i]
        # convex shapes with an opaque fill: the fully covered middle of the row is a plain store,
        # only the antialiased ends are blended
        i0 = 0
        i1 = 0
        if interior:
            while i0 < n and group[3, i0] < 255.0:
                i0 += 1
            i1 = n
            while i1 > i0 and group[3, i1 - 1] < 255.0:
                i1 -= 1
            if i1 > i0:
                row = flat[y, 3 * (x0 + i0) : 3 * (x0 + i1)]
                store_row(row, group, i0, y, x0 + i0, dither_rows, dither)
            else:
                i0 = n
                i1 = n
        for first, last in ((0, i0), (i1, n)):
            if last > first:
                blend_row(
                    flat[y, 3 * (x0 + first) : 3 * (x0 + last)],
                    group,
                    first,
                    ones[first:last],
                    y,
                    x0 + first,
                    opacity,
                    linear,
                    dec,
                    enc,
                    dither_rows,
                    dither,
                    scratch,
                )
