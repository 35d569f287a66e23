"""Plain numpy/float64 reference implementations of fastshare's paint kernels.

Written from the definitions (CSS Images, CSS Color 4, the SVG blur recipe), not from the kernels:
whole-frame array maths, no lookup tables, no float32. Each ``ref_*`` returns a NEW frame (or
mask) and, where useful, the per-pixel gradient position ``t`` so tests can exclude pixels that sit
exactly on a discontinuity (hard stops, the conic seam), where any rounding may pick either side.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from fastshare.colors import Color
from fastshare.gradients import ConicGradient, LinearGradient, RadialGradient

# --------------------------------------------------------------------------- colour spaces


def srgb_decode(v: Any) -> np.ndarray:
    x = np.asarray(v, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def srgb_encode(v: Any) -> np.ndarray:
    x = np.clip(np.asarray(v, np.float64), 0.0, None)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


# Oklab as defined by Björn Ottosson (2020): linear sRGB -> LMS -> cube root -> Lab
_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def to_oklab(rgb255: np.ndarray) -> np.ndarray:
    lin = srgb_decode(np.asarray(rgb255, np.float64) / 255.0)
    return np.cbrt(lin @ _M1.T) @ _M2.T


def from_oklab(lab: np.ndarray) -> np.ndarray:
    lms = np.linalg.solve(_M2, np.asarray(lab, np.float64).reshape(-1, 3).T).T ** 3
    lin = np.linalg.solve(_M1, lms.T).T
    out = srgb_encode(np.clip(lin, 0.0, 1.0)) * 255.0
    return np.clip(out, 0.0, 255.0).reshape(np.shape(lab))


# --------------------------------------------------------------------------- gradients


def _centres(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return xs + 0.5, ys + 0.5


def gradient_t(fill: Any, box: tuple[float, ...], h: int, w: int) -> np.ndarray:
    """Gradient position at every pixel centre of an h×w frame (CSS geometry, float64)."""
    px, py = _centres(h, w)
    bx0, by0, bx1, by1 = box
    bw, bh = bx1 - bx0, by1 - by0
    if isinstance(fill, LinearGradient):
        a = math.radians(fill.angle)
        sa, ca = math.sin(a), math.cos(a)
        # snap the float noise of sin(180°) and friends, as CSS angles are exact
        sa = 0.0 if abs(sa) < 1e-12 else sa
        ca = 0.0 if abs(ca) < 1e-12 else ca
        length = abs(bw * sa) + abs(bh * ca)
        if length <= 0:
            return np.full((h, w), 0.5)
        cx, cy = bx0 + bw / 2, by0 + bh / 2
        return ((px - cx) * sa - (py - cy) * ca) / length + 0.5
    cx = bx0 + fill.cx * bw
    cy = by0 + fill.cy * bh
    if isinstance(fill, RadialGradient):
        rx, ry = ref_radii(fill, box)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            dx = (px - cx) / rx if rx > 0 else np.where(px == cx, 0.0, np.inf)
            dy = (py - cy) / ry if ry > 0 else np.where(py == cy, 0.0, np.inf)
            return np.hypot(dx, dy)
    assert isinstance(fill, ConicGradient)
    ang = np.degrees(np.arctan2(px - cx, -(py - cy)))  # clockwise from 12 o'clock
    t = np.mod((ang - fill.start_angle) / 360.0, 1.0)
    return np.where((px == cx) & (py == cy), np.nan, t)  # no angle at the centre itself


def ref_radii(fill: RadialGradient, box: tuple[float, ...]) -> tuple[float, float]:
    bx0, by0, bx1, by1 = box
    cx = bx0 + fill.cx * (bx1 - bx0)
    cy = by0 + fill.cy * (by1 - by0)
    if fill.rx is not None:
        if fill.shape == "circle" or fill.ry is None:
            return fill.rx, fill.rx
        return fill.rx, fill.ry
    sides_x = (abs(cx - bx0), abs(bx1 - cx))
    sides_y = (abs(cy - by0), abs(by1 - cy))
    corners = [(dx, dy) for dx in sides_x for dy in sides_y]
    fx, fy = max(corners, key=lambda c: math.hypot(*c))
    if fill.shape == "circle":
        r = math.hypot(fx, fy)
        return r, r
    nx, ny = min(sides_x), min(sides_y)
    if nx > 0 and ny > 0:
        ratio = nx / ny
    elif max(sides_x) > 0 and max(sides_y) > 0:
        ratio = max(sides_x) / max(sides_y)
    else:
        r = math.hypot(fx, fy)
        return r, r
    # ellipse x²/(ratio·ry)² + y²/ry² = 1 through the farthest corner
    return math.hypot(fx, fy * ratio), math.hypot(fx / ratio, fy)


def _premult(c: Color) -> np.ndarray:
    a = c.a / 255.0
    return np.array([c.r * a, c.g * a, c.b * a, c.a], np.float64)


def stop_colors(fill: Any, t: np.ndarray) -> np.ndarray:
    """Premultiplied sRGB colour (…, 4), 0–255, of positions ``t`` (CSS stop rules)."""
    stops = fill.stops
    out = np.empty((*t.shape, 4))
    out[...] = _premult(stops[0].color)
    if len(stops) == 1:
        return out
    tt = np.nan_to_num(t, nan=-1.0)
    last = stops[-1]
    out[tt >= last.position] = _premult(last.color)
    for s0, s1 in itertools.pairwise(stops):
        if s1.position <= s0.position:
            continue
        sel = (tt >= s0.position) & (tt < s1.position)
        u = (tt[sel] - s0.position) / (s1.position - s0.position)
        if fill.interpolation == "srgb":
            p0, p1 = _premult(s0.color), _premult(s1.color)
            out[sel] = p0 + (p1 - p0) * u[:, None]
        else:
            a0, a1 = s0.color.a / 255.0, s1.color.a / 255.0
            lab0 = to_oklab(np.array(s0.color[:3])) * a0
            lab1 = to_oklab(np.array(s1.color[:3])) * a1
            alpha = a0 + (a1 - a0) * u
            lab = lab0 + (lab1 - lab0) * u[:, None]
            straight = lab / np.where(alpha > 0, alpha, 1.0)[:, None]
            rgb = from_oklab(straight)
            out[sel, :3] = rgb * alpha[:, None]
            out[sel, 3] = alpha * 255.0
    return out


def fill_colors(fill: Any, box: tuple[float, ...], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied colour planes (h, w, 4) of a fill and its ``t`` field (zeros for solids)."""
    if isinstance(fill, Color):
        out = np.empty((h, w, 4))
        out[...] = _premult(fill)
        return out, np.zeros((h, w))
    t = gradient_t(fill, box, h, w)
    return stop_colors(fill, t), t


def discontinuity_mask(fill: Any, t: np.ndarray, eps: float = 2e-4) -> np.ndarray:
    """Pixels whose position lies within ``eps`` of a hard stop or the conic seam."""
    bad = np.zeros(t.shape, bool)
    if isinstance(fill, Color):
        return bad
    stops = fill.stops
    for s0, s1 in itertools.pairwise(stops):
        # hard stops, and segments so steep that float32 positions (~1e-7) move colours > 1 LSB
        if s1.position - s0.position < 1e-3 and s0.color != s1.color:
            bad |= (t > s0.position - eps) & (t < s1.position + eps)
    if isinstance(fill, ConicGradient) and stops[0].color != stops[-1].color:
        bad |= (t < eps) | (t > 1 - eps)
    if isinstance(fill, ConicGradient | RadialGradient):
        # the centre pixel: its angle (conic) is undefined; a degenerate radius jumps there
        bad |= np.isnan(t)
    return bad


def bayer_offsets(h: int, w: int) -> np.ndarray:
    """Ordered-dither rounding offsets (h, w) in (0, 1): (Bayer8[y%8][x%8] + 0.5) / 64."""
    b = np.array([[0]])
    for _ in range(3):
        b = np.block([[4 * b, 4 * b + 2], [4 * b + 3, 4 * b + 1]])
    ys, xs = np.mgrid[0:h, 0:w]
    return (b[ys % 8, xs % 8] + 0.5) / 64.0


# --------------------------------------------------------------------------- compositing


def blend(
    frame: np.ndarray,
    src: np.ndarray,
    cov: np.ndarray,
    opacity: float,
    linear: bool,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """Composite premultiplied ``src`` (h, w, 4) with coverage ``cov`` (h, w) over ``frame``.

    The rules of ``kernels/blend.py``'s docstring, in float64 with exact transfer functions.
    """
    out = frame.copy()
    h, w = cov.shape
    d = frame.astype(np.float64)
    alpha = src[..., 3]
    a = np.clip(cov * opacity * alpha / 255.0, 0.0, 1.0)
    s = np.clip(src[..., :3] * 255.0 / np.where(alpha > 0, alpha, 1.0)[..., None], 0.0, 255.0)
    off = np.full((h, w), 0.5) if offsets is None else offsets
    full = (cov >= 1.0) & (alpha >= 255.0) & (opacity >= 1.0)
    if linear:
        lin_s = srgb_decode(s / 255.0)
        lin_d = srgb_decode(d / 255.0)
        mixed = np.floor(srgb_encode(lin_d + (lin_s - lin_d) * a[..., None]) * 255.0 + 0.5)
    else:
        mixed = np.floor(d + (s - d) * a[..., None] + off[..., None])
    mixed = np.where(full[..., None], np.floor(s + off[..., None]), mixed)
    write = a > 0
    out[write] = np.clip(mixed[write], 0, 255).astype(np.uint8)
    return out


def _extent(lo: np.ndarray, hi: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, 1.0)


def rrect_coverage(h: int, w: int, box: tuple[float, ...], radii: tuple[float, ...]) -> np.ndarray:
    """Coverage (h, w) of a rounded rectangle, radii (tl, tr, br, bl) already CSS-scaled."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    cov = _extent(xs, xs + 1, x0, x1) * _extent(ys, ys + 1, y0, y1)
    px, py = xs + 0.5, ys + 0.5
    corners = (
        (radii[0], x0 + radii[0], y0 + radii[0], True, True),
        (radii[1], x1 - radii[1], y0 + radii[1], False, True),
        (radii[2], x1 - radii[2], y1 - radii[2], False, False),
        (radii[3], x0 + radii[3], y1 - radii[3], True, False),
    )
    for r, cx, cy, left, top in corners:
        if r <= 0:
            continue
        inside = ((px < cx) if left else (px > cx)) & ((py < cy) if top else (py > cy))
        circle = np.clip(0.5 + r - np.hypot(px - cx, py - cy), 0.0, 1.0)
        cov = np.where(inside & (cov > 0), np.minimum(cov, circle), cov)
    return cov


def ellipse_coverage(h: int, w: int, box: tuple[float, ...]) -> np.ndarray:
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    ext = _extent(xs, xs + 1, x0, x1) * _extent(ys, ys + 1, y0, y1)
    rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
    if rx < 1e-6 or ry < 1e-6:  # documented: thinner ellipses are empty
        return np.zeros((h, w))
    dx = xs + 0.5 - (x0 + rx)
    dy = ys + 0.5 - (y0 + ry)
    f2 = (dx / rx) ** 2 + (dy / ry) ** 2
    g = np.hypot(dx / rx**2, dy / ry**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(g > 0, np.clip(0.5 - (f2 - 1) / (2 * g), 0, 1), 1.0)
    return np.minimum(c, ext)


def css_radii(box: tuple[float, ...], radii: tuple[float, ...]) -> tuple[float, ...]:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    tl, tr, br, bl = radii
    f = 1.0
    for side, a, b in ((w, tl, tr), (w, bl, br), (h, tl, bl), (h, tr, br)):
        if a + b > side:
            f = min(f, side / (a + b))
    return tuple(r * f for r in radii)


def _shape_group(
    cov_o: np.ndarray,
    cov_i: np.ndarray | None,
    fill_src: np.ndarray | None,
    stroke: Color | None,
) -> np.ndarray:
    h, w = cov_o.shape
    f = np.zeros((h, w, 4)) if fill_src is None else fill_src
    if stroke is None:
        return f * cov_o[..., None]
    s = _premult(stroke)
    ci = np.zeros((h, w)) if cov_i is None else cov_i
    cs = np.maximum(cov_o - ci, 0.0)
    return cs[..., None] * (s + f * (1 - s[3] / 255.0)) + ci[..., None] * f


def _paint(
    frame: np.ndarray,
    box: tuple[float, ...],
    cov_o: np.ndarray,
    cov_i: np.ndarray | None,
    fill: Any,
    stroke: Color | None,
    opacity: float,
    linear: bool,
) -> np.ndarray:
    h, w = frame.shape[:2]
    src = None
    offsets = None
    if fill is not None:
        src, _ = fill_colors(fill, box, h, w)
        if getattr(fill, "dither", False) and len(fill.stops) > 1:
            offsets = bayer_offsets(h, w)
    group = _shape_group(cov_o, cov_i, src, stroke)
    return blend(frame, group, np.ones((h, w)), opacity, linear, offsets)


def ref_fill_rect(frame, box, fill, opacity=1.0, linear=False):  # type: ignore[no-untyped-def]
    h, w = frame.shape[:2]
    cov = rrect_coverage(h, w, box, (0, 0, 0, 0))
    return _paint(frame, box, cov, None, fill, None, opacity, linear)


def ref_rounded_rect(  # type: ignore[no-untyped-def]
    frame, box, fill, radii=(0, 0, 0, 0), stroke=None, stroke_width=0.0, opacity=1.0, linear=False
):
    h, w = frame.shape[:2]
    r = css_radii(box, radii)
    cov_o = rrect_coverage(h, w, box, r)
    cov_i = None
    if stroke is not None and stroke_width > 0:
        x0, y0, x1, y1 = box
        ib = (x0 + stroke_width, y0 + stroke_width, x1 - stroke_width, y1 - stroke_width)
        if ib[2] > ib[0] and ib[3] > ib[1]:
            cov_i = rrect_coverage(h, w, ib, tuple(max(v - stroke_width, 0.0) for v in r))
    else:
        stroke = None
    return _paint(frame, box, cov_o, cov_i, fill, stroke, opacity, linear)


def ref_ellipse(  # type: ignore[no-untyped-def]
    frame, box, fill, stroke=None, stroke_width=0.0, opacity=1.0, linear=False
):
    h, w = frame.shape[:2]
    cov_o = ellipse_coverage(h, w, box)
    cov_i = None
    if stroke is not None and stroke_width > 0:
        x0, y0, x1, y1 = box
        ib = (x0 + stroke_width, y0 + stroke_width, x1 - stroke_width, y1 - stroke_width)
        if ib[2] > ib[0] and ib[3] > ib[1]:
            cov_i = ellipse_coverage(h, w, ib)
    else:
        stroke = None
    return _paint(frame, box, cov_o, cov_i, fill, stroke, opacity, linear)


def ref_composite_mask(  # type: ignore[no-untyped-def]
    frame, mask, x, y, fill, opacity=1.0, linear=True, gradient_box=None
):
    h, w = frame.shape[:2]
    cov = np.zeros((h, w))
    mh, mw = mask.shape
    fx0, fy0 = max(x, 0), max(y, 0)
    fx1, fy1 = min(x + mw, w), min(y + mh, h)
    if fx1 > fx0 and fy1 > fy0:
        cov[fy0:fy1, fx0:fx1] = mask[fy0 - y : fy1 - y, fx0 - x : fx1 - x] / 255.0
    gbox = (x, y, x + mw, y + mh) if gradient_box is None else gradient_box
    src, _ = fill_colors(fill, gbox, h, w)
    offsets = None
    if getattr(fill, "dither", False) and len(fill.stops) > 1:
        offsets = bayer_offsets(h, w)
    return blend(frame, src, cov, opacity, linear, offsets)


def ref_blit(frame, src, x, y, opacity=1.0):  # type: ignore[no-untyped-def]
    out = frame.copy()
    h, w = frame.shape[:2]
    sh, sw = src.shape[:2]
    fx0, fy0 = max(x, 0), max(y, 0)
    fx1, fy1 = min(x + sw, w), min(y + sh, h)
    if fx1 <= fx0 or fy1 <= fy0 or opacity <= 0:
        return out
    s = src[fy0 - y : fy1 - y, fx0 - x : fx1 - x].astype(np.float64)
    d = out[fy0:fy1, fx0:fx1].astype(np.float64)
    a = s[..., 3:4]
    res = np.floor(s[..., :3] * opacity + d * (1 - a * opacity / 255.0) + 0.5)
    res = np.clip(res, 0, 255).astype(np.uint8)
    region = out[fy0:fy1, fx0:fx1]
    keep = s[..., 3] == 0
    region[~keep] = res[~keep]
    return out


# --------------------------------------------------------------------------- blur


def blur_boxes(radius: float) -> list[tuple[int, int]]:
    """(left reach, right reach) of the three box passes for a CSS blur radius (σ = radius/2)."""
    sigma = radius / 2.0
    d = math.floor(sigma * 3 * math.sqrt(2 * math.pi) / 4 + 0.5)
    if d <= 1:
        return []
    if d % 2:
        return [((d - 1) // 2, (d - 1) // 2)] * 3
    return [(d // 2, d // 2 - 1), (d // 2 - 1, d // 2), (d // 2, d // 2)]


def _box_1d(a: np.ndarray, lo: int, hi: int, axis: int) -> np.ndarray:
    """Zero-padded box mean over [i - lo, i + hi] along ``axis`` via cumulative sums."""
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    padded = np.concatenate([np.zeros((lo + 1, *a.shape[1:])), a, np.zeros((hi, *a.shape[1:]))])
    c = np.cumsum(padded, axis=0)
    out = (c[lo + 1 + hi : lo + 1 + hi + n] - c[0:n]) / (lo + hi + 1)
    return np.moveaxis(out, 0, axis)


def ref_blur(img: np.ndarray, radius: float) -> np.ndarray:
    """Blur of an (h, w) mask or (h, w, c) image; result padded by sum of left reaches."""
    boxes = blur_boxes(radius)
    pad = sum(lo for lo, _ in boxes)
    widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (img.ndim - 2)
    a = np.pad(img.astype(np.float64), widths)
    for lo, hi in boxes:
        a = _box_1d(a, lo, hi, 1)
    for lo, hi in boxes:
        a = _box_1d(a, lo, hi, 0)
    return np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)


def supersampled_coverage(inside: Any, h: int, w: int, n: int = 16) -> np.ndarray:
    """True area coverage (h, w) of the region ``inside(x, y) -> bool`` by n×n supersampling."""
    off = (np.arange(n) + 0.5) / n
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    total = np.zeros((h, w))
    for oy in off:
        for ox in off:
            total += inside(xs + ox, ys + oy)
    return total / (n * n)
