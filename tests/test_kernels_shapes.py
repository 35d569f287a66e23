"""Shape kernels: rounded rectangles and ellipses with analytic coverage, strokes and opacity,
against the float64 reference, against true (supersampled) area, and on edge cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _paint_strategies import (
    NO_JIT,
    assert_close,
    assert_untouched_outside,
    blends,
    boxes,
    colors,
    fills,
    frame_sizes,
    opacities,
    random_frame,
    span,
)
from hypothesis import given
from hypothesis import strategies as st
from reference import paint_ref as ref

from fastshare import paint
from fastshare.colors import Color
from fastshare.gradients import LinearGradient, RadialGradient, parse_stops

pytestmark = pytest.mark.kernel

SIDE = 24 if NO_JIT else 64
radii_values = st.one_of(st.just(0.0), st.floats(0.0, 40.0), st.floats(0.0, 3.0))


def _exclusions(fill: Any, box: tuple[float, ...], h: int, w: int) -> np.ndarray | None:
    if fill is None or isinstance(fill, Color):
        return None
    _, t = ref.fill_colors(fill, box, h, w)
    return ref.discontinuity_mask(fill, t)


@given(st.data(), frame_sizes(), st.one_of(st.none(), fills), opacities, blends)
def test_rounded_rect_matches_reference(
    data: st.DataObject, size: tuple[int, int], fill: Any, opacity: float, blend: str
) -> None:
    h, w = size
    box = data.draw(boxes(h, w))
    radii = tuple(data.draw(st.lists(radii_values, min_size=4, max_size=4)))
    stroke = data.draw(st.one_of(st.none(), colors))
    stroke_width = data.draw(st.one_of(st.just(0.0), st.floats(0.0, 12.0)))
    before = random_frame(h + 7 * w, h, w)
    got = before.copy()
    paint.draw_rounded_rect(
        got,
        box,
        fill,
        radii=radii,
        stroke=stroke,
        stroke_width=stroke_width,
        opacity=opacity,
        blend=blend,  # type: ignore[arg-type]
    )
    expected = ref.ref_rounded_rect(
        before, box, fill, radii, stroke, stroke_width, opacity, blend == "linear"
    )
    assert_close(got, expected, _exclusions(fill, box, h, w))
    assert_untouched_outside(got, before, span(box, h, w))


@given(st.data(), frame_sizes(), st.one_of(st.none(), fills), opacities, blends)
def test_ellipse_matches_reference(
    data: st.DataObject, size: tuple[int, int], fill: Any, opacity: float, blend: str
) -> None:
    h, w = size
    box = data.draw(boxes(h, w))
    stroke = data.draw(st.one_of(st.none(), colors))
    stroke_width = data.draw(st.one_of(st.just(0.0), st.floats(0.0, 12.0)))
    before = random_frame(h + 5 * w, h, w)
    got = before.copy()
    paint.draw_ellipse(
        got,
        box,
        fill,
        stroke=stroke,
        stroke_width=stroke_width,
        opacity=opacity,
        blend=blend,  # type: ignore[arg-type]
    )
    expected = ref.ref_ellipse(before, box, fill, stroke, stroke_width, opacity, blend == "linear")
    assert_close(got, expected, _exclusions(fill, box, h, w))
    assert_untouched_outside(got, before, span(box, h, w))


def _true_rrect(box: tuple[float, ...], r: tuple[float, ...]) -> Any:
    x0, y0, x1, y1 = box
    tl, tr, br, bl = r

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ok = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
        for rad, cx, cy, sx, sy in (
            (tl, x0 + tl, y0 + tl, -1, -1),
            (tr, x1 - tr, y0 + tr, 1, -1),
            (br, x1 - br, y1 - br, 1, 1),
            (bl, x0 + bl, y1 - bl, -1, 1),
        ):
            corner = ((x - cx) * sx > 0) & ((y - cy) * sy > 0)
            ok &= ~corner | ((x - cx) ** 2 + (y - cy) ** 2 <= rad**2)
        return ok

    return inside


@pytest.mark.parametrize(
    ("box", "radii"),
    [
        ((2.0, 3.0, 58.0, 40.0), (10.0, 10.0, 10.0, 10.0)),
        ((2.3, 3.6, 57.1, 40.9), (0.0, 6.5, 18.0, 2.0)),
        ((5.5, 5.5, 30.5, 30.5), (12.5, 12.5, 12.5, 12.5)),  # a circle
        ((1.0, 1.0, 61.0, 41.0), (0.0, 0.0, 0.0, 0.0)),
    ],
)
def test_rounded_rect_coverage_is_close_to_the_true_area(
    box: tuple[float, ...], radii: tuple[float, ...]
) -> None:
    h, w = 44, 64
    mask = np.zeros((h, w), np.uint8)
    params = np.array([*box, *radii], np.float64)
    from fastshare.kernels.shapes import SHAPE_RRECT, shape_mask

    shape_mask(mask, 0.0, 0.0, SHAPE_RRECT, params)
    true = ref.supersampled_coverage(_true_rrect(box, radii), h, w, n=16)
    # curved edges: within 0.08 of the true area (documented); 16×16 sampling itself is ±1/256
    assert np.abs(mask / 255.0 - true).max() < 0.08
    if radii == (0.0, 0.0, 0.0, 0.0):  # straight edges are exact
        assert np.abs(mask / 255.0 - true).max() <= 1 / 255 + 1 / 256 + 1e-9
    assert np.abs(mask / 255.0 - ref.rrect_coverage(h, w, box, radii)).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize(
    "box",
    [(4.0, 4.0, 60.0, 40.0), (10.3, 2.7, 30.9, 41.2), (3.0, 18.0, 61.0, 26.0), (20, 5, 24, 9)],
)
def test_ellipse_coverage_is_close_to_the_true_area(box: tuple[float, ...]) -> None:
    h, w = 44, 64
    x0, y0, x1, y1 = box
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    got = np.zeros((h, w, 3), np.uint8)
    paint.draw_ellipse(got, box, Color(255, 255, 255))

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0

    true = ref.supersampled_coverage(inside, h, w, n=16)
    assert np.abs(got[..., 0] / 255.0 - true).max() < 0.1
    # the area: within 1% (within 1 px² for tiny ellipses, where pixel-centre sampling dominates)
    assert abs(got[..., 0].sum() / 255.0 - np.pi * rx * ry) < max(0.01 * np.pi * rx * ry, 1.0)


def test_radius_larger_than_half_a_side_is_scaled_as_css() -> None:
    """100×40 with radius 100: every radius scales by 40/200, a 20 px stadium."""
    a = paint.rounded_rect_mask(100, 40, 100.0)
    b = paint.rounded_rect_mask(100, 40, 20.0)
    assert np.array_equal(a, b)
    c = paint.rounded_rect_mask(100, 40, (40.0, 0.0, 0.0, 40.0))  # left side: 80 > 40, × 0.5
    d = paint.rounded_rect_mask(100, 40, (20.0, 0.0, 0.0, 20.0))
    assert np.array_equal(c, d)
    assert a[20, 0] > 100 and a[0, 0] == 0 and a[20, 50] == 255


def test_full_coverage_pixels_get_the_exact_fill_and_the_span_is_respected() -> None:
    h, w = SIDE, SIDE + 10
    box = (3.5, 2.25, w - 4.5, h - 3.75)
    for poison in (0, 255):
        frame = np.full((h, w, 3), poison, np.uint8)
        before = frame.copy()
        paint.draw_rounded_rect(frame, box, Color(10, 200, 30), radii=(0, 3, 6, 9))
        assert_untouched_outside(frame, before, span(box, h, w))
        interior = frame[5 : h - 6, 12 : w - 12]
        assert np.all(interior == (10, 200, 30))


def test_stroke_only_leaves_the_inside_untouched() -> None:
    h, w = SIDE, SIDE
    frame = random_frame(2, h, w)
    before = frame.copy()
    paint.draw_rounded_rect(
        frame, (2, 2, w - 2, h - 2), None, radii=4, stroke="red", stroke_width=2
    )
    assert np.array_equal(frame[5 : h - 5, 5 : w - 5], before[5 : h - 5, 5 : w - 5])
    assert np.all(frame[h // 2, 2:4] == (255, 0, 0))


def test_stroke_over_fill_has_no_seam() -> None:
    """The stroke's inner edge blends into the fill in one pass: no dark ring on equal colours."""
    frame = np.zeros((SIDE, SIDE, 3), np.uint8)
    paint.draw_ellipse(
        frame, (2.3, 2.3, SIDE - 2.7, SIDE - 2.7), "#ffffff", stroke="#fff", stroke_width=3.3
    )
    inner = frame[6 : SIDE - 6, SIDE // 2]
    assert np.all(inner == 255)


@given(st.sampled_from(["rrect", "ellipse"]), st.floats(0.0, 1.0), colors)
def test_transparent_or_zero_opacity_changes_nothing(
    kind: str, opacity: float, color: Color
) -> None:
    frame = random_frame(3, 12, 12)
    before = frame.copy()
    draw = paint.draw_rounded_rect if kind == "rrect" else paint.draw_ellipse
    draw(frame, (1.5, 1.5, 10.5, 10.5), Color(color.r, color.g, color.b, 0), opacity=opacity)
    draw(frame, (1.5, 1.5, 10.5, 10.5), color, opacity=0.0)
    draw(frame, (1.5, 1.5, 10.5, 10.5), None)
    assert np.array_equal(frame, before)


@pytest.mark.parametrize(
    "box", [(0, 0, 1, 1), (0.2, 0.3, 0.7, 0.9), (-1, -1, 2, 2), (0.5, 0.5, 0.5, 0.5)]
)
@pytest.mark.parametrize(
    "fill", [Color(250, 10, 20), LinearGradient(45, parse_stops(["red", "blue"]))]
)
def test_one_pixel_frames(box: tuple[float, ...], fill: Any) -> None:
    before = np.full((1, 1, 3), 77, np.uint8)
    for blend in ("srgb", "linear"):
        got = before.copy()
        paint.draw_rounded_rect(
            got, box, fill, radii=0.7, stroke="#0f0", stroke_width=0.3, blend=blend
        )  # type: ignore[arg-type]
        expected = ref.ref_rounded_rect(
            before, box, fill, (0.7,) * 4, Color(0, 255, 0), 0.3, 1.0, blend == "linear"
        )
        assert_close(got, expected)
        got = before.copy()
        paint.draw_ellipse(got, box, fill, blend=blend)  # type: ignore[arg-type]
        assert_close(got, ref.ref_ellipse(before, box, fill, None, 0.0, 1.0, blend == "linear"))


def test_gradient_fill_follows_the_shape_box() -> None:
    """A gradient fill's geometry is the shape's box (CSS background), not the frame."""
    frame = np.zeros((20, 60, 3), np.uint8)
    fill = LinearGradient(90.0, parse_stops(["#000", "#fff"]))
    paint.draw_rounded_rect(frame, (30, 0, 60, 20), fill)
    assert frame[10, 30, 0] < 10 and frame[10, 59, 0] > 245
    assert np.all(frame[:, :30] == 0)


def test_opacity_is_group_opacity() -> None:
    """An opaque stroke over a fill at opacity 0.5 shows the stroke, not the fill through it."""
    frame = np.zeros((20, 20, 3), np.uint8)
    paint.draw_rounded_rect(
        frame, (0, 0, 20, 20), "#0000ff", stroke="#ff0000", stroke_width=4, opacity=0.5
    )
    assert tuple(frame[10, 1]) == (128, 0, 0)
    assert tuple(frame[10, 10]) == (0, 0, 128)


def test_shapes_and_masks_agree() -> None:
    """rounded_rect_mask + composite_mask (sRGB) equals draw_rounded_rect for a solid colour."""
    w, h = 40, 30
    a = random_frame(4, h, w)
    b = a.copy()
    paint.draw_rounded_rect(a, (0, 0, w, h), "#336699", radii=(3, 9, 0, 14))
    mask = paint.rounded_rect_mask(w, h, (3, 9, 0, 14))
    paint.composite_mask(b, mask, 0, 0, "#336699", blend="srgb")
    assert_close(a, b)
    e = paint.ellipse_mask(w, h)
    assert e[h // 2, w // 2] == 255 and e[0, 0] == 0
    assert e.shape == (h, w) and paint.rounded_rect_mask(0, 5).shape == (5, 0)
    params = RadialGradient(parse_stops(["red", "blue"]))  # a gradient fill on a mask works too
    paint.composite_mask(b, mask, 0, 0, params)
