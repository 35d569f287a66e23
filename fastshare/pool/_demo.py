"""A synthetic share card painted with numpy: the pool's warm-up frame and its test/bench workload.

It stands in for the template renderer until that exists: a diagonal two-colour gradient, a
translucent panel, a few solid rectangles and glyph-like stripes, so it costs about what a real
card costs to paint and compresses about as a real card compresses. Deterministic for a given
``(width, height, variant)``.

Everything here is a plain module-level function or a picklable class, so tests and benchmarks can
send it to workers by reference.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fastshare.pool._task import ExitFlag, frame_buffer, task_phase

__all__ = ["DemoGenerator", "demo_card", "demo_card_encoded", "demo_card_pixels"]


def demo_card(
    width: int, height: int, variant: int = 0, out: np.ndarray[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    """Paint the demo card into ``out`` (H×W×3 ``uint8``) or a new frame, and return it."""
    if width <= 0 or height <= 0:
        msg = f"card size must be positive, got {width}x{height}"
        raise ValueError(msg)
    frame = np.empty((height, width, 3), dtype=np.uint8) if out is None else out
    rng = np.random.default_rng(variant)
    c0 = rng.integers(0, 120, 3).astype(np.float32)
    c1 = rng.integers(120, 256, 3).astype(np.float32)
    xs = np.linspace(0.0, 0.6, width, dtype=np.float32)
    ys = np.linspace(0.0, 0.4, height, dtype=np.float32)
    t = ys[:, None] + xs[None, :]
    frame[...] = (c0 + t[..., None] * (c1 - c0) + 0.5).astype(np.uint8)
    # translucent panel
    x0, y0, x1, y1 = width // 16, height // 8, width - width // 16, height - height // 8
    panel = frame[y0:y1, x0:x1]
    panel[...] = ((panel.astype(np.uint16) * 3 + 255) >> 2).astype(np.uint8)
    # "title" and "subtitle" lines: glyph-like stripes of varying widths
    line_h = max(2, height // 14)
    for line in range(3):
        top = y0 + line_h // 2 + line * (line_h * 3 // 2)
        if top + line_h >= y1:
            break
        x = x0 + line_h
        widths = rng.integers(line_h // 3 + 1, line_h + 2, 40)
        for w in widths:
            if x + w >= x1 - line_h:
                break
            frame[top : top + line_h, x : x + max(1, int(w) * 2 // 3)] = (20, 24, 32)
            x += int(w)
    # accent rectangles
    for i in range(4):
        rx = x0 + (i + 1) * (x1 - x0) // 6
        ry = y1 - line_h * 2
        frame[ry : ry + line_h, rx : rx + line_h] = rng.integers(0, 256, 3).astype(np.uint8)
    return frame


def demo_card_encoded(width: int, height: int, variant: int = 0, fmt: str = "png") -> bytes:
    """Paint and encode the demo card (the pool's default-path workload)."""
    from fastshare.pipeline import encode_frame

    with task_phase("paint"):
        frame = demo_card(width, height, variant)
    with task_phase("encode"):
        return encode_frame(frame, fmt)


def demo_card_pixels(width: int, height: int, variant: int = 0) -> np.ndarray[Any, Any]:
    """Paint the demo card straight into the task's shared-memory slot (pixels workload)."""
    with task_phase("paint"):
        return demo_card(width, height, variant, out=frame_buffer(height, width))


class DemoGenerator:
    """A :class:`~fastshare.pipeline.ShareImageGenerator` painting the demo card.

    ``delay`` seconds of sleep per target (checking the exit flag) make cancellation testable.
    """

    def __init__(self, variant: int = 0, delay: float = 0.0) -> None:
        self.variant = variant
        self.delay = delay
        self.prepared_in: int | None = None

    def get_configuration(self) -> dict[str, Any]:
        return {"kind": "demo", "variant": self.variant}

    def prepare_process(self, exit_requested: ExitFlag) -> None:
        import os

        self.prepared_in = os.getpid()

    def generate(self, width: int, height: int, exit_requested: ExitFlag) -> np.ndarray[Any, Any]:
        if self.delay > 0:
            deadline = time.monotonic() + self.delay
            while time.monotonic() < deadline:
                if exit_requested.is_set():
                    msg = "exit requested"
                    raise RuntimeError(msg)
                time.sleep(0.005)
        return demo_card(width, height, self.variant)
