"""Line-break opportunities (UAX #14) and the unit model used by wrapping.

A *unit* is one code point of the normalised text. Each unit has a break class *before* it
(:data:`~fastshare.kernels.text.BRK_NONE` inside a grapheme cluster, ``BRK_GRAPHEME`` at other
cluster boundaries, ``BRK_OPPORTUNITY`` at a UAX #14 opportunity, ``BRK_MANDATORY`` after a hard
newline) and a flag for whitespace that hangs at the end of a line.

Opportunities come from ``unicode-segmentation-rs`` (UAX #14 with ideographic breaks between CJK
characters; UTF-8 byte offsets are converted to code points). Scripts that need a dictionary
(Thai, Lao, Khmer, Myanmar: line-break class SA) get word breaks only when PyICU is installed;
otherwise they break at spaces, and at grapheme boundaries when a word is wider than the line.
Thread-safe.
"""

from __future__ import annotations

import numpy as np
import unicode_segmentation_rs as useg

from fastshare.kernels.text import BRK_GRAPHEME, BRK_MANDATORY, BRK_NONE, BRK_OPPORTUNITY

__all__ = ["break_classes", "hanging_spaces"]

_SA_RANGES = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x19E0, 0x19FF),
    (0xAA60, 0xAA7F),
)


def _hang_lut() -> np.ndarray:
    lut = np.zeros(0x3002, dtype=np.uint8)  # the last entry stands for everything above U+3000
    lut[[0x20, 0x0A, 0x1680, 0x205F, 0x3000]] = 1
    lut[0x2000:0x2007] = 1
    lut[0x2008:0x200B] = 1
    return lut


_HANG_LUT = _hang_lut()


def hanging_spaces(codes: np.ndarray) -> np.ndarray:
    """1 for whitespace that hangs at a line end (spaces, ideographic space, newline)."""
    out: np.ndarray = _HANG_LUT[np.minimum(codes, _HANG_LUT.shape[0] - 1)]
    return out


def _utf8_to_cp(codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    if codes.shape[0] == 0 or int(codes.max()) < 0x80:
        return offsets
    out: np.ndarray
    lengths = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    out = np.searchsorted(starts, offsets)
    return out


def _icu_breaks(text: str) -> list[tuple[int, bool]] | None:
    try:
        import icu  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    iterator = icu.BreakIterator.createLineInstance(icu.Locale.getRoot())
    iterator.setText(text)
    out = []
    units_to_cp: dict[int, int] = {}
    u = 0
    for i, ch in enumerate(text):
        units_to_cp[u] = i
        u += 2 if ord(ch) > 0xFFFF else 1
    units_to_cp[u] = len(text)
    for boundary in iterator:
        pos = units_to_cp.get(int(boundary))
        if pos is None or pos == 0:
            continue
        hard = int(iterator.getRuleStatus()) >= 100  # UBRK_LINE_HARD
        out.append((pos, hard))
    return out


def break_classes(text: str, codes: np.ndarray, cluster_start: np.ndarray) -> np.ndarray:
    """Break class before each unit (``uint8``)."""
    n = codes.shape[0]
    brk: np.ndarray = np.where(cluster_start, BRK_GRAPHEME, BRK_NONE).astype(np.uint8)
    if n == 0:
        return brk
    icu_breaks = None
    if int(codes.max()) >= 0x0E00 and any(
        bool(np.any((codes >= lo) & (codes <= hi))) for lo, hi in _SA_RANGES
    ):
        icu_breaks = _icu_breaks(text)
    if icu_breaks is not None:
        for pos, is_hard in icu_breaks:
            if pos < n:
                brk[pos] = BRK_MANDATORY if is_hard else BRK_OPPORTUNITY
    else:
        found = useg.line_breaks(text)
        if found:
            raw_offsets, raw_hard = zip(*found, strict=True)
            offsets = np.array(raw_offsets, dtype=np.int64)
            hard = np.array(raw_hard, dtype=np.bool_)
            where = _utf8_to_cp(codes, offsets)
            keep = where < n
            brk[where[keep]] = np.where(hard[keep], BRK_MANDATORY, BRK_OPPORTUNITY)
    # a mandatory break exactly after every newline, whatever the segmenter said
    nl = np.flatnonzero(codes[:-1] == 0x0A) + 1
    brk[nl] = BRK_MANDATORY
    brk[0] = BRK_NONE
    # never break inside a grapheme cluster
    brk[~cluster_start] = BRK_NONE
    return brk
