"""The text kernels against their plain-Python references (also run with NUMBA_DISABLE_JIT=1)."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from fastshare.kernels.text import accumulate_glyphs, balance_width, fit_ladder, wrap_greedy
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from reference.text_ref import accumulate_glyphs_ref, wrap_greedy_ref

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
EXAMPLES = 15 if NO_JIT else 200
MAX_SIDE = 24 if NO_JIT else 64

pytestmark = pytest.mark.kernel


def _pack(bitmaps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    arena = np.zeros(max(1, sum(b.size for b in bitmaps)), dtype=np.uint8)
    entries = np.zeros((len(bitmaps), 3), dtype=np.int64)
    offset = 0
    for i, b in enumerate(bitmaps):
        arena[offset : offset + b.size] = b.reshape(-1)
        entries[i] = (offset, b.shape[1], b.shape[0])
        offset += b.size
    return arena, entries


@st.composite
def glyph_scenes(draw: st.DrawFn) -> tuple[tuple[int, int], list[np.ndarray], list[int], list[int]]:
    h = draw(st.integers(1, MAX_SIDE))
    w = draw(st.integers(1, MAX_SIDE))
    n = draw(st.integers(0, 6))
    bitmaps, xs, ys = [], [], []
    for _ in range(n):
        bh = draw(st.integers(0, 12))
        bw = draw(st.integers(0, 12))
        seed = draw(st.integers(0, 2**31))
        rng = np.random.default_rng(seed)
        bitmaps.append(rng.integers(0, 256, size=(bh, bw), dtype=np.uint8))
        xs.append(draw(st.integers(-15, w + 3)))
        ys.append(draw(st.integers(-15, h + 3)))
    return (h, w), bitmaps, xs, ys


@settings(max_examples=EXAMPLES, deadline=None)
@given(glyph_scenes())
def test_accumulate_glyphs_matches_reference(
    scene: tuple[tuple[int, int], list[np.ndarray], list[int], list[int]],
) -> None:
    shape, bitmaps, xs, ys = scene
    arena, entries = _pack(bitmaps)
    dst = np.zeros(shape, dtype=np.uint8)
    ids = np.arange(len(bitmaps), dtype=np.int64)
    accumulate_glyphs(dst, arena, entries, ids, np.array(xs, np.int64), np.array(ys, np.int64))
    expected = accumulate_glyphs_ref(shape, bitmaps, xs, ys)
    np.testing.assert_array_equal(dst, expected)


def test_accumulate_saturates_and_skips_bad_ids() -> None:
    bmp = np.full((2, 2), 200, dtype=np.uint8)
    arena, entries = _pack([bmp])
    dst = np.zeros((3, 3), dtype=np.uint8)
    ids = np.array([0, 0, -1, 5], dtype=np.int64)
    xs = np.array([0, 1, 0, 0], dtype=np.int64)
    ys = np.array([0, 1, 0, 0], dtype=np.int64)
    accumulate_glyphs(dst, arena, entries, ids, xs, ys)
    assert dst[1, 1] == 255  # 200 + 200 saturates
    assert dst[0, 0] == 200 and dst[2, 2] == 200 and dst[0, 2] == 0


@st.composite
def unit_sequences(draw: st.DrawFn) -> tuple[list[float], list[int], list[int], float]:
    n = draw(st.integers(1, 12 if NO_JIT else 40))
    widths = draw(
        st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 3.0]), min_size=n, max_size=n)
    )
    space = draw(st.lists(st.sampled_from([0, 0, 0, 1]), min_size=n, max_size=n))
    brk = draw(st.lists(st.sampled_from([0, 1, 1, 2, 2, 3]), min_size=n, max_size=n))
    brk[0] = 0
    max_width = draw(st.sampled_from([0.1, 1.0, 2.0, 3.5, 5.0, 100.0]))
    return widths, space, brk, max_width


@settings(max_examples=EXAMPLES, deadline=None)
@given(unit_sequences())
def test_wrap_greedy_matches_reference(
    seq: tuple[list[float], list[int], list[int], float],
) -> None:
    widths, space, brk, max_width = seq
    n = len(widths)
    starts = np.zeros(n + 2, dtype=np.int64)
    out_w = np.zeros(n + 1, dtype=np.float64)
    count = wrap_greedy(
        starts,
        out_w,
        np.array(widths, np.float64),
        np.array(space, np.uint8),
        np.array(brk, np.uint8),
        max_width,
    )
    lines = [(int(starts[i]), int(starts[i + 1])) for i in range(count)]
    assert lines == wrap_greedy_ref(widths, space, brk, max_width)
    assert int(starts[count]) == n


def test_wrap_greedy_respects_capacity() -> None:
    widths = np.ones(10, dtype=np.float64)
    brk = np.full(10, 2, dtype=np.uint8)
    brk[0] = 0
    starts = np.zeros(4, dtype=np.int64)  # capacity 3 lines
    out_w = np.zeros(3, dtype=np.float64)
    count = wrap_greedy(starts, out_w, widths, np.zeros(10, np.uint8), brk, 2.0)
    assert count == 3
    assert starts.tolist() == [0, 2, 4, 6]  # starts[3] = where the 4th line would begin
    assert out_w.tolist() == [2.0, 2.0, 2.0]


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    unit_sequences(),
    st.sampled_from([1.0, 1.2]),
    st.integers(1, 4),
    st.sampled_from([math.inf, 30.0, 80.0]),
)
def test_fit_ladder_matches_brute_force(
    seq: tuple[list[float], list[int], list[int], float],
    line_height: float,
    max_lines: int,
    box_height: float,
) -> None:
    widths, space, brk, _ = seq
    ladder = [8.0, 10.0, 12.0, 16.0, 20.0, 24.0]
    box_width = 60.0

    def fits(size: float) -> bool:
        cap = max_lines
        if box_height < math.inf:
            cap = min(cap, math.floor((box_height + 1e-6) / (line_height * size)))
        cap = max(1, cap)
        lines = wrap_greedy_ref(widths, space, brk, box_width / size)
        return len(lines) <= cap and len(lines) * line_height * size <= box_height + 1e-6

    expected = max((i for i, s in enumerate(ladder) if fits(s)), default=-1)
    got = fit_ladder(
        np.zeros(max_lines + 1, np.int64),
        np.zeros(max_lines, np.float64),
        np.array(widths, np.float64),
        np.array(space, np.uint8),
        np.array(brk, np.uint8),
        np.array(ladder, np.float64),
        box_width,
        box_height,
        line_height,
        max_lines,
    )
    # fitting is monotone in the size for greedy wrapping, so binary search finds the same size
    assert got == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(unit_sequences())
def test_balance_width_keeps_the_line_count(
    seq: tuple[list[float], list[int], list[int], float],
) -> None:
    widths, space, brk, max_width = seq
    count = len(wrap_greedy_ref(widths, space, brk, max_width))
    n = len(widths)
    width = balance_width(
        np.zeros(n + 2, np.int64),
        np.zeros(n + 1, np.float64),
        np.array(widths, np.float64),
        np.array(space, np.uint8),
        np.array(brk, np.uint8),
        max_width,
        count,
        1e-6,
    )
    assert 0.0 <= width <= max_width
    assert len(wrap_greedy_ref(widths, space, brk, width)) <= count
    narrower = wrap_greedy_ref(widths, space, brk, max(0.0, width - 1e-3))
    assert len(narrower) > count or width < 1e-3 or width == max_width
