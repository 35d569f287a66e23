"""Text kernels: glyph coverage accumulation, greedy line wrapping, auto-fit and balancing.

* :func:`accumulate_glyphs` adds glyph coverage bitmaps (stored back to back in one flat ``uint8``
  arena) into one A8 coverage mask with a saturating add, clipped to the mask. Accumulating a
  whole text block into one mask, then compositing once, avoids the seams that per-glyph "over"
  leaves where outlines abut (Arabic joins, tight kerning) and lets a gradient fill, shadow or
  stroke treat the block as one shape.
* :func:`wrap_greedy` is first-fit line breaking over per-code-point units (advance in em,
  hanging whitespace flag, break class before the unit).
* :func:`fit_ladder` binary-searches a ladder of sizes for the largest one at which the text fits
  a box and a line limit (one :func:`wrap_greedy` per probe).
* :func:`balance_width` bisects the narrowest width that keeps the greedy line count (CSS
  ``text-wrap: balance``).

Buffers are allocated by the caller; nothing here allocates in a loop. Serial, ``nogil``.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = [
    "BRK_GRAPHEME",
    "BRK_MANDATORY",
    "BRK_NONE",
    "BRK_OPPORTUNITY",
    "accumulate_glyphs",
    "balance_width",
    "fit_ladder",
    "wrap_greedy",
]

#: break class before a unit: no break allowed (inside a grapheme cluster)
BRK_NONE = 0
#: grapheme boundary: an emergency break, used only when a word does not fit a line by itself
BRK_GRAPHEME = 1
#: UAX #14 line-break opportunity
BRK_OPPORTUNITY = 2
#: mandatory break (after a hard newline)
BRK_MANDATORY = 3


@kernel
def accumulate_glyphs(
    dst: np.ndarray,
    arena: np.ndarray,
    entries: np.ndarray,
    ids: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
) -> None:
    """Saturating-add glyph bitmaps into a coverage mask.

    Parameters
    ----------
    dst : uint8[:, ::1], H×W
        Coverage mask, modified in place.
    arena : uint8[::1]
        Glyph bitmaps, each stored row-major (``h`` rows of ``w`` bytes) at its offset.
    entries : int64[:, ::1], N×3 (at least)
        Per glyph-cache entry: byte offset in ``arena``, width, height.
    ids : int64[::1], G
        Entry index per glyph to draw; negative ids are skipped.
    xs, ys : int64[::1], G
        Mask coordinates of each glyph bitmap's top-left pixel (may be outside the mask).
    """
    height = dst.shape[0]
    width = dst.shape[1]
    n_entries = entries.shape[0]
    for g in range(ids.shape[0]):
        e = ids[g]
        if e < 0 or e >= n_entries:
            continue
        offset = entries[e, 0]
        w = entries[e, 1]
        h = entries[e, 2]
        if w <= 0 or h <= 0 or offset < 0 or offset + w * h > arena.shape[0]:
            continue
        x0 = xs[g]
        y0 = ys[g]
        r0 = max(0, -y0)
        r1 = min(h, height - y0)
        c0 = max(0, -x0)
        c1 = min(w, width - x0)
        if r0 >= r1 or c0 >= c1:
            continue
        n = c1 - c0
        for r in range(r0, r1):
            # contiguous row slices without a data-dependent branch: the loop vectorises
            d = dst[y0 + r, x0 + c0 : x0 + c1]
            a = arena[offset + r * w + c0 : offset + r * w + c1]
            for i in range(n):
                s = np.uint16(d[i]) + np.uint16(a[i])
                d[i] = np.uint8(s if s < 255 else 255)


@kernel
def wrap_greedy(
    dst_starts: np.ndarray,
    dst_widths: np.ndarray,
    unit_w: np.ndarray,
    unit_space: np.ndarray,
    unit_brk: np.ndarray,
    max_width: float,
) -> int:
    """First-fit line breaking. Returns the number of lines written.

    A line ends at the last break opportunity before the first unit that makes it wider than
    ``max_width`` (hanging whitespace never counts); a line with no opportunity breaks at the last
    grapheme boundary that fits (overflow-wrap: break-word) and is not followed by hanging
    whitespace; a line always holds at least one grapheme cluster. Mandatory breaks always break.

    Parameters
    ----------
    dst_starts : int64[::1], capacity C + 1
        Out: start unit of each line; ``dst_starts[count]`` is the unit after the last line
        (equal to the number of units when every unit was placed within the capacity).
    dst_widths : float64[::1], capacity ≥ C
        Out: width of each line without its trailing hanging whitespace.
    unit_w : float64[::1], N
        Advance of each unit (same length unit as ``max_width``).
    unit_space : uint8[::1], N
        1 for whitespace that hangs at the end of a line (not counted in the line width).
    unit_brk : uint8[::1], N
        Break class before each unit: 0 none, 1 grapheme boundary, 2 opportunity, 3 mandatory.
    max_width : float
        Line width limit.
    """
    n = unit_w.shape[0]
    cap = dst_starts.shape[0] - 1
    if dst_widths.shape[0] < cap:
        cap = dst_widths.shape[0]
    count = 0
    start = 0
    while start < n and count < cap:
        run = 0.0
        width = 0.0
        best_opp = -1
        best_any = -1
        overflow = False
        end = n
        i = start
        while i < n:
            b = unit_brk[i]
            if i > start:
                if b == 3:
                    end = i
                    break
                if b == 2:
                    if overflow:
                        end = i
                        break
                    best_opp = i
                    best_any = i
                elif b == 1 and unit_space[i] == 0:
                    # an emergency break never puts a space at the start of a line
                    if overflow:
                        end = i
                        break
                    best_any = i
            run += unit_w[i]
            if unit_space[i] == 0:
                width = run
            if (not overflow) and width > max_width and i > start:
                if best_opp > start:
                    end = best_opp
                    break
                if best_any > start:
                    end = best_any
                    break
                overflow = True
            i += 1
        run = 0.0
        width = 0.0
        for j in range(start, end):
            run += unit_w[j]
            if unit_space[j] == 0:
                width = run
        dst_starts[count] = start
        dst_widths[count] = width
        count += 1
        start = end
    dst_starts[count] = start
    return count


@kernel
def balance_width(
    scratch_starts: np.ndarray,
    scratch_widths: np.ndarray,
    unit_w: np.ndarray,
    unit_space: np.ndarray,
    unit_brk: np.ndarray,
    max_width: float,
    count: int,
    tolerance: float,
) -> float:
    """Smallest width (within ``tolerance``) at which :func:`wrap_greedy` still places every unit
    in at most ``count`` lines, by bisection in [0, ``max_width``] (CSS ``text-wrap: balance``).

    ``scratch_starts`` (int64, capacity C + 1) and ``scratch_widths`` (float64, ≥ C) are work
    buffers; C must be at least ``count``. Other parameters as in :func:`wrap_greedy`.
    """
    n = unit_w.shape[0]
    lo = 0.0
    hi = max_width
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        c = wrap_greedy(scratch_starts, scratch_widths, unit_w, unit_space, unit_brk, mid)
        if scratch_starts[c] >= n and c <= count:
            hi = mid
        else:
            lo = mid
    return hi


@kernel
def fit_ladder(
    scratch_starts: np.ndarray,
    scratch_widths: np.ndarray,
    unit_w: np.ndarray,
    unit_space: np.ndarray,
    unit_brk: np.ndarray,
    ladder: np.ndarray,
    box_width: float,
    box_height: float,
    line_height: float,
    max_lines: int,
) -> int:
    """Index of the largest size in ``ladder`` at which the text fits, or -1 if none does.

    At size ``s`` the units (advances in em) wrap greedily to ``box_width / s``; the text fits
    when every unit is placed in at most ``min(max_lines, floor(box_height / (line_height · s)))``
    lines (at least 1) and those lines' total height ``lines · line_height · s`` is within
    ``box_height``. Fitting is monotone in the size, so this is a binary search.

    Parameters
    ----------
    scratch_starts : int64[::1], capacity ≥ max_lines + 1; scratch_widths : float64[::1] ≥ max_lines
    unit_w, unit_space, unit_brk : as in :func:`wrap_greedy`
    ladder : float64[::1], ascending candidate sizes (px)
    box_width, box_height : float (px); ``inf`` when unbounded
    line_height : float, multiple of the size
    max_lines : int, ≥ 1
    """
    n = unit_w.shape[0]
    cap_limit = scratch_starts.shape[0] - 1
    if scratch_widths.shape[0] < cap_limit:
        cap_limit = scratch_widths.shape[0]
    lo = 0
    hi = ladder.shape[0] - 1
    best = -1
    while lo <= hi:
        mid = (lo + hi) // 2
        size = ladder[mid]
        cap = max_lines
        if box_height < np.inf:
            by_height = int(np.floor((box_height + 1e-6) / (line_height * size)))
            if by_height < cap:
                cap = by_height
        if cap < 1:
            cap = 1
        if cap > cap_limit:
            cap = cap_limit
        c = wrap_greedy(
            scratch_starts[: cap + 1], scratch_widths[:cap], unit_w, unit_space, unit_brk,
            box_width / size,
        )  # fmt: skip
        fits = scratch_starts[c] >= n and c * line_height * size <= box_height + 1e-6
        if fits:
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return best
