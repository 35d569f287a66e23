"""Glyph positions agree within 1 px with Pillow's raqm layout (HarfBuzz + FriBiDi) of the same
string, font and size."""

from __future__ import annotations

import pytest
from PIL import ImageFont, features

from fastshare.text import FontRegistry, TextStyle, bundled_font_dir, layout_text

pytestmark = pytest.mark.skipif(
    not features.check("raqm"), reason="Pillow was built without raqm (libraqm/fribidi missing)"
)

SIZE = 64

LTR_CASES = [
    ("Inter-Bold.otf", "Inter", 700, "The long history of kerning tables -> 10:45 AV To"),
    ("Inter-Regular.otf", "Inter", 400, "Tiếng Việt: Chào mừng đến với Hội nghị Python"),
    ("Inter-Regular.otf", "Inter", 400, "Ελληνικά Καλημέρα κόσμε и Кириллица съешь же"),
    ("NotoSansDevanagari-Regular.ttf", "Noto Sans Devanagari", 400, "क्षत्रिय श्रीमान् द्वार कि हिन्दी"),
    ("NotoSansThai-Regular.ttf", "Noto Sans Thai", 400, "สวัสดีครับ ยินดีต้อนรับ ภาษาไทย ง่าย"),
]  # fmt: skip
RTL_CASES = [
    ("NotoSansHebrew-Regular.ttf", "Noto Sans Hebrew", 400, "שלום עולם ברוכים הבאים לכנס"),
    ("NotoSansArabic-Regular.ttf", "Noto Sans Arabic", 400, "مرحبا بكم في المؤتمر السنوي"),
    ("NotoSansArabic-Bold.ttf", "Noto Sans Arabic", 700, "لا إله إلا الله محمد"),
]


@pytest.fixture(scope="module")
def registry() -> FontRegistry:
    return FontRegistry()


def _pillow(file: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(
        str(bundled_font_dir() / file), SIZE, layout_engine=ImageFont.Layout.RAQM
    )


@pytest.mark.parametrize(("file", "family", "weight", "text"), LTR_CASES)
def test_ltr_word_positions_match_raqm(
    registry: FontRegistry, file: str, family: str, weight: int, text: str
) -> None:
    layout = layout_text(registry, text, TextStyle(fonts=(family,), weight=weight, size=SIZE))
    assert {layout.fonts[f].family for f in layout.glyphs.font.tolist()} == {family}
    pil = _pillow(file)
    assert layout.width == pytest.approx(pil.getlength(text), abs=1.0)
    g = layout.glyphs
    first_x: dict[int, float] = {}
    for x26, cluster in zip(g.x26.tolist(), g.cluster.tolist(), strict=True):
        first_x.setdefault(cluster, x26 / 64)  # the cluster's first glyph sits at its pen position
    checked = 0
    for cluster, x in first_x.items():
        if cluster > 0 and text[cluster - 1] == " ":
            # a word start: its pen position is the advance of everything before it
            assert x == pytest.approx(pil.getlength(text[:cluster]), abs=1.0)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize(("file", "family", "weight", "text"), RTL_CASES)
def test_rtl_word_positions_match_raqm(
    registry: FontRegistry, file: str, family: str, weight: int, text: str
) -> None:
    layout = layout_text(registry, text, TextStyle(fonts=(family,), weight=weight, size=SIZE))
    assert layout.direction == "rtl"
    pil = _pillow(file)
    total = pil.getlength(text, direction="rtl")
    assert layout.width == pytest.approx(total, abs=1.0)
    g = layout.glyphs
    x_of = {c: x / 64 for x, c in zip(g.x26.tolist(), g.cluster.tolist(), strict=True)}
    checked = 0
    for k in range(1, len(text)):
        if text[k - 1] == " ":
            # right to left: the space before a word is drawn just right of it, at
            # total - (advance of everything up to and including that space)
            expected = total - pil.getlength(text[:k], direction="rtl")
            assert x_of[k - 1] == pytest.approx(expected, abs=1.0)
            checked += 1
    assert checked >= 3
