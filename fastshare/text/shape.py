"""Shaping with HarfBuzz: one buffer per run, in font units, with the whole paragraph as context.

Each run is shaped with its direction (odd BiDi level → RTL), script, the style's language and
features (``kern``, ``liga``, ``calt`` are on by default in HarfBuzz; user features add to or turn
them off). Fonts are shaped at ``scale = upem`` so results are independent of the size; every
advance and offset is returned in **em** (font units / upem), so a size in px multiplies them.

Output glyph arrays are concatenated in run order (logical order of runs); within an RTL run
HarfBuzz returns glyphs in visual order. ``cluster`` is the code-point index in the text.

``hb.Font`` objects are shared between threads (HarfBuzz fonts are immutable once set up);
each call creates its own buffers. Thread-safe.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import uharfbuzz as hb

from fastshare.text.fonts import Font, FontChain
from fastshare.text.itemize import NEWLINE_FONT, Run

__all__ = ["CURSIVE_SCRIPTS", "Shaped", "concat", "shape_range", "shape_runs", "unsafe_to_break"]

#: scripts whose letters join: letter spacing is not applied inside them
CURSIVE_SCRIPTS = frozenset({"Arab", "Syrc", "Mong", "Nkoo", "Mand", "Phag", "Adlm", "Rohg"})

_UNSAFE = int(hb.GlyphFlags.UNSAFE_TO_BREAK)


@dataclass(frozen=True)
class Shaped:
    """Glyphs of a text, as parallel arrays (length G)."""

    gid: np.ndarray  # int64
    cluster: np.ndarray  # int64, code-point index in the text
    advance: np.ndarray  # float64, em
    x_offset: np.ndarray  # float64, em
    y_offset: np.ndarray  # float64, em (y up)
    font: np.ndarray  # int16, index in the chain
    run: np.ndarray  # int32, index of the run
    spacing: np.ndarray  # float64, em: letter spacing added after this glyph

    @property
    def count(self) -> int:
        return int(self.gid.shape[0])

    def slice(self, a: int, b: int) -> Shaped:
        return Shaped(*(getattr(self, name)[a:b] for name in _FIELDS))

    def take(self, index: np.ndarray) -> Shaped:
        return Shaped(
            self.gid[index],
            self.cluster[index],
            self.advance[index],
            self.x_offset[index],
            self.y_offset[index],
            self.font[index],
            self.run[index],
            self.spacing[index],
        )


def _empty() -> Shaped:
    f = np.zeros(0, dtype=np.float64)
    i = np.zeros(0, dtype=np.int64)
    return Shaped(
        i,
        i.copy(),
        f,
        f.copy(),
        f.copy(),
        np.zeros(0, dtype=np.int16),
        np.zeros(0, dtype=np.int32),
        f.copy(),
    )


def concat(parts: Sequence[Shaped]) -> Shaped:
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    return Shaped(*(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS))


_FIELDS = ("gid", "cluster", "advance", "x_offset", "y_offset", "font", "run", "spacing")


def shape_range(
    font: Font,
    codes: list[int],
    start: int,
    end: int,
    *,
    rtl: bool,
    script: str,
    language: str | None,
    features: dict[str, bool | int],
    font_index: int,
    run_index: int,
    letter_spacing: float = 0.0,
    context: tuple[int, int] | None = None,
) -> tuple[Shaped, list[Any]]:
    """Shape ``codes[start:end]`` with ``font`` (context: the code points around it, limited to
    ``context = (lo, hi)`` when given, for example a line). Returns the glyphs and HarfBuzz's
    glyph infos (kept to read UNSAFE_TO_BREAK flags lazily: reading every flag costs more than
    shaping)."""
    buf = hb.Buffer()
    lo, hi = context if context is not None else (0, len(codes))
    buf.add_codepoints(codes[lo:hi], start - lo, end - start)
    buf.direction = "rtl" if rtl else "ltr"
    if script and script not in ("Zyyy", "Zinh", "Zzzz"):
        buf.script = script
    if language:
        buf.language = language
    buf.guess_segment_properties()
    hb.shape(font.hb_font, buf, features)
    infos = buf.glyph_infos
    positions = buf.glyph_positions
    g = len(infos)
    upem = float(font.upem)
    gid = np.array([i.codepoint for i in infos], dtype=np.int64)
    cluster = np.array([i.cluster for i in infos], dtype=np.int64) + lo
    pos = np.fromiter(
        itertools.chain.from_iterable([p.position for p in positions]), dtype=np.int64, count=4 * g
    ).reshape(g, 4)  # GlyphPosition.position = (x_offset, y_offset, x_advance, y_advance)
    adv = pos[:, 2] / upem
    xo = pos[:, 0] / upem
    yo = pos[:, 1] / upem
    spacing = np.zeros(g, dtype=np.float64)
    if letter_spacing and g and script not in CURSIVE_SCRIPTS:
        # after the last glyph (buffer order) of each cluster: keeps marks on their base
        last = np.ones(g, dtype=np.bool_)
        last[:-1] = cluster[1:] != cluster[:-1]
        spacing[last] = letter_spacing
    shaped = Shaped(
        gid,
        cluster,
        adv,
        xo,
        yo,
        np.full(g, font_index, dtype=np.int16),
        np.full(g, run_index, dtype=np.int32),
        spacing,
    )
    return shaped, infos


def unsafe_to_break(info: Any) -> bool:
    """Whether HarfBuzz marked a glyph UNSAFE_TO_BREAK (reshaping needed when breaking there)."""
    return bool(int(info.flags) & _UNSAFE)


def shape_runs(
    codes: list[int],
    runs: Sequence[Run],
    chain: FontChain,
    paragraphs: Sequence[tuple[int, int, int]],
    *,
    language: str | None,
    features: dict[str, bool | int],
    letter_spacing: float = 0.0,
) -> tuple[Shaped, dict[int, list[Any]]]:
    """Shape every run (newline runs produce no glyphs), each with its paragraph as context.
    Returns the glyphs and the HarfBuzz glyph infos per run index."""
    parts = []
    infos: dict[int, list[Any]] = {}
    p = 0
    for index, run in enumerate(runs):
        if run.font == NEWLINE_FONT:
            continue
        while p < len(paragraphs) - 1 and run.start > paragraphs[p][1]:
            p += 1
        context = (paragraphs[p][0], paragraphs[p][1])
        shaped, run_infos = shape_range(
            chain.fonts[run.font],
            codes,
            run.start,
            run.end,
            rtl=run.rtl,
            script=run.script,
            language=language,
            features=features,
            font_index=run.font,
            run_index=index,
            letter_spacing=letter_spacing,
            context=context,
        )
        parts.append(shaped)
        infos[index] = run_infos
    return concat(parts), infos
