"""Text layout: style, wrapping, auto-fit, ellipsis, BiDi line reordering, alignment, placement.

``layout_text(registry, text, style, box_width, box_height)`` runs the pipeline up to glyph
positions — normalise → itemise (graphemes, font fallback, scripts, BiDi levels) → shape (once,
in em) → break (UAX #14) → fit (binary search on a 2 px size ladder, greedy wrap in numba) →
wrap (greedy or balanced) → clamp to max lines with an ellipsis → per-line reshaping where a
break is unsafe → L2 reordering → alignment — and never rasterises. Positions are 26.6 fixed
point relative to the box's top-left corner, y down, glyph origins on the baseline.

A :class:`TextLayout` is immutable, holds no FreeType state and can be drawn from any thread.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fastshare.errors import LimitError, TextError, ValueRangeError
from fastshare.kernels.text import (
    BRK_GRAPHEME,
    BRK_MANDATORY,
    BRK_OPPORTUNITY,
    balance_width,
    fit_ladder,
    wrap_greedy,
)
from fastshare.text import bidi
from fastshare.text.breaking import break_classes, hanging_spaces
from fastshare.text.fonts import DEFAULT_FAMILY, Font, FontChain
from fastshare.text.itemize import NEWLINE_FONT, Itemized, Run, itemize, normalize
from fastshare.text.shape import Shaped, concat, shape_range, shape_runs, unsafe_to_break

if TYPE_CHECKING:
    from fastshare.text.fonts import FontRegistry

__all__ = [
    "MAX_TEXT_CHARS",
    "SIZE_STEP",
    "GlyphPlacement",
    "LineBox",
    "TextLayout",
    "TextStyle",
    "layout_text",
    "measure",
    "size_ladder",
]

#: longest accepted input text, in code points (before normalisation); LimitError above
MAX_TEXT_CHARS = 10_000
#: auto-fit sizes are snapped down to multiples of this (px) so the glyph cache keeps hitting
SIZE_STEP = 2
#: smallest and largest font size accepted (px)
MIN_SIZE, MAX_SIZE = 1.0, 2048.0

Align = Literal["left", "center", "right", "start", "end"]
VAlign = Literal["top", "middle", "bottom"]

_ELLIPSIS = 0x2026
_STRIP_BEFORE_ELLIPSIS = frozenset(" \u00a0\u3000,;:.-–—‐‑·、，。・…\u200b")
_FEATURE_TAG_LEN = 4


def _check_number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"must be a number in [{lo:g}, {hi:g}]"
        raise ValueRangeError(msg, field=name, value=value)
    v = float(value)
    if not (lo <= v <= hi) or math.isnan(v):
        msg = f"must be in [{lo:g}, {hi:g}]"
        raise ValueRangeError(msg, field=name, value=value)
    return v


def _check_choice(value: Any, name: str, choices: Sequence[str]) -> None:
    if value not in choices:
        msg = f"must be one of {', '.join(choices)}"
        raise ValueRangeError(msg, field=name, value=value)


@dataclass(frozen=True)
class TextStyle:
    """How to set a text block. Every field is validated on construction (ValueRangeError).

    fonts:           family names in fallback order (then the bundled script fallbacks)
    weight, italic:  CSS-like face selection (variable fonts are instanced at ``weight``)
    size:            font size in px (the size used when not fitting; upper bound for "shrink")
    size_range:      ``(min, max)`` px: auto-fit; ``None``: fixed ``size``
    fit:             "grow": largest ladder size in ``size_range`` that fits; "shrink": ``size``
                     when it fits, else the largest smaller ladder size down to ``min``
    line_height:     line box height as a multiple of the size (CSS ``line-height: 1.2``)
    letter_spacing:  extra advance after each cluster, in em (not inside cursive scripts)
    max_lines:       at most this many lines (``None``: as many as the box height allows)
    wrap:            "greedy" (first fit), "balance" (CSS ``text-wrap: balance``), "none"
    overflow:        "ellipsis" (cut at a word when sensible, append "…") or "clip"
    align:           left / center / right / start / end (start/end follow the paragraph)
    valign:          top / middle / bottom inside the box height
    direction:       "auto" (first strong character), "ltr" or "rtl" paragraph direction
    features:        OpenType features, e.g. ``{"ss01": True, "tnum": True, "liga": False}``
    language:        BCP 47 tag for shaping (``locl``) and CJK font choice, e.g. "ja", "sr"
    whitespace:      "collapse" (default; newlines kept) or "preserve"
    missing_glyphs:  "notdef" (draw .notdef boxes), "skip" (drop) or "error" (MissingGlyphError)
    variations:      extra variable-font axis values, e.g. ``{"opsz": 32}``
    """

    fonts: tuple[str, ...] = (DEFAULT_FAMILY,)
    weight: float = 400
    italic: bool = False
    size: float = 48.0
    size_range: tuple[float, float] | None = None
    fit: Literal["grow", "shrink"] = "grow"
    line_height: float = 1.2
    letter_spacing: float = 0.0
    max_lines: int | None = None
    wrap: Literal["greedy", "balance", "none"] = "greedy"
    overflow: Literal["ellipsis", "clip"] = "ellipsis"
    align: Align = "start"
    valign: VAlign = "top"
    direction: Literal["auto", "ltr", "rtl"] = "auto"
    features: tuple[tuple[str, int], ...] | Mapping[str, bool | int] = ()
    language: str | None = None
    whitespace: Literal["collapse", "preserve"] = "collapse"
    missing_glyphs: Literal["notdef", "skip", "error"] = "notdef"
    variations: tuple[tuple[str, float], ...] | Mapping[str, float] = ()

    def __post_init__(self) -> None:
        fonts = (self.fonts,) if isinstance(self.fonts, str) else tuple(self.fonts)
        if not fonts or not all(isinstance(f, str) and f.strip() for f in fonts):
            msg = "must be a non-empty list of font family names"
            raise ValueRangeError(msg, field="fonts", value=self.fonts)
        object.__setattr__(self, "fonts", fonts)
        object.__setattr__(self, "weight", _check_number(self.weight, "weight", 1, 1000))
        object.__setattr__(self, "size", _check_number(self.size, "size", MIN_SIZE, MAX_SIZE))
        if self.size_range is not None:
            try:
                lo, hi = self.size_range
            except (TypeError, ValueError):
                msg = "must be a pair (min, max)"
                raise ValueRangeError(msg, field="size_range", value=self.size_range) from None
            lo = _check_number(lo, "size_range[0]", MIN_SIZE, MAX_SIZE)
            hi = _check_number(hi, "size_range[1]", MIN_SIZE, MAX_SIZE)
            if lo > hi:
                msg = "min must not exceed max"
                raise ValueRangeError(msg, field="size_range", value=self.size_range)
            object.__setattr__(self, "size_range", (lo, hi))
        _check_choice(self.fit, "fit", ("grow", "shrink"))
        object.__setattr__(
            self, "line_height", _check_number(self.line_height, "line_height", 0.1, 10)
        )
        object.__setattr__(
            self, "letter_spacing", _check_number(self.letter_spacing, "letter_spacing", -1, 10)
        )
        if self.max_lines is not None and (
            isinstance(self.max_lines, bool)
            or not isinstance(self.max_lines, int)
            or not 1 <= self.max_lines <= 1000
        ):
            msg = "must be an integer in [1, 1000] or None"
            raise ValueRangeError(msg, field="max_lines", value=self.max_lines)
        _check_choice(self.wrap, "wrap", ("greedy", "balance", "none"))
        _check_choice(self.overflow, "overflow", ("ellipsis", "clip"))
        _check_choice(self.align, "align", ("left", "center", "right", "start", "end"))
        _check_choice(self.valign, "valign", ("top", "middle", "bottom"))
        _check_choice(self.direction, "direction", ("auto", "ltr", "rtl"))
        _check_choice(self.whitespace, "whitespace", ("collapse", "preserve"))
        _check_choice(self.missing_glyphs, "missing_glyphs", ("notdef", "skip", "error"))
        feats = dict(self.features) if not isinstance(self.features, dict) else self.features
        clean: dict[str, int] = {}
        for tag, value in feats.items():
            if not isinstance(tag, str) or len(tag) != _FEATURE_TAG_LEN or not tag.isascii():
                msg = "OpenType feature tags are 4 ASCII characters"
                raise ValueRangeError(msg, field="features", value=tag)
            if isinstance(value, bool):
                clean[tag] = int(value)
            elif isinstance(value, int) and 0 <= value <= 0xFFFF:
                clean[tag] = value
            else:
                msg = f"feature {tag!r} must be a boolean or an integer in [0, 65535]"
                raise ValueRangeError(msg, field="features", value=value)
        object.__setattr__(self, "features", tuple(sorted(clean.items())))
        if self.language is not None and (
            not isinstance(self.language, str) or not 1 <= len(self.language) <= 35
        ):
            msg = "must be a BCP 47 language tag such as 'en', 'ar', 'zh-Hant'"
            raise ValueRangeError(msg, field="language", value=self.language)
        var = dict(self.variations) if not isinstance(self.variations, dict) else self.variations
        for tag, value in var.items():
            if not isinstance(tag, str) or len(tag) != _FEATURE_TAG_LEN:
                msg = "variation axis tags are 4 characters"
                raise ValueRangeError(msg, field="variations", value=tag)
            _check_number(value, f"variations.{tag}", -1e5, 1e5)
        object.__setattr__(self, "variations", tuple(sorted((t, float(v)) for t, v in var.items())))

    @property
    def feature_dict(self) -> dict[str, bool | int]:
        """Features as HarfBuzz takes them (a fresh dict; ``features`` is a sorted tuple)."""
        return dict(_feature_dict(self.features))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _feature_dict(features: tuple[tuple[str, int], ...]) -> dict[str, bool | int]:
    return {t: (bool(v) if v in (0, 1) else v) for t, v in features}


@dataclass(frozen=True)
class LineBox:
    """One laid-out line. Geometry in px relative to the box's top-left corner, y down."""

    start: int  # first code point (normalised text)
    end: int  # one past the last code point shown (hanging spaces and newline excluded)
    text: str  # what the line shows (with "…" when it was cut)
    x: float  # left edge of the line's advance box
    y: float  # top of the line box
    width: float  # advance width (trailing spaces excluded)
    height: float  # line box height (size × line_height)
    baseline: float  # baseline y
    rtl: bool  # paragraph direction
    glyph_start: int  # slice of TextLayout.glyphs
    glyph_end: int
    ellipsis: bool = False


@dataclass(frozen=True)
class GlyphPlacement:
    """Positioned glyphs (length G, visual order per line). Positions are 26.6 fixed point
    relative to the box's top-left corner, y down, at each glyph's origin on its baseline."""

    font: np.ndarray  # int16, index into TextLayout.fonts
    gid: np.ndarray  # int64
    x26: np.ndarray  # int64
    y26: np.ndarray  # int64
    cluster: np.ndarray  # int64, code point in TextLayout.text (-1: inserted ellipsis)

    @property
    def count(self) -> int:
        return int(self.gid.shape[0])


@dataclass(frozen=True)
class TextLayout:
    """The result of laying out a text block. Never holds rasterised pixels."""

    text: str  # normalised text
    style: TextStyle
    size: float  # font size used (px; fitted when size_range was given)
    box_width: float | None
    box_height: float | None
    lines: tuple[LineBox, ...]
    glyphs: GlyphPlacement
    fonts: tuple[Font, ...]  # the chain's fonts; GlyphPlacement.font indexes it
    emoji_font: int  # index in ``fonts`` of the colour emoji font, or -1
    width: float  # widest line (px)
    height: float  # lines × line box height (px)
    top: float  # y of the first line box (valign offset)
    truncated: bool  # text was cut (max lines / box height)
    missing: int  # characters no font covers (drawn as .notdef, skipped, or ...)
    missing_chars: tuple[str, ...]
    direction: Literal["ltr", "rtl"]  # of the first paragraph
    bidi: str  # "none" (fast path) or the backend used
    registry: FontRegistry | None = field(default=None, repr=False, compare=False)
    timings: dict[str, float] | None = field(default=None, repr=False, compare=False)

    @property
    def line_texts(self) -> list[str]:
        return [line.text for line in self.lines]

    @property
    def line_widths(self) -> list[float]:
        return [line.width for line in self.lines]

    @property
    def ellipsis(self) -> bool:
        return any(line.ellipsis for line in self.lines)

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the line boxes, relative to the box."""
        if not self.lines:
            return (0.0, self.top, 0.0, self.top)
        x0 = min(line.x for line in self.lines)
        x1 = max(line.x + line.width for line in self.lines)
        return (x0, self.lines[0].y, x1, self.lines[-1].y + self.lines[-1].height)


# --------------------------------------------------------------------------- sizes


def size_ladder(lo: float, hi: float, step: int = SIZE_STEP) -> list[float]:
    """Candidate sizes in [lo, hi]: ``lo`` plus every multiple of ``step`` above it."""
    return list(_ladder_array(float(lo), float(hi), step).tolist())


@functools.lru_cache(maxsize=256)
def _ladder_array(lo: float, hi: float, step: int) -> np.ndarray:
    sizes = [float(lo)]
    k = math.floor(lo / step) + 1
    while k * step <= hi + 1e-9:
        if k * step > lo:
            sizes.append(float(k * step))
        k += 1
    ladder = np.array(sizes, dtype=np.float64)
    ladder.setflags(write=False)
    return ladder


# --------------------------------------------------------------------------- the engine


@dataclass
class _Units:
    width: np.ndarray  # float64 em per code point
    space: np.ndarray  # uint8
    brk: np.ndarray  # uint8


class _Wrapper:
    """Greedy wrapping over the units at a given size, with reusable output buffers."""

    def __init__(self, units: _Units) -> None:
        self.units = units
        self.n = int(units.width.shape[0])
        self._starts = np.zeros(1, dtype=np.int64)
        self._widths = np.zeros(1, dtype=np.float64)

    def wrap(self, max_width_em: float, cap: int) -> tuple[int, np.ndarray, np.ndarray, bool]:
        if self._starts.shape[0] < cap + 1:
            self._starts = np.zeros(cap + 1, dtype=np.int64)
            self._widths = np.zeros(cap + 1, dtype=np.float64)
        starts = self._starts[: cap + 1]
        widths = self._widths[:cap]
        count = int(
            wrap_greedy(
                starts, widths, self.units.width, self.units.space, self.units.brk, max_width_em
            )
        )
        complete = int(starts[count]) >= self.n
        return count, starts[: count + 1].copy(), widths[:count].copy(), complete


def _lines_cap(style: TextStyle, size: float, box_height: float | None, n_units: int) -> int:
    cap = style.max_lines if style.max_lines is not None else max(1, n_units)
    if box_height is not None:
        fit = math.floor((box_height + 1e-6) / (style.line_height * size))
        cap = min(cap, max(1, fit))
    return max(1, min(cap, max(1, n_units)))


def _choose_size(
    wrapper: _Wrapper, style: TextStyle, box_w: float | None, box_h: float | None
) -> float:
    """The fitted size: the largest ladder size in ``size_range`` (or up to ``size`` for
    "shrink") at which the text fits the box and the line limit; the minimum if none does."""
    if style.size_range is None:
        return style.size
    lo, hi = style.size_range
    if style.fit == "shrink":
        hi = max(lo, min(hi, style.size))
    ladder = _ladder_array(float(lo), float(hi), SIZE_STEP)
    u = wrapper.units
    max_lines = style.max_lines if style.max_lines is not None else max(1, wrapper.n)
    max_lines = max(1, min(max_lines, max(1, wrapper.n)))
    starts = np.zeros(max_lines + 1, dtype=np.int64)
    widths = np.zeros(max_lines, dtype=np.float64)
    best = fit_ladder(
        starts, widths, u.width, u.space, u.brk, ladder,
        math.inf if box_w is None else box_w, math.inf if box_h is None else box_h,
        style.line_height, max_lines,
    )  # fmt: skip
    return float(ladder[max(0, int(best))])


def _balance(wrapper: _Wrapper, count: int, max_w: float, cap: int) -> float:
    """Smallest width (em) whose greedy wrap still has ``count`` lines (CSS text-wrap: balance)."""
    u = wrapper.units
    starts = np.zeros(cap + 1, dtype=np.int64)
    widths = np.zeros(cap, dtype=np.float64)
    return float(
        balance_width(starts, widths, u.width, u.space, u.brk, max_w, count, 1e-4 * max(max_w, 1.0))
    )


Piece = tuple[int, int, int]  # (chunk, first glyph, one past the last glyph)


class _Engine:
    """Per-call state of one layout.

    Glyphs live in *chunks*: chunk 0 is the shaped text; reshaped line pieces and the ellipsis
    are appended as further chunks. A line is a list of pieces (contiguous glyph ranges of one
    chunk) in visual order; glyph arrays are gathered once, at the end.
    """

    def __init__(
        self,
        text: str,
        it: Itemized,
        shaped: Shaped,
        infos: dict[int, list[Any]],
        chain: FontChain,
        style: TextStyle,
        units: _Units,
        codes_list: list[int],
        features: dict[str, bool | int],
    ) -> None:
        self.text = text
        self.it = it
        self.shaped = shaped
        self.infos = infos
        self.chain = chain
        self.style = style
        self.units = units
        self.codes_list = codes_list
        self.features = features
        self.cum = np.concatenate(([0.0], np.cumsum(units.width)))
        self.chunks: list[Shaped] = []
        self.chunk_cum: list[np.ndarray] = []
        self._add_chunk(shaped)
        self._ellipsis: dict[tuple[int, int], Piece] = {}
        # glyph index ranges per run (shaped glyphs are grouped by run, in run order)
        self.run_glyphs: dict[int, tuple[int, int]] = {}
        if shaped.count:
            runs = shaped.run
            change = np.flatnonzero(runs[1:] != runs[:-1]) + 1
            cuts = [0, *change.tolist(), shaped.count]
            for a, b in itertools.pairwise(cuts):
                self.run_glyphs[int(runs[a])] = (a, b)

    def _add_chunk(self, chunk: Shaped) -> int:
        self.chunks.append(chunk)
        self.chunk_cum.append(np.concatenate(([0.0], np.cumsum(chunk.advance + chunk.spacing))))
        return len(self.chunks) - 1

    def piece_width(self, piece: Piece) -> float:
        c, i0, i1 = piece
        cum = self.chunk_cum[c]
        return float(cum[i1] - cum[i0])

    def paragraph_of(self, pos: int) -> tuple[int, int, int]:
        for para in self.it.paragraphs:
            if para[0] <= pos <= para[1]:
                return para
        return self.it.paragraphs[-1]

    def trim_end(self, start: int, end: int) -> int:
        """``end`` without trailing hanging whitespace (and newline)."""
        space = self.units.space
        while end > start and space[end - 1]:
            end -= 1
        return end

    def width_em(self, start: int, end: int) -> float:
        end = self.trim_end(start, end)
        return float(self.cum[end] - self.cum[start])

    def _piece(self, run_index: int, run: Run, a: int, b: int, line: tuple[int, int]) -> Piece:
        ga, gb = self.run_glyphs.get(run_index, (0, 0))
        if a <= run.start and b >= run.end:
            return (0, ga, gb)
        cl = self.shaped.cluster[ga:gb]  # monotone: ascending (LTR) or descending (RTL)
        length = gb - ga
        ordered = cl if not run.rtl else cl[::-1]
        j0 = int(np.searchsorted(ordered, a, side="left"))
        j1 = int(np.searchsorted(ordered, b, side="left"))
        infos = self.infos.get(run_index, [])
        safe = True
        for edge, j in ((a, j0), (b, j1)):
            if run.start < edge < run.end:
                # a glyph must start exactly at the break, and HarfBuzz must allow breaking there
                if j >= length or int(ordered[j]) != edge:
                    safe = False
                else:
                    k = j if not run.rtl else length - 1 - j
                    safe = not unsafe_to_break(infos[k]) if k < len(infos) else False
                if not safe:
                    break
        if not safe:
            chunk, _infos = shape_range(
                self.chain.fonts[run.font],
                self.codes_list,
                a,
                b,
                rtl=run.rtl,
                script=run.script,
                language=self.style.language,
                features=self.features,
                font_index=run.font,
                run_index=run_index,
                letter_spacing=self.style.letter_spacing,
                context=line,
            )
            return (self._add_chunk(chunk), 0, chunk.count)
        if not run.rtl:
            return (0, ga + j0, ga + j1)
        return (0, ga + length - j1, ga + length - j0)

    def ellipsis_piece(self, font_index: int, level: int) -> Piece:
        key = (font_index, level & 1)
        cached = self._ellipsis.get(key)
        if cached is not None:
            return cached
        fonts = self.chain.fonts
        if not (0 <= font_index < len(fonts)) or not fonts[font_index].covers(_ELLIPSIS):
            font_index = next((i for i, f in enumerate(fonts) if f.covers(_ELLIPSIS)), 0)
        piece, _infos = shape_range(
            fonts[font_index],
            [_ELLIPSIS],
            0,
            1,
            rtl=bool(level & 1),
            script="Zyyy",
            language=self.style.language,
            features=self.features,
            font_index=font_index,
            run_index=-1,
        )
        marked = Shaped(
            piece.gid,
            np.full(piece.count, -1, dtype=np.int64),
            piece.advance,
            piece.x_offset,
            piece.y_offset,
            piece.font,
            piece.run,
            piece.spacing,
        )
        result = (self._add_chunk(marked), 0, marked.count)
        self._ellipsis[key] = result
        return result

    def line_glyphs(self, start: int, end: int, ellipsis: bool) -> tuple[list[Piece], float]:
        """Pieces of units [start, end) in visual order (plus "…"), and their width in em."""
        end = self.trim_end(start, end)
        base = self.paragraph_of(start)[2]
        pieces: list[Piece] = []
        levels: list[int] = []
        last_font = 0
        for index, run in enumerate(self.it.runs):
            if run.end <= start or run.start >= end or run.font == NEWLINE_FONT:
                continue
            a, b = max(run.start, start), min(run.end, end)
            if a >= b:
                continue
            pieces.append(self._piece(index, run, a, b, (start, end)))
            levels.append(run.level)
            last_font = run.font
        if ellipsis:
            pieces.append(self.ellipsis_piece(last_font, base))
            levels.append(base)
        if any(levels) and len(pieces) > 1:
            pieces = [pieces[i] for i in bidi.reorder_visual(levels)]
        width = sum(self.piece_width(p) for p in pieces)
        return pieces, width

    def graphemes_in(self, start: int, end: int) -> int:
        end = self.trim_end(start, end)
        if end <= start:
            return 0
        return 1 + int(np.count_nonzero(self.units.brk[start + 1 : end] >= BRK_GRAPHEME))

    def build_lines(
        self, wrapper: _Wrapper, max_w: float, cap: int, balance: bool
    ) -> tuple[list[tuple[int, int, bool]], list[tuple[list[Piece], float]], bool]:
        """Wrap (greedy, or balanced), clamp with an ellipsis and shape the lines.

        Lines are taken one at a time from a greedy wrap of the remaining text, then shaped;
        where shaping a line on its own makes it wider than ``max_w`` (a break at an unsafe
        point: cursive joining, an emergency break inside a word), its end moves back to the
        previous break, so no line holding more than one grapheme cluster exceeds ``max_w``.
        """
        break_w = max_w
        target = -1
        if balance:
            count, _s, _w, complete = wrapper.wrap(max_w, cap)
            if complete and count > 1:
                break_w = _balance(wrapper, count, max_w, cap)
                target = count
        result = self._verified_lines(wrapper, break_w, max_w, cap)
        if target >= 0:
            # Balanced lines are chosen on unit advances; shaping a line on its own (joining or
            # kerning across the new break) can make it wider than the balanced width, and then
            # possibly wider than the greedy block. Keep greedy lines in that case.
            widest = max((width for _pieces, width in result[1]), default=0.0)
            wider = widest > break_w + 1e-6 * max(break_w, 1.0)
            if result[2] or len(result[0]) != target or wider:
                result = self._verified_lines(wrapper, max_w, max_w, cap)
        return result

    def _first_line_end(self, pos: int, width: float) -> int:
        u = self.units
        starts = np.zeros(2, dtype=np.int64)
        widths = np.zeros(1, dtype=np.float64)
        wrap_greedy(starts, widths, u.width[pos:], u.space[pos:], u.brk[pos:], width)
        return pos + int(starts[1])

    def _previous_break(self, start: int, end: int) -> int:
        """The last break position in (start, end): an opportunity if the line has one, else a
        grapheme boundary (never one followed by hanging whitespace); ``start`` if none."""
        brk, space = self.units.brk, self.units.space
        grapheme = start
        for p in range(end - 1, start, -1):
            if brk[p] >= BRK_OPPORTUNITY:
                return p
            if grapheme == start and brk[p] == BRK_GRAPHEME and not space[p]:
                grapheme = p
        return grapheme

    def _verified_lines(
        self, wrapper: _Wrapper, break_w: float, max_w: float, cap: int
    ) -> tuple[list[tuple[int, int, bool]], list[tuple[list[Piece], float]], bool]:
        n = wrapper.n
        specs: list[tuple[int, int, bool]] = []
        built: list[tuple[list[Piece], float]] = []
        pos = 0
        if break_w == max_w and cap >= 1:
            # one kernel call gives every greedy line; verified below like the rest
            count, starts, _w, _complete = wrapper.wrap(break_w, cap)
            ends = {int(starts[i]): int(starts[i + 1]) for i in range(count)}
        else:
            ends = {}
        while pos < n and len(specs) < cap:
            end = ends.get(pos)
            if end is None:
                end = self._first_line_end(pos, break_w)
            pieces, width = self.line_glyphs(pos, end, False)
            while width > max_w + 1e-9 and self.graphemes_in(pos, end) > 1:
                earlier = self._previous_break(pos, end)
                if earlier <= pos:
                    break
                end = earlier
                pieces, width = self.line_glyphs(pos, end, False)
            specs.append((pos, end, False))
            built.append((pieces, width))
            pos = end
        truncated = pos < n
        if truncated and self.style.overflow == "ellipsis" and specs:
            ls, le, _e = specs[-1]
            le = self.ellipsis_cut(ls, le, max_w)
            pieces, width = self.line_glyphs(ls, le, True)
            while width > max_w + 1e-9 and le > ls:
                le = self._previous_boundary(ls, le)
                while le > ls and self.text[le - 1] in _STRIP_BEFORE_ELLIPSIS:
                    le -= 1
                pieces, width = self.line_glyphs(ls, le, True)
            specs[-1] = (ls, le, True)
            built[-1] = (pieces, width)
        return specs, built, truncated

    def _previous_boundary(self, start: int, end: int) -> int:
        brk = self.units.brk
        pos = end - 1
        while pos > start and brk[pos] < BRK_GRAPHEME:
            pos -= 1
        return pos

    def ellipsis_cut(self, start: int, end: int, max_w: float) -> int:
        """Where to cut units [start, end) so that the text plus "…" fits ``max_w`` (em)."""
        ell_w = self.piece_width(self.ellipsis_piece(0, 0))
        brk = self.units.brk
        text = self.text
        best = start
        for c in range(end, start, -1):
            if c < end and brk[c] < BRK_GRAPHEME:
                continue
            if self.width_em(start, c) + ell_w <= max_w + 1e-9:
                best = c
                break
        if best <= start:
            return start
        full = self.width_em(start, best)
        at_opportunity = best >= len(brk) or brk[best] >= BRK_OPPORTUNITY
        if not at_opportunity:
            for o in range(best - 1, start, -1):
                if brk[o] >= BRK_OPPORTUNITY:
                    if self.width_em(start, o) >= 0.6 * full:
                        best = o
                    break
        while best > start and text[best - 1] in _STRIP_BEFORE_ELLIPSIS:
            best -= 1
        return best

    def gather(self, lines: list[list[Piece]]) -> tuple[Shaped, np.ndarray]:
        """All lines' glyphs (visual order, line after line) and the glyph count per line."""
        bases = np.cumsum([0] + [c.count for c in self.chunks])
        index_parts = []
        counts = np.zeros(len(lines), dtype=np.int64)
        for i, pieces in enumerate(lines):
            for c, i0, i1 in pieces:
                if i1 > i0:
                    index_parts.append(np.arange(bases[c] + i0, bases[c] + i1, dtype=np.int64))
                    counts[i] += i1 - i0
        pool = concat(self.chunks)
        if not index_parts:
            return pool.take(np.zeros(0, dtype=np.int64)), counts
        return pool.take(np.concatenate(index_parts)), counts


def _empty_glyphs() -> GlyphPlacement:
    i = np.zeros(0, dtype=np.int64)
    return GlyphPlacement(np.zeros(0, dtype=np.int16), i, i.copy(), i.copy(), i.copy())


def _check_box(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    return _check_number(value, name, 1.0, 1_000_000.0)


def layout_text(
    registry: FontRegistry,
    text: str,
    style: TextStyle | None = None,
    box_width: float | None = None,
    box_height: float | None = None,
    *,
    field: str = "text",
    profile: bool = False,
) -> TextLayout:
    """Lay out ``text`` in a box ``box_width`` × ``box_height`` px (``None``: unbounded).

    Wraps to ``box_width``, fits the size when ``style.size_range`` is set, clamps to
    ``style.max_lines`` and to the lines that fit ``box_height`` (with an ellipsis unless
    ``overflow="clip"``), and aligns. Raises LimitError above :data:`MAX_TEXT_CHARS`, TextError
    for a non-string, FontError for unknown families, MissingGlyphError under the "error"
    policy. ``profile=True`` fills ``TextLayout.timings`` (seconds per stage).
    """
    t0 = time.perf_counter()
    style = style if style is not None else TextStyle()
    if not isinstance(text, str):
        msg = "text must be a string"
        raise TextError(msg, field=field, value=type(text).__name__)
    if len(text) > MAX_TEXT_CHARS:
        msg = f"text is longer than {MAX_TEXT_CHARS} characters ({len(text)})"
        raise LimitError(msg, field=field, value=text[:40])
    box_w = _check_box(box_width, "box_width")
    box_h = _check_box(box_height, "box_height")
    chain = registry.chain(
        style.fonts, style.weight, style.italic, style.language, dict(style.variations)
    )
    norm = normalize(text, style.whitespace)
    timings: dict[str, float] | None = {} if profile else None

    def empty(missing: int, missing_chars: tuple[str, ...]) -> TextLayout:
        size = style.size if style.size_range is None else style.size_range[1]
        if style.size_range is not None and style.fit == "shrink":
            size = max(style.size_range[0], min(style.size_range[1], style.size))
        return TextLayout(
            "", style, size, box_w, box_h, (), _empty_glyphs(), tuple(chain.fonts),
            chain.emoji_index, 0.0, 0.0, 0.0, False, missing, missing_chars,
            "rtl" if style.direction == "rtl" else "ltr", "none", registry, timings,
        )  # fmt: skip

    if not norm:
        return empty(0, ())

    it = itemize(norm, chain, direction=style.direction, missing_glyphs=style.missing_glyphs,
                 field=field)  # fmt: skip
    norm = it.text  # without skipped clusters under missing_glyphs="skip"
    if not norm:
        return empty(it.skipped, it.missing)
    t1 = time.perf_counter()
    codes_list = it.codes.tolist()
    features = style.feature_dict
    shaped, run_infos = shape_runs(
        codes_list,
        it.runs,
        chain,
        it.paragraphs,
        language=style.language,
        features=features,
        letter_spacing=style.letter_spacing,
    )
    t2 = time.perf_counter()
    n = len(norm)
    weights = shaped.advance + shaped.spacing
    unit_w = np.bincount(shaped.cluster, weights=weights, minlength=n).astype(np.float64)
    np.maximum(unit_w, 0.0, out=unit_w)  # wrapping assumes widths never shrink a line
    brk = break_classes(norm, it.codes, it.cluster_start)
    if shaped.count:
        # never break inside a HarfBuzz cluster (conjuncts, ligatures): its width is not divisible
        inside = np.ones(n, dtype=np.bool_)
        inside[shaped.cluster] = False
        inside[it.fonts == NEWLINE_FONT] = False
        if n:
            inside[0] = False
        brk[inside] = 0
        # a code point right after a newline may have no glyph but is still a line start
    if style.wrap == "none":
        brk = np.where(brk == BRK_MANDATORY, brk, 0).astype(np.uint8)
    units = _Units(unit_w, hanging_spaces(it.codes), brk)
    wrapper = _Wrapper(units)
    t3 = time.perf_counter()

    soft_w = None if style.wrap == "none" else box_w
    size = _choose_size(wrapper, style, soft_w, box_h)
    t4 = time.perf_counter()

    cap = _lines_cap(style, size, box_h, n)
    max_w_em = math.inf if soft_w is None else soft_w / size
    engine = _Engine(norm, it, shaped, run_infos, chain, style, units, codes_list, features)
    balance = style.wrap == "balance" and soft_w is not None
    line_specs, built, truncated = engine.build_lines(wrapper, max_w_em, cap, balance)

    # place lines
    lh = style.line_height * size
    primary = chain.fonts[0]
    ascent, descent = primary.ascender * size, primary.descender * size
    half_leading = (lh - (ascent + descent)) / 2
    block_h = len(line_specs) * lh
    top = 0.0
    if box_h is not None:
        if style.valign == "middle":
            top = (box_h - block_h) / 2
        elif style.valign == "bottom":
            top = box_h - block_h
    glyphs, counts = engine.gather([pieces for pieces, _w in built])
    widths = [w_em * size for _p, w_em in built]
    widest = max(widths, default=0.0)
    ref_w = box_w if box_w is not None else widest
    lines: list[LineBox] = []
    line_x = np.zeros(len(line_specs), dtype=np.float64)
    line_base = np.zeros(len(line_specs), dtype=np.float64)
    g_pos = 0
    for i, (ls, le, ell) in enumerate(line_specs):
        width = widths[i]
        rtl = bool(engine.paragraph_of(ls)[2])
        align = style.align
        if align == "start":
            align = "right" if rtl else "left"
        elif align == "end":
            align = "left" if rtl else "right"
        if align == "left":
            x = 0.0
        elif align == "right":
            x = ref_w - width
        else:
            x = (ref_w - width) / 2
        y = top + i * lh
        baseline = y + half_leading + ascent
        line_x[i], line_base[i] = x, baseline
        le = engine.trim_end(ls, le)
        g = int(counts[i])
        shown = norm[ls:le] + ("…" if ell else "")
        lines.append(LineBox(ls, le, shown, x, y, width, lh, baseline, rtl, g_pos, g_pos + g, ell))
        g_pos += g
    if glyphs.count:
        step = glyphs.advance + glyphs.spacing
        pen = np.cumsum(step) - step  # pen before each glyph, running over all lines
        starts_at = np.cumsum(counts) - counts
        line_of = np.repeat(np.arange(len(line_specs)), counts)
        first_pen = np.zeros(len(line_specs), dtype=np.float64)
        has = counts > 0
        first_pen[has] = pen[starts_at[has]]
        pen -= first_pen[line_of]  # restart the pen at every line
        gx = line_x[line_of] + (pen + glyphs.x_offset) * size
        gy = line_base[line_of] - glyphs.y_offset * size
        placement = GlyphPlacement(
            glyphs.font,
            glyphs.gid,
            np.rint(gx * 64).astype(np.int64),
            np.rint(gy * 64).astype(np.int64),
            glyphs.cluster,
        )
    else:
        placement = _empty_glyphs()

    missing_chars = it.missing
    notdef_extra = 0
    if placement.count:
        zero = placement.gid == 0
        if zero.any():
            missing_set = {ch for cl in missing_chars for ch in cl}
            for c in placement.cluster[zero].tolist():
                if c >= 0 and norm[c] not in missing_set:
                    notdef_extra += 1
    missing = len(missing_chars) + it.skipped + notdef_extra
    t5 = time.perf_counter()
    if timings is not None:
        timings.update(itemize=t1 - t0, shape=t2 - t1, breaks=t3 - t2, fit=t4 - t3, place=t5 - t4)
    direction: Literal["ltr", "rtl"] = "rtl" if it.paragraphs[0][2] else "ltr"
    used_bidi = bidi.backend_name() if it.rtl or bool(it.levels.any()) else "none"
    return TextLayout(
        norm, style, size, box_w, box_h, tuple(lines), placement, tuple(chain.fonts),
        chain.emoji_index, widest, block_h, top, truncated, missing, missing_chars, direction,
        used_bidi, registry, timings,
    )  # fmt: skip


def measure(
    registry: FontRegistry,
    text: str,
    style: TextStyle | None = None,
    box_width: float | None = None,
    box_height: float | None = None,
    *,
    field: str = "text",
) -> TextLayout:
    """Lines, widths, fitted size and line boxes of ``text`` without rasterising anything.

    The same as :func:`layout_text` (layout never rasterises); named for callers that only
    need geometry, such as placing a badge after a title.
    """
    return layout_text(registry, text, style, box_width, box_height, field=field)
