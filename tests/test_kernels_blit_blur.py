"""Premultiplied RGBA blit and the box-blur Gaussian approximation against the references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _paint_strategies import MAX_SIDE, NO_JIT, assert_close, frame_sizes, opacities, random_frame
from hypothesis import given
from hypothesis import strategies as st
from reference import paint_ref as ref

from fastshare import paint

pytestmark = pytest.mark.kernel


def _premultiplied(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    img[rng.random((h, w)) < 0.25, 3] = 0
    img[rng.random((h, w)) < 0.25, 3] = 255
    img[..., :3] = (img[..., :3].astype(np.uint16) * img[..., 3:] // 255).astype(np.uint8)
    return img


@given(st.data(), frame_sizes(), opacities)
def test_blit_matches_reference(data: st.DataObject, size: tuple[int, int], opacity: float) -> None:
    h, w = size
    sh = data.draw(st.integers(0, MAX_SIDE))
    sw = data.draw(st.integers(0, MAX_SIDE))
    x = data.draw(st.integers(-sw - 2, w + 2))
    y = data.draw(st.integers(-sh - 2, h + 2))
    src = _premultiplied(sh * 13 + sw, sh, sw)
    before = random_frame(h * 3 + w, h, w)
    got = before.copy()
    paint.blit_rgba(got, src, x, y, opacity=opacity)
    assert_close(got, ref.ref_blit(before, src, x, y, opacity))


def test_blit_copies_opaque_pixels_and_skips_transparent_ones() -> None:
    src = _premultiplied(1, 6, 7)
    frame = random_frame(2, 10, 12)
    before = frame.copy()
    paint.blit_rgba(frame, src, 2, 3)
    region = frame[3:9, 2:9]
    opaque = src[..., 3] == 255
    assert np.array_equal(region[opaque], src[..., :3][opaque])
    clear = src[..., 3] == 0
    assert np.array_equal(region[clear], before[3:9, 2:9][clear])


def test_blit_clamps_sources_that_break_premultiplication() -> None:
    src = np.full((2, 2, 4), 255, np.uint8)
    src[..., 3] = 10  # colour > alpha: not premultiplied
    frame = np.full((2, 2, 3), 250, np.uint8)
    paint.blit_rgba(frame, src, 0, 0)
    assert np.all(frame == 255)


RADII = [0.0, 1.0, 2.0, 3.0, 4.0, 7.5, 10.0] + ([] if NO_JIT else [25.0, 60.0])


@pytest.mark.parametrize("radius", RADII)
def test_blur_mask_matches_reference(radius: float) -> None:
    mask = np.random.default_rng(3).integers(0, 256, (13, 17), dtype=np.uint8)
    got = paint.blur_mask(mask, radius)
    pad = paint.blur_padding(radius)
    assert got.shape == (13 + 2 * pad, 17 + 2 * pad)
    assert_close(got, ref.ref_blur(mask, radius))


@pytest.mark.parametrize("radius", RADII)
def test_blur_rgba_matches_reference(radius: float) -> None:
    src = _premultiplied(4, 9, 11)
    got = paint.blur_rgba(src, radius)
    pad = paint.blur_padding(radius)
    assert got.shape == (9 + 2 * pad, 11 + 2 * pad, 4)
    assert_close(got.reshape(got.shape[0], -1), ref.ref_blur(src, radius).reshape(got.shape[0], -1))


@pytest.mark.parametrize("radius", [8.0, 20.0, 40.0])
def test_blur_approximates_a_gaussian_of_half_the_radius(radius: float) -> None:
    """A square spreads with standard deviation ≈ radius/2 (CSS) and keeps its mass."""
    if NO_JIT and radius > 8:
        pytest.skip("slow without the JIT")
    size = 5 if NO_JIT else 15
    mask = np.full((size, size), 255, np.uint8)
    out = paint.blur_mask(mask, radius).astype(float)
    pad = paint.blur_padding(radius)
    assert abs(out.sum() - mask.sum(dtype=float)) < 0.01 * mask.sum()
    row = out.sum(axis=0)
    xs = np.arange(row.size) - (pad + (size - 1) / 2)
    variance = (row * xs**2).sum() / row.sum() - (size**2 - 1) / 12  # minus the square's own
    assert abs(math.sqrt(variance) - radius / 2) < 0.06 * radius / 2 + 0.3


def test_blur_radius_zero_is_a_copy() -> None:
    mask = np.random.default_rng(5).integers(0, 256, (6, 7), dtype=np.uint8)
    out = paint.blur_mask(mask, 0.0)
    assert paint.blur_padding(0.0) == 0
    assert np.array_equal(out, mask) and out is not mask
