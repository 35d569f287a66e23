"""PNG row filters (PNG spec §9): None, Sub, Up, Average, Paeth and a cheap adaptive choice.

Invariants:

* ``src`` is the image as rows of bytes: ``uint8[:, ::1]`` of shape ``(H, W*bpp)`` (an H×W×C
  frame reshaped, no copy). ``dst`` is caller-allocated ``uint8[:, ::1]`` of shape
  ``(H, 1 + W*bpp)``: each row is the filter-type byte followed by the filtered bytes, exactly the
  PNG ``IDAT`` payload before deflate. Kernels write every byte of ``dst`` and never allocate.
* ``bpp`` is bytes per complete pixel (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), ``1 <= bpp <= 8``.
* Pure functions of their inputs, ``nogil``: any number of threads may run them at once on
  different ``dst`` and scratch buffers.

Loops index through pre-offset views (``cur[bpp:]`` against ``cur[:-bpp]``) rather than
``cur[i - bpp]``: a possibly negative index makes numba emit a wraparound select that stops LLVM
vectorising the loop.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = [
    "FILTER_ADAPTIVE",
    "FILTER_AVERAGE",
    "FILTER_NONE",
    "FILTER_PAETH",
    "FILTER_SUB",
    "FILTER_UP",
    "filter_rows",
]

#: PNG filter-type bytes, plus the adaptive mode (not a PNG filter type; rows get 0 or 1 or 2 or 4).
FILTER_NONE = 0
FILTER_SUB = 1
FILTER_UP = 2
FILTER_AVERAGE = 3
FILTER_PAETH = 4
FILTER_ADAPTIVE = 5


@kernel
def _row_none(out: np.ndarray, cur: np.ndarray) -> None:
    for i in range(cur.shape[0]):
        out[i] = cur[i]


@kernel
def _row_sub(out: np.ndarray, cur: np.ndarray, bpp: int) -> None:
    n = cur.shape[0]
    k = min(bpp, n)
    for i in range(k):
        out[i] = cur[i]
    o = out[k:]
    a = cur[k:]
    left = cur[: n - k]
    for i in range(n - k):
        o[i] = (np.int32(a[i]) - np.int32(left[i])) & 0xFF


@kernel
def _row_up(out: np.ndarray, cur: np.ndarray, prev: np.ndarray) -> None:
    for i in range(cur.shape[0]):
        out[i] = (np.int32(cur[i]) - np.int32(prev[i])) & 0xFF


@kernel
def _row_average(out: np.ndarray, cur: np.ndarray, prev: np.ndarray, bpp: int) -> None:
    n = cur.shape[0]
    k = min(bpp, n)
    for i in range(k):
        out[i] = (np.int32(cur[i]) - (np.int32(prev[i]) >> 1)) & 0xFF
    o = out[k:]
    a = cur[k:]
    left = cur[: n - k]
    up = prev[k:]
    for i in range(n - k):
        o[i] = (np.int32(a[i]) - ((np.int32(left[i]) + np.int32(up[i])) >> 1)) & 0xFF


@kernel
def _row_paeth(out: np.ndarray, cur: np.ndarray, prev: np.ndarray, bpp: int) -> None:
    n = cur.shape[0]
    k = min(bpp, n)
    # first pixel: left and upper-left are 0, so the Paeth predictor is the byte above
    for i in range(k):
        out[i] = (np.int32(cur[i]) - np.int32(prev[i])) & 0xFF
    o = out[k:]
    x = cur[k:]
    left = cur[: n - k]
    up = prev[k:]
    ul = prev[: n - k]
    for i in range(n - k):
        # float32 is exact on these small integers and keeps numba from widening every operation
        # to int64, which would stop LLVM from vectorising this loop at full width.
        a = np.float32(left[i])
        b = np.float32(up[i])
        c = np.float32(ul[i])
        pa = abs(b - c)
        pb = abs(a - c)
        pc = abs(a + b - c - c)
        pred = b if pb <= pc else c
        pred = a if (pa <= pb) & (pa <= pc) else pred
        o[i] = (np.int32(x[i]) - np.int32(pred)) & 0xFF


@kernel
def _unmatched_windows(
    mask: np.ndarray, words: np.ndarray, cur: np.ndarray, prev: np.ndarray, bpp: int
) -> tuple[int, int]:
    """How much of ``cur`` is NOT a copy of ``prev`` shifted by -1, 0 or +1 pixel.

    Counts the ``bpp``-byte windows of ``cur`` (at every byte offset, away from the row's ends)
    that differ from the window at the same place in ``prev`` and from the windows one pixel left
    and right of it. Returns (unmatched, windows). ``mask`` (>= len(cur) bytes) and ``words``
    (uint64, >= len(cur) // 8 + 2 words) are scratch. Two vectorised passes; the count sums 0/1 flag
    bytes eight at a time through uint64 words, because numba widens byte sums to int64 lanes.
    """
    n = cur.shape[0]
    m = n - 2 * bpp
    c = cur[bpp : n - bpp]
    p_mid = prev[bpp : n - bpp]
    p_left = prev[:m]
    p_right = prev[2 * bpp :]
    for i in range(m):
        v = c[i]
        mask[i] = (
            np.uint8(v == p_left[i])
            | (np.uint8(v == p_mid[i]) << 1)
            | (np.uint8(v == p_right[i]) << 2)
        )
    k = m - bpp + 1
    flags = words.view(np.uint8)
    if bpp == 3:
        m0 = mask[:k]
        m1 = mask[1 : k + 1]
        m2 = mask[2 : k + 2]
        for i in range(k):
            flags[i] = np.uint8((m0[i] & m1[i] & m2[i]) == 0)
    elif bpp == 4:
        m0 = mask[:k]
        m1 = mask[1 : k + 1]
        m2 = mask[2 : k + 2]
        m3 = mask[3 : k + 3]
        for i in range(k):
            flags[i] = np.uint8((m0[i] & m1[i] & m2[i] & m3[i]) == 0)
    elif bpp == 1:
        for i in range(k):
            flags[i] = np.uint8(mask[i] == 0)
    else:
        for i in range(k):
            acc = mask[i]
            for j in range(1, bpp):
                acc &= mask[i + j]
            flags[i] = np.uint8(acc == 0)
    n_words = (k + 7) // 8
    for i in range(k, n_words * 8):
        flags[i] = 0
    total = np.uint64(0)
    for j in range(n_words):
        # the eight 0/1 bytes of a word, summed by shift-and-add (no byte can carry over)
        v = words[j]
        v += v >> np.uint64(8)
        v += v >> np.uint64(16)
        v += v >> np.uint64(32)
        total += v & np.uint64(0xFF)
    return int(total), k


@kernel
def _wrapped_abs(d: np.float32) -> np.float32:
    """|residual| of a filter output byte read as signed: min(|d|, 256 - |d|) for d in -255..255."""
    ad = abs(d)
    return np.float32(min(ad, np.float32(256.0) - ad))


@kernel
def _best_filter(cur: np.ndarray, prev: np.ndarray, bpp: int) -> int:
    """Sub, Up, Average or Paeth: the one with the smallest sum of |residual| over the row.

    The classic minimum-sum-of-absolute-differences heuristic (the first ``bpp`` bytes are left
    out). float32 arithmetic: exact on these integers, and numba does not widen it to int64.
    """
    n = cur.shape[0]
    k = n - bpp
    x = cur[bpp:]
    left = cur[:k]
    up = prev[bpp:]
    ul = prev[:k]
    c_sub = np.float32(0.0)
    c_up = np.float32(0.0)
    c_avg = np.float32(0.0)
    c_paeth = np.float32(0.0)
    half = np.float32(0.5)
    for i in range(k):
        v = np.float32(x[i])
        a = np.float32(left[i])
        b = np.float32(up[i])
        c = np.float32(ul[i])
        c_sub += _wrapped_abs(v - a)
        c_up += _wrapped_abs(v - b)
        c_avg += _wrapped_abs(v - np.floor((a + b) * half))
        pa = abs(b - c)
        pb = abs(a - c)
        pc = abs(a + b - c - c)
        pred = b if pb <= pc else c
        pred = a if (pa <= pb) & (pa <= pc) else pred
        c_paeth += _wrapped_abs(v - pred)
    best = FILTER_PAETH
    cost = c_paeth
    if c_sub < cost:
        best = FILTER_SUB
        cost = c_sub
    if c_up < cost:
        best = FILTER_UP
        cost = c_up
    if c_avg < cost:
        best = FILTER_AVERAGE
    return best


@kernel
def _first_avg(out: np.ndarray, cur: np.ndarray, bpp: int) -> None:
    n = cur.shape[0]
    k = min(bpp, n)
    for i in range(k):
        out[i] = cur[i]
    o = out[k:]
    a = cur[k:]
    left = cur[: n - k]
    for i in range(n - k):
        o[i] = (np.int32(a[i]) - (np.int32(left[i]) >> 1)) & 0xFF


@kernel
def filter_rows(
    dst: np.ndarray,
    src: np.ndarray,
    mask: np.ndarray,
    words: np.ndarray,
    bpp: int,
    method: int,
    max_unmatched: float,
) -> int:
    """Filter every row of ``src`` into ``dst``; return how many rows adaptive filtering filtered.

    Parameters
    ----------
    dst : uint8[:, ::1], shape (H, 1 + S)
        Output: per row, the filter-type byte then S filtered bytes.
    src : uint8[:, ::1], shape (H, S)
        The image's rows, S = W * bpp.
    mask : uint8[::1], length >= S
        Scratch for the adaptive method (any length otherwise; too short, and adaptive rows all
        stay unfiltered rather than touch memory out of bounds).
    words : uint64[::1], length >= S // 8 + 2
        Scratch for the adaptive method, as ``mask``.
    bpp : int64
        Bytes per pixel, 1..8.
    method : int64
        0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth (the PNG filter types, used for every row), or
        5 adaptive: a row stays unfiltered when at most ``max_unmatched`` of it differs from the
        row above shifted by -1, 0 or +1 pixel (diagonal gradients, flat colour, rows through text:
        deflate copies such rows as long matches, and any filter would break those up); otherwise
        (noise, dither, photographs) it takes whichever of Sub, Up, Average and Paeth has the
        smallest sum of |residual| (the classic heuristic). The first row stays unfiltered.
    max_unmatched : float64
        Adaptive only: the unmatched fraction above which a row is filtered (0.5 measured well).
    """
    h = src.shape[0]
    n = src.shape[1]
    filtered = 0
    scratch_ok = mask.shape[0] >= n and words.shape[0] >= n // 8 + 2
    for y in range(h):
        cur = src[y]
        out = dst[y, 1:]
        f = method
        if f == FILTER_ADAPTIVE:
            f = FILTER_NONE
            if y > 0 and n >= 4 * bpp and scratch_ok:
                unmatched, windows = _unmatched_windows(mask, words, cur, src[y - 1], bpp)
                if unmatched > max_unmatched * windows:
                    f = _best_filter(cur, src[y - 1], bpp)
                    filtered += 1
        dst[y, 0] = f
        if f == FILTER_NONE:
            _row_none(out, cur)
        elif f == FILTER_SUB:
            _row_sub(out, cur, bpp)
        elif y == 0:
            # no previous row (it counts as zeros): Up is None, Paeth is Sub,
            # Average subtracts half the left byte
            if f == FILTER_UP:
                _row_none(out, cur)
            elif f == FILTER_AVERAGE:
                _first_avg(out, cur, bpp)
            else:
                _row_sub(out, cur, bpp)
        elif f == FILTER_UP:
            _row_up(out, cur, src[y - 1])
        elif f == FILTER_AVERAGE:
            _row_average(out, cur, src[y - 1], bpp)
        else:
            _row_paeth(out, cur, src[y - 1], bpp)
    return filtered
