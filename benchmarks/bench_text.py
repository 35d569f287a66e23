"""Text-engine benchmark (issue 3): 1000 titles, auto-fit, per-stage cost, Pillow baseline.

Workload: 1000 deterministic English titles of 30–110 characters (seeded word lists, nothing
downloaded), Inter Bold, auto-fit 32–96 px (2 px ladder) into a 1040×340 box, at most 3 balanced
lines, drawn white at (80, 140) on a 1200×630 frame. Per title we time each stage — itemise
(normalise, graphemes, fallback, BiDi), shape, break, fit, place (lines, ellipsis, reorder,
alignment), glyphs (cache lookup + coverage mask) and composite (``fastshare.paint``) — and report
the glyph cache hit rate of a cold registry over the 1000 titles.

Baseline in the same run: Pillow's ``ImageDraw.text`` drawing the same lines at the same size and
positions (fonts created once per size, outside the timed code; Pillow's default layout engine).
Pillow cannot fit or balance text, so "Pillow + our fit" adds our layout time to its drawing.

Goal: ≤ 1 ms per title on one core and ≥ 3× faster than Pillow. Totals and the Pillow baseline are
CPU time of the calling thread (``time.thread_time``): on a shared machine wall clock also counts
time spent descheduled; per-stage figures are wall clock. Asserted only when benchmarks
are enabled (``pytest benchmarks/bench_text.py --benchmark-enable``); with
``--benchmark-disable`` (CI) every case runs once on 100 titles as a smoke test.
``python benchmarks/bench_text.py`` prints the table quoted in ``docs/text.md``.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont, features

from fastshare.text import (
    FontRegistry,
    TextLayout,
    TextStyle,
    bundled_font_dir,
    draw_text,
    layout_text,
)

BOX_W, BOX_H = 1040, 340
ORIGIN = (80, 140)
FRAME = (630, 1200)
STYLE = TextStyle(weight=700, size_range=(32, 96), max_lines=3, wrap="balance")
STAGES = ("itemize", "shape", "breaks", "fit", "place", "glyphs", "composite")

_WORDS = """
the of and to in is you that it for on are as with they at be this have from or one by word but
not what all were we when your can said there use an each which she do how their if will up
other about out many then them these so some her would make like into time has look two more
write see number no way could people than first water been call who now find long down day did
get come made may part fast share image render kernel numba python typography cache glyph font
layout shaping kerning unicode arabic hebrew title card social preview engine benchmark pipeline
worker process template gradient shadow pixel frame encode million thousand release notes
version guide tutorial design system open source community conference keynote
""".split()  # noqa: SIM905


def titles(count: int = 1000, seed: int = 2025) -> list[str]:
    """``count`` deterministic titles of 30–110 characters."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        target = rng.randint(30, 110)
        words: list[str] = []
        while len(" ".join(words)) < target:
            word = rng.choice(_WORDS)
            if rng.random() < 0.08:
                word = word.capitalize()
            if rng.random() < 0.04:
                word = str(rng.randint(2, 2030))
            words.append(word)
        text = " ".join(words)[:target].rstrip()
        if rng.random() < 0.2:
            text = text.rstrip(" ") + rng.choice(["?", "!", ":", " ->", "…"])
        out.append(text[0].upper() + text[1:])
    return out


@dataclass
class PassResult:
    per_stage: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    totals: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    layouts: list[TextLayout] = field(default_factory=list)
    hit_rate: float = 0.0
    misses: int = 0

    def mean_us(self, stage: str) -> float:
        return 1e6 * statistics.fmean(self.per_stage[stage])

    @property
    def mean_total_us(self) -> float:
        return 1e6 * statistics.fmean(self.totals)

    @property
    def mean_cpu_us(self) -> float:
        return 1e6 * statistics.fmean(self.cpu)


def fastshare_pass(registry: FontRegistry, texts: list[str], frame: np.ndarray) -> PassResult:
    result = PassResult()
    hits0, misses0 = registry.glyph_cache.hits, registry.glyph_cache.misses
    for text in texts:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        layout = layout_text(registry, text, STYLE, BOX_W, BOX_H, profile=True)
        stats = draw_text(frame, layout, ORIGIN[0], ORIGIN[1], "#ffffff")
        result.totals.append(time.perf_counter() - t0)
        result.cpu.append(time.thread_time() - c0)
        assert layout.timings is not None
        for stage in ("itemize", "shape", "breaks", "fit", "place"):
            result.per_stage[stage].append(layout.timings[stage])
        result.per_stage["glyphs"].append(stats.seconds["glyphs"])
        result.per_stage["composite"].append(stats.seconds["composite"])
        result.layouts.append(layout)
    hits = registry.glyph_cache.hits - hits0
    result.misses = registry.glyph_cache.misses - misses0
    result.hit_rate = hits / max(1, hits + result.misses)
    return result


class PillowBaseline:
    """Pillow drawing the lines our layout produced, at the same size and positions."""

    def __init__(self) -> None:
        self.path = str(bundled_font_dir() / "Inter-Bold.otf")
        self.fonts: dict[float, ImageFont.FreeTypeFont] = {}

    def prepare(
        self, layouts: list[TextLayout]
    ) -> list[tuple[Any, list[tuple[float, float, str]]]]:
        jobs = []
        for layout in layouts:
            size = layout.size
            if size not in self.fonts:
                self.fonts[size] = ImageFont.truetype(self.path, round(size))
            font = self.fonts[size]
            lines = [
                (ORIGIN[0] + line.x, ORIGIN[1] + line.baseline, line.text) for line in layout.lines
            ]
            jobs.append((font, lines))
        return jobs

    @staticmethod
    def draw(
        image: Image.Image, jobs: list[tuple[Any, list[tuple[float, float, str]]]]
    ) -> list[float]:
        draw = ImageDraw.Draw(image)
        times = []
        for font, lines in jobs:
            t0 = time.thread_time()
            for x, baseline, text in lines:
                draw.text((x, baseline), text, font=font, fill=(255, 255, 255), anchor="ls")
            times.append(time.thread_time() - t0)
        return times


def _count() -> int:
    return int(os.environ.get("FASTSHARE_BENCH_TITLES", "1000"))


def run(count: int | None = None, repeats: int = 3) -> dict[str, Any]:
    """Cold pass (fresh registry: hit rate), then ``repeats`` warm passes; best warm pass wins."""
    texts = titles(count or _count())
    frame = np.zeros((*FRAME, 3), dtype=np.uint8)
    registry = FontRegistry()
    layout_text(registry, "warm up the kernels", STYLE, BOX_W, BOX_H)
    draw_text(frame, layout_text(registry, "x", TextStyle(size=40)), 0, 0, "#fff")
    registry.glyph_cache.clear()
    registry.glyph_cache.hits = registry.glyph_cache.misses = 0
    cold = fastshare_pass(registry, texts, frame)
    warm = min(
        (fastshare_pass(registry, texts, frame) for _ in range(repeats)),
        key=lambda r: sum(r.cpu),
    )
    pillow = PillowBaseline()
    jobs = pillow.prepare(cold.layouts)
    image = Image.new("RGB", (FRAME[1], FRAME[0]))
    pil_times = min((pillow.draw(image, jobs) for _ in range(repeats)), key=sum)
    layout_us = 1e6 * statistics.fmean(
        sum(warm.per_stage[s][i] for s in STAGES[:5]) for i in range(len(texts))
    )
    return {
        "titles": len(texts),
        "cold": cold,
        "warm": warm,
        "pillow_us": 1e6 * statistics.fmean(pil_times),
        "layout_us": layout_us,
        "sizes": sorted({lay.size for lay in cold.layouts}),
        "lines": statistics.fmean(len(lay.lines) for lay in cold.layouts),
    }


def report(results: dict[str, Any]) -> str:
    cold: PassResult = results["cold"]
    warm: PassResult = results["warm"]
    pil = results["pillow_us"]
    rows = [
        f"{results['titles']} titles, auto-fit 32–96 px into {BOX_W}×{BOX_H}, ≤ 3 balanced lines "
        f"(mean {results['lines']:.2f} lines, {len(results['sizes'])} distinct sizes); "
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"Pillow raqm={features.check('raqm')}",
        "",
        "| stage (wall clock) | cold cache µs/title | warm µs/title |",
        "|---|---|---|",
    ]
    for stage in STAGES:
        rows.append(f"| {stage} | {cold.mean_us(stage):.0f} | {warm.mean_us(stage):.0f} |")
    rows.append(f"| total, wall clock | {cold.mean_total_us:.0f} | {warm.mean_total_us:.0f} |")
    rows.append(
        f"| **total, CPU time** | **{cold.mean_cpu_us:.0f}** | **{warm.mean_cpu_us:.0f}** |"
    )
    rows += [
        "",
        f"glyph cache over the cold pass: hit rate {cold.hit_rate:.3f} ({cold.misses} glyphs "
        f"rasterised)",
        "",
        "| Pillow baseline (same lines, sizes, positions; CPU time) | µs/title | fastshare "
        "speed-up |",
        "|---|---|---|",
        f"| `ImageDraw.text` only | {pil:.0f} | {pil / warm.mean_cpu_us:.1f}× |",
        f"| `ImageDraw.text` + our fit/layout | {pil + results['layout_us']:.0f} | "
        f"{(pil + results['layout_us']) / warm.mean_cpu_us:.1f}× |",
    ]
    return "\n".join(rows)


# --------------------------------------------------------------------------- pytest-benchmark


def _enabled(config: Any) -> bool:
    # as pytest-benchmark decides: --benchmark-enable wins over the --benchmark-disable in addopts
    disabled = config.getoption("benchmark_disable", default=True)
    return not disabled or bool(config.getoption("benchmark_enable", default=False))


@pytest.fixture(scope="module")
def workload(request: pytest.FixtureRequest) -> tuple[list[str], FontRegistry, np.ndarray]:
    count = _count() if _enabled(request.config) else 100
    registry = FontRegistry()
    return titles(count), registry, np.zeros((*FRAME, 3), dtype=np.uint8)


def test_bench_fastshare_titles(
    benchmark: Any, workload: tuple[list[str], FontRegistry, np.ndarray]
) -> None:
    texts, registry, frame = workload

    def one_pass() -> None:
        for text in texts:
            layout = layout_text(registry, text, STYLE, BOX_W, BOX_H)
            draw_text(frame, layout, ORIGIN[0], ORIGIN[1], "#ffffff")

    benchmark.pedantic(one_pass, rounds=3, warmup_rounds=1)


def test_bench_pillow_titles(
    benchmark: Any, workload: tuple[list[str], FontRegistry, np.ndarray]
) -> None:
    texts, registry, _frame = workload
    layouts = [layout_text(registry, t, STYLE, BOX_W, BOX_H) for t in texts]
    pillow = PillowBaseline()
    jobs = pillow.prepare(layouts)
    image = Image.new("RGB", (FRAME[1], FRAME[0]))
    benchmark.pedantic(lambda: pillow.draw(image, jobs), rounds=3, warmup_rounds=1)


def test_text_goal(request: pytest.FixtureRequest) -> None:
    """≤ 1 ms per title and ≥ 3× Pillow, measured in one run (asserted only when enabled)."""
    results = run(
        count=None if _enabled(request.config) else 50,
        repeats=1 if not _enabled(request.config) else 3,
    )
    text = report(results)
    print("\n" + text)
    assert results["cold"].hit_rate > 0.5
    if _enabled(request.config):
        warm: PassResult = results["warm"]
        assert warm.mean_cpu_us <= 1000, text
        assert results["pillow_us"] >= 3 * warm.mean_cpu_us, text


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    out = run(count=200 if quick else None, repeats=1 if quick else 3)
    print(report(out))
