"""Plain numpy reference for ``kernels/png.py``: the PNG row filters and the adaptive choice.

Written from the PNG specification (§9.2 filter types, §9.4 Paeth) with Python integers, row by
row, no numba. ``reference_filter_rows`` returns what ``filter_rows`` must write into ``dst`` and
the number of rows the adaptive method filtered.
"""

from __future__ import annotations

import numpy as np

NONE, SUB, UP, AVERAGE, PAETH, ADAPTIVE = range(6)


def _paeth_predictor(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_row(cur: np.ndarray, prev: np.ndarray | None, bpp: int, ftype: int) -> np.ndarray:
    """One row filtered with PNG filter ``ftype`` (0..4); ``prev`` None means the first row."""
    x = cur.astype(np.int64)
    b = np.zeros_like(x) if prev is None else prev.astype(np.int64)  # byte above
    a = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])[: x.size]  # byte to the left
    c = np.concatenate([np.zeros(bpp, np.int64), b[:-bpp]])[: x.size]  # above-left
    if ftype == NONE:
        pred = np.zeros_like(x)
    elif ftype == SUB:
        pred = a
    elif ftype == UP:
        pred = b
    elif ftype == AVERAGE:
        pred = (a + b) // 2
    elif ftype == PAETH:
        pred = _paeth_predictor(a, b, c)
    else:
        raise ValueError(ftype)
    return ((x - pred) % 256).astype(np.uint8)


def unmatched_windows(cur: np.ndarray, prev: np.ndarray, bpp: int) -> tuple[int, int]:
    """(unmatched, windows): bpp-byte windows of ``cur`` (all byte offsets from bpp to
    len - 2·bpp) that equal the window above at neither -1, 0 nor +1 pixel of shift."""
    n = cur.size
    x = cur.astype(np.int64)
    p = prev.astype(np.int64)
    windows = n - 3 * bpp + 1
    unmatched = 0
    for i in range(windows):
        j = bpp + i  # window start in cur
        w = x[j : j + bpp]
        matched = any(np.array_equal(w, p[j + s : j + s + bpp]) for s in (-bpp, 0, bpp))
        unmatched += 0 if matched else 1
    return unmatched, windows


def _wrapped_abs_sum(residual: np.ndarray) -> int:
    r = residual.astype(np.int64) % 256
    return int(np.minimum(r, 256 - r).sum())


def best_filter(cur: np.ndarray, prev: np.ndarray, bpp: int) -> int:
    """Minimum sum of |signed residual| over bytes bpp.. ; ties: Paeth, then Sub, Up, Average."""
    costs = {}
    for ftype in (PAETH, SUB, UP, AVERAGE):
        costs[ftype] = _wrapped_abs_sum(filter_row(cur, prev, bpp, ftype)[bpp:])
    best = PAETH
    for ftype in (SUB, UP, AVERAGE):
        if costs[ftype] < costs[best]:
            best = ftype
    return best


def reference_filter_rows(
    src: np.ndarray, bpp: int, method: int, max_unmatched: float = 0.25
) -> tuple[np.ndarray, int]:
    """(dst, filtered_rows) for ``src`` (H × S uint8) as ``kernels.png.filter_rows`` defines."""
    h, n = src.shape
    dst = np.empty((h, n + 1), np.uint8)
    filtered = 0
    for y in range(h):
        prev = src[y - 1] if y > 0 else None
        ftype = method
        if method == ADAPTIVE:
            ftype = NONE
            if prev is not None and n >= 4 * bpp:
                unmatched, windows = unmatched_windows(src[y], prev, bpp)
                if unmatched > max_unmatched * windows:
                    ftype = best_filter(src[y], prev, bpp)
                    filtered += 1
        dst[y, 0] = ftype
        dst[y, 1:] = filter_row(src[y], prev, bpp, ftype)
    return dst, filtered


def unfilter(dst: np.ndarray, bpp: int) -> np.ndarray:
    """Undo PNG filtering (the decoder's side), for round-trip checks independent of Pillow."""
    h, n1 = dst.shape
    out = np.zeros((h, n1 - 1), np.int64)
    for y in range(h):
        ftype = int(dst[y, 0])
        row = dst[y, 1:].astype(np.int64)
        b = out[y - 1] if y > 0 else np.zeros(n1 - 1, np.int64)
        cur = np.zeros(n1 - 1, np.int64)
        for i in range(n1 - 1):
            a = cur[i - bpp] if i >= bpp else 0
            c = b[i - bpp] if i >= bpp else 0
            if ftype == NONE:
                pred = 0
            elif ftype == SUB:
                pred = a
            elif ftype == UP:
                pred = int(b[i])
            elif ftype == AVERAGE:
                pred = (a + int(b[i])) // 2
            else:
                pred = int(_paeth_predictor(np.array(a), np.array(b[i]), np.array(c)))
            cur[i] = (row[i] + pred) % 256
        out[y] = cur
    return out.astype(np.uint8)
