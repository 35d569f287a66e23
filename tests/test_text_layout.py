"""Text layout: multilingual corpus, shaping, fallback, BiDi, wrapping, ellipsis, fit, alignment,
missing glyphs and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fastshare.errors import FontError, LimitError, MissingGlyphError, TextError, ValueRangeError
from fastshare.text import (
    MAX_TEXT_CHARS,
    FontRegistry,
    TextLayout,
    TextStyle,
    bidi_backend,
    layout_text,
    measure,
    normalize,
    size_ladder,
)
from fastshare.text import bidi as bidi_mod
from fastshare.text.breaking import break_classes
from fastshare.text.itemize import codepoints, itemize

CJK_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

#: the multilingual corpus: every line must render with bundled fonts only, no missing glyph
CORPUS = {
    "latin_combining": "Cafe\u0301 na\u0308ive Zoe\u0308 — “quotes” a\u0323\u0302 x\u0304\u0301",
    "vietnamese": "Tiếng Việt: Chào mừng đến với Hội nghị Python Việt Nam",
    "greek": "Ελληνικά: Καλημέρα κόσμε, ΑΒΓΔ άέήίόύώ",
    "cyrillic": "Кириллица: Съешь же ещё этих мягких французских булок",
    "arabic_mixed": "مؤتمر PyCon 2025 في دبي: 120 متحدث!",
    "hebrew_brackets": "ועידת Python 2025 בתל אביב (יום א׳) [12 הרצאות]",
    "devanagari": "हिन्दी: क्षत्रिय श्रीमान् द्वार कि त्र ज्ञ",
    "thai": "ภาษาไทย: สวัสดีครับ ยินดีต้อนรับ",
}


@pytest.fixture(scope="module")
def registry() -> FontRegistry:
    return FontRegistry()


def lay(registry: FontRegistry, text: str, width: float | None = None, height: float | None = None,
        **style: object) -> TextLayout:  # fmt: skip
    return layout_text(registry, text, TextStyle(**style), width, height)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- corpus and shaping


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("weight", [400, 700])
def test_corpus_has_no_missing_glyphs(registry: FontRegistry, name: str, weight: int) -> None:
    layout = lay(registry, CORPUS[name], 1040, size=48, weight=weight)
    assert layout.missing == 0, layout.missing_chars
    assert layout.glyphs.count > 0
    assert not (layout.glyphs.gid == 0).any()
    shown = "".join(line.text for line in layout.lines).replace(" ", "")
    assert shown == normalize(CORPUS[name]).replace(" ", "")


@pytest.mark.skipif(not CJK_TTC.exists(), reason="fonts-noto-cjk is not installed (CI installs it)")
def test_cjk_corpus_with_installed_font() -> None:
    reg = FontRegistry([CJK_TTC], fallbacks=("Noto Sans CJK JP",))
    layout = layout_text(
        reg, "東京で開催される PyCon JP 2025 の発表。日本語のテキスト", TextStyle(size=40)
    )
    assert layout.missing == 0
    narrow = layout_text(reg, "東京で開催される発表日本語のテキスト", TextStyle(size=40), 300)
    assert len(narrow.lines) > 1  # ideographic breaks without spaces
    assert all(line.width <= 300 for line in narrow.lines)


def _gids(registry: FontRegistry, text: str, **style: object) -> list[int]:
    return lay(registry, text, **style).glyphs.gid.tolist()


def test_arabic_letters_join(registry: FontRegistry) -> None:
    isolated = _gids(registry, "ب")[0]
    joined = _gids(registry, "ببب")
    assert len(joined) == 3
    assert all(g != isolated for g in joined)  # final, medial, initial forms
    assert len(set(joined)) == 3
    lam_alef = _gids(registry, "لا")  # mandatory lam-alef ligature
    assert len(lam_alef) == 1


def test_devanagari_reorders_and_forms_conjuncts(registry: FontRegistry) -> None:
    ka = _gids(registry, "क")[0]
    ki = lay(registry, "कि")
    # the i-matra is drawn before (left of) its consonant
    assert ki.glyphs.gid.tolist()[1] == ka
    assert ki.glyphs.gid.tolist()[0] != ka
    assert ki.glyphs.x26[0] < ki.glyphs.x26[1]
    assert len(_gids(registry, "क्ष")) == 1  # conjunct: 3 code points, 1 glyph


def test_inter_contextual_alternates(registry: FontRegistry) -> None:
    inter = registry.find("Inter")
    arrow = lay(registry, "a->b").glyphs.gid.tolist()
    assert len(arrow) == 3
    assert inter.hb_font.glyph_to_string(arrow[1]) == "uni2192"
    off = lay(registry, "a->b", features={"calt": False}).glyphs.gid.tolist()
    assert len(off) == 4
    times = [inter.hb_font.glyph_to_string(g) for g in _gids(registry, "1x2")]
    assert times[1].startswith("uni00D7")


def test_user_features_change_shaping(registry: FontRegistry) -> None:
    plain = lay(registry, "1111", size=100)
    tabular = lay(registry, "1111", size=100, features={"tnum": True})
    assert tabular.width > plain.width + 1


def test_fallback_runs_and_common_characters(registry: FontRegistry) -> None:
    layout = lay(registry, "مؤتمر PyCon 2025 في دبي", size=40)
    families = {layout.fonts[f].family for f in layout.glyphs.font.tolist()}
    assert families == {"Inter", "Noto Sans Arabic"}
    it = itemize(normalize("مؤتمر PyCon"), registry.chain(("Inter",)))
    space_font = it.fonts[5]  # the space between the Arabic word and "PyCon" stays Arabic
    assert space_font == it.fonts[0]


# --------------------------------------------------------------------------- BiDi


def test_bidi_backend_is_documented() -> None:
    assert bidi_backend() in ("icu", "fribidi", "builtin")


def test_rtl_visual_order_and_direction(registry: FontRegistry) -> None:
    layout = lay(registry, "abc אבג", size=40)
    assert layout.direction == "ltr"
    g = layout.glyphs
    x_of = {int(c): int(x) for c, x in zip(g.cluster, g.x26, strict=True)}
    assert x_of[0] < x_of[1] < x_of[2] < x_of[4]
    assert x_of[4] > x_of[5] > x_of[6]  # Hebrew letters run right to left
    rtl = lay(registry, "אבג abc", 800, size=40)
    assert rtl.direction == "rtl"
    assert rtl.lines[0].x == pytest.approx(800 - rtl.lines[0].width)  # start = right
    assert rtl.bidi == bidi_backend()
    assert lay(registry, "plain text", size=40).bidi == "none"  # fast path


def test_brackets_are_mirrored_in_rtl(registry: FontRegistry) -> None:
    layout = lay(registry, "(א)", size=40)
    g = layout.glyphs
    order = [int(c) for c in g.cluster[np.argsort(g.x26)]]
    assert order == [2, 1, 0]
    # mirrored: the glyph drawn for the logical "(" is the ")" shape
    paren_close = lay(registry, ")", size=40).glyphs.gid[0]
    assert int(g.gid[g.cluster == 0][0]) == int(paren_close)


def test_forced_rtl_direction(registry: FontRegistry) -> None:
    layout = lay(registry, "Hello", 500, direction="rtl", size=40)
    assert layout.direction == "rtl"
    assert layout.lines[0].x == pytest.approx(500 - layout.lines[0].width)


@pytest.mark.skipif(bidi_mod._load_fribidi() is None, reason="libfribidi is not installed")
@pytest.mark.parametrize(
    "text",
    [
        "abc אבג def",
        "אבג abc 123 דהו",
        "مؤتمر PyCon 2025 في دبي: 120 متحدث!",
        "1 - 2 אבג",
        "שלום, world!",
        "العدد ١٢٣ و 456",
    ],
)
def test_builtin_bidi_agrees_with_fribidi(text: str) -> None:
    codes = codepoints(text)
    fri = bidi_mod.paragraph_levels(text, codes, "auto", force="fribidi")
    own = bidi_mod.paragraph_levels(text, codes, "auto", force="builtin")
    assert own[1] == fri[1]
    # trailing whitespace/punctuation may differ by L1 handling; compare letters and digits
    keep = [i for i, ch in enumerate(text) if ch.isalnum()]
    assert own[0][keep].tolist() == fri[0][keep].tolist()


def test_reorder_visual_rule_l2() -> None:
    assert bidi_mod.reorder_visual([0, 0, 0]) == [0, 1, 2]
    assert bidi_mod.reorder_visual([1, 1, 1]) == [2, 1, 0]
    assert bidi_mod.reorder_visual([0, 1, 1, 0]) == [0, 2, 1, 3]
    assert bidi_mod.reorder_visual([1, 2, 2, 1]) == [3, 1, 2, 0]


# --------------------------------------------------------------------------- breaking and wrapping


def test_break_opportunities_for_spaces_hyphens_and_ideographs() -> None:
    text = "ab cd-ef 東京で"
    codes = codepoints(text)
    brk = break_classes(text, codes, np.ones(len(text), dtype=bool))
    assert brk[3] == 2  # after "ab "
    assert brk[6] == 2  # after the hyphen
    assert brk[10] == 2 and brk[11] == 2  # between ideographs
    assert brk[1] == 1  # inside a word: only a grapheme boundary


def test_greedy_wrap_and_hard_newlines(registry: FontRegistry) -> None:
    one = lay(registry, "aaa bbb", size=40)
    word = lay(registry, "aaa", size=40).width
    layout = lay(registry, "aaa bbb ccc", one.width + 1, size=40)
    assert layout.line_texts == ["aaa bbb", "ccc"]
    assert layout.lines[1].width == pytest.approx(word, abs=1)
    assert lay(registry, "one\ntwo", 2000, size=40).line_texts == ["one", "two"]
    assert lay(registry, "one\n\ntwo", 2000, size=40).line_texts == ["one", "", "two"]
    nowrap = lay(registry, "aaa bbb ccc", 50, size=40, wrap="none")
    assert len(nowrap.lines) == 1 and nowrap.lines[0].width > 50


def test_long_word_breaks_at_graphemes(registry: FontRegistry) -> None:
    layout = lay(registry, "Supercalifragilisticexpialidocious", 200, size=40)
    assert len(layout.lines) > 1
    assert all(line.width <= 200 for line in layout.lines)
    assert "".join(layout.line_texts) == "Supercalifragilisticexpialidocious"


def test_line_geometry(registry: FontRegistry) -> None:
    layout = lay(registry, "aaa bbb ccc ddd", 100, size=40, line_height=1.5)
    assert len(layout.lines) >= 2
    for i, line in enumerate(layout.lines):
        assert line.height == pytest.approx(60)
        assert line.y == pytest.approx(i * 60)
        assert line.y < line.baseline < line.y + line.height
    assert layout.height == pytest.approx(60 * len(layout.lines))


def test_letter_spacing_adds_per_cluster(registry: FontRegistry) -> None:
    base = lay(registry, "abcd", size=50).width
    spaced = lay(registry, "abcd", size=50, letter_spacing=0.1).width
    assert spaced == pytest.approx(base + 4 * 5, abs=0.01)
    # not inside joined (cursive) scripts
    arabic = lay(registry, "ببب", size=50)
    assert lay(registry, "ببب", size=50, letter_spacing=0.1).width == pytest.approx(arabic.width)


# --------------------------------------------------------------------------- ellipsis


TITLE = "The surprisingly long history of kerning tables, GPOS and you, explained slowly"


def test_max_lines_with_ellipsis(registry: FontRegistry) -> None:
    layout = lay(registry, TITLE, 500, size=40, max_lines=2)
    assert len(layout.lines) == 2
    assert layout.truncated and layout.ellipsis
    last = layout.lines[-1]
    assert last.text.endswith("…") and last.ellipsis
    assert last.width <= 500
    body = last.text[:-1]
    assert body == body.rstrip(" ,;:-")  # no trailing punctuation before the ellipsis
    assert TITLE.startswith(layout.lines[0].text.rstrip())
    # the cut is at a word boundary: the kept text is a prefix ending at a whole word
    rest = TITLE[len(layout.lines[0].text) :].lstrip()
    assert rest.startswith(body)
    nxt = rest[len(body) : len(body) + 1]
    assert nxt in (" ", ",", "")


def test_ellipsis_strips_trailing_punctuation(registry: FontRegistry) -> None:
    text = "Hello, world, and everything else in it"
    width = lay(registry, "Hello, world,…", size=40).width + 2
    layout = lay(registry, text, width, size=40, max_lines=1)
    assert layout.line_texts == ["Hello, world…"]


def test_clip_overflow_and_no_ellipsis_when_not_cut(registry: FontRegistry) -> None:
    clipped = lay(registry, TITLE, 500, size=40, max_lines=2, overflow="clip")
    assert clipped.truncated and not clipped.ellipsis
    assert len(clipped.lines) == 2
    fits = lay(registry, "Short title", 500, size=40, max_lines=2)
    assert not fits.truncated and not fits.ellipsis


def test_box_height_limits_lines(registry: FontRegistry) -> None:
    layout = lay(registry, TITLE, 300, 100, size=40, line_height=1.2)
    assert len(layout.lines) == 2  # 2 × 48 px fit in 100 px
    assert layout.truncated and layout.lines[-1].text.endswith("…")


def test_rtl_ellipsis_sits_at_the_left(registry: FontRegistry) -> None:
    text = "ועידת פייתון בתל אביב עם הרבה מאוד הרצאות מעניינות"
    layout = lay(registry, text, 300, size=40, max_lines=1)
    assert layout.lines[0].ellipsis
    g = layout.glyphs
    ell = g.cluster == -1
    assert ell.sum() == 1
    assert int(g.x26[ell][0]) == int(g.x26.min())


# --------------------------------------------------------------------------- fit


def test_size_ladder() -> None:
    assert size_ladder(32, 40) == [32, 34, 36, 38, 40]
    assert size_ladder(33, 38) == [33, 34, 36, 38]
    assert size_ladder(31, 31) == [31]
    assert size_ladder(32, 41) == [32, 34, 36, 38, 40]


def test_autofit_grows_to_the_largest_fitting_ladder_size(registry: FontRegistry) -> None:
    style = dict(size_range=(32, 96), max_lines=3, weight=700)
    short = lay(registry, "Hi", 1040, 340, **style)
    assert short.size == 96
    long = lay(registry, TITLE, 1040, 340, **style)
    assert 32 <= long.size < 96 and long.size % 2 == 0
    assert len(long.lines) <= 3 and not long.truncated
    bigger = lay(registry, TITLE, 1040, 340, **{**style, "size_range": (long.size + 2, 96)})
    assert bigger.truncated or len(bigger.lines) > 3 or bigger.height > 340


def test_autofit_shrink_only(registry: FontRegistry) -> None:
    style = dict(size_range=(20, 96), size=40, fit="shrink", max_lines=3)
    assert lay(registry, "Hi", 1040, 340, **style).size == 40
    tight = lay(registry, TITLE, 300, 120, **style)
    assert tight.size < 40


def test_autofit_minimum_truncates(registry: FontRegistry) -> None:
    layout = lay(registry, TITLE * 5, 400, 100, size_range=(30, 60), max_lines=2)
    assert layout.size == 30
    assert layout.truncated and layout.lines[-1].ellipsis


def test_balanced_wrap_keeps_line_count_and_evens_widths(registry: FontRegistry) -> None:
    text = "Fast social share images rendered by numba kernels"
    width = lay(registry, text.rsplit(" ", 1)[0], size=64).width + 1  # greedy leaves an orphan
    greedy = lay(registry, text, width, size=64)
    balanced = lay(registry, text, width, size=64, wrap="balance")
    assert greedy.line_texts[-1] == "kernels"
    assert len(greedy.lines) == len(balanced.lines) == 2
    gw, bw = greedy.line_widths, balanced.line_widths
    assert max(bw) - min(bw) < max(gw) - min(gw)
    assert max(bw) <= width


# --------------------------------------------------------------------------- alignment


@pytest.mark.parametrize(
    ("align", "expected"),
    [("left", 0.0), ("start", 0.0), ("center", 0.5), ("right", 1.0), ("end", 1.0)],
)
def test_horizontal_alignment(registry: FontRegistry, align: str, expected: float) -> None:
    layout = lay(registry, "Short", 600, size=40, align=align)
    line = layout.lines[0]
    assert line.x == pytest.approx((600 - line.width) * expected)
    assert layout.glyphs.x26.min() >= math.floor(line.x * 64) - 64 * 3


@pytest.mark.parametrize(("valign", "expected"), [("top", 0.0), ("middle", 0.5), ("bottom", 1.0)])
def test_vertical_alignment(registry: FontRegistry, valign: str, expected: float) -> None:
    layout = lay(registry, "Short", 600, 300, size=40, valign=valign)
    assert layout.top == pytest.approx((300 - layout.height) * expected)
    assert layout.lines[0].y == pytest.approx(layout.top)


def test_measure_matches_layout(registry: FontRegistry) -> None:
    a = measure(registry, TITLE, TextStyle(size_range=(20, 80), max_lines=3), 800, 300)
    b = layout_text(registry, TITLE, TextStyle(size_range=(20, 80), max_lines=3), 800, 300)
    assert a.size == b.size and a.line_texts == b.line_texts and a.line_widths == b.line_widths


# --------------------------------------------------------------------------- missing glyphs


def test_missing_glyph_policies(registry: FontRegistry) -> None:
    text = "A\U0001f600B\u4e00C"  # emoji and a CJK ideograph: no bundled font covers them
    notdef = lay(registry, text, size=40)
    assert notdef.missing == 2
    assert set(notdef.missing_chars) == {"\U0001f600", "\u4e00"}
    assert int((notdef.glyphs.gid == 0).sum()) == 2
    skip = lay(registry, text, size=40, missing_glyphs="skip")
    assert skip.missing == 2
    assert skip.text == "ABC"
    assert not (skip.glyphs.gid == 0).any()
    with pytest.raises(MissingGlyphError) as info:
        lay(registry, text, size=40, missing_glyphs="error")
    assert info.value.chars == ("\U0001f600", "\u4e00")


# --------------------------------------------------------------------------- bad input


def test_empty_text(registry: FontRegistry) -> None:
    for text in ("", "   ", "\n\n", "\x00\x01"):
        layout = lay(registry, text, 500, 200, size=40)
        assert layout.lines == () and layout.glyphs.count == 0 and not layout.truncated


def test_length_cap(registry: FontRegistry) -> None:
    lay(registry, "a" * MAX_TEXT_CHARS, 500, size=10, max_lines=2)
    with pytest.raises(LimitError) as info:
        lay(registry, "a" * (MAX_TEXT_CHARS + 1), 500, size=10)
    assert info.value.field == "text"


def test_control_characters_and_whitespace(registry: FontRegistry) -> None:
    assert normalize("a\x00b\x07c\x1b\x7fd") == "abcd"
    assert normalize("  a \t b  \r\n  c  ") == "a b\nc"
    assert normalize("a  b", "preserve") == "a  b"
    assert normalize("e\u0301") == "é"  # NFC
    layout = lay(registry, "Tab\there\x00 and\u2028line", 2000, size=40)
    assert layout.line_texts == ["Tab here and", "line"]


def test_lone_surrogates_do_not_raise(registry: FontRegistry) -> None:
    layout = lay(registry, "bad \ud800 pair \udfff end", 2000, size=40)
    assert layout.missing == 2  # replaced by U+FFFD, which no bundled font covers
    assert "\ud800" not in layout.text


def test_non_string_and_bad_style(registry: FontRegistry) -> None:
    with pytest.raises(TextError):
        layout_text(registry, 42, TextStyle())  # type: ignore[arg-type]
    bad = [
        dict(size=0),
        dict(size=float("nan")),
        dict(size_range=(50, 20)),
        dict(max_lines=0),
        dict(wrap="justify"),
        dict(align="middle"),
        dict(features={"toolong": True}),
        dict(line_height=-1),
        dict(fonts=()),
        dict(missing_glyphs="ignore"),
    ]
    for kwargs in bad:
        with pytest.raises(ValueRangeError):
            TextStyle(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError):
        layout_text(registry, "x", TextStyle(), box_width=-5)
    with pytest.raises(FontError):
        layout_text(registry, "x", TextStyle(fonts=("No Such Family",)))


# ------------------------------------------------------------------ optional ICU (intl extra)


@pytest.mark.parametrize(
    "text", ["abc אבג", "مؤتمر PyCon 2025 في دبي: 120 متحدث!", "“كتاب” – A book (2nd ed.)", "(א)"]
)
@pytest.mark.parametrize("direction", ["auto", "ltr", "rtl"])
def test_icu_bidi_agrees_with_fribidi(text: str, direction: str) -> None:
    pytest.importorskip("icu", reason="PyICU (fastshare[intl]) is not installed")
    if bidi_mod._load_fribidi() is None:
        pytest.skip("libfribidi is not installed")
    codes = codepoints(text)
    icu_levels = bidi_mod.paragraph_levels(text, codes, direction, force="icu")  # type: ignore[arg-type]
    fri_levels = bidi_mod.paragraph_levels(text, codes, direction, force="fribidi")  # type: ignore[arg-type]
    assert icu_levels[1] == fri_levels[1]
    assert icu_levels[0].tolist() == fri_levels[0].tolist()


def test_thai_word_breaks_with_icu(registry: FontRegistry) -> None:
    pytest.importorskip("icu", reason="PyICU (fastshare[intl]) is not installed")
    text = "ภาษาไทยสวัสดีครับยินดีต้อนรับทุกท่านเข้าสู่การประชุม"
    layout = lay(registry, text, 300, size=40)
    assert len(layout.lines) > 1
    words = {"ภาษาไทย", "สวัสดี", "ครับ", "ยินดี", "ต้อนรับ", "ทุก", "ท่าน", "เข้าสู่", "การ", "ประชุม"}
    for line in layout.lines[:-1]:
        # every line ends at a dictionary word boundary, not inside a word
        assert any(line.text.endswith(w) for w in words), line.text
