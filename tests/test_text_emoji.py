"""Colour emoji: COLRv0/COLRv1 through HarfBuzz raster painting (a tiny COLR font built here with
fontTools), CBDT bitmaps when Debian's Noto Color Emoji is installed, and emoji fallback rules."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fastshare.text import FontRegistry, TextStyle, draw_text, layout_text, rasterize

sys.path.insert(0, str(Path(__file__).parent))
from reference.text_fonts import build_color_font

CBDT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


@pytest.fixture(scope="module")
def emoji_registry(tmp_path_factory: pytest.TempPathFactory) -> FontRegistry:
    path = build_color_font(tmp_path_factory.mktemp("fonts") / "TestEmoji.ttf")
    return FontRegistry(emoji=path)


def test_emoji_clusters_use_the_emoji_font(emoji_registry: FontRegistry) -> None:
    layout = layout_text(emoji_registry, "Hi \U0001f600 and \U0001f680!", TextStyle(size=64))
    assert layout.missing == 0
    emoji = layout.emoji_font
    assert emoji >= 0 and layout.fonts[emoji].family == "Test Emoji"
    by_cluster = dict(zip(layout.glyphs.cluster.tolist(), layout.glyphs.font.tolist(), strict=True))
    assert by_cluster[3] == emoji and by_cluster[9] == emoji
    assert by_cluster[0] == 0  # "H" stays in Inter although the emoji font has no "H"
    # "A" is in the emoji font too, but text stays in the text font
    assert layout_text(emoji_registry, "A", TextStyle()).glyphs.font.tolist() == [0]


def test_colr_glyphs_become_premultiplied_rgba_pieces(emoji_registry: FontRegistry) -> None:
    layout = layout_text(emoji_registry, "\U0001f600\U0001f680", TextStyle(size=64))
    r = rasterize(layout, 0, 0)
    assert r.glyphs == 0 and len(r.color_glyphs) == 2
    smile, rocket = r.color_glyphs
    assert smile.rgba.dtype == np.uint8 and smile.rgba.shape[2] == 4
    h, w = smile.rgba.shape[:2]
    assert 62 <= w <= 66 and 62 <= h <= 66  # 1000-unit square at 64 px
    centre = smile.rgba[h // 2, w // 2].tolist()
    corner = smile.rgba[3, 3].tolist()
    assert centre[0] > 200 and centre[1] < 30 and centre[3] == 255  # red diamond (COLRv0 layer)
    assert corner[0] > 240 and 180 < corner[1] < 225 and corner[2] < 30  # yellow background
    rh, rw = rocket.rgba.shape[:2]
    left = rocket.rgba[rh // 2, 2].tolist()
    right = rocket.rgba[rh // 2, rw - 3].tolist()
    assert left[2] > left[0] and right[0] > right[2]  # COLRv1 gradient: blue to red
    assert (rocket.rgba[..., :3] <= rocket.rgba[..., 3:4]).all()  # premultiplied
    # the rocket is drawn after the smile advance (1000 units = 64 px)
    assert rocket.x >= smile.x + 60


def test_draw_blits_emoji_and_caches_them(emoji_registry: FontRegistry) -> None:
    pytest.importorskip("fastshare.paint")
    layout = layout_text(emoji_registry, "A \U0001f600", TextStyle(size=48))
    frame = np.zeros((80, 200, 3), dtype=np.uint8)
    stats = draw_text(frame, layout, 5, 5, "#ffffff")
    assert stats.color_glyphs == 1 and stats.glyphs == 1
    piece = rasterize(layout, 5, 5).color_glyphs[0]
    region = frame[piece.y : piece.y + piece.rgba.shape[0], piece.x : piece.x + piece.rgba.shape[1]]
    inner = region[5:-5, 5:-5].reshape(-1, 3)
    assert (inner[:, 0] > 200).all()  # yellow and red pixels: strong red channel everywhere
    before = emoji_registry.glyph_cache.hits
    draw_text(frame, layout, 5, 5, "#ffffff")
    assert emoji_registry.glyph_cache.hits > before


def test_emoji_without_an_emoji_font_is_missing_not_fatal() -> None:
    layout = layout_text(FontRegistry(), "Launch \U0001f680 now", TextStyle(size=40))
    assert layout.missing == 1 and layout.missing_chars == ("\U0001f680",)


def test_variation_selectors_choose_presentation(emoji_registry: FontRegistry) -> None:
    style = TextStyle(size=40)
    # "A" exists in both fonts: plain text stays in Inter, VS16 asks for the emoji font
    assert layout_text(emoji_registry, "A", style).glyphs.font.tolist() == [0]
    emoji = layout_text(emoji_registry, "A\ufe0f", style)
    assert set(emoji.glyphs.font.tolist()) == {emoji.emoji_font}
    # VS15 asks for text; with no text font covering U+1F600 the emoji font still draws it
    text = layout_text(emoji_registry, "\U0001f600\ufe0e", style)
    assert text.missing == 0


@pytest.mark.skipif(not CBDT.exists(), reason="fonts-noto-color-emoji (CBDT) is not installed")
def test_cbdt_bitmap_emoji_through_png() -> None:
    reg = FontRegistry(emoji=CBDT)
    layout = layout_text(
        reg, "ok \U0001f680 \U0001f469\U0001f3fd\u200d\U0001f4bb", TextStyle(size=64)
    )
    assert layout.missing == 0
    r = rasterize(layout, 0, 0)
    assert len(r.color_glyphs) == 2  # the ZWJ sequence is one ligature glyph
    for piece in r.color_glyphs:
        h, w = piece.rgba.shape[:2]
        assert 50 <= h <= 80 and 50 <= w <= 90
        assert piece.rgba[..., 3].max() == 255
