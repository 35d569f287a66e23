"""Coverage-mask compositing: linear light (default) and plain sRGB, solid and gradient fills,
placement and clipping, Pillow parity, lookup-table accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _paint_strategies import (
    MAX_SIDE,
    assert_close,
    assert_untouched_outside,
    blends,
    fills,
    frame_sizes,
    opacities,
    random_frame,
)
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from reference import paint_ref as ref

from fastshare import paint
from fastshare.colors import Color
from fastshare.gradients import LinearGradient, parse_stops

pytestmark = pytest.mark.kernel


def _mask(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 256, (h, w), dtype=np.uint8)
    mask[rng.random((h, w)) < 0.3] = 0  # text masks are mostly empty or full
    mask[rng.random((h, w)) < 0.3] = 255
    return mask


@given(st.data(), frame_sizes(), fills, opacities, blends)
def test_composite_mask_matches_reference(
    data: st.DataObject, size: tuple[int, int], fill: Any, opacity: float, blend: str
) -> None:
    h, w = size
    mh = data.draw(st.integers(0, MAX_SIDE))
    mw = data.draw(st.integers(0, MAX_SIDE))
    x = data.draw(st.integers(-mw - 3, w + 3))
    y = data.draw(st.integers(-mh - 3, h + 3))
    gbox = data.draw(
        st.one_of(
            st.none(),
            st.tuples(
                st.floats(-20, 20), st.floats(-20, 20), st.floats(0, 60), st.floats(0, 60)
            ).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])),
        )
    )
    mask = _mask(h * 31 + w, mh, mw)
    before = random_frame(mh * 17 + mw, h, w)
    got = before.copy()
    paint.composite_mask(
        got,
        mask,
        x,
        y,
        fill,
        opacity=opacity,
        blend=blend,
        gradient_box=gbox,  # type: ignore[arg-type]
    )
    expected = ref.ref_composite_mask(before, mask, x, y, fill, opacity, blend == "linear", gbox)
    exclude = None
    if not isinstance(fill, Color):
        _, t = ref.fill_colors(fill, (x, y, x + mw, y + mh) if gbox is None else gbox, h, w)
        exclude = ref.discontinuity_mask(fill, t)
    assert_close(got, expected, exclude)
    rect = (max(x, 0), max(y, 0), min(x + mw, w), min(y + mh, h))
    assert_untouched_outside(got, before, rect)
    # pixels under zero coverage are never written
    zero = np.ones((h, w), bool)
    if rect[2] > rect[0] and rect[3] > rect[1]:
        zero[rect[1] : rect[3], rect[0] : rect[2]] = (
            mask[rect[1] - y : rect[3] - y, rect[0] - x : rect[2] - x] == 0
        )
    assert np.array_equal(got[zero], before[zero])


@pytest.mark.parametrize("color", [Color(255, 255, 255), Color(12, 34, 56), Color(250, 0, 128)])
def test_srgb_blend_is_pixel_identical_to_pillow(color: Color) -> None:
    h, w = 40, 56
    base = random_frame(8, h, w)
    mask = _mask(9, 30, 50)
    got = base.copy()
    paint.composite_mask(got, mask, 3, 5, color, blend="srgb")
    im = Image.fromarray(base)
    im.paste(color[:3], (3, 5, 53, 35), Image.fromarray(mask))
    assert np.array_equal(got, np.asarray(im))


def test_linear_light_blending_is_brighter_for_light_on_dark() -> None:
    """50% white over black: linear light gives sRGB 188, plain sRGB 128 (research/text.md §6)."""
    mask = np.full((1, 1), 128, np.uint8)
    lin = np.zeros((1, 1, 3), np.uint8)
    paint.composite_mask(lin, mask, 0, 0, "#fff")
    srgb = np.zeros((1, 1, 3), np.uint8)
    paint.composite_mask(srgb, mask, 0, 0, "#fff", blend="srgb")
    assert tuple(srgb[0, 0]) == (128, 128, 128)
    expected = round(float(ref.srgb_encode(ref.srgb_decode(1.0) * 128 / 255)) * 255)
    assert abs(int(lin[0, 0, 0]) - expected) <= 1 and expected == 188


def test_lookup_tables_round_trip_and_are_monotonic() -> None:
    dec, enc = paint.DECODE_LUT, paint.ENCODE_LUT
    idx = np.floor(dec.astype(np.float64) * (enc.size - 1) + 0.5).astype(int)
    assert np.array_equal(enc[idx], np.arange(256))  # decode→encode is the identity
    assert np.all(np.diff(dec) > 0) and np.all(np.diff(enc.astype(int)) >= 0)
    exact = ref.srgb_encode(np.arange(enc.size) / (enc.size - 1)) * 255
    assert np.abs(enc - exact).max() <= 0.5 + 1e-9


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), opacities)
def test_linear_blend_is_within_one_lsb_of_exact(d: int, s: int, m: int, opacity: float) -> None:
    frame = np.full((1, 1, 3), d, np.uint8)
    mask = np.full((1, 1), m, np.uint8)
    expected = ref.ref_composite_mask(frame, mask, 0, 0, Color(s, s, s), opacity, True)
    paint.composite_mask(frame, mask, 0, 0, Color(s, s, s), opacity=opacity)
    assert abs(int(frame[0, 0, 0]) - int(expected[0, 0, 0])) <= 1


def test_full_coverage_gives_the_exact_colour_in_both_modes() -> None:
    for blend in ("linear", "srgb"):
        frame = random_frame(1, 8, 8)
        paint.composite_mask(frame, np.full((8, 8), 255, np.uint8), 0, 0, "#123456", blend=blend)  # type: ignore[arg-type]
        assert np.all(frame == (0x12, 0x34, 0x56))


def test_mask_wholly_outside_or_empty_changes_nothing() -> None:
    frame = random_frame(2, 10, 10)
    before = frame.copy()
    mask = np.full((4, 4), 255, np.uint8)
    for x, y in ((-4, 0), (10, 0), (0, -4), (0, 10), (-100, -100)):
        paint.composite_mask(frame, mask, x, y, "#fff")
    paint.composite_mask(frame, np.zeros((0, 5), np.uint8), 2, 2, "#fff")
    paint.composite_mask(frame, mask, 2, 2, "#fff", opacity=0.0)
    paint.composite_mask(frame, mask, 2, 2, "transparent")
    assert np.array_equal(frame, before)


def test_gradient_fill_uses_the_gradient_box() -> None:
    """The same gradient over two masks side by side continues across them with gradient_box."""
    w = 40
    full = np.zeros((4, w, 3), np.uint8)
    halves = np.zeros((4, w, 3), np.uint8)
    fill = LinearGradient(90.0, parse_stops(["#000", "#fff"]))
    paint.composite_mask(full, np.full((4, w), 255, np.uint8), 0, 0, fill)
    half = np.full((4, w // 2), 255, np.uint8)
    for x in (0, w // 2):
        paint.composite_mask(halves, half, x, 0, fill, gradient_box=(0, 0, w, 4))
    assert np.array_equal(full, halves)
