"""Slow, obviously-correct references for the text kernels (``kernels/text.py``)."""

from __future__ import annotations

import numpy as np


def accumulate_glyphs_ref(
    shape: tuple[int, int],
    bitmaps: list[np.ndarray],
    xs: list[int],
    ys: list[int],
) -> np.ndarray:
    """Sum every bitmap into an int64 canvas at (x, y), clip to ``shape``, saturate at 255."""
    h, w = shape
    acc = np.zeros((h, w), dtype=np.int64)
    for bmp, x, y in zip(bitmaps, xs, ys, strict=True):
        bh, bw = bmp.shape
        for r in range(bh):
            for c in range(bw):
                yy, xx = y + r, x + c
                if 0 <= yy < h and 0 <= xx < w:
                    acc[yy, xx] = min(255, acc[yy, xx] + int(bmp[r, c]))
    return acc.astype(np.uint8)


def wrap_greedy_ref(
    widths: list[float], space: list[int], brk: list[int], max_width: float
) -> list[tuple[int, int]]:
    """First-fit line breaking written as directly as the rules read.

    Candidate ends of a line starting at ``s`` are unit indices ``e > s`` with a break class
    2 (opportunity), or 1 (grapheme boundary) when unit ``e`` is not hanging whitespace, plus
    the end of text. A mandatory break (class 3) always ends the
    line. Among candidates whose content (trailing hanging spaces excluded) fits, take the last
    UAX #14 opportunity (class ≥ 2); if none fits, the last grapheme boundary that fits; if no
    boundary fits, the first boundary after ``s``.
    """
    n = len(widths)

    def content(s: int, e: int) -> float:
        total, width = 0.0, 0.0
        for j in range(s, e):
            total += widths[j]
            if not space[j]:
                width = total
        return width

    lines = []
    s = 0
    while s < n:
        hard = next((e for e in range(s + 1, n) if brk[e] == 3), n)
        cands = [e for e in range(s + 1, hard) if brk[e] == 2 or (brk[e] == 1 and not space[e])] + [
            hard
        ]
        fitting = [e for e in cands if content(s, e) <= max_width]
        if hard in fitting:
            end = hard
        else:
            opp = [e for e in fitting if e == hard or brk[e] >= 2]
            if opp:
                end = max(opp)
            elif fitting:
                end = max(fitting)
            else:
                end = cands[0]
        lines.append((s, end))
        s = end
    return lines
