"""Solid fill of an integer rectangle.

``dst`` is a caller-allocated H×W×3 ``uint8`` C-contiguous sRGB frame. The kernel writes exactly
the pixels of ``[x0, x1) × [y0, y1)`` clipped to the frame (all of them), allocates nothing, keeps
no state and releases the GIL. Antialiased (fractional) edges and translucent colours go through
``kernels.shapes.paint_shape`` instead.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["fill_solid"]


@kernel
def fill_solid(dst: np.ndarray, x0: int, y0: int, x1: int, y1: int, r: int, g: int, b: int) -> None:
    """Set every pixel of ``dst[y0:y1, x0:x1]`` (clipped to the frame) to ``(r, g, b)``.

    Parameters
    ----------
    dst : uint8[H, W, 3], C-contiguous; written in place.
    x0, y0, x1, y1 : int64; the half-open rectangle in pixels; clipped here.
    r, g, b : int64 in 0–255.
    """
    height = dst.shape[0]
    width = dst.shape[1]
    x0 = max(x0, 0)
    y0 = max(y0, 0)
    x1 = min(x1, width)
    y1 = min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return
    flat = dst.reshape(height, 3 * width)
    first = flat[y0, 3 * x0 : 3 * x1]
    nb = first.shape[0]
    first[0] = r
    first[1] = g
    first[2] = b
    m = 3
    while m < nb:  # doubling copies: a 3-byte pattern, written at memcpy speed
        k = min(m, nb - m)
        src = first[:k]
        tgt = first[m : m + k]
        for i in range(k):
            tgt[i] = src[i]
        m += k
    for y in range(y0 + 1, y1):
        row = flat[y, 3 * x0 : 3 * x1]
        for i in range(nb):
            row[i] = first[i]
