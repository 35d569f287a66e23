"""Bad input to the paint API: a typed error naming the parameter and the value, raised in Python
before any kernel runs (the kernels are replaced by tripwires here)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fastshare import paint
from fastshare.colors import Color
from fastshare.errors import ClientError, ColorError, ValueRangeError
from fastshare.gradients import (
    ConicGradient,
    LinearGradient,
    RadialGradient,
    Stop,
    parse_fill,
    parse_stops,
)

RED = Color(255, 0, 0)
STOPS = (Stop(RED, 0.0), Stop(Color(0, 0, 255), 1.0))


@pytest.fixture
def tripwires(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any kernel call fails the test: validation must reject the input first."""

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a kernel ran on invalid input")

    for module, names in (
        (paint._fill, ["fill_solid"]),
        (paint._gradient, ["linear_gradient"]),
        (paint._shapes, ["paint_shape", "shape_mask"]),
        (paint._composite, ["composite_mask", "composite_mask_solid"]),
        (paint._blit, ["blit_rgba"]),
        (paint._blur_kernels, ["box_blur"]),
    ):
        for name in names:
            monkeypatch.setattr(module, name, boom)


def _frame() -> np.ndarray:
    return np.zeros((8, 8, 3), np.uint8)


def _expect(
    call: Callable[[], object], error: type[ClientError], field: str, value: object = ...
) -> None:
    with pytest.raises(error) as info:
        call()
    err = info.value
    assert err.field == field, (err.field, str(err))
    assert field in str(err)
    if value is not ...:
        if isinstance(value, float) and math.isnan(value):
            assert isinstance(err.value, float) and math.isnan(err.value)
        else:
            assert err.value == value
        assert repr(value) in str(err) or str(value) in str(err)


BAD_CALLS: list[tuple[Any, ...]] = [
    (
        "colour #12345",
        lambda: paint.fill_rect(_frame(), (0, 0, 4, 4), "#12345"),
        ColorError,
        "fill",
        "#12345",
    ),
    (
        "colour rgb(300,0,0)",
        lambda: paint.fill_rect(_frame(), (0, 0, 4, 4), "rgb(300,0,0)"),
        ColorError,
        "fill",
        "rgb(300,0,0)",
    ),
    (
        "colour blue-ish",
        lambda: paint.draw_ellipse(_frame(), (0, 0, 4, 4), "blue-ish"),
        ColorError,
        "fill",
        "blue-ish",
    ),
    (
        "stroke colour",
        lambda: paint.draw_rounded_rect(
            _frame(), (0, 0, 4, 4), RED, stroke="#12345", stroke_width=1
        ),
        ColorError,
        "stroke",
        "#12345",
    ),
    (
        "NaN box",
        lambda: paint.fill_rect(_frame(), (0, float("nan"), 4, 4), RED),
        ValueRangeError,
        "box[1]",
        float("nan"),
    ),
    (
        "negative width",
        lambda: paint.fill_rect(_frame(), (5, 0, 4, 4), RED),
        ValueRangeError,
        "box",
        (5, 0, 4, 4),
    ),
    (
        "negative height",
        lambda: paint.draw_ellipse(_frame(), (0, 5, 4, 4), RED),
        ValueRangeError,
        "box",
        (0, 5, 4, 4),
    ),
    (
        "infinite box",
        lambda: paint.draw_ellipse(_frame(), (0, 0, math.inf, 4), RED),
        ValueRangeError,
        "box[2]",
        math.inf,
    ),
    (
        "box of 3",
        lambda: paint.fill_rect(_frame(), (0, 0, 4), RED),
        ValueRangeError,
        "box",
        (0, 0, 4),
    ),
    (
        "opacity 2",
        lambda: paint.fill_rect(_frame(), (0, 0, 4, 4), RED, opacity=2.0),
        ValueRangeError,
        "opacity",
        2.0,
    ),
    (
        "opacity NaN",
        lambda: paint.composite_mask(
            _frame(), np.zeros((2, 2), np.uint8), 0, 0, RED, opacity=float("nan")
        ),
        ValueRangeError,
        "opacity",
        float("nan"),
    ),
    (
        "negative radius",
        lambda: paint.draw_rounded_rect(_frame(), (0, 0, 4, 4), RED, radii=-1.0),
        ValueRangeError,
        "radii",
        -1.0,
    ),
    (
        "NaN corner",
        lambda: paint.draw_rounded_rect(_frame(), (0, 0, 4, 4), RED, radii=(1, 1, float("nan"), 1)),
        ValueRangeError,
        "radii[2]",
        float("nan"),
    ),
    (
        "negative stroke",
        lambda: paint.draw_ellipse(_frame(), (0, 0, 4, 4), RED, stroke=RED, stroke_width=-2.0),
        ValueRangeError,
        "stroke_width",
        -2.0,
    ),
    (
        "blend",
        lambda: paint.fill_rect(_frame(), (0, 0, 4, 4), RED, blend="gamma"),
        ValueRangeError,
        "blend",
        "gamma",
    ),  # type: ignore[arg-type]
    (
        "frame dtype",
        lambda: paint.fill_rect(np.zeros((4, 4, 3), np.float32), (0, 0, 4, 4), RED),
        ValueRangeError,
        "frame",
    ),
    (
        "frame channels",
        lambda: paint.fill_rect(np.zeros((4, 4, 4), np.uint8), (0, 0, 4, 4), RED),
        ValueRangeError,
        "frame",
    ),
    (
        "frame strides",
        lambda: paint.fill_rect(np.zeros((4, 8, 3), np.uint8)[:, ::2], (0, 0, 4, 4), RED),
        ValueRangeError,
        "frame",
    ),
    (
        "frame read-only",
        lambda: paint.fill_rect(
            np.broadcast_to(np.zeros(3, np.uint8), (4, 4, 3)), (0, 0, 4, 4), RED
        ),
        ValueRangeError,
        "frame",
    ),
    (
        "mask dtype",
        lambda: paint.composite_mask(_frame(), np.zeros((2, 2), np.float32), 0, 0, RED),
        ValueRangeError,
        "mask",
    ),
    (
        "mask x",
        lambda: paint.composite_mask(_frame(), np.zeros((2, 2), np.uint8), 1.5, 0, RED),
        ValueRangeError,
        "x",
        1.5,
    ),
    (
        "mask y",
        lambda: paint.composite_mask(_frame(), np.zeros((2, 2), np.uint8), 0, True, RED),
        ValueRangeError,
        "y",
        True,
    ),
    (
        "gradient box",
        lambda: paint.composite_mask(
            _frame(), np.zeros((2, 2), np.uint8), 0, 0, RED, gradient_box=(0, 0, -1, 1)
        ),
        ValueRangeError,
        "gradient_box",
    ),
    (
        "blit src",
        lambda: paint.blit_rgba(_frame(), np.zeros((2, 2, 3), np.uint8), 0, 0),
        ValueRangeError,
        "src",
    ),
    (
        "blit x",
        lambda: paint.blit_rgba(_frame(), np.zeros((2, 2, 4), np.uint8), "1", 0),
        ValueRangeError,
        "x",
        "1",
    ),
    (
        "blur radius",
        lambda: paint.blur_mask(np.zeros((2, 2), np.uint8), -1.0),
        ValueRangeError,
        "radius",
        -1.0,
    ),
    (
        "blur radius NaN",
        lambda: paint.blur_rgba(np.zeros((2, 2, 4), np.uint8), float("nan")),
        ValueRangeError,
        "radius",
        float("nan"),
    ),
    (
        "blur radius huge",
        lambda: paint.blur_mask(np.zeros((2, 2), np.uint8), 1e9),
        ValueRangeError,
        "radius",
        1e9,
    ),
    ("mask width", lambda: paint.rounded_rect_mask(-3, 4), ValueRangeError, "width", -3),
    (
        "stops out of order (fill)",
        lambda: paint.fill_rect(
            _frame(), (0, 0, 4, 4), {"type": "linear", "stops": ["red 60%", "blue 20%"]}
        ),
        ValueRangeError,
        "fill.stops[1].position",
        0.2,
    ),
    (
        "stop outside [0, 1] (fill)",
        lambda: paint.fill_rect(
            _frame(), (0, 0, 4, 4), {"type": "radial", "stops": ["red", "blue 150%"]}
        ),
        ValueRangeError,
        "fill.stops[1].position",
        "150%",
    ),
    (
        "NaN angle (fill)",
        lambda: paint.fill_rect(
            _frame(),
            (0, 0, 4, 4),
            {"type": "linear", "angle": float("nan"), "stops": ["red", "blue"]},
        ),
        ValueRangeError,
        "fill.angle",
        float("nan"),
    ),
    (
        "bad colour in stops",
        lambda: paint.fill_rect(
            _frame(), (0, 0, 4, 4), {"type": "conic", "stops": ["red", "#12345"]}
        ),
        ColorError,
        "fill.stops[1]",
        "#12345",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "field", "value"),
    [(*c[1:], ...)[:4] for c in BAD_CALLS],
    ids=[c[0] for c in BAD_CALLS],
)
@pytest.mark.usefixtures("tripwires")
def test_bad_input_is_rejected_before_any_kernel(
    call: Callable[[], object], error: type[ClientError], field: str, value: object
) -> None:
    _expect(call, error, field, value)


@pytest.mark.parametrize(
    ("make", "field", "value"),
    [
        (lambda: LinearGradient(float("nan"), STOPS), "angle", float("nan")),
        (lambda: LinearGradient(math.inf, STOPS), "angle", math.inf),
        (lambda: LinearGradient(0.0, ()), "stops", ()),
        (lambda: LinearGradient(0.0, (Stop(RED, 0.7), Stop(RED, 0.2))), "stops[1].position", 0.2),
        (lambda: LinearGradient(0.0, STOPS, "hsl"), "interpolation", "hsl"),  # type: ignore[arg-type]
        (lambda: LinearGradient(0.0, STOPS, dither=1), "dither", 1),  # type: ignore[arg-type]
        (lambda: Stop(RED, 1.5), "position", 1.5),
        (lambda: Stop(RED, -0.1), "position", -0.1),
        (lambda: Stop(RED, float("nan")), "position", float("nan")),
        (lambda: RadialGradient(STOPS, rx=-1.0), "rx", -1.0),
        (lambda: RadialGradient(STOPS, rx=2.0, ry=float("nan")), "ry", float("nan")),
        (lambda: RadialGradient(STOPS, ry=3.0), "ry", 3.0),
        (lambda: RadialGradient(STOPS, rx=2.0, ry=3.0, shape="circle"), "ry", 3.0),
        (lambda: RadialGradient(STOPS, shape="square"), "shape", "square"),  # type: ignore[arg-type]
        (lambda: RadialGradient(STOPS, cx=float("nan")), "cx", float("nan")),
        (lambda: ConicGradient(STOPS, start_angle=float("inf")), "start_angle", math.inf),
        (lambda: ConicGradient(STOPS, cy="middle"), "cy", "middle"),  # type: ignore[arg-type]
        (lambda: parse_stops(["red 20%", "blue 10%"]), "stops[1].position", 0.1),
        (lambda: parse_stops(["red", ["blue", 1.5]]), "stops[1].position", 1.5),
        (lambda: parse_stops(["red", "blue 101%"]), "stops[1].position", "101%"),
        (lambda: parse_stops([]), "stops", []),
        (lambda: parse_stops("red, blue"), "stops", "red, blue"),
        (lambda: parse_stops([{"colour": "red"}]), "stops[0]", {"colour": "red"}),
        (lambda: parse_fill({"type": "spiral", "stops": ["red"]}), "fill.type", "spiral"),
        (lambda: parse_fill({"type": "linear", "stops": ["red"], "angel": 3}), "fill.angel", 3),
        (lambda: parse_fill({"type": "radial", "stops": ["red"], "rx": -4}), "fill.rx", -4),
    ],
)
def test_gradient_validation_names_the_field(
    make: Callable[[], object], field: str, value: object
) -> None:
    _expect(make, ValueRangeError, field, value)


def test_stop_colour_errors_name_the_stop() -> None:
    _expect(lambda: parse_stops(["red", "blue-ish 40%"]), ColorError, "stops[1]", "blue-ish 40%")
    _expect(
        lambda: parse_stops([["rgb(300,0,0)", 0.5]]), ColorError, "stops[0].color", "rgb(300,0,0)"
    )


def test_loose_stop_forms() -> None:
    stops = parse_stops(
        ["#0f2027", "#203A43 50%", ["#2c5364", 0.8], {"color": "red"}, Stop(RED, 1.0)]
    )
    assert [s.position for s in stops] == [0.0, 0.5, 0.8, 0.9, 1.0]
    assert stops[1].color == Color(0x20, 0x3A, 0x43)
    even = parse_stops(["red", "lime", "blue", "white", "black"])
    assert [s.position for s in even] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert parse_stops(["rgb(1 2 3 / 50%) 10%"])[0] == Stop(Color(1, 2, 3, 128), 0.1)
    assert parse_stops(["rgb(1 2 3 / 50%)"])[0].position == 0.0
    assert parse_stops([[1, 2, 3]])[0].color == Color(1, 2, 3)
    with_hard = parse_stops(["red 0%", "red 50%", "blue 50%", "blue"])
    assert [s.position for s in with_hard] == [0.0, 0.5, 0.5, 1.0]


def test_parse_fill_forms() -> None:
    assert parse_fill("rebeccapurple") == Color(0x66, 0x33, 0x99)
    g = parse_fill({"type": "linear", "stops": ["red", "blue"]})
    assert isinstance(g, LinearGradient) and g.angle == 180.0
    r = parse_fill({"type": "radial", "stops": ["red", "blue"], "shape": "circle", "cx": 0.2})
    assert isinstance(r, RadialGradient) and r.shape == "circle" and r.cx == 0.2
    c = parse_fill({"type": "conic", "stops": ["red", "blue"], "start_angle": 45, "dither": True})
    assert isinstance(c, ConicGradient) and c.dither
    assert parse_fill(g) is g


def test_valid_edge_values_are_accepted() -> None:
    frame = _frame()
    paint.fill_rect(frame, (0, 0, 0, 0), RED)  # empty
    paint.fill_rect(frame, (-10, -10, -5, -5), RED)  # outside
    paint.draw_rounded_rect(frame, (0, 0, 8, 8), RED, radii=1e6)  # radius > half side
    LinearGradient(-45.0, STOPS)  # negative angles are CSS
    LinearGradient(1e6, STOPS)
    paint.composite_mask(frame, np.zeros((2, 2), np.uint8), np.int64(3), 2.0, RED)
    assert np.all(frame[4, 4] == (255, 0, 0))
