"""Gradient kernels against the float64 reference: linear (fast opaque path and general path),
radial, conic; sRGB and Oklab interpolation; dithering; CSS geometry; edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _paint_strategies import (
    MAX_SIDE,
    NO_JIT,
    SPECIAL_ANGLES,
    assert_close,
    assert_untouched_outside,
    blends,
    boxes,
    frame_sizes,
    gradients,
    linear_gradients,
    opacities,
    random_frame,
    span,
    stops,
)
from hypothesis import given
from hypothesis import strategies as st
from reference import paint_ref as ref

from fastshare import paint
from fastshare.colors import Color
from fastshare.gradients import (
    OKLAB_TOLERANCE,
    ConicGradient,
    LinearGradient,
    RadialGradient,
    Stop,
    parse_stops,
    stop_table,
)

pytestmark = pytest.mark.kernel

THREE = parse_stops(["#0f2027", "#203a43 50%", "#2c5364"])
VIVID = parse_stops(["#ff0080", "#7928ca 30%", "#00d4ff"])
HARD = parse_stops(["#ef4444 0%", "#ef4444 40%", "#22c55e 40%", "#3b82f6 100%"])
SIDE = 24 if NO_JIT else 61


def _compare(
    fill: object, h: int, w: int, box: tuple[float, ...], opacity: float, blend: str, seed: int
) -> None:
    before = random_frame(seed, h, w)
    got = before.copy()
    paint.fill_rect(got, box, fill, opacity=opacity, blend=blend)  # type: ignore[arg-type]
    expected = ref.ref_fill_rect(before, box, fill, opacity, blend == "linear")
    _, t = ref.fill_colors(fill, box, h, w)
    assert_close(got, expected, ref.discontinuity_mask(fill, t))
    assert_untouched_outside(got, before, span(box, h, w))


@given(st.data(), frame_sizes(), gradients(), opacities, blends)
def test_fill_rect_with_any_gradient_matches_reference(
    data: st.DataObject, size: tuple[int, int], fill: object, opacity: float, blend: str
) -> None:
    h, w = size
    box = data.draw(boxes(h, w))
    _compare(fill, h, w, box, opacity, blend, seed=h * 1000 + w)


@given(frame_sizes(), linear_gradients(opaque=True), st.data())
def test_fast_linear_path_matches_reference(
    size: tuple[int, int], fill: LinearGradient, data: st.DataObject
) -> None:
    """Integer boxes, opaque stops, full opacity: the SIMD flat-byte kernel."""
    h, w = size
    x0 = data.draw(st.integers(-8, w))
    y0 = data.draw(st.integers(-8, h))
    box = (x0, y0, x0 + data.draw(st.integers(0, w + 10)), y0 + data.draw(st.integers(0, h + 10)))
    _compare(fill, h, w, box, 1.0, "srgb", seed=7)


@pytest.mark.parametrize("angle", SPECIAL_ANGLES)
@pytest.mark.parametrize("interpolation", ["srgb", "oklab"])
@pytest.mark.parametrize("stops_", [THREE, VIVID, HARD], ids=["three", "vivid", "hard"])
@pytest.mark.parametrize("dither", [False, True])
def test_linear_angles(
    angle: float, interpolation: str, stops_: tuple[Stop, ...], dither: bool
) -> None:
    fill = LinearGradient(angle, stops_, interpolation, dither)  # type: ignore[arg-type]
    _compare(fill, SIDE, SIDE + 7, (2, 3, SIDE + 4, SIDE - 2), 1.0, "srgb", seed=3)
    _compare(fill, SIDE, SIDE + 7, (2.5, 3.25, SIDE + 4.75, SIDE - 2), 0.7, "linear", seed=4)


@pytest.mark.parametrize(
    "fill",
    [
        RadialGradient(VIVID),
        RadialGradient(VIVID, shape="circle"),
        RadialGradient(HARD, cx=0.2, cy=0.9),
        RadialGradient(VIVID, cx=0.0, cy=0.0),  # closest-side is zero: farthest-side ratio
        RadialGradient(VIVID, cx=0.5, cy=0.0, shape="circle"),
        RadialGradient(VIVID, rx=10.0, ry=3.0, interpolation="oklab"),
        RadialGradient(VIVID, rx=0.0),  # degenerate: the last colour everywhere but the centre
        ConicGradient(VIVID),
        ConicGradient(HARD, start_angle=-30.0, cx=0.3),
        ConicGradient(
            parse_stops(["red", "blue", "red"]), start_angle=359.9, interpolation="oklab"
        ),
        ConicGradient(VIVID, cx=2.0, cy=-1.0, dither=True),
    ],
    ids=repr,
)
@pytest.mark.parametrize("opacity", [1.0, 0.45])
def test_radial_and_conic(fill: object, opacity: float) -> None:
    _compare(fill, SIDE, SIDE + 5, (1, 2, SIDE + 3, SIDE - 1), opacity, "srgb", seed=11)
    _compare(fill, SIDE, SIDE + 5, (-3.5, 2.2, SIDE + 9, SIDE - 1), opacity, "linear", seed=12)


def test_css_corners_get_the_end_stops_exactly() -> None:
    """The gradient line is |W sin a| + |H cos a| long: t is 0 and 1 at two opposite corners."""
    box = (10.0, 20.0, 310.0, 170.0)
    for angle in (0.0, 30.0, 45.0, 90.0, 115.0, 180.0, 200.0, 270.0, 359.9, -45.0):
        t00, dtx, dty = paint.linear_geometry(angle, box)
        corners = [(x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
        # pixel-centre formula evaluated at the corner points themselves (x - 0.5, y - 0.5)
        ts = [t00 + dtx * (x - 0.5) + dty * (y - 0.5) for x, y in corners]
        assert min(ts) == pytest.approx(0.0, abs=1e-12), angle
        assert max(ts) == pytest.approx(1.0, abs=1e-12), angle
        a = math.radians(angle)
        assert dtx == pytest.approx(math.sin(a) / (300 * abs(math.sin(a)) + 150 * abs(math.cos(a))))


def test_corner_pixels_have_the_stop_colours() -> None:
    h, w = 40, 90
    frame = np.zeros((h, w, 3), np.uint8)
    paint.fill_rect(frame, (0, 0, w, h), LinearGradient(135.0, parse_stops(["#ff0000", "#0000ff"])))
    # 135deg: towards the bottom right, so the top-left corner pixel is (almost) the first stop
    assert np.abs(frame[0, 0].astype(int) - (255, 0, 0)).max() <= 4
    assert np.abs(frame[-1, -1].astype(int) - (0, 0, 255)).max() <= 4


def test_default_direction_is_css() -> None:
    frame = np.zeros((20, 20, 3), np.uint8)
    paint.fill_rect(frame, (0, 0, 20, 20), {"type": "linear", "stops": ["#000", "#fff"]})
    assert frame[0, 10, 0] < 10 and frame[-1, 10, 0] > 245  # 180deg: top to bottom
    assert np.all(frame[:, 0] == frame[:, -1])  # constant along each row
    paint.fill_rect(frame, (0, 0, 20, 20), LinearGradient(90.0, parse_stops(["#000", "#fff"])))
    assert frame[10, 0, 0] < 10 and frame[10, -1, 0] > 245  # 90deg: left to right
    assert np.all(frame[0] == frame[-1])


@given(stops(max_size=4), st.floats(0.0, 1.0))
def test_one_or_more_stops_at_a_point(stops_: tuple[Stop, ...], t: float) -> None:
    """The kernels' colour model (premultiplied ramps) equals the CSS stop rules."""
    table = stop_table(stops_, "srgb")
    expected = ref.stop_colors(LinearGradient(0, stops_), np.array([t]))[0]
    got = np.array([np.interp(t, table.pos, table.col[:, c]) for c in range(4)])
    positions = [s.position for s in stops_]
    if any(abs(t - p) < 1e-6 for p in positions):
        return  # exactly on a (possibly hard) stop: either side is right
    assert np.abs(got - expected).max() < 1e-3


def test_one_stop_is_a_solid_colour() -> None:
    frame = random_frame(1, 12, 12)
    for fill in (
        LinearGradient(33.0, (Stop(Color(10, 20, 30), 0.4),)),
        RadialGradient((Stop(Color(10, 20, 30), 1.0),), dither=True),
        ConicGradient((Stop(Color(10, 20, 30), 0.0),), interpolation="oklab"),
    ):
        paint.fill_rect(frame, (0, 0, 12, 12), fill)
        assert np.all(frame == (10, 20, 30))


def test_coincident_stops_make_a_hard_edge() -> None:
    w = 40
    frame = np.zeros((4, w, 3), np.uint8)
    hard = parse_stops([["#ff0000", 0.0], ["#ff0000", 0.5], ["#0000ff", 0.5], ["#0000ff", 1.0]])
    paint.fill_rect(frame, (0, 0, w, 4), LinearGradient(90.0, hard))
    assert np.all(frame[:, : w // 2] == (255, 0, 0))
    assert np.all(frame[:, w // 2 :] == (0, 0, 255))


@pytest.mark.parametrize("angle", [0.0, 45.0, 90.0, 180.0, 270.0, 359.9])
def test_one_pixel_frames(angle: float) -> None:
    for fill in (
        LinearGradient(angle, VIVID),
        RadialGradient(VIVID),
        ConicGradient(VIVID, start_angle=angle),
    ):
        for box in ((0, 0, 1, 1), (0.25, 0.25, 0.75, 0.75), (-5, -5, 6, 6)):
            _compare(fill, 1, 1, box, 1.0, "srgb", seed=5)


@pytest.mark.parametrize(
    "box",
    [
        (5, 5, 5, 9),  # empty width
        (5, 5, 9, 5),  # empty height
        (-30, -30, -1, -1),  # wholly outside, top left
        (40, 40, 90, 90),  # wholly outside, bottom right
        (-3, -4, 10, 8),  # partly outside
        (20, 20, 100, 100),
        (-100, -100, 100, 100),  # covers the frame
        (-1e12, 3, 1e12, 5.5),  # absurdly wide
    ],
)
def test_rectangles_inside_outside_and_empty(box: tuple[float, ...]) -> None:
    h, w = 24, 32
    for fill in (LinearGradient(115.0, THREE), RadialGradient(VIVID), Color(1, 2, 3)):
        _compare(fill, h, w, box, 1.0, "srgb", seed=9)


@pytest.mark.parametrize("fill", [LinearGradient(115.0, THREE), LinearGradient(90.0, HARD)])
def test_every_pixel_of_the_rectangle_is_written(fill: LinearGradient) -> None:
    """Poison with two different values: an opaque fill leaves no trace of either inside."""
    h, w = SIDE, SIDE + 3
    box = (3, 2, w - 4, h - 1)
    results = []
    for poison in (0, 255):
        frame = np.full((h, w, 3), poison, np.uint8)
        before = frame.copy()
        paint.fill_rect(frame, box, fill)
        assert_untouched_outside(frame, before, span(box, h, w))
        results.append(frame)
    inside = (slice(box[1], box[3]), slice(box[0], box[2]))
    assert np.array_equal(results[0][inside], results[1][inside])


def test_fast_and_general_paths_agree() -> None:
    """The SIMD opaque path and the per-pixel path (opacity just below 1) agree to 1 LSB."""
    h, w = SIDE, SIDE * 2
    for fill in (LinearGradient(115.0, THREE), LinearGradient(33.0, VIVID, "oklab")):
        fast = np.zeros((h, w, 3), np.uint8)
        paint.fill_rect(fast, (0, 0, w, h), fill)
        slow = np.zeros((h, w, 3), np.uint8)
        paint.fill_rect(slow, (0, 0, w, h), fill, opacity=1.0 - 1e-9)
        assert_close(fast, slow)


def test_oklab_tables_are_within_tolerance_of_the_exact_curve() -> None:
    for pair in (["#1d4ed8", "#facc15"], ["red", "blue"], ["#000", "#fff"], ["#f00", "#0f08"]):
        stops_ = parse_stops(pair)
        table = stop_table(stops_, "oklab")
        t = np.linspace(0.0, 1.0, 4001)
        exact = ref.stop_colors(LinearGradient(0, stops_, "oklab"), t)
        approx = np.stack([np.interp(t, table.pos, table.col[:, c]) for c in range(4)], axis=1)
        assert np.abs(approx - exact).max() <= OKLAB_TOLERANCE + 0.01, pair
        assert table.pos.shape[0] <= 257


def test_oklab_differs_from_srgb_where_it_should() -> None:
    """Blue → yellow through sRGB passes a grey; Oklab keeps it lighter (the reason to offer it)."""
    stops_ = parse_stops(["#0000ff", "#ffff00"])
    mid_srgb = ref.stop_colors(LinearGradient(0, stops_), np.array([0.5]))[0]
    mid_oklab = ref.stop_colors(LinearGradient(0, stops_, "oklab"), np.array([0.5]))[0]
    assert np.allclose(mid_srgb[:3], 127.5)
    assert mid_oklab[:3].sum() > mid_srgb[:3].sum() + 60


@pytest.mark.skipif(NO_JIT, reason="needs a wide frame")
def test_dither_reduces_banding() -> None:
    """On a slow dark ramp, 8×8 block means of the dithered frame track the exact ramp better."""
    h, w = 64, 512
    slow = parse_stops(["#101820", "#1c2833"])
    exact = ref.stop_colors(
        LinearGradient(90.0, slow), ref.gradient_t(LinearGradient(90.0, slow), (0, 0, w, h), h, w)
    )[..., :3]
    errors = []
    for dither in (False, True):
        frame = np.zeros((h, w, 3), np.uint8)
        paint.fill_rect(frame, (0, 0, w, h), LinearGradient(90.0, slow, dither=dither))
        blocks = (frame.astype(float) - exact).reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))
        errors.append(np.abs(blocks).mean())
    assert errors[1] < errors[0] / 3


@given(st.data())
def test_dither_is_off_by_default_and_deterministic(data: st.DataObject) -> None:
    fill = data.draw(gradients())
    h, w = 9, MAX_SIDE
    a = np.zeros((h, w, 3), np.uint8)
    b = np.zeros((h, w, 3), np.uint8)
    paint.fill_rect(a, (0, 0, w, h), fill)
    paint.fill_rect(b, (0, 0, w, h), fill)
    assert np.array_equal(a, b)
    assert LinearGradient(0.0, THREE).dither is False
