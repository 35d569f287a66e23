"""Normalisation and itemisation: graphemes, per-cluster font choice, scripts, BiDi levels, runs.

Everything here works on code-point indices of the *normalised* text (HarfBuzz clusters,
grapheme and line-break offsets are all converted to code points). Pure functions over immutable
inputs; thread-safe. The script and ignorable lookup tables are built once per process.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numpy as np
import unicode_segmentation_rs as useg

from fastshare.errors import MissingGlyphError
from fastshare.text import bidi
from fastshare.text.fonts import FontChain

__all__ = ["Itemized", "Run", "codepoints", "itemize", "normalize", "script_of"]

Whitespace = Literal["collapse", "preserve"]
MissingPolicy = Literal["notdef", "skip", "error"]

#: font index of newline code points (no glyphs)
NEWLINE_FONT = -3
#: font index of clusters made only of default-ignorable code points (resolved to a neighbour)
_ANY_FONT = -2

_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n|[\r\v\f\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACES = re.compile("[ \t]+")
_AROUND_NL = re.compile(" *\n *")


def normalize(text: str, whitespace: Whitespace = "collapse") -> str:
    """NFC; lone surrogates → U+FFFD; CR, CRLF, VT, FF, NEL, U+2028/9 → ``\\n``; other C0/C1
    controls removed; tabs → spaces. ``collapse`` (default) also collapses runs of spaces to one,
    trims spaces around newlines and trims the text (newlines are kept as hard breaks, like CSS
    ``white-space: pre-line``); ``preserve`` keeps every space."""
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    text = _NEWLINES.sub("\n", text)
    text = unicodedata.normalize("NFC", text)
    text = _CONTROLS.sub("", text)
    if whitespace == "collapse":
        text = _SPACES.sub(" ", text)
        text = _AROUND_NL.sub("\n", text)
        text = text.strip(" \n")
    else:
        text = text.replace("\t", " ")
    return text


def codepoints(text: str) -> np.ndarray:
    """Code points of ``text`` as int64 (``text`` must hold no lone surrogates)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


# --------------------------------------------------------------------------- tables

_tables_lock = threading.Lock()
_script_lut: np.ndarray | None = None
_script_names: list[str] = []
_common_lut: np.ndarray | None = None


def _scripts() -> tuple[np.ndarray, list[str]]:
    global _script_lut, _script_names, _common_lut
    with _tables_lock:
        if _script_lut is None:
            from fontTools.unicodedata import Scripts

            names = sorted(set(Scripts.VALUES))
            ids = {n: i for i, n in enumerate(names)}
            bounds = np.array([*Scripts.RANGES, 0x110000], dtype=np.int64)
            values = np.array([ids[v] for v in Scripts.VALUES], dtype=np.uint8)
            _script_lut = np.repeat(values, np.diff(bounds))
            _script_names = names
            common = np.zeros(len(names), dtype=np.bool_)
            for name in ("Zyyy", "Zinh", "Zzzz"):
                if name in ids:
                    common[ids[name]] = True
            _common_lut = common
        return _script_lut, _script_names


def script_of(cp: int) -> str:
    """ISO 15924 script code of a code point (``Zyyy`` common, ``Zinh`` inherited)."""
    lut, names = _scripts()
    return names[int(lut[cp])]


_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def _ignorable(codes: np.ndarray) -> np.ndarray:
    out = np.zeros(codes.shape[0], dtype=np.bool_)
    if codes.shape[0] == 0 or int(codes.max()) < 0xAD:
        return out
    for lo, hi in _IGNORABLE_RANGES:
        out |= (codes >= lo) & (codes <= hi)
    return out


_EMOJI_BMP = frozenset(
    [
        8986,
        8987,
        9193,
        9194,
        9195,
        9196,
        9200,
        9203,
        9725,
        9726,
        9748,
        9749,
        9855,
        9875,
        9889,
        9898,
        9899,
        9917,
        9918,
        9924,
        9925,
        9934,
        9940,
        9962,
        9970,
        9971,
        9973,
        9978,
        9981,
        9989,
        9994,
        9995,
        10024,
        10060,
        10062,
        10067,
        10068,
        10069,
        10071,
        10133,
        10134,
        10135,
        10160,
        10175,
        11035,
        11036,
        11088,
        11093,
        126980,
        127183,
        127374,
        127489,
        127514,
        127535,
        127568,
        127569,
        *list(range(9800, 9812)),
        *list(range(127377, 127387)),
        *list(range(127538, 127543)),
        *list(range(127544, 127547)),
    ]
)


def _emoji_presentation(cps: list[int]) -> bool:
    """Whether a grapheme cluster should use the colour emoji font (UTS #51, approximated)."""
    if 0xFE0E in cps:
        return False
    for c in cps:
        if c == 0xFE0F or c == 0x20E3 or 0x1F3FB <= c <= 0x1F3FF or 0x1F1E6 <= c <= 0x1F1FF:
            return True
    base = cps[0]
    return 0x1F300 <= base <= 0x1FAFF or base in _EMOJI_BMP


# --------------------------------------------------------------------------- itemisation


@dataclass(frozen=True)
class Run:
    """A maximal range of code points with one font, one BiDi level and one script."""

    start: int
    end: int
    font: int  # index in the chain; NEWLINE_FONT for newlines
    level: int
    script: str

    @property
    def rtl(self) -> bool:
        return bool(self.level & 1)


@dataclass(frozen=True)
class Itemized:
    """The itemised paragraph(s) of one text block."""

    text: str
    codes: np.ndarray  # int64 per code point
    cluster_start: np.ndarray  # bool per code point: a grapheme cluster starts here
    fonts: np.ndarray  # int16 per code point
    levels: np.ndarray  # int8 per code point
    paragraphs: tuple[tuple[int, int, int], ...]  # (start, end, base level); end excludes "\n"
    runs: tuple[Run, ...]
    missing: tuple[str, ...]  # clusters no font covers (after the policy was applied)
    skipped: int  # clusters removed under the "skip" policy

    @property
    def rtl(self) -> bool:
        return any(base for _s, _e, base in self.paragraphs)


def _grapheme_starts(text: str, codes: np.ndarray) -> np.ndarray:
    n = codes.shape[0]
    starts = np.ones(n, dtype=np.bool_)
    if n == 0 or int(codes.max()) < 0x300:
        return starts
    starts[:] = False
    pos = 0
    for cluster in useg.graphemes(text, True):
        starts[pos] = True
        pos += len(cluster)
    return starts


def _cluster_fonts(
    codes: np.ndarray,
    starts: np.ndarray,
    chain: FontChain,
    ignorable: np.ndarray,
    emoji_pref: bool,
) -> np.ndarray:
    """Font index per code point, uniform within each grapheme cluster (-1: none covers it)."""
    n = codes.shape[0]
    first = chain.resolve(codes).astype(np.int16)
    first[ignorable] = _ANY_FONT
    first[codes == 10] = NEWLINE_FONT
    bounds = np.flatnonzero(starts)
    ends = np.append(bounds[1:], n)
    multi = (ends - bounds) > 1
    special = multi | (first[bounds] < 0)
    if emoji_pref:
        special |= codes[bounds] >= 0x2000
    if not special.any():
        return first
    fonts = chain.fonts
    out = first.copy()
    for k in np.flatnonzero(special).tolist():
        s, e = int(bounds[k]), int(ends[k])
        if first[s] == NEWLINE_FONT:
            continue
        cps = [int(c) for c, ign in zip(codes[s:e], ignorable[s:e], strict=True) if not ign]
        choice = -1
        if not cps:
            choice = _ANY_FONT
        else:
            if emoji_pref and _emoji_presentation([int(c) for c in codes[s:e]]):
                emoji = chain.emoji
                if emoji is not None and all(emoji.covers(c) for c in cps):
                    choice = chain.emoji_index
            if choice < 0:
                f0 = int(first[s])
                if f0 >= 0 and all(fonts[f0].covers(c) for c in cps):
                    choice = f0
                else:
                    for i, font in enumerate(fonts):
                        if i != chain.emoji_index and all(font.covers(c) for c in cps):
                            choice = i
                            break
                    if choice < 0:
                        choice = f0 if f0 >= 0 else -1
        out[s:e] = choice
    return out


def _stick_common(
    codes: np.ndarray,
    starts: np.ndarray,
    fonts_cp: np.ndarray,
    common: np.ndarray,
    chain: FontChain,
    ignorable: np.ndarray,
) -> None:
    """Common/Inherited clusters (spaces, digits, punctuation) take the font of the run they sit
    in when that font covers them (leading ones: the following run's font); clusters of
    ignorables only take a neighbour's font. Modifies ``fonts_cp`` in place."""
    n = codes.shape[0]
    bounds = np.flatnonzero(starts)
    ends = np.append(bounds[1:], n)
    fonts = chain.fonts
    emoji = chain.emoji_index
    k_fonts = fonts_cp[bounds].astype(np.int64)
    is_common = (common[bounds] | (k_fonts == _ANY_FONT)) & (k_fonts != emoji)
    if not is_common.any():
        return

    def covers(f: int, k: int) -> bool:
        s, e = int(bounds[k]), int(ends[k])
        if f < 0 or f == emoji:
            return False
        font = fonts[f]
        return all(
            font.covers(int(c)) for c, ig in zip(codes[s:e], ignorable[s:e], strict=True) if not ig
        )

    def assign(k: int, f: int) -> None:
        fonts_cp[int(bounds[k]) : int(ends[k])] = f

    prev = -1
    pending: list[int] = []
    for k in range(bounds.shape[0]):
        f = int(k_fonts[k])
        if f == NEWLINE_FONT:
            pending.clear()
            prev = -1
            continue
        if is_common[k]:
            if prev >= 0 and covers(prev, k):
                assign(k, prev)
            elif prev < 0:
                pending.append(k)
            elif f == _ANY_FONT:
                assign(k, prev)
            else:
                prev = f
            continue
        for q in pending:
            if int(k_fonts[q]) == _ANY_FONT or covers(f, q):
                assign(q, f)
        pending.clear()
        prev = f


def _resolve_scripts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Script id per code point with Common/Inherited resolved from neighbours, and the mask of
    code points that were Common/Inherited."""
    lut, _names = _scripts()
    assert _common_lut is not None
    raw = lut[codes]
    common = _common_lut[raw]
    if not common.any():
        return raw, common
    if common.all():
        return raw, common
    idx = np.where(~common, np.arange(raw.shape[0]), -1)
    np.maximum.accumulate(idx, out=idx)
    first_real = int(np.flatnonzero(~common)[0])
    idx[idx < 0] = first_real
    return raw[idx], common


def itemize(
    text: str,
    chain: FontChain,
    *,
    direction: bidi.Direction = "auto",
    missing_glyphs: MissingPolicy = "notdef",
    field: str = "text",
) -> Itemized:
    """Itemise normalised ``text`` against a font chain. See the module docstring."""
    codes = codepoints(text)
    n = int(codes.shape[0])
    if n and direction != "rtl" and int(codes.max()) < 0x0300 and "\n" not in text:
        # fast path: Latin-1 / Latin Extended text that the primary font covers entirely is one
        # LTR run of single-code-point clusters (the common case for titles)
        first = chain.table[codes]
        if not first.any():
            fonts0 = np.zeros(n, dtype=np.int16)
            return Itemized(
                text,
                codes,
                np.ones(n, dtype=np.bool_),
                fonts0,
                np.zeros(n, dtype=np.int8),
                ((0, n, 0),),
                (Run(0, n, 0, 0, "Latn"),),
                (),
                0,
            )
    starts = _grapheme_starts(text, codes)
    ignorable = _ignorable(codes)
    emoji_pref = chain.emoji is not None
    fonts_cp = _cluster_fonts(codes, starts, chain, ignorable, emoji_pref)

    missing: list[str] = []
    skipped = 0
    if (fonts_cp == -1).any():
        bounds = np.flatnonzero(starts)
        ends = np.append(bounds[1:], n)
        bad = [(int(s), int(e)) for s, e in zip(bounds, ends, strict=True) if fonts_cp[s] == -1]
        missing = [text[s:e] for s, e in bad]
        if missing_glyphs == "error":
            chars = [c for cluster in missing for c in cluster]
            msg = f"{len(missing)} character(s) not covered by any font in the chain"
            raise MissingGlyphError(msg, field=field, chars=chars)
        if missing_glyphs == "skip":
            keep = np.ones(n, dtype=np.bool_)
            for s, e in bad:
                keep[s:e] = False
            reduced = "".join(ch for ch, k in zip(text, keep.tolist(), strict=True) if k)
            inner = itemize(reduced, chain, direction=direction, missing_glyphs="notdef")
            return Itemized(
                inner.text,
                inner.codes,
                inner.cluster_start,
                inner.fonts,
                inner.levels,
                inner.paragraphs,
                inner.runs,
                (),
                len(bad),
            )
        for s, e in bad:
            fonts_cp[s:e] = 0  # .notdef of the primary font: visible tofu, counted

    scripts, common = _resolve_scripts(codes)
    if n and (len(np.unique(fonts_cp)) > 1 or (fonts_cp == _ANY_FONT).any()):
        _stick_common(codes, starts, fonts_cp, common, chain, ignorable)
    fonts_cp[fonts_cp == _ANY_FONT] = 0

    # BiDi levels per paragraph
    levels = np.zeros(n, dtype=np.int8)
    paragraphs: list[tuple[int, int, int]] = []
    pos = 0
    for part in text.split("\n"):
        end = pos + len(part)
        lv, base = bidi.paragraph_levels(part, codes[pos:end], direction)
        levels[pos:end] = lv
        paragraphs.append((pos, end, base))
        if end < n:
            levels[end] = base
        pos = end + 1

    runs: list[Run] = []
    if n:
        _lut, names = _scripts()
        change = (
            (fonts_cp[1:] != fonts_cp[:-1])
            | (levels[1:] != levels[:-1])
            | (scripts[1:] != scripts[:-1])
        )
        cuts = [0, *(np.flatnonzero(change) + 1).tolist(), n]
        for s, e in itertools.pairwise(cuts):
            runs.append(Run(s, e, int(fonts_cp[s]), int(levels[s]), names[int(scripts[s])]))
    return Itemized(
        text,
        codes,
        starts,
        fonts_cp,
        levels,
        tuple(paragraphs),
        tuple(runs),
        tuple(missing),
        skipped,
    )
