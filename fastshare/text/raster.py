"""Glyph rasterisation and the byte-budgeted glyph cache.

Coverage glyphs
    FreeType renders 8-bit coverage (``FT_RENDER_MODE_NORMAL``) of each glyph outline translated by
    a quarter-pixel x offset (bucket 0–3), unhinted at 32 px and above (``FT_LOAD_NO_HINTING``) and
    with light (vertical-only) hinting below. The bitmap is copied out of the ``FT_Bitmap`` through
    ctypes (never ``bitmap.buffer``, which builds a Python list). Bitmaps are stored back to back in
    one flat ``uint8`` arena; an entry table holds ``(offset, width, height, left, top)`` with
    ``left``/``top`` relative to the pen position, y up (FreeType's convention).

Colour glyphs
    COLRv0/COLRv1 glyphs are painted by HarfBuzz's raster painter into BGRA premultiplied images,
    converted to RGBA premultiplied (what :func:`fastshare.paint.blit_rgba` takes) and cached per
    (font, size, glyph). CBDT/sbix bitmap glyphs are decoded from their PNG with Pillow and resized.

Cache
    Keyed by (font uid, size in 26.6, glyph id, x bucket). Per (font, size) a dense ``int64`` table
    ``gid*4 + bucket → entry`` makes warm lookups one vectorised gather. The whole cache (arena,
    entries, tables, colour glyphs) is bounded by a byte budget; when an insertion would exceed it,
    the cache starts over with fresh arrays (readers holding the old arrays keep valid data).
    Failed rasterisations are not cached.

Thread safety: every method takes the cache lock; FreeType runs under :data:`FT_LOCK` as well.
Arrays returned by :meth:`GlyphCache.lookup` are never written again at the returned indices.
"""

from __future__ import annotations

import ctypes
import io
import threading
from dataclasses import dataclass
from typing import Any

import freetype
import numpy as np
import uharfbuzz as hb

from fastshare.text.fonts import FT_LOCK, Font

__all__ = ["BUCKETS", "HINTING_BELOW_PX", "ColorGlyph", "GlyphCache", "raster_glyph"]

#: sub-pixel x positions per pixel (quarter pixels)
BUCKETS = 4
#: below this size (px) glyphs get light hinting; at and above, none
HINTING_BELOW_PX = 32

_LOAD_UNHINTED = freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP
_LOAD_LIGHT = freetype.FT_LOAD_TARGET_LIGHT | freetype.FT_LOAD_NO_BITMAP
_OUTLINE_FORMAT = freetype.FT_GLYPH_FORMAT_OUTLINE
_EMPTY = np.zeros((0, 0), dtype=np.uint8)


def raster_glyph(
    font: Font, size26: int, gid: int, bucket: int
) -> tuple[np.ndarray, int, int] | None:
    """Coverage bitmap (h×w uint8, C-contiguous), left and top (y up) of one glyph, or ``None``
    when FreeType fails. Takes :data:`FT_LOCK`."""
    with FT_LOCK:
        try:
            face = font.ft_face_at(size26)
            flags = _LOAD_UNHINTED if size26 >= HINTING_BELOW_PX * 64 else _LOAD_LIGHT
            face.load_glyph(int(gid), flags)
            slot = face.glyph._FT_GlyphSlot
            if slot.contents.format != _OUTLINE_FORMAT:
                return None
            if bucket:
                freetype.raw.FT_Outline_Translate(
                    ctypes.byref(slot.contents.outline), int(bucket) * (64 // BUCKETS), 0
                )
            if freetype.raw.FT_Render_Glyph(slot, freetype.FT_RENDER_MODE_NORMAL):
                return None
            bitmap = slot.contents.bitmap
            rows, width, pitch = int(bitmap.rows), int(bitmap.width), int(bitmap.pitch)
            left, top = int(slot.contents.bitmap_left), int(slot.contents.bitmap_top)
            if rows == 0 or width == 0:
                return _EMPTY, left, top
            raw = ctypes.string_at(bitmap.buffer, rows * abs(pitch))
        except Exception:  # FreeType errors on a bad glyph: reported as a failure, not cached
            return None
    arr = np.frombuffer(raw, dtype=np.uint8).reshape(rows, abs(pitch))[:, :width]
    if pitch < 0:
        arr = arr[::-1]
    return np.ascontiguousarray(arr), left, top


@dataclass(frozen=True)
class ColorGlyph:
    """A colour glyph: RGBA premultiplied pixels, left and top (y up) relative to the pen."""

    rgba: np.ndarray
    left: int
    top: int

    @property
    def nbytes(self) -> int:
        return int(self.rgba.nbytes)


def _paint_color_glyph(font: Font, size: float, gid: int) -> ColorGlyph | None:
    """Paint a COLR glyph with HarfBuzz (any size), or decode a CBDT/sbix PNG with Pillow."""
    hb_font = hb.Font(font.hb_face)
    if font.recipe.variations:
        hb_font.set_variations(dict(font.recipe.variations))
    if font.color:
        scale = round(size * 64)
        hb_font.scale = (scale, scale)
        painter = hb.RasterPaint()
        painter.scale_factor = (64.0, 64.0)
        painter.foreground = hb.Color(0, 0, 0, 255)
        extents = hb_font.get_glyph_extents(gid)
        if extents is None or not painter.set_glyph_extents(extents):
            return None
        if not painter.paint_glyph_or_fail(hb_font, gid):
            return None
        image = painter.render()
        if image is None:
            return None
        ext = image.extents
        if ext.width <= 0 or ext.height <= 0:
            return None
        buf = np.frombuffer(image.buffer, dtype=np.uint8)
        bgra = buf.reshape(ext.height, ext.stride // 4, 4)[::-1, : ext.width]
        rgba = np.ascontiguousarray(bgra[:, :, [2, 1, 0, 3]])
        return ColorGlyph(rgba, int(ext.x_origin), int(ext.y_origin) + int(ext.height))
    if font.color_png:
        return _png_color_glyph(font, hb_font, size, gid)
    return None


def _png_color_glyph(font: Font, hb_font: Any, size: float, gid: int) -> ColorGlyph | None:
    from PIL import Image

    blob = hb_font.get_glyph_color_png(gid)
    data = bytes(blob.data) if blob is not None else b""
    if not data:
        return None
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    upem = font.upem
    hb_font.scale = (upem, upem)
    extents = hb_font.get_glyph_extents(gid)
    scale = size / upem
    if extents is not None and extents.width > 0:
        width = max(1, round(extents.width * scale))
        height = max(1, round(-extents.height * scale))
        left, top = round(extents.x_bearing * scale), round(extents.y_bearing * scale)
    else:
        height = max(1, round(size * 1.0))
        width = max(1, round(image.width * height / max(1, image.height)))
        left, top = 0, round(size * 0.8)
    image = image.resize((width, height), Image.Resampling.LANCZOS)
    rgba = np.asarray(image, dtype=np.uint8).astype(np.uint16)
    rgba[:, :, :3] = (rgba[:, :, :3] * rgba[:, :, 3:4] + 127) // 255
    return ColorGlyph(np.ascontiguousarray(rgba.astype(np.uint8)), int(left), int(top))


class GlyphCache:
    """A per-process, byte-budgeted cache of glyph coverage bitmaps and colour glyphs."""

    def __init__(self, budget_bytes: int = 64 * 1024 * 1024) -> None:
        if budget_bytes < 1024 * 1024:
            budget_bytes = 1024 * 1024
        self.budget_bytes = int(budget_bytes)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.failures = 0
        self.flushes = 0
        self._reset()

    def _reset(self) -> None:
        self._arena = np.zeros(min(self.budget_bytes // 4, 1 << 20), dtype=np.uint8)
        self._used = 0
        self._entries = np.zeros((1024, 5), dtype=np.int64)
        self._n = 0
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._table_bytes = 0
        self._color: dict[tuple[int, int, int], ColorGlyph | None] = {}
        self._color_bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes currently held (arena capacity, entries, lookup tables, colour glyphs)."""
        return int(
            self._arena.nbytes + self._entries.nbytes + self._table_bytes + self._color_bytes
        )

    def stats(self) -> dict[str, int | float]:
        with self._lock:
            total = self.hits + self.misses
            return {
                "hits": self.hits,
                "misses": self.misses,
                "failures": self.failures,
                "flushes": self.flushes,
                "entries": self._n,
                "bytes": self.nbytes,
                "hit_rate": self.hits / total if total else 0.0,
            }

    def clear(self) -> None:
        with self._lock:
            self._reset()

    # coverage glyphs ----------------------------------------------------------------------------

    def lookup(
        self, groups: list[tuple[Font, int, np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int]:
        """Entries for groups of glyphs ``(font, size26, gids, buckets)``, rasterising misses.

        Returns ``(arena, entries, ids_per_group, failures)``: ``ids[i]`` indexes ``entries``
        (columns offset, w, h, left, top) or is ``-1`` for a glyph that failed to rasterise.
        All groups refer to the same arena; the arrays stay valid after later insertions or
        flushes (a flush replaces the arrays, it never overwrites them).
        """
        keyed = [
            (font, size26, gids.astype(np.int64) * BUCKETS + buckets.astype(np.int64))
            for font, size26, gids, buckets in groups
        ]
        with self._lock:
            for attempt in range(2):
                out: list[np.ndarray] = []
                failures = 0
                flushed = False
                for font, size26, keys in keyed:
                    table = self._table(font, size26)
                    ids = table[keys]
                    missing = ids < 0
                    n_miss = int(np.count_nonzero(missing))
                    if attempt == 0:
                        self.hits += int(keys.shape[0]) - n_miss
                    if n_miss:
                        for key in np.unique(keys[missing]).tolist():
                            entry = self._insert(font, size26, key, allow_flush=attempt == 0)
                            if entry == -2:
                                flushed = True
                                break
                            if entry < 0:
                                failures += int(np.count_nonzero(keys == key))
                            else:
                                table[key] = entry
                        if flushed:
                            break
                        ids = table[keys]
                    out.append(ids)
                if not flushed:
                    return self._arena, self._entries[: self._n], out, failures
        raise AssertionError("unreachable")  # pragma: no cover

    def _table(self, font: Font, size26: int) -> np.ndarray:
        key = (font.uid, size26)
        table = self._tables.get(key)
        if table is None:
            table = np.full(int(font.hb_face.glyph_count) * BUCKETS, -1, dtype=np.int64)
            self._tables[key] = table
            self._table_bytes += table.nbytes
        return table

    def _insert(self, font: Font, size26: int, key: int, *, allow_flush: bool) -> int:
        """Rasterise and store one glyph; entry index, -1 on failure, -2 after a flush."""
        gid, bucket = divmod(key, BUCKETS)
        result = raster_glyph(font, size26, gid, bucket)
        if result is None:
            self.failures += 1
            return -1
        self.misses += 1
        bitmap, left, top = result
        h, w = bitmap.shape
        size = int(h * w)
        if self._used + size > self._arena.shape[0]:
            capacity = max(self._arena.shape[0] * 2, self._used + size)
            if self.nbytes + capacity - self._arena.shape[0] > self.budget_bytes and allow_flush:
                self._reset()
                self.flushes += 1
                return -2
            grown = np.zeros(capacity, dtype=np.uint8)
            grown[: self._used] = self._arena[: self._used]
            self._arena = grown
        if self._n >= self._entries.shape[0]:
            grown_entries = np.zeros((self._entries.shape[0] * 2, 5), dtype=np.int64)
            grown_entries[: self._n] = self._entries[: self._n]
            self._entries = grown_entries
        offset = self._used
        if size:
            self._arena[offset : offset + size] = bitmap.reshape(-1)
        self._used += size
        self._entries[self._n] = (offset, w, h, left, top)
        self._n += 1
        return self._n - 1

    # colour glyphs ------------------------------------------------------------------------------

    def color_glyph(self, font: Font, size: float, gid: int) -> ColorGlyph | None:
        """The colour glyph ``gid`` at ``size`` px (cached), or ``None`` if it has none."""
        key = (font.uid, round(size * 64), int(gid))
        with self._lock:
            if key in self._color:
                self.hits += 1
                return self._color[key]
        try:
            glyph = _paint_color_glyph(font, size, int(gid))
        except Exception:  # a broken colour glyph is a failure, never fatal, never cached
            with self._lock:
                self.failures += 1
            return None
        with self._lock:
            self.misses += 1
            cost = glyph.nbytes if glyph is not None else 0
            if self.nbytes + cost > self.budget_bytes:
                self._reset()
                self.flushes += 1
            self._color[key] = glyph
            self._color_bytes += cost
        return glyph
