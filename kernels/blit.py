"""Image blit: a premultiplied RGBA image composited onto the frame at an integer offset.

``dst`` is a caller-allocated H×W×3 ``uint8`` C-contiguous sRGB frame; ``src`` an h×w×4 ``uint8``
C-contiguous image with premultiplied alpha (``r, g, b ≤ a``), placed with its top-left pixel at
frame position ``(x, y)``, possibly partly or wholly outside the frame (clipped). Only frame
pixels under source pixels with non-zero alpha are written. No allocation, no state, GIL released.

Per pixel (plain sRGB "source over", as browsers and Pillow's ``alpha_composite`` do), with
``o = opacity``: ``out = floor(P·o + dst·(1 − A·o/255) + 0.5)``, clamped to 0–255 (a source that
breaks the premultiplied invariant cannot overflow).
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["blit_rgba"]


@kernel
def blit_rgba(dst: np.ndarray, src: np.ndarray, x: int, y: int, opacity: float) -> None:
    """Composite ``src`` over ``dst`` with its top-left pixel at ``(x, y)``.

    Parameters
    ----------
    dst : uint8[H, W, 3], C-contiguous; written in place.
    src : uint8[h, w, 4], C-contiguous; premultiplied RGBA.
    x, y : int64; frame position of the source's top-left pixel (any value; clipped).
    opacity : float64 in [0, 1].
    """
    height = dst.shape[0]
    width = dst.shape[1]
    sh = src.shape[0]
    sw = src.shape[1]
    fx0 = max(x, 0)
    fy0 = max(y, 0)
    fx1 = min(x + sw, width)
    fy1 = min(y + sh, height)
    if fx0 >= fx1 or fy0 >= fy1 or not opacity > 0.0:
        return
    n = fx1 - fx0
    flat = dst.reshape(height, 3 * width)
    sflat = src.reshape(sh, 4 * sw)
    op = np.float32(opacity)
    full = opacity >= 1.0
    k = op * np.float32(1.0 / 255.0)
    for fy in range(fy0, fy1):
        drow = flat[fy, 3 * fx0 : 3 * fx1]
        srow = sflat[fy - y, 4 * (fx0 - x) : 4 * (fx1 - x)]
        for i in range(n):
            a = srow[4 * i + 3]
            if a == 0:
                continue
            o = 3 * i
            s = 4 * i
            if full and a == 255:
                drow[o] = srow[s]
                drow[o + 1] = srow[s + 1]
                drow[o + 2] = srow[s + 2]
                continue
            keep = np.float32(1.0) - np.float32(a) * k
            for c in range(3):
                v = np.float32(srow[s + c]) * op + np.float32(drow[o + c]) * keep + np.float32(0.5)
                drow[o + c] = np.uint8(min(v, np.float32(255.0)))
