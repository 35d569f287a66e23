"""Coverage compositing: an 8-bit mask (a whole text block, a blurred shadow) filled with a solid
colour or a gradient, composited onto the frame in linear light or plain sRGB.

Pixel format and ownership: ``dst`` is a caller-allocated H×W×3 ``uint8`` C-contiguous sRGB
frame; ``mask`` an h×w ``uint8`` C-contiguous coverage mask (255 = fully covered) placed with its
top-left pixel at the integer frame position ``(mx, my)``, possibly partly or wholly outside the
frame (clipped). Only the frame rectangle under the mask is touched, and pixels under zero
coverage keep their value (rows without coverage are skipped). Scratch rows are allocated once
per call; kernels keep no state and release the GIL. Per-pixel arithmetic: see ``kernels.blend``;
coverage is ``mask / 255``.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .blend import blend_row
from .gradient import KIND_SOLID, gradient_row

__all__ = ["composite_mask"]


@kernel
def composite_mask(
    dst: np.ndarray,
    mask: np.ndarray,
    mx: int,
    my: int,
    fill_kind: int,
    geom: np.ndarray,
    pos: np.ndarray,
    col: np.ndarray,
    seg: np.ndarray,
    opacity: float,
    linear: bool,
    dec: np.ndarray,
    enc: np.ndarray,
    dither_rows: np.ndarray,
    dither: bool,
) -> None:
    """Composite ``mask`` at ``(mx, my)`` filled with the given colour or gradient over ``dst``.

    Parameters
    ----------
    dst : uint8[H, W, 3], C-contiguous; written in place.
    mask : uint8[h, w], C-contiguous; coverage.
    mx, my : int64; frame position of the mask's top-left pixel (any value; clipped).
    fill_kind, geom, pos, col, seg : the fill (see ``kernels.gradient.gradient_row``); gradient
        geometry is in frame coordinates.
    opacity : float64 in [0, 1].
    linear, dec, enc, dither_rows, dither : see ``kernels.blend.blend_row``.
    """
    height = dst.shape[0]
    width = dst.shape[1]
    mh = mask.shape[0]
    mw = mask.shape[1]
    fx0 = max(mx, 0)
    fy0 = max(my, 0)
    fx1 = min(mx + mw, width)
    fy1 = min(my + mh, height)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    n = fx1 - fx0
    flat = dst.reshape(height, 3 * width)
    src = np.empty((4, n), np.float32)
    tbuf = np.empty(n, np.float32)
    cov = np.empty(n, np.float32)
    scratch = np.empty((5, n), np.float32)
    solid = fill_kind == KIND_SOLID
    if solid:
        gradient_row(src, tbuf, fy0, fx0, KIND_SOLID, geom, pos, col, seg)
    inv255 = np.float32(1.0 / 255.0)
    for y in range(fy0, fy1):
        mrow = mask[y - my, fx0 - mx : fx1 - mx]
        total = np.int64(0)
        for i in range(n):
            m = mrow[i]
            total += np.int64(m)  # an int64 sum (also without the JIT, where uint8 wraps)
            cov[i] = np.float32(m) * inv255
        if total == 0:
            continue
        if not solid:
            gradient_row(src, tbuf, y, fx0, fill_kind, geom, pos, col, seg)
        blend_row(
            flat[y, 3 * fx0 : 3 * fx1],
            src,
            0,
            cov,
            y,
            fx0,
            opacity,
            linear,
            dec,
            enc,
            dither_rows,
            dither,
            scratch,
        )
