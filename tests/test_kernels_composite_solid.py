"""The fast paths of mask compositing: the solid-colour kernel
(``kernels.composite.composite_mask_solid``, taken by ``paint.composite_mask`` for a colour fill)
against the float64 reference, against the general kernel, every (background, coverage) pair,
poisoned frames, clipping and odd alignments; and the per-row coverage spans of the general kernel
(gradient fills) on text-like masks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _paint_strategies import (
    MAX_SIDE,
    NO_JIT,
    assert_close,
    assert_untouched_outside,
    blends,
    colors,
    gradients,
    opacities,
    random_frame,
)
from fastshare.kernels import composite
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from reference import paint_ref as ref

from fastshare import paint
from fastshare.colors import Color

pytestmark = pytest.mark.kernel


def text_mask(seed: int, h: int, w: int, empty: float = 0.5, full: float = 0.3) -> np.ndarray:
    """A mask like rasterised text: runs of zero, full and partial coverage along each row, some
    rows empty (the kernel skips zero runs a word at a time and stores full runs)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    for y in range(h):
        if rng.random() < 0.15:
            continue  # an empty row
        x = 0
        while x < w:
            run = int(rng.integers(1, 24))
            kind = rng.random()
            if kind < empty:
                pass
            elif kind < empty + full:
                mask[y, x : x + run] = 255
            else:
                mask[y, x : x + run] = rng.integers(1, 255, min(run, w - x))
            x += run
    return mask


def _solid(frame: np.ndarray, mask: np.ndarray, x: int, y: int, color: Color, alpha: float,
           linear: bool) -> None:  # fmt: skip
    composite.composite_mask_solid(
        frame, mask, x, y, color.r, color.g, color.b, alpha, linear,
        paint.DECODE_LUT, paint.ENCODE_LUT,
    )  # fmt: skip


def _general(frame: np.ndarray, mask: np.ndarray, x: int, y: int, color: Color, opacity: float,
             linear: bool) -> None:  # fmt: skip
    src = paint._resolve(color, (0.0, 0.0, 1.0, 1.0))
    table = src.table
    composite.composite_mask(
        frame, mask, x, y, src.kind, src.geom, table.pos, table.col, table.seg, opacity, linear,
        paint.DECODE_LUT, paint.ENCODE_LUT, paint._NO_DITHER, False,
    )  # fmt: skip


def _zero_coverage(mask: np.ndarray, x: int, y: int, h: int, w: int) -> np.ndarray:
    """Frame pixels with no coverage (outside the mask or under a zero)."""
    zero = np.ones((h, w), bool)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + mask.shape[1], w), min(y + mask.shape[0], h)
    if x1 > x0 and y1 > y0:
        zero[y0:y1, x0:x1] = mask[y0 - y : y1 - y, x0 - x : x1 - x] == 0
    return zero


@given(
    st.data(),
    st.integers(1, MAX_SIDE),
    st.integers(1, MAX_SIDE),
    colors,
    opacities,
    blends,
    st.floats(0.0, 0.9),
    st.floats(0.0, 1.0),
)
def test_solid_fill_matches_reference(
    data: st.DataObject,
    h: int,
    w: int,
    color: Color,
    opacity: float,
    blend: str,
    empty: float,
    full: float,
) -> None:
    mh = data.draw(st.integers(0, MAX_SIDE))
    mw = data.draw(st.integers(0, 2 * MAX_SIDE))  # wide rows: several mask words per row
    x = data.draw(st.integers(-mw - 2, w + 2))
    y = data.draw(st.integers(-mh - 2, h + 2))
    mask = text_mask(mh * 1000 + mw, mh, mw, empty, min(full, 1.0 - empty))
    before = random_frame(h * 100 + w, h, w)
    got = before.copy()
    paint.composite_mask(got, mask, x, y, color, opacity=opacity, blend=blend)  # type: ignore[arg-type]
    expected = ref.ref_composite_mask(before, mask, x, y, color, opacity, blend == "linear")
    assert_close(got, expected)
    rect = (max(x, 0), max(y, 0), min(x + mw, w), min(y + mh, h))
    assert_untouched_outside(got, before, rect)
    zero = _zero_coverage(mask, x, y, h, w)
    assert np.array_equal(got[zero], before[zero])


@pytest.mark.parametrize("blend", ["linear", "srgb"])
@pytest.mark.parametrize(
    "color", [Color(255, 255, 255), Color(0, 0, 0), Color(203, 213, 225), Color(250, 0, 128, 77)]
)
def test_every_background_and_coverage_level(color: Color, blend: str) -> None:
    """Row d, column m: background byte d under coverage m, all 65 536 pairs (a stride without
    the JIT), at opacity 1 and below."""
    step = 17 if NO_JIT else 1
    levels = np.arange(0, 256, step, dtype=np.uint8)
    levels[-1] = 255
    before = np.repeat(np.repeat(levels[:, None], levels.size, 1)[:, :, None], 3, 2)
    mask = np.ascontiguousarray(np.repeat(levels[None, :], levels.size, 0))
    for opacity in (1.0, 0.6):
        got = before.copy()
        paint.composite_mask(got, mask, 0, 0, color, opacity=opacity, blend=blend)  # type: ignore[arg-type]
        expected = ref.ref_composite_mask(before, mask, 0, 0, color, opacity, blend == "linear")
        assert_close(got, expected)
        assert np.array_equal(got[:, 0], before[:, 0])  # zero coverage: untouched
        if color.a == 255 and opacity == 1.0:
            assert np.all(got[:, -1] == color[:3])  # full coverage: the colour itself


@pytest.mark.parametrize("linear", [True, False])
def test_solid_kernel_agrees_with_the_general_kernel(linear: bool) -> None:
    h, w = (20, 45) if NO_JIT else (70, 301)
    mask = text_mask(5, h, w)
    for color, opacity in (
        (Color(255, 255, 255), 1.0),
        (Color(15, 23, 42), 1.0),
        (Color(56, 189, 248), 0.75),
        (Color(250, 0, 128, 128), 1.0),
    ):
        before = random_frame(6, h + 4, w + 6)
        fast = before.copy()
        _solid(fast, mask, 3, 2, color, opacity * color.a / 255.0, linear)
        general = before.copy()
        _general(general, mask, 3, 2, color, opacity, linear)
        assert_close(fast, general)
        if not linear and color.a == 255 and opacity == 1.0:
            assert np.array_equal(fast, general)  # both are Pillow's rounding exactly


@pytest.mark.parametrize("poison", [0, 255, 0xA5])
def test_poisoned_frame_only_covered_pixels_change(poison: int) -> None:
    """A mask larger than the frame, at a negative offset, rows of odd length (mask rows start
    at every alignment): pixels outside or under zero coverage keep the poison; full coverage
    becomes the colour whatever the poison."""
    h, w = (11, 19) if NO_JIT else (37, 83)
    mask = text_mask(7, h + 9, w + 13)
    mask[:, :3] = 0
    color = Color(56, 189, 248)
    for blend in ("linear", "srgb"):
        frame = np.full((h, w, 3), poison, np.uint8)
        before = frame.copy()
        paint.composite_mask(frame, mask, -5, -4, color, blend=blend)  # type: ignore[arg-type]
        zero = _zero_coverage(mask, -5, -4, h, w)
        assert np.array_equal(frame[zero], before[zero])
        covered = mask[4 : 4 + h, 5 : 5 + w]
        assert np.all(frame[covered == 255] == color[:3])
        expected = ref.ref_composite_mask(before, mask, -5, -4, color, 1.0, blend == "linear")
        assert_close(frame, expected)


@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 7), (1, 8), (1, 9), (2, 3), (3, 16), (5, 23), (4, 64), (2, 65)]
)
def test_small_and_word_sized_masks(shape: tuple[int, int]) -> None:
    """Masks shorter than a word, exactly a word, and a word plus one, at every column offset."""
    mh, mw = shape
    mask = text_mask(mh * 100 + mw, mh, mw, empty=0.3, full=0.4)
    mask[0, 0] = 255
    mask[-1, -1] = 128
    h, w = mh + 2, mw + 9
    for x in range(-2, 9):
        before = random_frame(x + 20, h, w)
        got = before.copy()
        paint.composite_mask(got, mask, x, 1, Color(255, 255, 255))
        expected = ref.ref_composite_mask(before, mask, x, 1, Color(255, 255, 255), 1.0, True)
        assert_close(got, expected)
        zero = _zero_coverage(mask, x, 1, h, w)
        assert np.array_equal(got[zero], before[zero])


def test_read_only_mask_and_empty_rows() -> None:
    h, w = 12, 40
    mask = text_mask(3, h, w)
    mask[4:8] = 0  # empty rows between covered ones
    before = random_frame(4, h, w)
    writable = before.copy()
    paint.composite_mask(writable, mask, 0, 0, "#0f172a")
    frozen = mask.copy()
    frozen.setflags(write=False)
    read_only = before.copy()
    paint.composite_mask(read_only, frozen, 0, 0, "#0f172a")
    assert np.array_equal(writable, read_only)
    assert np.array_equal(writable[4:8], before[4:8])


def test_zero_alpha_changes_nothing() -> None:
    frame = random_frame(5, 10, 30)
    before = frame.copy()
    mask = np.full((10, 30), 255, np.uint8)
    for linear in (True, False):
        _solid(frame, mask, 0, 0, Color(255, 0, 0), 0.0, linear)
    assert np.array_equal(frame, before)


@pytest.mark.parametrize("color", [Color(255, 255, 255), Color(15, 23, 42), Color(250, 0, 128)])
def test_srgb_text_mask_is_pixel_identical_to_pillow(color: Color) -> None:
    h, w = (16, 40) if NO_JIT else (48, 203)
    base = random_frame(8, h + 6, w + 10)
    mask = text_mask(9, h, w)
    got = base.copy()
    paint.composite_mask(got, mask, 3, 5, color, blend="srgb")
    im = Image.fromarray(base)
    im.paste(color[:3], (3, 5, 3 + w, 5 + h), Image.fromarray(mask))
    assert np.array_equal(got, np.asarray(im))


@given(st.data(), gradients(), opacities, blends)
def test_gradient_fill_on_a_text_mask_matches_reference(
    data: st.DataObject, fill: Any, opacity: float, blend: str
) -> None:
    """The general kernel blends only each row's covered span; the gradient stays anchored to
    the gradient box wherever the span starts."""
    h, w = data.draw(st.integers(1, MAX_SIDE)), data.draw(st.integers(1, MAX_SIDE))
    mh = data.draw(st.integers(1, MAX_SIDE))
    mw = data.draw(st.integers(1, 2 * MAX_SIDE))
    x = data.draw(st.integers(-mw // 2, w - 1))
    y = data.draw(st.integers(-mh // 2, h - 1))
    gbox = (float(x), float(y), float(x + mw), float(y + mh))
    mask = text_mask(mh * 31 + mw, mh, mw)
    before = random_frame(mw, h, w)
    got = before.copy()
    paint.composite_mask(got, mask, x, y, fill, opacity=opacity, blend=blend)  # type: ignore[arg-type]
    expected = ref.ref_composite_mask(before, mask, x, y, fill, opacity, blend == "linear")
    _, t = ref.fill_colors(fill, gbox, h, w)
    assert_close(got, expected, ref.discontinuity_mask(fill, t))
    zero = _zero_coverage(mask, x, y, h, w)
    assert np.array_equal(got[zero], before[zero])
