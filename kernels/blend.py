"""Compositing one row of premultiplied colour with coverage onto a frame row.

The shared last step of the shape and mask kernels (``kernels.shapes``, ``kernels.composite``).
Pixel format: ``drow`` is one frame row slice as flat ``uint8`` bytes (r, g, b, r, g, b, ...),
sRGB; ``src`` holds premultiplied colour planes (``float32[4, ≥n]``: r·a, g·a, b·a in 0–255 and a
in 0–255); ``cov`` holds coverage in [0, 1]. Helpers here are called from kernels, write only the
row and the caller's ``scratch`` (``float32[5, ≥n]``, allocated once per kernel call) and release
the GIL. The sRGB path and the opaque stores are branch-free so numba vectorises them; the
linear-light path visits partly covered pixels one by one (table lookups do not vectorise).

Per pixel, with ``A`` the source alpha, ``a = min(cov · opacity · A / 255, 1)`` and
``s = min(src·255/A, 255)`` the straight (unpremultiplied) source colour:

* ``a == 1`` (opaque and fully covered): ``out = floor(s + d)``, the source colour itself;
* blend "srgb": ``out = floor(dst + (s − dst)·a + d)`` — plain sRGB alpha blending, identical to
  Pillow's ``Image.composite``/``paste`` with a mask and to browsers' default;
* blend "linear": ``out = enc[floor((dec[dst] + (dec(s) − dec[dst])·a) · (E − 1) + 0.5)]`` with
  ``dec`` the 256-entry sRGB→linear table (``float32``, 0–1; ``dec(s)`` interpolates it linearly,
  as ``s`` is fractional for gradients) and ``enc`` the E-entry linear→sRGB table (``uint8``,
  E = 4096 by default): blending in linear light, ≤ 1 LSB from exact.

``d`` is 0.5 (rounding) or, when dithering, the caller's pre-tiled ordered-dither offset for the
frame pixel (``dither_rows[y & 7, 3·x]``, in [0, 1)). Where ``a == 0`` the formulas give back
``dst`` exactly (``enc`` inverts ``dec`` on every byte), so uncovered pixels keep their value.

:func:`solid_tables` states the same rules in integer arithmetic for one solid colour and the 256
coverage levels (``kernels.composite.composite_mask_solid``): per-call tables, no float per pixel.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["FRAC_BITS", "LIN_BITS", "blend_row", "solid_tables", "store_row"]


@kernel
def store_row(
    drow: np.ndarray,
    src: np.ndarray,
    first: int,
    y: int,
    xf: int,
    dither_rows: np.ndarray,
    dither: bool,
) -> None:
    """Write opaque, fully covered colours: ``drow[3i + c] = floor(src[c, first + i] + d)``.

    The fast path of opaque fills at full opacity (no blending); ``n = drow.shape[0] // 3`` pixels
    starting at frame column ``xf``.
    """
    n = drow.shape[0] // 3
    top8 = np.float32(255.0)
    r = src[0, first : first + n]
    g = src[1, first : first + n]
    b = src[2, first : first + n]
    if dither:
        d = dither_rows[y & 7, 3 * xf : 3 * (xf + n)]
        for i in range(n):
            drow[3 * i] = np.uint8(min(r[i] + d[3 * i], top8))
            drow[3 * i + 1] = np.uint8(min(g[i] + d[3 * i], top8))
            drow[3 * i + 2] = np.uint8(min(b[i] + d[3 * i], top8))
    else:
        half = np.float32(0.5)
        for i in range(n):
            drow[3 * i] = np.uint8(min(r[i] + half, top8))
            drow[3 * i + 1] = np.uint8(min(g[i] + half, top8))
            drow[3 * i + 2] = np.uint8(min(b[i] + half, top8))


@kernel
def blend_row(
    drow: np.ndarray,
    src: np.ndarray,
    first: int,
    cov: np.ndarray,
    y: int,
    xf: int,
    opacity: float,
    linear: bool,
    dec: np.ndarray,
    enc: np.ndarray,
    dither_rows: np.ndarray,
    dither: bool,
    scratch: np.ndarray,
) -> None:
    """Composite ``src`` with coverage ``cov`` onto ``drow``.

    Parameters
    ----------
    drow : uint8[3·n]; the frame row bytes of pixels ``xf .. xf+n-1``, written in place.
    src : float32[4, ≥first+n]; premultiplied source colour planes, 0–255; pixel i is
        ``src[:, first + i]``.
    first : int64; offset into ``src``.
    cov : float32[n]; coverage in [0, 1] (n is its length).
    y, xf : int64; frame row and frame column of the first pixel (for the dither phase).
    opacity : float64 in [0, 1].
    linear : bool; blend in linear light through ``dec``/``enc`` instead of plain sRGB.
    dec : float32[256]; sRGB byte → linear 0–1.
    enc : uint8[E]; linear ``i/(E-1)`` → sRGB byte.
    dither_rows : float32[8, 3·W]; ordered-dither offsets; read only when ``dither``.
    dither : bool.
    scratch : float32[5, ≥n]; overwritten.
    """
    n = cov.shape[0]
    op = np.float32(opacity)
    inv255 = np.float32(1.0 / 255.0)
    top8 = np.float32(255.0)
    one = np.float32(1.0)
    tiny = np.float32(1e-6)
    r = src[0, first : first + n]
    g = src[1, first : first + n]
    b = src[2, first : first + n]
    al = src[3, first : first + n]
    s0 = scratch[0, :n]
    s1 = scratch[1, :n]
    s2 = scratch[2, :n]
    a = scratch[3, :n]
    off = scratch[4, :n]
    for i in range(n):
        alpha = al[i]
        a[i] = min(cov[i] * op * alpha * inv255, one)
        k = top8 / max(alpha, tiny)
        s0[i] = min(r[i] * k, top8)
        s1[i] = min(g[i] * k, top8)
        s2[i] = min(b[i] * k, top8)
    if dither:
        drw = dither_rows[y & 7, 3 * xf : 3 * (xf + n)]
        for i in range(n):
            off[i] = drw[3 * i]
    else:
        for i in range(n):
            off[i] = 0.5
    if not linear:
        # v ≤ 255 and off < 1, so no clamp; where a == 1, d + (s − d) is s (to float precision)
        for i in range(n):
            ai = a[i]
            o = off[i]
            d0 = np.float32(drow[3 * i])
            d1 = np.float32(drow[3 * i + 1])
            d2 = np.float32(drow[3 * i + 2])
            drow[3 * i] = np.uint8(d0 + (s0[i] - d0) * ai + o)
            drow[3 * i + 1] = np.uint8(d1 + (s1[i] - d1) * ai + o)
            drow[3 * i + 2] = np.uint8(d2 + (s2[i] - d2) * ai + o)
        return
    # linear light: opaque fully covered pixels are stores (vectorised); the partly covered ones
    # go through the tables one by one (numba cannot vectorise table gathers here)
    for i in range(n):
        f = np.float32(1.0) if a[i] >= one else np.float32(0.0)  # a select, not a branch
        o = off[i]
        d0 = np.float32(drow[3 * i])
        d1 = np.float32(drow[3 * i + 1])
        d2 = np.float32(drow[3 * i + 2])
        drow[3 * i] = np.uint8(d0 + (s0[i] + o - d0) * f)
        drow[3 * i + 1] = np.uint8(d1 + (s1[i] + o - d1) * f)
        drow[3 * i + 2] = np.uint8(d2 + (s2[i] + o - d2) * f)
    scale = np.float32(enc.shape[0] - 1)
    top = enc.shape[0] - 1
    half = np.float32(0.5)
    last0 = np.float32(-1.0)
    last1 = np.float32(-1.0)
    last2 = np.float32(-1.0)
    ls0 = np.float32(0.0)
    ls1 = np.float32(0.0)
    ls2 = np.float32(0.0)
    for i in range(n):
        ai = a[i]
        if not (ai > 0.0 and ai < one):
            continue
        v0 = s0[i]
        v1 = s1[i]
        v2 = s2[i]
        if v0 != last0 or v1 != last1 or v2 != last2:  # solid fills decode once
            ls0 = _decode1(v0, dec)
            ls1 = _decode1(v1, dec)
            ls2 = _decode1(v2, dec)
            last0 = v0
            last1 = v1
            last2 = v2
        o = 3 * i
        for c in range(3):
            lin_s = ls0 if c == 0 else (ls1 if c == 1 else ls2)
            lin_d = dec[drow[o + c]]
            lin = lin_d + (lin_s - lin_d) * ai
            drow[o + c] = enc[min(max(np.int64(lin * scale + half), 0), top)]


@kernel
def _decode1(v: np.float32, dec: np.ndarray) -> np.float32:
    """``dec(v)``: the sRGB→linear table, linearly interpolated (v in 0–255)."""
    j0 = np.int64(min(v, np.float32(254.0)))
    lo = dec[j0]
    return lo + (dec[j0 + 1] - lo) * (v - np.float32(j0))  # type: ignore[no-any-return]


#: fraction bits of the fixed-point weights of :func:`solid_tables`
FRAC_BITS = 24
#: extra fraction bits of the integer linear-light values over the encode table's index
LIN_BITS = 4


@kernel
def solid_tables(
    dec_i: np.ndarray,
    table: np.ndarray,
    weights: np.ndarray,
    r: int,
    g: int,
    b: int,
    alpha: float,
    linear: bool,
    dec: np.ndarray,
    enc: np.ndarray,
) -> int:
    """Integer blending tables of a solid colour for the 256 coverage levels; returns the shift.

    With ``a(m) = min(m/255 · alpha, 1)``, one channel of a pixel with coverage ``m`` over the
    byte ``d`` is ``table[(dec_i[d] · weights[4m] + weights[4m + 1 + c]) >> shift]``:

    * ``weights[4m] = round((1 − a)·2^24)`` and ``weights[4m + 1 + c] = round(v_c·a·2^24)`` plus
      half of ``2^shift`` (rounding);
    * linear light: ``dec_i[d] = round(dec[d]·16·(E−1))``, ``v_c = dec[colour_c]·16·(E−1)``,
      ``table = enc``, ``shift = 28`` (the ``enc`` index is rounded from 4 extra bits);
    * sRGB: ``dec_i`` and ``table`` are the identity, ``v_c`` the colour byte, ``shift = 24``:
      exactly Pillow's rounded ``(d·(255 − m) + s·m) / 255`` when ``alpha`` is 1.

    ``a = 0`` gives back ``d`` and ``a = 1`` the colour (``enc`` inverts ``dec``), like
    :func:`blend_row` (≤ 1 LSB from the exact blend).

    Parameters
    ----------
    dec_i : int64[256]; written.
    table : uint8[≥ max(E, 256)]; written.
    weights : int64[1024]; written.
    r, g, b : int64 in 0–255; the straight sRGB colour.
    alpha : float64 in [0, 1]; opacity × colour alpha / 255.
    linear : bool.
    dec : float32[256]; sRGB byte → linear 0–1.
    enc : uint8[E], E ≥ 2; linear ``i/(E-1)`` → sRGB byte.
    """
    if linear:
        top = enc.shape[0] - 1
        for i in range(top + 1):
            table[i] = enc[i]
        scale = np.float64(top << LIN_BITS)
        shift = FRAC_BITS + LIN_BITS
        for i in range(256):
            dec_i[i] = np.int64(np.float64(dec[i]) * scale + 0.5)
        s0 = np.float64(dec[r]) * scale
        s1 = np.float64(dec[g]) * scale
        s2 = np.float64(dec[b]) * scale
    else:
        for i in range(256):
            table[i] = np.uint8(i)
            dec_i[i] = i
        shift = FRAC_BITS
        s0 = np.float64(r)
        s1 = np.float64(g)
        s2 = np.float64(b)
    half = np.int64(1) << (shift - 1)
    one = np.float64(np.int64(1) << FRAC_BITS)
    for m in range(256):
        a = min(m * alpha / 255.0, 1.0)
        weights[4 * m] = np.int64((1.0 - a) * one + 0.5)
        weights[4 * m + 1] = np.int64(s0 * a * one + 0.5) + half
        weights[4 * m + 2] = np.int64(s1 * a * one + 0.5) + half
        weights[4 * m + 3] = np.int64(s2 * a * one + 0.5) + half
    return shift
