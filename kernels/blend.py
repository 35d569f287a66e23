"""Compositing one row of premultiplied colour with coverage onto a frame row.

The shared last step of the shape and mask kernels (``kernels.shapes``, ``kernels.composite``).
Pixel format: ``drow`` is one frame row slice as flat ``uint8`` bytes (r, g, b, r, g, b, ...),
sRGB; ``src`` holds premultiplied colour planes (``float32[4, ≥n]``: r·a, g·a, b·a in 0–255 and a
in 0–255); ``cov`` holds coverage in [0, 1]. Helpers here are called from kernels, allocate
nothing and release the GIL.

Per pixel, with ``A`` the source alpha, ``a = cov · opacity · A / 255`` and ``s = src·255/A`` the
straight (unpremultiplied) source colour, clamped to 0–255:

* ``a ≤ 1e-7`` (no byte could change): the pixel is left untouched;
* ``cov == 1``, ``A == 255``, ``opacity == 1``: ``out = floor(s + d)``, the source colour itself;
* blend "srgb": ``out = floor(dst + (s − dst)·a + d)`` — plain sRGB alpha blending, identical to
  Pillow's ``Image.composite``/``paste`` with a mask and to browsers' default;
* blend "linear": ``out = enc[round((dec[dst] + (dec[round(s)] − dec[dst])·a) · (E − 1))]`` with
  ``dec`` the 256-entry sRGB→linear table (``float32``, 0–1) and ``enc`` the E-entry linear→sRGB
  table (``uint8``, E = 4096 by default): blending in linear light, ≤ 1 LSB from exact.

``d`` is 0.5 (rounding) or, when dithering, the caller's pre-tiled ordered-dither offset for the
frame pixel (``dither_rows[y & 7, 3·x]``, in [0, 1)).
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["blend_row"]


@kernel
def blend_row(
    drow: np.ndarray,
    src: np.ndarray,
    cov: np.ndarray,
    y: int,
    xf: int,
    opacity: float,
    linear: bool,
    dec: np.ndarray,
    enc: np.ndarray,
    dither_rows: np.ndarray,
    dither: bool,
) -> None:
    """Composite ``src`` with coverage ``cov`` onto ``drow``.

    Parameters
    ----------
    drow : uint8[3·n]; the frame row bytes of pixels ``xf .. xf+n-1``, written in place.
    src : float32[4, ≥n]; premultiplied source colour planes, 0–255.
    cov : float32[n]; coverage in [0, 1] (n is its length).
    y, xf : int64; frame row and frame column of the first pixel (for the dither phase).
    opacity : float64 in [0, 1].
    linear : bool; blend in linear light through ``dec``/``enc`` instead of plain sRGB.
    dec : float32[256]; sRGB byte → linear 0–1.
    enc : uint8[E]; linear ``i/(E-1)`` → sRGB byte.
    dither_rows : float32[8, 3·W]; ordered-dither offsets; read only when ``dither``.
    dither : bool.
    """
    n = cov.shape[0]
    op = np.float32(opacity)
    full_op = opacity >= 1.0
    inv255 = np.float32(1.0 / 255.0)
    scale = np.float32(enc.shape[0] - 1)
    top = enc.shape[0] - 1
    for i in range(n):
        alpha = src[3, i]
        cv = cov[i]
        a = min(cv * op * alpha * inv255, np.float32(1.0))
        if not a > 1e-7:  # below this no output byte can change; also keeps 255/alpha finite
            continue
        o = 3 * i
        off = dither_rows[y & 7, 3 * (xf + i)] if dither else np.float32(0.5)
        k = np.float32(255.0) / alpha
        s0 = min(src[0, i] * k, np.float32(255.0))
        s1 = min(src[1, i] * k, np.float32(255.0))
        s2 = min(src[2, i] * k, np.float32(255.0))
        if full_op and cv >= 1.0 and alpha >= 255.0:
            drow[o] = np.uint8(min(s0 + off, np.float32(255.0)))
            drow[o + 1] = np.uint8(min(s1 + off, np.float32(255.0)))
            drow[o + 2] = np.uint8(min(s2 + off, np.float32(255.0)))
        elif linear:
            for c in range(3):
                sv = s0 if c == 0 else (s1 if c == 1 else s2)
                lin_s = dec[np.int64(sv + 0.5)]
                lin_d = dec[drow[o + c]]
                lin = lin_d + (lin_s - lin_d) * a
                j = min(max(np.int64(lin * scale + 0.5), 0), top)
                drow[o + c] = enc[j]
        else:
            d0 = np.float32(drow[o])
            d1 = np.float32(drow[o + 1])
            d2 = np.float32(drow[o + 2])
            drow[o] = np.uint8(min(max(d0 + (s0 - d0) * a + off, 0.0), 255.0))
            drow[o + 1] = np.uint8(min(max(d1 + (s1 - d1) * a + off, 0.0), 255.0))
            drow[o + 2] = np.uint8(min(max(d2 + (s2 - d2) * a + off, 0.0), 255.0))
