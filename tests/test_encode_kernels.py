"""kernels/png.py against the numpy reference in tests/reference/png_filters.py.

Marked ``kernel``: CI reruns these with ``NUMBA_DISABLE_JIT=1``, where frames stay tiny.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fastshare.kernels.png import (
    FILTER_ADAPTIVE,
    FILTER_AVERAGE,
    FILTER_NONE,
    FILTER_PAETH,
    FILTER_SUB,
    FILTER_UP,
    filter_rows,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import png_filters as ref

pytestmark = pytest.mark.kernel

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
MAX_SIDE = 12 if NO_JIT else 48
METHODS = (FILTER_NONE, FILTER_SUB, FILTER_UP, FILTER_AVERAGE, FILTER_PAETH, FILTER_ADAPTIVE)


def run_kernel(src: np.ndarray, bpp: int, method: int, max_unmatched: float = 0.25):
    h, n = src.shape
    dst = np.full((h, n + 1), 0xAB, np.uint8)  # poison: every byte must be written
    mask = np.empty(max(n, 1), np.uint8)
    words = np.empty(n // 8 + 2, np.uint64)
    count = filter_rows(dst, src, mask, words, bpp, method, max_unmatched)
    return dst, int(count)


def shifted_rows(h: int, w: int, bpp: int, seed: int) -> np.ndarray:
    """Rows that are the previous row moved by -1, 0 or +1 pixel (a diagonal-gradient-like
    image), with a few random bytes changed."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (w + 2 * h) * bpp, dtype=np.uint8)
    rows = np.empty((h, w * bpp), np.uint8)
    offset = h
    for y in range(h):
        offset += int(rng.integers(-1, 2))
        rows[y] = base[offset * bpp : (offset + w) * bpp]
    return rows


frames = st.tuples(
    st.integers(1, MAX_SIDE),  # height
    st.integers(1, MAX_SIDE),  # width
    st.sampled_from((1, 2, 3, 4)),  # bpp
    st.integers(0, 2**32 - 1),  # seed
    st.sampled_from(("random", "shifted", "flat", "smooth")),
)


def make(h: int, w: int, bpp: int, seed: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.integers(0, 256, (h, w * bpp), dtype=np.uint8)
    if kind == "shifted":
        return shifted_rows(h, w, bpp, seed)
    if kind == "flat":
        return np.full((h, w * bpp), int(rng.integers(0, 256)), np.uint8)
    ramp = np.add.outer(np.arange(h), np.arange(w * bpp)) * int(rng.integers(1, 5))
    return (ramp + rng.integers(0, 2, (h, w * bpp))).astype(np.uint8)


@given(frames, st.sampled_from(METHODS), st.sampled_from((0.0, 0.25, 0.5, 1.0)))
@settings(max_examples=20 if NO_JIT else 200)
def test_filter_rows_matches_reference(frame, method, max_unmatched):
    src = make(*frame)
    bpp = frame[2]
    dst, count = run_kernel(src, bpp, method, max_unmatched)
    want, want_count = ref.reference_filter_rows(src, bpp, method, max_unmatched)
    np.testing.assert_array_equal(dst, want)
    assert count == want_count
    # and a decoder undoes it exactly
    np.testing.assert_array_equal(ref.unfilter(dst, bpp), src)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bpp", [1, 2, 3, 4])
@pytest.mark.parametrize(("h", "w"), [(1, 1), (1, 5), (5, 1), (2, 2), (3, 4), (4, 3)])
def test_edge_shapes(method, bpp, h, w):
    src = np.random.default_rng(h * 100 + w).integers(0, 256, (h, w * bpp), dtype=np.uint8)
    dst, count = run_kernel(src, bpp, method)
    want, want_count = ref.reference_filter_rows(src, bpp, method)
    np.testing.assert_array_equal(dst, want)
    assert count == want_count


def test_adaptive_keeps_shifted_rows_unfiltered_and_filters_noise():
    h, w = 24 if NO_JIT else 64, 20 if NO_JIT else 100
    shifted = shifted_rows(h, w, 3, seed=1)
    dst, count = run_kernel(shifted, 3, FILTER_ADAPTIVE)
    assert count == 0
    assert (dst[:, 0] == FILTER_NONE).all()

    noise = np.random.default_rng(2).integers(0, 256, (h, w * 3), dtype=np.uint8)
    dst, count = run_kernel(noise, 3, FILTER_ADAPTIVE)
    assert count == h - 1  # every row but the first (which has nothing above it)
    assert dst[0, 0] == FILTER_NONE
    assert set(np.unique(dst[1:, 0])) <= {FILTER_SUB, FILTER_UP, FILTER_AVERAGE, FILTER_PAETH}


def test_adaptive_threshold_is_an_argument():
    h, w = 16, 16 if NO_JIT else 40
    noise = np.random.default_rng(3).integers(0, 256, (h, w * 3), dtype=np.uint8)
    _, none_filtered = run_kernel(noise, 3, FILTER_ADAPTIVE, max_unmatched=1.0)
    _, all_filtered = run_kernel(noise, 3, FILTER_ADAPTIVE, max_unmatched=0.0)
    assert none_filtered == 0
    assert all_filtered == h - 1


def test_adaptive_with_short_scratch_stays_in_bounds_and_unfiltered():
    noise = np.random.default_rng(5).integers(0, 256, (6, 30), dtype=np.uint8)
    dst = np.empty((6, 31), np.uint8)
    count = filter_rows(dst, noise, np.empty(3, np.uint8), np.empty(1, np.uint64), 3, 5, 0.0)
    assert count == 0
    np.testing.assert_array_equal(dst, ref.reference_filter_rows(noise, 3, FILTER_NONE)[0])
