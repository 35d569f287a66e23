"""Tiny fonts built with fontTools for the text tests (self-contained: nothing downloaded).

* :func:`build_color_font` — a TrueType font with a COLRv0 glyph (U+1F600, two layers) and a COLRv1
  glyph (U+1F680, a linear gradient), plus 'A' as a plain outline glyph.
* :func:`build_variable_font` — a TrueType variable font with a ``wght`` axis (100–900) whose 'A'
  and 'B' get wider and whose stems get heavier with weight (gvar deltas, phantom points).
"""

from __future__ import annotations

from pathlib import Path

from fontTools.colorLib.builder import buildCOLR, buildCPAL
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib.tables import otTables as ot
from fontTools.ttLib.tables.TupleVariation import TupleVariation


def _rect(x0: int, y0: int, x1: int, y1: int):  # type: ignore[no-untyped-def]
    pen = TTGlyphPen(None)
    pen.moveTo((x0, y0))
    pen.lineTo((x0, y1))
    pen.lineTo((x1, y1))
    pen.lineTo((x1, y0))
    pen.closePath()
    return pen.glyph()


def _diamond(cx: int, cy: int, r: int):  # type: ignore[no-untyped-def]
    pen = TTGlyphPen(None)
    pen.moveTo((cx - r, cy))
    pen.lineTo((cx, cy + r))
    pen.lineTo((cx + r, cy))
    pen.lineTo((cx, cy - r))
    pen.closePath()
    return pen.glyph()


def _finish(fb: FontBuilder, family: str, glyphs: dict, advances: dict[str, int]) -> None:  # type: ignore[type-arg]
    fb.setupGlyf(glyphs)
    glyf = fb.font["glyf"]
    metrics = {}
    for name in fb.font.getGlyphOrder():
        g = glyf[name]
        g.recalcBounds(glyf)
        metrics[name] = (advances[name], getattr(g, "xMin", 0))
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": family, "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()


def build_color_font(path: Path) -> Path:
    names = [".notdef", "space", "A", "smile", "smile.l0", "smile.l1", "rocket", "rocket.l0"]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({0x20: "space", 0x41: "A", 0x1F600: "smile", 0x1F680: "rocket"})
    glyphs = {
        ".notdef": _rect(50, 0, 550, 700),
        "space": TTGlyphPen(None).glyph(),
        "A": _rect(100, 0, 500, 700),
        "smile": _rect(0, -200, 1000, 800),
        "smile.l0": _rect(0, -200, 1000, 800),
        "smile.l1": _diamond(500, 300, 300),
        "rocket": _rect(100, -100, 900, 700),
        "rocket.l0": _rect(100, -100, 900, 700),
    }
    advances = {n: 1000 for n in names}
    advances[".notdef"] = 600
    advances["space"] = 300
    advances["A"] = 600
    _finish(fb, "Test Emoji", glyphs, advances)
    fb.font["CPAL"] = buildCPAL(
        [[(1.0, 0.8, 0.0, 1.0), (0.9, 0.0, 0.0, 1.0), (0.0, 0.4, 1.0, 1.0)]]
    )
    fb.font["COLR"] = buildCOLR(
        {
            "smile": [("smile.l0", 0), ("smile.l1", 1)],
            "rocket": {
                "Format": ot.PaintFormat.PaintGlyph,
                "Glyph": "rocket.l0",
                "Paint": {
                    "Format": ot.PaintFormat.PaintLinearGradient,
                    "ColorLine": {"ColorStop": [(0.0, 2), (1.0, 1)]},
                    "x0": 100,
                    "y0": 0,
                    "x1": 900,
                    "y1": 0,
                    "x2": 100,
                    "y2": 100,
                },
            },
        }
    )
    fb.save(str(path))
    return path


def build_variable_font(path: Path) -> Path:
    names = [".notdef", "space", "A", "B"]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({0x20: "space", 0x41: "A", 0x42: "B"})
    glyphs = {
        ".notdef": _rect(50, 0, 550, 700),
        "space": TTGlyphPen(None).glyph(),
        "A": _rect(50, 0, 150, 700),  # a stem 100 units wide at wght 400
        "B": _rect(50, 0, 450, 700),
    }
    advances = {".notdef": 600, "space": 250, "A": 200, "B": 500}
    _finish(fb, "Test Var", glyphs, advances)
    fb.setupFvar(
        axes=[("wght", 100, 400, 900, "Weight")],
        instances=[
            {"location": {"wght": 400}, "stylename": "Regular"},
            {"location": {"wght": 900}, "stylename": "Black"},
        ],
    )
    # at wght=900 the stem of A is 400 units wider and its advance 400 units larger;
    # points: 4 contour points then the 4 phantom points (left, right, top, bottom)
    heavy_a = [(0, 0), (0, 0), (400, 0), (400, 0), (0, 0), (400, 0), (0, 0), (0, 0)]
    heavy_b = [(0, 0), (0, 0), (200, 0), (200, 0), (0, 0), (200, 0), (0, 0), (0, 0)]
    fb.setupGvar(
        {
            "A": [TupleVariation({"wght": (0, 1.0, 1.0)}, heavy_a)],
            "B": [TupleVariation({"wght": (0, 1.0, 1.0)}, heavy_b)],
        }
    )
    fb.save(str(path))
    return path
