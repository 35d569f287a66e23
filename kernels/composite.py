"""Coverage compositing: an 8-bit mask (a whole text block, a blurred shadow) filled with a solid
colour or a gradient, composited onto the frame in linear light or plain sRGB.

Pixel format and ownership: ``dst`` is a caller-allocated H×W×3 ``uint8`` C-contiguous sRGB
frame; ``mask`` an h×w ``uint8`` C-contiguous coverage mask (255 = fully covered) placed with its
top-left pixel at the integer frame position ``(mx, my)``, possibly partly or wholly outside the
frame (clipped). Only the frame rectangle under the mask is touched, and pixels under zero
coverage keep their value. Scratch rows and tables are allocated once per call; kernels keep no
state and release the GIL. Per-pixel arithmetic: see ``kernels.blend``; coverage is
``mask / 255``.

Both kernels work on each row's covered span: from its first to its last nonzero ``uint64`` word
(eight mask bytes), found eight words at a time; rows without coverage are skipped.
:func:`composite_mask` takes any fill; :func:`composite_mask_solid` is the fast path for a solid
colour (text): full coverage stored, edges blended in integer arithmetic.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .blend import blend_row, solid_tables
from .gradient import KIND_SOLID, gradient_row

__all__ = ["composite_mask", "composite_mask_solid"]


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
    mflat = mask.reshape(mh * mw)
    words = mflat[: (mh * mw) >> 3 << 3].view(np.uint64)
    src = np.empty((4, n), np.float32)
    tbuf = np.empty(n, np.float32)
    cov = np.empty(n, np.float32)
    scratch = np.empty((5, n), np.float32)
    solid = fill_kind == KIND_SOLID
    if solid:
        gradient_row(src, tbuf, fy0, fx0, KIND_SOLID, geom, pos, col, seg)
    inv255 = np.float32(1.0 / 255.0)
    for y in range(fy0, fy1):
        # only the row's covered span
        start = (y - my) * mw + (fx0 - mx)  # mask offset of frame pixel (fx0, y)
        lo, hi = _covered_span(words, start, start + n)
        if lo >= hi:
            continue
        span = hi - lo
        x0 = fx0 + (lo - start)
        mrow = mflat[lo : lo + span]
        for i in range(span):
            cov[i] = np.float32(mrow[i]) * inv255
        if not solid:
            gradient_row(src, tbuf[:span], y, x0, fill_kind, geom, pos, col, seg)
        blend_row(
            flat[y, 3 * x0 : 3 * (x0 + span)],
            src,
            0,
            cov[:span],
            y,
            x0,
            opacity,
            linear,
            dec,
            enc,
            dither_rows,
            dither,
            scratch,
        )


@kernel
def composite_mask_solid(
    dst: np.ndarray,
    mask: np.ndarray,
    mx: int,
    my: int,
    r: int,
    g: int,
    b: int,
    alpha: float,
    linear: bool,
    dec: np.ndarray,
    enc: np.ndarray,
) -> None:
    """Composite ``mask`` at ``(mx, my)`` filled with the solid colour ``(r, g, b)`` over ``dst``.

    The fast path of :func:`composite_mask` for a solid fill (text), with the same rules to
    ≤ 1 LSB and ``a = min(mask/255 · alpha, 1)``; integer arithmetic through
    ``kernels.blend.solid_tables``. Per frame row under the mask:

    1. the covered span, from the first to the last nonzero mask word (``_covered_span``; rows
       without coverage end here);
    2. when ``alpha`` is 1, full coverage stores the colour: a branch-free select over the span,
       which numba vectorises;
    3. the pixels left to blend (partial coverage; any nonzero coverage when ``alpha`` < 1) are
       listed without branches: first the mask words that hold one, then their bytes;
    4. the listed pixels are blended one by one through the tables.

    Pixels under zero coverage keep their value (the select of step 2 writes it back), and the
    per-pixel loops have no data-dependent branches (text masks alternate empty, edge and full
    pixels too often for branch prediction).

    Parameters
    ----------
    dst : uint8[H, W, 3], C-contiguous; written in place.
    mask : uint8[h, w], C-contiguous; coverage.
    mx, my : int64; frame position of the mask's top-left pixel (any value; clipped).
    r, g, b : int64 in 0–255; the straight (not premultiplied) sRGB colour.
    alpha : float64 in [0, 1]; opacity × colour alpha / 255 (0 changes nothing).
    linear : bool; blend in linear light through ``dec``/``enc`` instead of plain sRGB.
    dec : float32[256]; sRGB byte → linear 0–1.
    enc : uint8[E], E ≥ 2; linear ``i/(E-1)`` → sRGB byte.
    """
    height = dst.shape[0]
    width = dst.shape[1]
    mh = mask.shape[0]
    mw = mask.shape[1]
    fx0 = max(mx, 0)
    fy0 = max(my, 0)
    fx1 = min(mx + mw, width)
    fy1 = min(my + mh, height)
    if fx0 >= fx1 or fy0 >= fy1 or not alpha > 0.0:
        return
    n = fx1 - fx0
    opaque = alpha >= 1.0
    dec_i = np.empty(256, np.int64)
    table = np.empty(max(enc.shape[0], 256), np.uint8)
    weights = np.empty(1024, np.int64)
    shift = np.uint64(solid_tables(dec_i, table, weights, r, g, b, alpha, linear, dec, enc))
    cr = np.int64(r)
    cg = np.int64(g)
    cb = np.int64(b)
    # a byte needs blending when it is nonzero and (opaque colour) not 255
    full = 255 if opaque else 256
    low7 = np.uint64(0x7F7F7F7F7F7F7F7F)
    high = np.uint64(0x8080808080808080)
    flat = dst.reshape(height * width * 3)
    mflat = mask.reshape(mh * mw)
    words = mflat[: (mh * mw) >> 3 << 3].view(np.uint64)
    todo = np.empty(n, np.int64)  # span columns of one row's pixels to blend
    busy = np.empty((n >> 3) + 1, np.int64)  # span columns of its words holding such pixels
    for y in range(fy0, fy1):
        start = (y - my) * mw + (fx0 - mx)  # mask offset of frame pixel (fx0, y)
        lo, hi = _covered_span(words, start, start + n)
        if lo >= hi:
            continue
        span = hi - lo
        d0 = 3 * (y * width + fx0 + lo - start)
        drow = flat[d0 : d0 + 3 * span]
        mrow = mflat[lo:hi]
        if opaque:
            for j in range(span):
                f = -np.int64(mrow[j] == 255)  # all bits set where fully covered
                keep = ~f
                drow[3 * j] = (cr & f) | (drow[3 * j] & keep)
                drow[3 * j + 1] = (cg & f) | (drow[3 * j + 1] & keep)
                drow[3 * j + 2] = (cb & f) | (drow[3 * j + 2] & keep)
        # the span: head bytes up to a word boundary, whole words, tail bytes
        head = min((8 - (lo & 7)) & 7, span)
        nwords = (span - head) >> 3
        count = np.int64(0)
        for j in range(head):
            m = mrow[j]
            todo[count] = j
            count += np.int64(m != 0) - np.int64(m == full)
        for j in range(head + 8 * nwords, span):
            m = mrow[j]
            todo[count] = j
            count += np.int64(m != 0) - np.int64(m == full)
        first_word = (lo + head) >> 3
        wrow = words[first_word : first_word + nwords]
        nbusy = np.int64(0)
        for q in range(nwords):
            busy[nbusy] = q
            nbusy += np.int64(_blend_bytes(wrow[q], opaque, low7, high) != np.uint64(0))
        for q in range(nbusy):
            bits = _blend_bytes(wrow[busy[q]], opaque, low7, high)
            j0 = head + 8 * busy[q]
            for k in range(8):
                todo[count] = j0 + k
                count += np.int64((bits >> np.uint64(8 * k + 7)) & np.uint64(1))
        # unsigned indices: numba adds no negative-index wraparound to these table lookups
        for q in range(count):
            col = np.uint64(todo[q])
            row4 = np.uint64(mrow[col]) << np.uint64(2)  # the coverage level's weights
            w = np.uint64(weights[row4])
            o = np.uint64(3) * col
            for c in range(3):
                oc = o + np.uint64(c)
                v = np.uint64(dec_i[drow[oc]]) * w + np.uint64(weights[row4 + np.uint64(1 + c)])
                drow[oc] = table[v >> shift]


@kernel
def _blend_bytes(x: np.uint64, opaque: bool, low7: np.uint64, high: np.uint64) -> np.uint64:
    """The high bit of each byte of the mask word ``x`` that needs blending: a byte other than 0
    and 255 (``opaque``), or any nonzero byte. No carries cross bytes."""
    if opaque:
        edge = (x ^ (x >> np.uint64(1))) & low7  # nonzero in the bytes not all-0 or all-1
        return (edge + low7) & high  # type: ignore[no-any-return]
    return (((x & low7) + low7) | x) & high  # type: ignore[no-any-return]


@kernel
def _covered_span(words: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """``(lo, hi)`` with ``start ≤ lo ≤ hi ≤ end``: every nonzero byte of ``mask[start:end]`` (flat
    offsets) lies in ``[lo, hi)``, or ``lo == hi`` when there is none.

    ``words`` is the ``uint64`` view of the flat mask (its last ``size % 8`` bytes are not in it
    and count as covered). Whole words are tested, eight at a time: the span may include some
    zero bytes at its ends (the callers treat them like any zero coverage), never miss a nonzero
    one.
    """
    nw = words.shape[0]
    zero = np.uint64(0)
    q1 = min((end + 7) >> 3, nw)
    q = start >> 3
    while q + 8 <= q1:
        block = words[q] | words[q + 1] | words[q + 2] | words[q + 3]
        block |= words[q + 4] | words[q + 5] | words[q + 6] | words[q + 7]
        if block != zero:
            break
        q += 8
    while q < q1 and words[q] == zero:
        q += 1
    tail = end > 8 * nw
    if q == q1:
        if tail:
            return max(start, 8 * nw), end
        return end, end
    lo = max(start, 8 * q)
    if tail:
        return lo, end
    p = q1
    while p - 8 >= q:
        block = words[p - 1] | words[p - 2] | words[p - 3] | words[p - 4]
        block |= words[p - 5] | words[p - 6] | words[p - 7] | words[p - 8]
        if block != zero:
            break
        p -= 8
    while p > q and words[p - 1] == zero:
        p -= 1
    return lo, min(end, 8 * p)
