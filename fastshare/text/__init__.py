"""fastshare's text engine: fonts, fallback, BiDi, shaping, wrapping, fitting, glyph raster.

Public API
----------
::

    from fastshare.text import FontRegistry, TextStyle, Shadow, layout_text, measure, draw_text

    registry = FontRegistry()                       # bundled fonts; once per process / worker
    #   FontRegistry(fonts=(), *, bundled=True, system=False, fallbacks=(), emoji=None,
    #                glyph_cache_bytes=64 MiB)
    #   .add(path) -> list[FaceInfo]   .families() -> list[str]
    #   .find(family, weight=400, italic=False, variations=None) -> Font
    #   .chain(families, weight, italic, language, variations) -> FontChain
    #   .glyph_cache.stats() -> {"hits", "misses", "hit_rate", "bytes", ...}

    style = TextStyle(fonts=("Inter",), weight=700, size_range=(32, 96), max_lines=3,
                      line_height=1.2, wrap="balance", align="start", valign="middle")

    layout = layout_text(registry, text, style, box_width=1040, box_height=340)
    #   -> TextLayout: .size (fitted), .lines (LineBox: text, x, y, width, height, baseline,
    #      rtl, ellipsis), .width, .height, .top, .truncated, .missing, .missing_chars,
    #      .direction, .bidi, .glyphs (GlyphPlacement: font, gid, x26, y26, cluster)
    metrics = measure(registry, text, style, 1040, 340)   # the same, named for geometry only

    stats = draw_text(frame, layout, x=80, y=140, fill="#fff", opacity=1.0,
                      blend="linear", shadow=Shadow("rgba(0,0,0,.4)", 0, 4, 8))
    #   -> DrawStats: glyphs, color_glyphs, failures, missing, mask_shape, cache_hits, ...

    raster = rasterize(layout, x, y)                # TextRaster: mask (H×W uint8), x, y,
                                                    # color_glyphs (RGBA premultiplied pieces)
    warm_up(registry=None)                          # compile kernels, exercise the pipeline

Errors: ValueRangeError (bad style field), LimitError (text over :data:`MAX_TEXT_CHARS`, font
file over the byte cap), TextError (non-string text), FontError (unknown family — the message
lists the known ones — or an unreadable/corrupt font file), MissingGlyphError (only under
``missing_glyphs="error"``). Nothing else is raised for any text input.

Coordinates: px, origin at the box's top-left, y down; glyph positions in 26.6 fixed point
until rasterisation. Which BiDi implementation runs: :func:`bidi_backend`.
See ``docs/text.md`` for the user documentation.
"""

from __future__ import annotations

from fastshare.text.bidi import backend_name as bidi_backend
from fastshare.text.fonts import (
    BUNDLED_FALLBACK_FAMILIES,
    DEFAULT_FAMILY,
    FaceInfo,
    Font,
    FontChain,
    FontRecipe,
    FontRegistry,
    bundled_font_dir,
    load_font,
)
from fastshare.text.itemize import normalize
from fastshare.text.layout import (
    MAX_TEXT_CHARS,
    SIZE_STEP,
    GlyphPlacement,
    LineBox,
    TextLayout,
    TextStyle,
    layout_text,
    measure,
    size_ladder,
)
from fastshare.text.raster import GlyphCache
from fastshare.text.render import (
    ColorPiece,
    DrawStats,
    Shadow,
    TextRaster,
    draw_text,
    rasterize,
    warm_up,
)

__all__ = [
    "BUNDLED_FALLBACK_FAMILIES",
    "DEFAULT_FAMILY",
    "MAX_TEXT_CHARS",
    "SIZE_STEP",
    "ColorPiece",
    "DrawStats",
    "FaceInfo",
    "Font",
    "FontChain",
    "FontRecipe",
    "FontRegistry",
    "GlyphCache",
    "GlyphPlacement",
    "LineBox",
    "Shadow",
    "TextLayout",
    "TextRaster",
    "TextStyle",
    "bidi_backend",
    "bundled_font_dir",
    "draw_text",
    "layout_text",
    "load_font",
    "measure",
    "normalize",
    "rasterize",
    "size_ladder",
    "warm_up",
]
