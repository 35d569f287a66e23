"""Property tests of text layout (Hypothesis): widths, line limits, balance, ellipsis, no crash."""

from __future__ import annotations

import math

import pytest
import unicode_segmentation_rs as useg
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fastshare.errors import LimitError, MissingGlyphError
from fastshare.text import FontRegistry, TextLayout, TextStyle, layout_text, normalize

REGISTRY = FontRegistry()

WORDS = [
    "Fast", "share", "images", "kerning", "GPOS", "->", "10:45", "Tiếng", "Việt", "Ελληνικά",
    "Кириллица", "مؤتمر", "دبي", "שלום", "(יום)", "हिन्दी", "क्षत्रिय", "สวัสดี", "a", "I",
    "supercalifragilisticexpialidocious", "—", "“quoted”", "2025", "e\u0301", "東京",
]  # fmt: skip

titles = st.lists(st.sampled_from(WORDS), min_size=1, max_size=18).map(" ".join)
any_text = st.one_of(
    titles,
    st.text(max_size=120),
    st.text(alphabet=st.sampled_from(["\ud800", "\udfff", "\n", "\t", " ", "\x00", "a", "ب"])),
)
styles = st.fixed_dictionaries(
    {
        "size": st.sampled_from([12.0, 24.0, 40.0, 64.0]),
        "max_lines": st.one_of(st.none(), st.integers(1, 4)),
        "line_height": st.sampled_from([1.0, 1.2, 1.5]),
        "letter_spacing": st.sampled_from([0.0, 0.05, -0.02]),
        "wrap": st.sampled_from(["greedy", "balance"]),
        "overflow": st.sampled_from(["ellipsis", "clip"]),
        "align": st.sampled_from(["start", "center", "end"]),
        "weight": st.sampled_from([400, 700]),
        "whitespace": st.sampled_from(["collapse", "collapse", "preserve"]),
        "direction": st.sampled_from(["auto", "auto", "ltr", "rtl"]),
    }
)
boxes = st.tuples(
    st.sampled_from([60.0, 150.0, 400.0, 1040.0]), st.sampled_from([None, 80.0, 340.0])
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _single_cluster(layout: TextLayout, index: int) -> bool:
    """The line holds one unbreakable unit: one extended grapheme cluster, or one HarfBuzz
    cluster (a ligature such as Inter's "->" arrow), plus maybe an ellipsis."""
    line = layout.lines[index]
    text = line.text.strip().removesuffix("…")
    clusters = layout.glyphs.cluster[line.glyph_start : line.glyph_end]
    return len(useg.graphemes(text, True)) <= 1 or len(set(clusters[clusters >= 0].tolist())) <= 1


@SETTINGS
@given(titles, styles, boxes)
def test_no_line_exceeds_the_box_width(text: str, style: dict, box: tuple) -> None:  # type: ignore[type-arg]
    width, height = box
    layout = layout_text(REGISTRY, text, TextStyle(**style), width, height)
    for i, line in enumerate(layout.lines):
        if line.width > width + 1e-6:
            # only a single grapheme cluster wider than the box may overflow it
            assert _single_cluster(layout, i), (line.text, line.width, width)


@SETTINGS
@given(titles, styles, boxes, st.sampled_from([(12.0, 48.0), (32.0, 96.0), (20.0, 21.0)]))
def test_fitted_text_respects_max_lines_and_box_height(
    text: str,
    style: dict,  # type: ignore[type-arg]
    box: tuple,  # type: ignore[type-arg]
    size_range: tuple[float, float],
) -> None:
    width, height = box
    ts = TextStyle(**{**style, "size_range": size_range})
    layout = layout_text(REGISTRY, text, ts, width, height)
    lo, hi = size_range
    assert lo <= layout.size <= hi
    assert layout.size == lo or layout.size % 2 == 0
    if ts.max_lines is not None:
        assert len(layout.lines) <= ts.max_lines
    if height is not None:
        line_box = ts.line_height * layout.size
        assert len(layout.lines) <= max(1, math.floor(height / line_box + 1e-6))
        if len(layout.lines) > 1:
            assert layout.height <= height + 1e-6
    if not layout.truncated and layout.size > lo:
        # the next ladder size up must not fit (largest fitting size)
        bigger = layout.size + 2 if layout.size % 2 == 0 else math.floor(layout.size / 2) * 2 + 2
        if bigger <= hi:
            up = layout_text(REGISTRY, text, TextStyle(**{**style, "size_range": (bigger, hi)}),
                             width, height)  # fmt: skip
            assert up.truncated or (height is not None and up.height > height + 1e-6)


@SETTINGS
@given(titles, styles, boxes)
def test_balanced_wrap_keeps_the_greedy_line_count(text: str, style: dict, box: tuple) -> None:  # type: ignore[type-arg]
    width, height = box
    greedy = layout_text(REGISTRY, text, TextStyle(**{**style, "wrap": "greedy"}), width, height)
    balanced = layout_text(REGISTRY, text, TextStyle(**{**style, "wrap": "balance"}), width, height)
    assert len(balanced.lines) == len(greedy.lines)
    assert balanced.truncated == greedy.truncated
    if not greedy.truncated:
        assert max(balanced.line_widths, default=0) <= max(greedy.line_widths, default=0) + 1e-6


@SETTINGS
@given(titles, styles, boxes)
def test_ellipsis_only_when_cut(text: str, style: dict, box: tuple) -> None:  # type: ignore[type-arg]
    width, height = box
    layout = layout_text(REGISTRY, text, TextStyle(**style), width, height)
    if layout.ellipsis:
        assert layout.truncated and style["overflow"] == "ellipsis"
        assert layout.lines[-1].ellipsis and layout.lines[-1].text.endswith("…")
    if not layout.truncated:
        shown = "".join(line.text for line in layout.lines).replace(" ", "").replace("\n", "")
        assert shown == normalize(text).replace(" ", "").replace("\n", "")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text, styles, boxes, st.sampled_from(["notdef", "skip", "error"]))
def test_arbitrary_unicode_never_raises_undocumented_errors(
    text: str,
    style: dict,  # type: ignore[type-arg]
    box: tuple,  # type: ignore[type-arg]
    policy: str,
) -> None:
    width, height = box
    ts = TextStyle(**style, missing_glyphs=policy)  # type: ignore[arg-type]
    try:
        layout = layout_text(REGISTRY, text, ts, width, height)
    except MissingGlyphError:
        assume(False)
        return
    except LimitError:
        pytest.fail("short text hit the length limit")
    assert layout.missing >= 0
    assert layout.glyphs.count == sum(line.glyph_end - line.glyph_start for line in layout.lines)
    if policy == "skip":
        assert not (layout.glyphs.gid == 0).any() or layout.missing > 0
