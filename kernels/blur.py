"""Blur: three separable box-blur passes approximating a Gaussian (the SVG/CSS recipe).

For a Gaussian of standard deviation σ, ``d = floor(σ·3·√(2π)/4 + 0.5)``; odd ``d``: three boxes of
width ``d`` centred on the pixel; even ``d``: boxes ``[x − d/2, x + d/2 − 1]``,
``[x − d/2 + 1, x + d/2]`` and ``[x − d/2, x + d/2]`` (width d + 1), as the SVG filter
specification says. The caller passes each pass's reach as ``lo[p]`` (pixels to the left/top) and
``hi[p]`` (right/bottom). Outside the image counts as transparent (zero).

Buffers: ``src`` is an h×(w·nch) ``uint8`` C-contiguous image (``nch`` = 1 for a coverage mask, 4
for premultiplied RGBA, channels interleaved); ``dst`` is (h + 2·pad)×((w + 2·pad)·nch) ``uint8``
with ``pad = sum(lo)``, so the blurred result fits entirely; ``buf`` and ``tmp`` are float32
scratch of ``dst``'s shape. All four are caller-allocated; every ``dst`` byte is written. No
state, GIL released. Passes run in float32 with float64 running sums; one rounding at the end.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["box_blur"]


@kernel
def _hpass(out: np.ndarray, inp: np.ndarray, lo: int, hi: int, nch: int) -> None:
    height = inp.shape[0]
    w = inp.shape[1] // nch
    inv = 1.0 / (lo + hi + 1)
    for y in range(height):
        ri = inp[y]
        ro = out[y]
        for c in range(nch):
            acc = 0.0
            for x in range(min(hi, w)):
                acc += ri[x * nch + c]
            for x in range(w):
                xa = x + hi
                if xa < w:
                    acc += ri[xa * nch + c]
                xr = x - lo - 1
                if xr >= 0:
                    acc -= ri[xr * nch + c]
                ro[x * nch + c] = acc * inv


@kernel
def _vpass(out: np.ndarray, inp: np.ndarray, lo: int, hi: int, acc: np.ndarray) -> None:
    height = inp.shape[0]
    m = inp.shape[1]
    inv = 1.0 / (lo + hi + 1)
    for i in range(m):
        acc[i] = 0.0
    for yy in range(min(hi, height)):
        r = inp[yy]
        for i in range(m):
            acc[i] += r[i]
    for y in range(height):
        ya = y + hi
        if ya < height:
            r = inp[ya]
            for i in range(m):
                acc[i] += r[i]
        yr = y - lo - 1
        if yr >= 0:
            r = inp[yr]
            for i in range(m):
                acc[i] -= r[i]
        ro = out[y]
        for i in range(m):
            ro[i] = acc[i] * inv


@kernel
def box_blur(
    dst: np.ndarray,
    src: np.ndarray,
    nch: int,
    lo: np.ndarray,
    hi: np.ndarray,
    buf: np.ndarray,
    tmp: np.ndarray,
) -> None:
    """Blur ``src`` into the padded ``dst`` with box passes ``lo``/``hi``, horizontal then vertical.

    Parameters
    ----------
    dst : uint8[h + 2·pad, (w + 2·pad)·nch], C-contiguous; every byte written.
    src : uint8[h, w·nch], C-contiguous.
    nch : int64; interleaved channels (1 or 4).
    lo, hi : int64[P]; reach of each box pass; ``pad = sum(lo)`` must equal ``sum(hi)``.
    buf, tmp : float32 scratch with ``dst``'s shape.
    """
    sh = src.shape[0]
    sm = src.shape[1]
    pad = 0
    for p in range(lo.shape[0]):
        pad += lo[p]
    for yy in range(buf.shape[0]):
        r = buf[yy]
        for i in range(r.shape[0]):
            r[i] = 0.0
    for yy in range(sh):
        r = buf[yy + pad, pad * nch : pad * nch + sm]
        s = src[yy]
        for i in range(sm):
            r[i] = s[i]
    for p in range(lo.shape[0]):
        _hpass(tmp, buf, lo[p], hi[p], nch)
        buf, tmp = tmp, buf
    acc = np.empty(buf.shape[1], np.float64)
    for p in range(lo.shape[0]):
        _vpass(tmp, buf, lo[p], hi[p], acc)
        buf, tmp = tmp, buf
    for yy in range(dst.shape[0]):
        r = buf[yy]
        o = dst[yy]
        for i in range(o.shape[0]):
            o[i] = np.uint8(min(max(r[i] + np.float32(0.5), np.float32(0.0)), np.float32(255.0)))
