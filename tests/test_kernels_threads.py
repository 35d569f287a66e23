"""Kernels release the GIL: two threads painting separate frames at once give the same pixels as
one thread painting them one after the other (web apps call render() from threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
from _paint_strategies import NO_JIT

from fastshare import paint
from fastshare.colors import Color
from fastshare.gradients import ConicGradient, LinearGradient, RadialGradient, parse_stops

pytestmark = pytest.mark.kernel

H, W = (16, 24) if NO_JIT else (315, 600)
STOPS = parse_stops(["#0f2027", "#203a43 50%", "#2c5364"])
VIVID = parse_stops(["#ff0080", "rgba(121, 40, 202, 0.6) 30%", "#00d4ff"])


def _scene(seed: int) -> np.ndarray:
    """Every kernel once, with parameters that differ by seed, into a fresh frame."""
    rng = np.random.default_rng(seed)
    frame = np.zeros((H, W, 3), np.uint8)
    paint.fill_rect(frame, (0, 0, W, H), LinearGradient(float(rng.uniform(0, 360)), STOPS))
    paint.fill_rect(frame, (3.5, 2.5, W * 0.6, H * 0.7), RadialGradient(VIVID), opacity=0.8)
    paint.draw_rounded_rect(
        frame,
        (W * 0.1, H * 0.2, W * 0.9, H * 0.8),
        ConicGradient(VIVID, start_angle=float(rng.uniform(0, 360)), dither=True),
        radii=(H * 0.1, 0, H * 0.3, 5),
        stroke=Color(255, 255, 255, 200),
        stroke_width=3.5,
        opacity=0.9,
    )
    paint.draw_ellipse(frame, (W * 0.3, H * 0.1, W * 0.7, H * 0.9), "#facc15", blend="linear")
    mask = rng.integers(0, 256, (H // 2, W // 2), dtype=np.uint8)
    paint.composite_mask(frame, paint.blur_mask(mask, 6.0), W // 4, H // 4, "#ffffff")
    paint.composite_mask(frame, mask, -5, H // 2, LinearGradient(90.0, VIVID), blend="srgb")
    src = rng.integers(0, 256, (H // 3, W // 3, 4), dtype=np.uint8)
    src[..., :3] = (src[..., :3].astype(np.uint16) * src[..., 3:] // 255).astype(np.uint8)
    paint.blit_rgba(frame, paint.blur_rgba(src, 4.0), W // 2, H // 3, opacity=0.7)
    return frame


def _run_in_threads(jobs: list[Callable[[], np.ndarray]]) -> list[np.ndarray]:
    results: list[np.ndarray | None] = [None] * len(jobs)
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def worker(i: int) -> None:
        try:
            start.wait()
            for _ in range(1 if NO_JIT else 5):  # overlap for a while
                results[i] = jobs[i]()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [r for r in results if r is not None]


def test_two_threads_give_the_same_pixels_as_one() -> None:
    paint.warm_up()
    sequential = [_scene(1), _scene(2)]
    concurrent = _run_in_threads([lambda: _scene(1), lambda: _scene(2)])
    assert len(concurrent) == 2
    for one, two in zip(sequential, concurrent, strict=True):
        assert np.array_equal(one, two)
    assert not np.array_equal(sequential[0], sequential[1])
