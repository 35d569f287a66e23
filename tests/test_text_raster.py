"""Glyph raster, glyph cache, coverage masks, threads, and drawing through fastshare.paint."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fastshare.errors import ValueRangeError
from fastshare.text import (
    FontRegistry,
    Shadow,
    TextStyle,
    draw_text,
    layout_text,
    rasterize,
)
from fastshare.text import raster as raster_mod

TITLE = "Glyph cache: quarter-pixel positions, AVAST Wa To 10:45 → done"


@pytest.fixture
def registry() -> FontRegistry:
    return FontRegistry()


def test_mask_has_ink_where_the_lines_are(registry: FontRegistry) -> None:
    layout = layout_text(registry, "Hello", TextStyle(size=64), 1000)
    r = rasterize(layout, 10, 20)
    assert r.mask.dtype == np.uint8 and r.mask.flags.c_contiguous
    assert r.mask.max() == 255
    line = layout.lines[0]
    # ink sits between the line's top and a bit below the baseline, from the pen start on
    assert 20 + line.y <= r.y < 20 + line.baseline
    assert 10 + line.x - 2 <= r.x <= 10 + line.x + 10
    assert r.x + r.mask.shape[1] <= 10 + line.x + line.width + 2
    assert r.glyphs == 5


def test_quarter_pixel_buckets(registry: FontRegistry) -> None:
    layout = layout_text(registry, "l", TextStyle(size=48))
    masks = {}
    for dx in (0.0, 0.25, 0.5, 1.0):
        r = rasterize(layout, 100 + dx, 0)
        masks[dx] = (r.x, r.mask)
    x0, m0 = masks[0.0]
    x1, m1 = masks[1.0]
    assert x1 == x0 + 1 and np.array_equal(m0, m1)  # a whole pixel: same bitmap, shifted
    assert not np.array_equal(masks[0.25][1], m0)  # a quarter pixel: a different bitmap
    assert not np.array_equal(masks[0.5][1], masks[0.25][1])
    # the centroid moves right by about the offset
    cols = np.arange(m0.shape[1])

    def centroid(x: int, m: np.ndarray) -> float:
        weights = m.sum(axis=0).astype(float)
        return x + float((weights * np.arange(m.shape[1])).sum() / weights.sum())

    assert centroid(*masks[0.5]) - centroid(x0, m0) == pytest.approx(0.5, abs=0.1)
    del cols


def test_cached_glyphs_equal_fresh_freetype_renders(registry: FontRegistry) -> None:
    layout = layout_text(registry, TITLE, TextStyle(size=40, weight=700))
    rasterize(layout, 0.3, 0)
    cache = registry.glyph_cache
    font = layout.fonts[0]
    size26 = round(layout.size * 64)
    gids = layout.glyphs.gid[:12]
    buckets = np.arange(12) % 4
    arena, entries, (ids,), failures = cache.lookup([(font, size26, gids, buckets)])
    assert failures == 0
    for gid, bucket, e in zip(gids.tolist(), buckets.tolist(), ids.tolist(), strict=True):
        fresh = raster_mod.raster_glyph(font, size26, gid, bucket)
        assert fresh is not None
        bmp, left, top = fresh
        off, w, h, el, et = entries[e].tolist()
        assert (w, h, el, et) == (bmp.shape[1], bmp.shape[0], left, top)
        assert np.array_equal(arena[off : off + w * h].reshape(h, w), bmp)


def test_cache_hits_and_byte_budget() -> None:
    big = FontRegistry()
    small = FontRegistry(glyph_cache_bytes=1)  # clamped to the 1 MiB minimum
    style = TextStyle(size_range=(40, 200), weight=700)
    texts = [f"{TITLE} {i}" for i in range(6)]
    for text in texts:
        for reg in (big, small):
            layout = layout_text(reg, text, style, 1200, 600)
            for dx in (0.0, 0.25, 0.5, 0.75):
                a = rasterize(layout, dx, 0)
                b = rasterize(layout, dx, 0)  # second time: all hits
                assert np.array_equal(a.mask, b.mask)
    ref = rasterize(layout_text(big, TITLE, TextStyle(size=180), 2000), 0, 0)
    got = rasterize(layout_text(small, TITLE, TextStyle(size=180), 2000), 0, 0)
    assert np.array_equal(ref.mask, got.mask)
    stats = big.glyph_cache.stats()
    assert stats["hit_rate"] > 0.5
    assert small.glyph_cache.stats()["flushes"] > 0
    assert small.glyph_cache.nbytes <= 3 * 1024 * 1024


def test_failures_are_counted_and_not_cached(
    registry: FontRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = layout_text(registry, "ABC", TextStyle(size=50))
    real = raster_mod.raster_glyph
    calls = {"n": 0}

    def flaky(*args: object) -> object:
        calls["n"] += 1
        return None if calls["n"] <= 3 else real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(raster_mod, "raster_glyph", flaky)
    first = rasterize(layout, 0, 0)
    assert first.failures == 3 and first.glyphs == 0
    second = rasterize(layout, 0, 0)
    assert second.failures == 0 and second.glyphs == 3  # retried: failures were not cached


def test_threads_render_the_same_pixels() -> None:
    texts = [TITLE, "مؤتمر PyCon 2025 في دبي", "हिन्दी क्षत्रिय", "Кириллица Ελληνικά"]
    single = FontRegistry()
    expected = {}
    for text in texts:
        lay = layout_text(single, text, TextStyle(size_range=(20, 80), max_lines=2), 700, 200)
        r = rasterize(lay, 0.4, 0)
        expected[text] = (r.x, r.y, r.mask.copy())
    shared = FontRegistry()  # cold cache: misses race in the threads
    errors: list[BaseException] = []
    results: list[tuple[str, int, int, np.ndarray]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def work(offset: int) -> None:
        try:
            barrier.wait()
            for k in range(8):
                text = texts[(offset + k) % len(texts)]
                style = TextStyle(size_range=(20, 80), max_lines=2)
                lay = layout_text(shared, text, style, 700, 200)
                r = rasterize(lay, 0.4, 0)
                with lock:
                    results.append((text, r.x, r.y, r.mask.copy()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 32
    for text, x, y, mask in results:
        ex, ey, emask = expected[text]
        assert (x, y) == (ex, ey)
        assert np.array_equal(mask, emask)


def test_empty_layout_rasterises_to_nothing(registry: FontRegistry) -> None:
    r = rasterize(layout_text(registry, "   ", TextStyle()), 5, 5)
    assert r.mask.size == 0 and r.glyphs == 0


# --------------------------------------------------------------------------- drawing


paint = pytest.importorskip("fastshare.paint")


def test_draw_text_white_on_black(registry: FontRegistry) -> None:
    frame = np.zeros((120, 400, 3), dtype=np.uint8)
    layout = layout_text(registry, "Hello world", TextStyle(size=48, weight=700), 380)
    stats = draw_text(frame, layout, 10, 20, "#ffffff")
    assert stats.glyphs == 10 and stats.failures == 0 and stats.missing == 0
    lum = frame.sum(axis=2)
    ys, xs = np.nonzero(lum)
    assert frame.max() == 255
    assert (frame[..., 0] == frame[..., 1]).all()
    assert xs.min() >= 10 and ys.min() >= 20 and ys.max() < 20 + layout.height + 10
    r = rasterize(layout, 10, 20)
    covered = np.zeros(lum.shape, dtype=bool)
    covered[r.y : r.y + r.mask.shape[0], r.x : r.x + r.mask.shape[1]] = r.mask > 0
    assert ((lum > 0) == covered).all()  # ink exactly where the mask is


def test_linear_blending_is_heavier_for_light_on_dark(registry: FontRegistry) -> None:
    layout = layout_text(registry, "Thin text 123", TextStyle(size=22))
    linear = np.zeros((40, 200, 3), dtype=np.uint8)
    srgb = np.zeros((40, 200, 3), dtype=np.uint8)
    draw_text(linear, layout, 2, 2, "#fff")
    draw_text(srgb, layout, 2, 2, "#fff", blend="srgb")
    r = rasterize(layout, 2, 2)
    region = (slice(r.y, r.y + r.mask.shape[0]), slice(r.x, r.x + r.mask.shape[1]))
    assert np.array_equal(srgb[region][..., 0], r.mask)  # naive: value = coverage
    assert linear[region][..., 0].astype(int).sum() > srgb[region][..., 0].astype(int).sum()


def test_gradient_fill_shadow_and_opacity(registry: FontRegistry) -> None:
    from fastshare.gradients import LinearGradient, parse_stops

    layout = layout_text(registry, "WWWWWWWW", TextStyle(size=60, weight=700), 500)
    frame = np.full((100, 520, 3), 255, dtype=np.uint8)
    gradient = LinearGradient(90, parse_stops(["#ff0000", "#0000ff"], "fill"))
    draw_text(frame, layout, 10, 10, gradient)
    ink = frame.min(axis=2) < 60  # strongly coloured pixels
    cols = np.nonzero(ink.any(axis=0))[0]
    left = frame[:, cols[:5]][ink[:, cols[:5]]]
    right = frame[:, cols[-5:]][ink[:, cols[-5:]]]
    assert left[:, 0].mean() > left[:, 2].mean()  # red at the left
    assert right[:, 2].mean() > right[:, 0].mean()  # blue at the right

    plain = np.full((100, 520, 3), 255, dtype=np.uint8)
    shadowed = plain.copy()
    draw_text(plain, layout, 10, 10, "#000")
    draw_text(shadowed, layout, 10, 10, "#000", shadow=Shadow("#000000", 6, 6, 3))
    assert (shadowed <= plain).all() and (shadowed < plain).any()

    untouched = np.full((100, 520, 3), 77, dtype=np.uint8)
    draw_text(untouched, layout, 10, 10, "#fff", opacity=0.0)
    assert (untouched == 77).all()
    with pytest.raises(ValueRangeError):
        draw_text(untouched, layout, 10, 10, "#fff", opacity=2)
    with pytest.raises(ValueRangeError):
        draw_text(untouched, layout, float("nan"), 10, "#fff")


def test_text_partly_outside_the_frame(registry: FontRegistry) -> None:
    layout = layout_text(registry, "Clipped text here", TextStyle(size=80))
    frame = np.zeros((50, 120, 3), dtype=np.uint8)
    stats = draw_text(frame, layout, -40, -30, "#fff", shadow=Shadow(blur=4))
    assert frame.any()
    assert stats.mask_shape[0] <= 50 + 2 * 40 and stats.mask_shape[1] <= 120 + 2 * 40
    far = np.zeros((50, 120, 3), dtype=np.uint8)
    draw_text(far, layout, 5000, 5000, "#fff")
    assert not far.any()


def test_warm_up_runs_the_pipeline(registry: FontRegistry) -> None:
    from fastshare.text import warm_up

    warm_up(registry)
    assert registry.glyph_cache.stats()["entries"] > 10  # it rasterised into this registry
    warm_up()  # a throwaway registry
