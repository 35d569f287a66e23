"""Gradient kernels: CSS linear, radial and conic gradients as piecewise-linear colour ramps.

Pixel format and ownership: ``dst`` is a caller-allocated H×W×3 ``uint8`` C-contiguous sRGB frame;
kernels write only inside the integer rectangle ``[x0, x1) × [y0, y1)`` clipped to the frame, and
every pixel of that clipped rectangle is written. Kernels allocate their scratch once per call
(never per pixel), keep no state between calls and release the GIL, so several threads may paint
separate frames at once.

The colour model every gradient shares (prepared in Python by ``fastshare.gradients``):

* ``t`` is the position along the gradient: linear ``t = t00 + dtx*x + dty*y`` for pixel indices
  ``x, y`` (the pixel-centre offset and the CSS gradient-line length are folded into the three
  numbers); radial ``t = |((x + .5 - cx) / rx, (y + .5 - cy) / ry)|``; conic ``t`` = the clockwise
  angle from 12 o'clock around ``(cx, cy)`` in turns, minus the start angle, modulo 1.
* ``pos`` (``float32[K]``, non-decreasing, K ≥ 1) and ``col`` (``float32[K, 4]``) are the stops:
  premultiplied sRGB in 0–255 (``r·a, g·a, b·a, a`` with ``a`` in 0–255). The colour is linear in
  ``t`` between neighbouring stops and clamped to the end stops outside ``[pos[0], pos[K-1]]``.
  Oklab interpolation arrives here already subdivided into enough linear pieces (≤ 0.4 LSB of
  the straight colour).
* Equal positions make a hard stop; a pixel exactly on it may take either colour.
* Rounding is ``floor(v + 0.5)``; with dithering, ``floor(v + d)`` with ``d`` from an 8×8 Bayer
  matrix, pre-tiled by the caller into ``dither_rows`` (``float32[8, 3·W]``, indexed by frame
  ``y & 7`` and frame byte ``3·x + c``).

``linear_gradient`` is the fast opaque path (0.6 ns per pixel on one core): it writes each row as
3·W independent bytes with the stop loop outermost and per-byte constant arrays, which numba
vectorises. ``gradient_row`` evaluates any gradient kind into a premultiplied float32 row for the
compositing kernels (``kernels.shapes``, ``kernels.composite``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._jit import kernel

__all__ = [
    "KIND_CONIC",
    "KIND_LINEAR",
    "KIND_RADIAL",
    "KIND_SOLID",
    "RAMP_STOPS",
    "atan2_turns",
    "eval_stops",
    "gradient_row",
    "linear_gradient",
]

#: up to this many stops, colours are a vectorised sum of ramps; beyond, a per-pixel search
RAMP_STOPS = 8
#: fill kinds understood by :func:`gradient_row` (``geom`` layout in brackets)
KIND_SOLID = 0  # col[0] everywhere (geom unused)
KIND_LINEAR = 1  # [t00, dtx, dty]
KIND_RADIAL = 2  # [cx, cy, 1/rx, 1/ry]
KIND_CONIC = 3  # [cx, cy, start_turns]

# atan(q) ≈ q·P(q²) on [0, 1]; least-squares fit made for fastshare, max error 3.4e-7 rad in float32
_A0 = np.float32(0.99999611)
_A1 = np.float32(-0.33317368)
_A2 = np.float32(0.19807815)
_A3 = np.float32(-0.13233337)
_A4 = np.float32(0.07962355)
_A5 = np.float32(-0.0336041)
_A6 = np.float32(0.00681175)
_QUARTER = np.float32(0.25)
_HALF = np.float32(0.5)
_INV_2PI = np.float32(1.0 / (2.0 * math.pi))


@kernel
def atan2_turns(y: np.float32, x: np.float32) -> np.float32:
    """``atan2(y, x) / 2π`` in ``[-0.5, 0.5]`` as float32, branch-free so loops vectorise."""
    ax = abs(x)
    ay = abs(y)
    hi = max(ax, ay)
    lo = min(ax, ay)
    q = np.float32(lo / hi) if hi > 0 else np.float32(0.0)
    z = q * q
    p = _A6
    p = p * z + _A5
    p = p * z + _A4
    p = p * z + _A3
    p = p * z + _A2
    p = p * z + _A1
    p = p * z + _A0
    r = q * p * _INV_2PI  # turns in [0, 1/8]
    r = _QUARTER - r if ay > ax else r
    r = _HALF - r if x < 0 else r
    return -r if y < 0 else r


@kernel
def _fill_pattern3(
    out: np.ndarray,
    c0: np.number[Any] | float,
    c1: np.number[Any] | float,
    c2: np.number[Any] | float,
) -> None:
    """Fill a flat row of 3·n values (uint8 bytes or float32) with a repeating 3-value pattern,
    by doubling copies (vectorised); numba compiles one specialisation per row dtype."""
    nb = out.shape[0]
    if nb < 3:
        return
    out[0] = c0
    out[1] = c1
    out[2] = c2
    m = 3
    while m < nb:
        k = min(m, nb - m)
        src = out[:k]
        tgt = out[m : m + k]
        for i in range(k):
            tgt[i] = src[i]
        m += k


@kernel
def _ramp_bytes(out: np.ndarray, a: np.ndarray, s: np.ndarray, tx: np.ndarray, trow: float) -> None:
    """``out[i] = clamp(floor(a[i] + s[i]·(trow + tx[i]) + 0.5))`` over equal-length slices."""
    lo = np.float32(0.0)
    hi = np.float32(255.0)
    half = np.float32(0.5)
    t = np.float32(trow)
    for i in range(out.shape[0]):
        v = a[i] + s[i] * (t + tx[i]) + half
        out[i] = np.uint8(min(max(v, lo), hi))


@kernel
def _ramp_bytes_dither(
    out: np.ndarray, a: np.ndarray, s: np.ndarray, tx: np.ndarray, trow: float, d: np.ndarray
) -> None:
    """Like :func:`_ramp_bytes` with the per-byte rounding offsets ``d`` (ordered dither)."""
    lo = np.float32(0.0)
    hi = np.float32(255.0)
    t = np.float32(trow)
    for i in range(out.shape[0]):
        v = a[i] + s[i] * (t + tx[i]) + d[i]
        out[i] = np.uint8(min(max(v, lo), hi))


@kernel
def linear_gradient(
    dst: np.ndarray,
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    t00: float,
    dtx: float,
    dty: float,
    pos: np.ndarray,
    col: np.ndarray,
    dither_rows: np.ndarray,
    dither: bool,
) -> None:
    """Paint an opaque linear gradient into ``dst[y0:y1, x0:x1]`` (clipped to the frame).

    Parameters
    ----------
    dst : uint8[H, W, 3], C-contiguous; the frame, written in place.
    x0, y0, x1, y1 : int64; the rectangle in pixels, half-open; clipped here.
    t00, dtx, dty : float64; ``t = t00 + dtx*x + dty*y`` at the centre of pixel ``(x, y)``.
    pos : float32[K]; stop positions, non-decreasing, K ≥ 1.
    col : float32[K, 4]; stop colours, premultiplied 0–255; only the first three channels are used
        (this path is for opaque stops, where premultiplied and straight colours agree).
    dither_rows : float32[8, 3·W]; rounding offsets in [0, 1) by ``y & 7`` and frame byte; read
        only when ``dither`` is true (pass a 1×1 array otherwise).
    dither : bool; ordered dithering instead of rounding.
    """
    height = dst.shape[0]
    width = dst.shape[1]
    x0 = max(x0, 0)
    y0 = max(y0, 0)
    x1 = min(x1, width)
    y1 = min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return
    n = x1 - x0
    nb = 3 * n
    k_stops = pos.shape[0]
    flat = dst.reshape(height, 3 * width)

    # Regions r = 0..K: r = number of stops at or before t. Region 0 and K are the end colours;
    # region r in 1..K-1 is the segment between stops r-1 and r. Per region, per byte:
    # v = a[r, i] + s[r, i] * t.
    a = np.empty((k_stops + 1, nb), np.float32)
    s = np.empty((k_stops + 1, nb), np.float32)
    tx = np.empty(nb, np.float32)
    for x in range(n):
        v = np.float32(dtx * x)
        tx[3 * x] = v
        tx[3 * x + 1] = v
        tx[3 * x + 2] = v
    ar = np.empty(3, np.float32)
    sr = np.empty(3, np.float32)
    for r in range(k_stops + 1):
        for c in range(3):
            if r == 0 or r == k_stops:
                ar[c] = col[0 if r == 0 else k_stops - 1, c]
                sr[c] = 0.0
            elif pos[r] > pos[r - 1]:
                slope = (col[r, c] - col[r - 1, c]) / (pos[r] - pos[r - 1])
                ar[c] = col[r - 1, c] - pos[r - 1] * slope
                sr[c] = slope
            else:  # a hard stop: the segment is empty, never painted
                ar[c] = col[r, c]
                sr[c] = 0.0
        _fill_pattern3(a[r], ar[0], ar[1], ar[2])
        _fill_pattern3(s[r], sr[0], sr[1], sr[2])

    bounds = np.empty(k_stops + 2, np.int64)
    same_rows = dty == 0.0 and not dither
    for y in range(y0, y1):
        row = flat[y, 3 * x0 : 3 * x1]
        if same_rows and y > y0:
            first = flat[y0, 3 * x0 : 3 * x1]
            for i in range(nb):
                row[i] = first[i]
            continue
        trow = t00 + dtx * x0 + dty * y
        drow = dither_rows[y & 7, 3 * x0 : 3 * x1] if dither else dither_rows[0, :0]
        if dtx == 0.0:
            # one colour per row: find its region
            r = 0
            while r < k_stops and pos[r] <= trow:
                r += 1
            if not dither:  # a constant row: one colour, copied
                t32 = np.float32(trow)
                c0 = np.int64(min(max(a[r, 0] + s[r, 0] * t32 + 0.5, 0.0), 255.0))
                c1 = np.int64(min(max(a[r, 1] + s[r, 1] * t32 + 0.5, 0.0), 255.0))
                c2 = np.int64(min(max(a[r, 2] + s[r, 2] * t32 + 0.5, 0.0), 255.0))
                _fill_pattern3(row, c0, c1, c2)
            elif dither:
                _ramp_bytes_dither(row, a[r], s[r], tx, trow, drow)
            else:
                _ramp_bytes(row, a[r], s[r], tx, trow)
            continue
        # x (relative to x0) where t crosses each stop; region r is [bounds[r], bounds[r+1])
        limit = float(n + 1)
        if dtx > 0.0:
            bounds[0] = 0
            for j in range(k_stops):
                q = min(max((pos[j] - trow) / dtx, -1.0), limit)
                bounds[j + 1] = min(max(np.int64(math.ceil(q)), 0), n)
            bounds[k_stops + 1] = n
            for r in range(k_stops + 1):
                lo_x = bounds[r]
                hi_x = max(bounds[r + 1], lo_x)
                if hi_x > lo_x:
                    _paint_region(row, a[r], s[r], tx, trow, drow, dither, lo_x, hi_x, r, k_stops)
        else:
            # t decreases with x: region r occupies [e_r, e_{r-1}) with e_j = floor(q_j) + 1
            bounds[0] = n
            for j in range(k_stops):
                q = min(max((pos[j] - trow) / dtx, -2.0), limit)
                bounds[j + 1] = min(max(np.int64(math.floor(q)) + 1, 0), n)
            bounds[k_stops + 1] = 0
            for r in range(k_stops + 1):
                hi_x = bounds[r]
                lo_x = min(bounds[r + 1], hi_x)
                if hi_x > lo_x:
                    _paint_region(row, a[r], s[r], tx, trow, drow, dither, lo_x, hi_x, r, k_stops)


@kernel
def _paint_region(
    row: np.ndarray,
    a: np.ndarray,
    s: np.ndarray,
    tx: np.ndarray,
    trow: float,
    drow: np.ndarray,
    dither: bool,
    lo_x: int,
    hi_x: int,
    r: int,
    k_stops: int,
) -> None:
    """Paint pixels ``[lo_x, hi_x)`` of a row with region ``r``'s ramp (slices keep it SIMD)."""
    b0 = 3 * lo_x
    b1 = 3 * hi_x
    if dither:
        _ramp_bytes_dither(row[b0:b1], a[b0:b1], s[b0:b1], tx[b0:b1], trow, drow[b0:b1])
    elif r == 0 or r == k_stops:
        _fill_pattern3(
            row[b0:b1],
            np.int64(min(max(a[0] + 0.5, 0.0), 255.0)),
            np.int64(min(max(a[1] + 0.5, 0.0), 255.0)),
            np.int64(min(max(a[2] + 0.5, 0.0), 255.0)),
        )
    else:
        _ramp_bytes(row[b0:b1], a[b0:b1], s[b0:b1], tx[b0:b1], trow)


@kernel
def _eval_ramps(out: np.ndarray, t: np.ndarray, pos: np.ndarray, col: np.ndarray) -> None:
    """Few stops: a sum of clamped ramps, one vectorised pass per segment and channel."""
    k_stops = pos.shape[0]
    n = t.shape[0]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for ch in range(4):
        o = out[ch, :n]
        c0 = col[0, ch]
        for i in range(n):
            o[i] = c0
        for k in range(k_stops - 1):
            d = col[k + 1, ch] - col[k, ch]
            if d == 0.0:
                continue
            width = pos[k + 1] - pos[k]
            inv = np.float32(1.0 / width) if width > 0.0 else np.float32(1e30)
            p = pos[k]
            for i in range(n):
                u = min(max((t[i] - p) * inv, zero), one)
                o[i] += d * u


@kernel
def eval_stops(
    out: np.ndarray, t: np.ndarray, pos: np.ndarray, col: np.ndarray, seg: np.ndarray
) -> None:
    """Colours of positions ``t`` (``float32[n]``) into ``out`` (``float32[4, ≥n]``, premultiplied).

    Up to ``RAMP_STOPS`` stops: a sum of clamped ramps (SIMD). More stops (Oklab subdivisions):
    a per-pixel search where ``seg`` (``int32[B]``) maps ``floor(t·B)`` to the last stop index
    ``k ≤ K-2`` with ``pos[k] ≤ bin start`` (any lower bound works; it only shortens the search).
    """
    k_stops = pos.shape[0]
    n = t.shape[0]
    if k_stops <= RAMP_STOPS:
        _eval_ramps(out, t, pos, col)
        return
    p_first = pos[0]
    p_last = pos[k_stops - 1]
    nbins = seg.shape[0]
    for i in range(n):
        tv = t[i]
        if not tv >= p_first:  # also NaN
            for ch in range(4):
                out[ch, i] = col[0, ch]
        elif tv >= p_last:
            for ch in range(4):
                out[ch, i] = col[k_stops - 1, ch]
        else:
            b = min(np.int64(tv * nbins), nbins - 1)
            k = np.int64(seg[b])
            while tv >= pos[k + 1]:
                k += 1
            u = (tv - pos[k]) / (pos[k + 1] - pos[k])
            for ch in range(4):
                c0 = col[k, ch]
                out[ch, i] = c0 + (col[k + 1, ch] - c0) * u


@kernel
def gradient_row(
    out: np.ndarray,
    t: np.ndarray,
    y: int,
    xa: int,
    kind: int,
    geom: np.ndarray,
    pos: np.ndarray,
    col: np.ndarray,
    seg: np.ndarray,
) -> None:
    """Premultiplied colours of pixels ``xa .. xa+n-1`` of row ``y`` into ``out[:, :n]``.

    Parameters
    ----------
    out : float32[4, ≥n]; premultiplied r, g, b, a planes in 0–255, written.
    t : float32[n]; scratch for the gradient positions (n is its length).
    y, xa : int64; the row and the first pixel, frame coordinates.
    kind : int64; ``KIND_SOLID``, ``KIND_LINEAR``, ``KIND_RADIAL`` or ``KIND_CONIC``.
    geom : float64[≥4]; the kind's geometry (see the module constants).
    pos, col, seg : the stops (see :func:`eval_stops`).
    """
    n = t.shape[0]
    if kind == KIND_LINEAR:
        base = np.float32(geom[0] + geom[2] * y + geom[1] * xa)
        step = np.float32(geom[1])
        for i in range(n):
            t[i] = base + step * np.float32(i)
    elif kind == KIND_RADIAL:
        dy = np.float32((y + 0.5 - geom[1]) * geom[3])
        dy2 = dy * dy
        base = np.float32((xa + 0.5 - geom[0]) * geom[2])
        step = np.float32(geom[2])
        for i in range(n):
            dx = base + step * np.float32(i)
            t[i] = math.sqrt(dx * dx + dy2)
    elif kind == KIND_CONIC:
        # clockwise angle from 12 o'clock: atan2(dx, -dy) with y pointing down
        ny = np.float32(geom[1] - (y + 0.5))
        base = np.float32(xa + 0.5 - geom[0])
        start = np.float32(geom[2])
        for i in range(n):
            turns = atan2_turns(base + np.float32(i), ny) - start
            t[i] = turns - np.float32(math.floor(turns))
    else:
        for i in range(n):
            t[i] = 0.0
    eval_stops(out, t, pos, col, seg)
