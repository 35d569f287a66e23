"""Hypothesis strategies and assertions shared by the paint-kernel tests (``test_kernels_*.py``).

Sizes shrink when ``NUMBA_DISABLE_JIT=1`` (pure-Python kernels are ~1000× slower).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import strategies as st

from fastshare.colors import Color
from fastshare.gradients import ConicGradient, LinearGradient, RadialGradient, Stop

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
MAX_SIDE = 20 if NO_JIT else 72

u8 = st.integers(0, 255)
opaque_colors = st.builds(Color, u8, u8, u8, st.just(255))
colors = st.one_of(opaque_colors, st.builds(Color, u8, u8, u8, u8))
SPECIAL_ANGLES = (0.0, 45.0, 90.0, 180.0, 270.0, 359.9, -90.0, 720.0, 115.0)
angles = st.one_of(st.sampled_from(SPECIAL_ANGLES), st.floats(-720, 720, allow_nan=False))
interpolations = st.sampled_from(("srgb", "oklab"))
positions = st.one_of(st.sampled_from((0.0, 0.25, 0.5, 1.0)), st.floats(0.0, 1.0))


@st.composite
def stops(draw: Any, opaque: bool = False, max_size: int = 5) -> tuple[Stop, ...]:
    n = draw(st.integers(1, max_size))
    pos = sorted(draw(st.lists(positions, min_size=n, max_size=n)))
    if draw(st.booleans()) and n >= 3:  # a hard stop: two stops at one position
        i = draw(st.integers(1, n - 1))
        pos[i] = pos[i - 1]
    palette = opaque_colors if opaque else colors
    return tuple(Stop(draw(palette), p) for p in pos)


def linear_gradients(opaque: bool = False) -> st.SearchStrategy[LinearGradient]:
    return st.builds(LinearGradient, angles, stops(opaque), interpolations, st.booleans())


def radial_gradients(opaque: bool = False) -> st.SearchStrategy[RadialGradient]:
    radius = st.one_of(st.none(), st.floats(0.0, 80.0))

    @st.composite
    def build(draw: Any) -> RadialGradient:
        shape = draw(st.sampled_from(("circle", "ellipse")))
        rx = draw(radius)
        ry = draw(radius) if (rx is not None and shape == "ellipse") else None
        return RadialGradient(
            draw(stops(opaque)),
            cx=draw(st.floats(-0.5, 1.5)),
            cy=draw(st.floats(-0.5, 1.5)),
            rx=rx,
            ry=ry,
            shape=shape,
            interpolation=draw(interpolations),
            dither=draw(st.booleans()),
        )

    return build()


def conic_gradients(opaque: bool = False) -> st.SearchStrategy[ConicGradient]:
    return st.builds(
        ConicGradient,
        stops(opaque),
        cx=st.floats(-0.5, 1.5),
        cy=st.floats(-0.5, 1.5),
        start_angle=angles,
        interpolation=interpolations,
        dither=st.booleans(),
    )


def gradients(opaque: bool = False) -> st.SearchStrategy[Any]:
    return st.one_of(linear_gradients(opaque), radial_gradients(opaque), conic_gradients(opaque))


fills = st.one_of(colors, gradients())
opacities = st.one_of(st.just(1.0), st.floats(0.0, 1.0))
blends = st.sampled_from(("srgb", "linear"))


@st.composite
def frame_sizes(draw: Any) -> tuple[int, int]:
    return draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))


def coordinate(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Integers (fast paths) and arbitrary floats (antialiased paths) in [lo, hi]."""
    return st.one_of(
        st.integers(int(np.ceil(lo)), int(np.floor(hi))).map(float),
        st.floats(lo, hi, allow_nan=False),
    )


@st.composite
def boxes(draw: Any, h: int, w: int) -> tuple[float, float, float, float]:
    """Boxes inside, across or wholly outside an h×w frame, including empty ones."""
    x0 = draw(coordinate(-12, w + 4))
    y0 = draw(coordinate(-12, h + 4))
    x1 = x0 + draw(coordinate(0, w + 16))
    y1 = y0 + draw(coordinate(0, h + 16))
    return (x0, y0, x1, y1)


def random_frame(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def span(box: tuple[float, ...], h: int, w: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return (
        max(int(np.floor(x0)), 0),
        max(int(np.floor(y0)), 0),
        min(int(np.ceil(x1)), w),
        min(int(np.ceil(y1)), h),
    )


def assert_close(
    got: np.ndarray, expected: np.ndarray, exclude: np.ndarray | None = None, tol: int = 1
) -> None:
    """Every pixel within ``tol`` LSB of the reference, except the ``exclude`` mask."""
    diff = np.abs(got.astype(np.int32) - expected.astype(np.int32))
    if diff.ndim == 3:
        diff = diff.max(axis=2)
    if exclude is not None:
        diff = np.where(exclude, 0, diff)
    worst = int(diff.max()) if diff.size else 0
    if worst > tol:
        y, x = np.unravel_index(int(diff.argmax()), diff.shape)
        msg = (
            f"max difference {worst} LSB > {tol} at (x={x}, y={y}): got {got[y, x]}, "
            f"expected {expected[y, x]}; {int((diff > tol).sum())} pixels over"
        )
        raise AssertionError(msg)


def assert_untouched_outside(
    got: np.ndarray, before: np.ndarray, rect: tuple[int, int, int, int]
) -> None:
    """Pixels outside the integer rectangle ``rect`` (x0, y0, x1, y1) are bit-identical."""
    x0, y0, x1, y1 = rect
    outside = np.ones(got.shape[:2], bool)
    if x1 > x0 and y1 > y0:
        outside[y0:y1, x0:x1] = False
    changed = np.any(got != before, axis=-1) & outside
    if changed.any():
        ys, xs = np.nonzero(changed)
        msg = f"{len(xs)} pixels outside {rect} changed, e.g. (x={xs[0]}, y={ys[0]})"
        raise AssertionError(msg)
