"""Fonts: loading, the per-process :class:`FontRegistry`, and fallback chains.

Invariants
----------
* A :class:`Font` is one face of one file at one point of its variation space. It holds a HarfBuzz
  face and font at ``scale = upem`` (shaping happens in font units; sizes are applied later), its
  coverage, and vertical metrics in em. It is immutable after construction and safe to share
  between threads for shaping.
* FreeType faces are **not** thread-safe. :class:`Font` creates its FreeType face lazily and every
  FreeType call in fastshare runs under the process-wide :data:`FT_LOCK` (glyph misses only; cache
  hits never touch FreeType).
* A :class:`Font` pickles as its :class:`FontRecipe` (path, face index, variations), never as
  loaded state; unpickling loads it again (once per process, through a cache).
* WOFF and WOFF2 files are decompressed once per process through fontTools and kept in memory.
* A :class:`FontRegistry` is built once per process (or worker) and passed in explicitly; there is
  no hidden global default registry. It pickles as its constructor arguments.

Errors: an unknown family raises :class:`~fastshare.errors.FontError` listing the known families;
an unreadable, corrupt or truncated file raises :class:`~fastshare.errors.FontError` naming it;
a file above the byte cap raises :class:`~fastshare.errors.LimitError`.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import freetype
import numpy as np
import uharfbuzz as hb

from fastshare.errors import FontError, LimitError, ValueRangeError

__all__ = [
    "BUNDLED_FALLBACK_FAMILIES",
    "DEFAULT_FAMILY",
    "FT_LOCK",
    "MAX_FONT_BYTES",
    "FaceInfo",
    "Font",
    "FontChain",
    "FontRecipe",
    "FontRegistry",
    "bundled_font_dir",
    "load_font",
]

#: the default family of every text style, bundled
DEFAULT_FAMILY = "Inter"
#: bundled script fallbacks, appended to every chain after the layer's own fonts
BUNDLED_FALLBACK_FAMILIES = (
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
)
#: files larger than this are refused (LimitError) before they are read
MAX_FONT_BYTES = 128 * 1024 * 1024
#: the most fonts one chain may hold (the coverage table is int8)
MAX_CHAIN_FONTS = 120

FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc", ".otc", ".woff", ".woff2"})

#: every FreeType call in the process runs under this lock (FT_Face objects are not thread-safe
#: and freetype-py shares one FT_Library).
FT_LOCK = threading.RLock()

_N_CODEPOINTS = 0x110000
_uids = itertools.count(1)


def bundled_font_dir() -> Path:
    """The bundled fonts folder: ``fastshare.fonts`` when installed, else ``<repo>/fonts``."""
    try:
        spec = importlib.util.find_spec("fastshare.fonts")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "FONTS.md").is_file():
                return Path(location)
    candidate = Path(__file__).resolve().parent.parent.parent / "fonts"
    if (candidate / "FONTS.md").is_file():
        return candidate
    msg = "the bundled fonts are missing from this installation (no fastshare/fonts package data)"
    raise FontError(msg, field="fonts", value=str(candidate))


# --------------------------------------------------------------------------- recipes and loading


@dataclass(frozen=True)
class FontRecipe:
    """How to load a font: file path, face index in a collection, variation coordinates."""

    path: str
    index: int = 0
    variations: tuple[tuple[str, float], ...] = ()

    def load(self) -> Font:
        return load_font(self)


@dataclass(frozen=True)
class Axis:
    """A variation axis: tag and range (design units)."""

    tag: str
    minimum: float
    default: float
    maximum: float


@dataclass(frozen=True)
class FaceInfo:
    """What the registry knows about one face before loading it."""

    path: str
    index: int
    family: str
    names: tuple[str, ...]  # lower-case family names this face answers to
    style: str
    weight: float
    italic: bool
    axes: tuple[Axis, ...]
    source: str  # "bundled" | "user" | "system"

    @property
    def variable(self) -> bool:
        return bool(self.axes)

    def axis(self, tag: str) -> Axis | None:
        for axis in self.axes:
            if axis.tag == tag:
                return axis
        return None


_blob_lock = threading.Lock()
_decoded: dict[str, bytes] = {}


def _check_file(path: str) -> int:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        msg = f"cannot read font file: {exc.strerror or exc}"
        raise FontError(msg, field="font", value=path) from exc
    if size > MAX_FONT_BYTES:
        msg = f"font file is larger than the {MAX_FONT_BYTES} byte limit ({size} bytes)"
        raise LimitError(msg, field="font", value=path)
    return size


def _font_bytes(path: str) -> bytes | None:
    """Decompressed bytes for WOFF/WOFF2 files (cached); ``None`` for plain sfnt files."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".woff", ".woff2"):
        return None
    with _blob_lock:
        cached = _decoded.get(path)
    if cached is not None:
        return cached
    _check_file(path)
    from fontTools.ttLib import TTFont

    try:
        tt = TTFont(path, lazy=False, recalcBBoxes=False, recalcTimestamp=False)
        tt.flavor = None
        out = io.BytesIO()
        tt.save(out)
        data = out.getvalue()
    except Exception as exc:  # fontTools raises many types for bad data
        msg = f"cannot decompress {suffix} font: {type(exc).__name__}: {exc}"
        raise FontError(msg, field="font", value=path) from exc
    with _blob_lock:
        _decoded[path] = data
    return data


def _hb_blob(path: str) -> hb.Blob:
    data = _font_bytes(path)
    if data is not None:
        return hb.Blob(data)
    _check_file(path)
    try:
        return hb.Blob.from_file_path(path)
    except Exception as exc:
        msg = f"cannot read font file: {exc}"
        raise FontError(msg, field="font", value=path) from exc


def _name(face: hb.Face, *ids: Any) -> str:
    for name_id in ids:
        try:
            value = face.get_name(name_id)
        except Exception:
            value = None
        if value:
            return str(value)
    return ""


_NAME = hb.OTNameIdPredefined


def _face_infos(path: str, source: str) -> list[FaceInfo]:
    """Index every face of a font file (names, weight, italic, axes) without keeping it loaded."""
    blob = _hb_blob(path)
    count = max(1, int(hb.Face(blob).count))
    infos = []
    for index in range(count):
        face = hb.Face(blob, index)
        if face.glyph_count == 0:
            continue
        family = _name(face, _NAME.TYPOGRAPHIC_FAMILY, _NAME.FONT_FAMILY)
        legacy = _name(face, _NAME.FONT_FAMILY)
        if not family:
            family = Path(path).stem
        style = _name(face, _NAME.TYPOGRAPHIC_SUBFAMILY, _NAME.FONT_SUBFAMILY) or "Regular"
        probe = hb.Font(face)
        weight = float(probe.get_style_value(hb.StyleTag.WEIGHT))
        italic = (
            float(probe.get_style_value(hb.StyleTag.ITALIC)) >= 0.5 or "italic" in style.lower()
        )
        axes = tuple(
            Axis(a.tag, float(a.min_value), float(a.default_value), float(a.max_value))
            for a in face.axis_infos
        )
        names = tuple(dict.fromkeys(n.lower() for n in (family, legacy) if n))
        infos.append(FaceInfo(path, index, family, names, style, weight, italic, axes, source))
    if not infos:
        msg = "not a usable font file (no glyphs)"
        raise FontError(msg, field="font", value=path)
    return infos


class Font:
    """One loaded face at one variation instance. Immutable; shaping objects shared by threads.

    Attributes: ``recipe``, ``uid`` (process-unique), ``family``, ``style``, ``weight``,
    ``italic``, ``upem``, ``ascender``/``descender``/``line_gap`` (em, descender positive),
    ``hb_face``/``hb_font`` (HarfBuzz, ``scale = upem``), ``coverage`` (HarfBuzz set of code
    points), ``color`` (COLR/CPAL colour glyphs present), ``color_png`` (CBDT/sbix present).
    """

    def __init__(self, recipe: FontRecipe, info: FaceInfo | None = None) -> None:
        self.recipe = recipe
        self.uid = next(_uids)
        path = recipe.path
        self._data = _font_bytes(path)
        blob = hb.Blob(self._data) if self._data is not None else _hb_blob(path)
        face = hb.Face(blob, recipe.index)
        if face.glyph_count == 0 or not (16 <= face.upem <= 16384):
            msg = "not a usable font file (no glyphs or bad unitsPerEm)"
            raise FontError(msg, field="font", value=path)
        self.hb_face = face
        self.upem = int(face.upem)
        font = hb.Font(face)
        font.scale = (self.upem, self.upem)
        if recipe.variations:
            font.set_variations(dict(recipe.variations))
        self.hb_font = font
        self.coverage = face.unicodes
        if info is None:
            infos = _face_infos(path, "user")
            info = next((i for i in infos if i.index == recipe.index), infos[0])
        self.info = info
        self.family = info.family
        self.style = info.style
        self.weight = float(font.get_style_value(hb.StyleTag.WEIGHT))
        self.italic = info.italic
        extents = font.get_font_extents("ltr")
        self.ascender = extents.ascender / self.upem
        self.descender = -extents.descender / self.upem
        self.line_gap = extents.line_gap / self.upem
        if self.ascender <= 0 and self.descender <= 0:
            self.ascender, self.descender = 0.8, 0.2
        self.color = bool(face.has_color_layers or face.has_color_paint)
        self.color_png = bool(face.has_color_png)
        self._ft: Any = None
        self._ft_size26 = -1
        self._ft_error: str | None = None
        # Validate with FreeType now: HarfBuzz happily opens truncated files.
        with FT_LOCK:
            self._ft_face_locked()

    # FreeType ------------------------------------------------------------------------------

    def _ft_face_locked(self) -> Any:
        """The FreeType face of this font. Caller holds :data:`FT_LOCK`."""
        if self._ft is not None:
            return self._ft
        if self._ft_error is not None:
            raise FontError(self._ft_error, field="font", value=self.recipe.path)
        try:
            source: Any = io.BytesIO(self._data) if self._data is not None else self.recipe.path
            ft = freetype.Face(source, self.recipe.index)
            if self.recipe.variations and self.info.axes:
                wanted = dict(self.recipe.variations)
                coords = [wanted.get(a.tag, a.default) for a in self.info.axes]
                ft.set_var_design_coords(coords)
            if not ft.is_scalable:
                # bitmap-only faces (CBDT emoji): usable for shaping, not for outlines
                self._ft = ft
                return ft
            ft.set_char_size(64 * 64, 64 * 64, 72, 72)
            ft.load_glyph(0, freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP)
        except FontError:
            raise
        except Exception as exc:
            self._ft_error = f"FreeType cannot read this font: {exc}".strip()
            raise FontError(self._ft_error, field="font", value=self.recipe.path) from exc
        self._ft = ft
        self._ft_size26 = 64 * 64
        return ft

    def ft_face_at(self, size26: int) -> Any:
        """The FreeType face set to ``size26`` (26.6 px). Caller holds :data:`FT_LOCK`."""
        ft = self._ft_face_locked()
        if self._ft_size26 != size26:
            ft.set_char_size(size26, size26, 72, 72)
            self._ft_size26 = size26
        return ft

    # misc -----------------------------------------------------------------------------------

    def covers(self, cp: int) -> bool:
        return cp in self.coverage

    def codepoints(self) -> np.ndarray:
        """Covered code points as a sorted int64 array."""
        return np.fromiter(self.coverage, dtype=np.int64)

    def __reduce__(self) -> tuple[Callable[[FontRecipe], Font], tuple[FontRecipe]]:
        return (load_font, (self.recipe,))

    def __repr__(self) -> str:
        var = "".join(f" {t}={v:g}" for t, v in self.recipe.variations)
        return f"<Font {self.family!r} {self.style!r} w{self.weight:g}{var} {self.recipe.path}>"


_font_cache: dict[FontRecipe, Font] = {}
_font_cache_lock = threading.Lock()


def load_font(recipe: FontRecipe, info: FaceInfo | None = None) -> Font:
    """Load (once per process) the font a recipe names."""
    with _font_cache_lock:
        font = _font_cache.get(recipe)
    if font is not None:
        return font
    font = Font(recipe, info)
    with _font_cache_lock:
        return _font_cache.setdefault(recipe, font)


# --------------------------------------------------------------------------- chains


class FontChain:
    """An ordered fallback chain: the layer's fonts, bundled script fallbacks, configured
    fallbacks, then (optionally, found on demand) system fonts; plus an optional emoji font.

    ``table`` maps every code point to the index of the first font covering it (``-1``: none).
    Fonts found on the system are appended under a lock; readers see either the old or the new
    entry for a code point, both valid.
    """

    def __init__(
        self,
        fonts: Sequence[Font],
        emoji: Font | None = None,
        system_lookup: Callable[[int], Font | None] | None = None,
    ) -> None:
        if not fonts:
            msg = "a font chain needs at least one font"
            raise FontError(msg, field="fonts", value=())
        self.fonts: list[Font] = []
        self.emoji = emoji
        self.emoji_index = -1
        self._system_lookup = system_lookup
        self._lock = threading.Lock()
        self._searched: set[int] = set()
        self.table = np.full(_N_CODEPOINTS, -1, dtype=np.int8)
        seen: set[int] = set()
        for font in fonts:
            if font.uid not in seen:
                seen.add(font.uid)
                self.fonts.append(font)
        for i in range(len(self.fonts) - 1, -1, -1):
            self.table[self.fonts[i].codepoints()] = i
        if emoji is not None:
            if emoji.uid in seen:
                self.emoji_index = next(i for i, f in enumerate(self.fonts) if f.uid == emoji.uid)
            else:
                self.fonts.append(emoji)
                self.emoji_index = len(self.fonts) - 1
                cps = emoji.codepoints()
                fresh = cps[self.table[cps] < 0]
                self.table[fresh] = self.emoji_index

    @property
    def primary(self) -> Font:
        return self.fonts[0]

    def resolve(self, codes: np.ndarray) -> np.ndarray:
        """First covering font index per code point (``int8``; ``-1`` where nothing covers it)."""
        first: np.ndarray = self.table[codes]
        if self._system_lookup is not None and (first < 0).any():
            missing = {int(c) for c in codes[first < 0]} - self._searched
            if missing:
                self._search_system(missing)
                first = self.table[codes]
        return first

    def _search_system(self, missing: set[int]) -> None:
        assert self._system_lookup is not None
        with self._lock:
            for cp in sorted(missing):
                if cp in self._searched or self.table[cp] >= 0:
                    continue
                self._searched.add(cp)
                font = self._system_lookup(cp)
                if font is None or len(self.fonts) >= MAX_CHAIN_FONTS:
                    continue
                index = next((i for i, f in enumerate(self.fonts) if f.uid == font.uid), -1)
                if index < 0:
                    self.fonts.append(font)
                    index = len(self.fonts) - 1
                    cps = font.codepoints()
                    fresh = cps[self.table[cps] < 0]
                    self.table[fresh] = index

    def font_index(self, font: Font) -> int:
        for i, f in enumerate(self.fonts):
            if f.uid == font.uid:
                return i
        msg = "font is not in this chain"
        raise FontError(msg, field="font", value=repr(font))


# --------------------------------------------------------------------------- registry


def _system_font_dirs() -> list[Path]:
    home = Path.home()
    if sys.platform == "darwin":
        dirs = [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library/Fonts"]
    elif sys.platform == "win32":
        windir = os.environ.get("WINDIR", r"C:\Windows")
        dirs = [Path(windir) / "Fonts"]
        local = os.environ.get("LOCALAPPDATA")
        if local:
            dirs.append(Path(local) / "Microsoft" / "Windows" / "Fonts")
    else:
        data_home = Path(os.environ.get("XDG_DATA_HOME") or home / ".local/share")
        dirs = [
            Path("/usr/share/fonts"),
            Path("/usr/local/share/fonts"),
            data_home / "fonts",
            home / ".fonts",
        ]
    return [d for d in dirs if d.is_dir()]


def _system_font_files() -> tuple[list[str], str]:
    """Font files on the system and how they were found ("fontconfig" or "scan")."""
    try:
        import fontconfig

        found = fontconfig.list(select=("file",))
        files = sorted({str(f["file"]) for f in found if f.get("file")})
        files = [f for f in files if Path(f).suffix.lower() in FONT_SUFFIXES]
        if files:
            return files, "fontconfig"
    except Exception:  # fontconfig-py absent or broken: fall back to scanning
        pass
    files = []
    for directory in _system_font_dirs():
        for root, _dirs, names in os.walk(directory):
            for name in names:
                if Path(name).suffix.lower() in FONT_SUFFIXES:
                    files.append(os.path.join(root, name))
    return sorted(files), "scan"


def _weight_key(desired: float, weight: float) -> tuple[int, float]:
    """CSS font-matching order for weights: lower key is better."""
    if weight == desired:
        return (0, 0.0)
    if 400 <= desired <= 500:
        if desired < weight <= 500:
            return (1, weight - desired)
        if weight < desired:
            return (2, desired - weight)
        return (3, weight - desired)
    if desired < 400:
        if weight < desired:
            return (1, desired - weight)
        return (2, weight - desired)
    if weight > desired:
        return (1, weight - desired)
    return (2, desired - weight)


def _cjk_preference(language: str | None) -> tuple[str, ...]:
    lang = (language or "").lower().replace("_", "-")
    if lang.startswith("ja"):
        return ("jp",)
    if lang.startswith("ko"):
        return ("kr",)
    if lang.startswith("zh"):
        if "hk" in lang:
            return ("hk", "tc")
        if "tw" in lang or "hant" in lang or "mo" in lang:
            return ("tc", "hk")
        return ("sc",)
    return ()


def _check_weight(weight: float) -> float:
    if not isinstance(weight, (int, float)) or not (1 <= float(weight) <= 1000):
        msg = "font weight must be a number in [1, 1000]"
        raise ValueRangeError(msg, field="weight", value=weight)
    return float(weight)


@dataclass
class _Index:
    faces: list[FaceInfo] = field(default_factory=list)
    by_name: dict[str, list[FaceInfo]] = field(default_factory=dict)

    def add(self, info: FaceInfo) -> None:
        self.faces.append(info)
        for name in info.names:
            bucket = self.by_name.setdefault(name, [])
            if not any(f.path == info.path and f.index == info.index for f in bucket):
                bucket.append(info)


class FontRegistry:
    """Every font fastshare may use in this process, looked up by family, weight and style.

    Parameters
    ----------
    fonts:
        font files or directories (searched recursively) to add, in order.
    bundled:
        include the bundled fonts (Inter, Noto Sans Arabic/Hebrew/Devanagari/Thai). Default True.
    system:
        allow system fonts: by family name, and as the last fallback for characters no other
        font covers. Found through fontconfig-py when installed, else by scanning the standard
        font directories. Off by default, so rendering does not depend on the machine.
    fallbacks:
        family names appended to every chain after the bundled script fallbacks (for example
        ``("Noto Sans CJK JP",)``), looked up like any family.
    emoji:
        a colour emoji font: a family name or a font file path. ``None``: no emoji font.
    glyph_cache_bytes:
        byte budget of this registry's glyph cache (coverage bitmaps and colour glyphs).

    Thread safety: lookups and chain construction are guarded by a lock; loaded fonts and chains
    are shared. Pickles as its constructor arguments.
    """

    def __init__(
        self,
        fonts: Iterable[str | os.PathLike[str]] = (),
        *,
        bundled: bool = True,
        system: bool = False,
        fallbacks: Sequence[str] = (),
        emoji: str | os.PathLike[str] | None = None,
        glyph_cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        from fastshare.text.raster import GlyphCache

        self._args: dict[str, Any] = {
            "fonts": tuple(os.fspath(f) for f in fonts),
            "bundled": bundled,
            "system": system,
            "fallbacks": tuple(fallbacks),
            "emoji": None if emoji is None else os.fspath(emoji),
            "glyph_cache_bytes": glyph_cache_bytes,
        }
        self._lock = threading.RLock()
        self._index = _Index()
        self._system_index: _Index | None = None
        self._system_source = ""
        self._system_coverage: dict[tuple[str, int], Any] = {}
        self._chains: dict[tuple[Any, ...], FontChain] = {}
        self.system = system
        self.fallback_families = tuple(fallbacks)
        self.glyph_cache = GlyphCache(glyph_cache_bytes)
        if bundled:
            self._add_path(bundled_font_dir(), "bundled")
        for path in self._args["fonts"]:
            self.add(path)
        self._emoji_spec = self._args["emoji"]
        self._emoji: Font | None = None
        if self._emoji_spec is not None:
            self._emoji = self._load_emoji(self._emoji_spec)

    def __reduce__(self) -> tuple[Callable[..., FontRegistry], tuple[Any, ...]]:
        return (_registry_from_args, (self._args,))

    # adding fonts -------------------------------------------------------------------------------

    def add(self, path: str | os.PathLike[str]) -> list[FaceInfo]:
        """Add a font file, or every font file under a directory. Returns the faces added."""
        return self._add_path(Path(path), "user")

    def _add_path(self, path: Path, source: str) -> list[FaceInfo]:
        if path.is_dir():
            files = sorted(
                str(p) for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file()
            )
            if not files:
                msg = "no font files in directory"
                raise FontError(msg, field="fonts", value=str(path))
        elif path.is_file():
            files = [str(path)]
        else:
            msg = "font file or directory does not exist"
            raise FontError(msg, field="fonts", value=str(path))
        added = []
        for file in files:
            infos = _face_infos(file, source)
            with self._lock:
                for info in infos:
                    self._index.add(info)
            added.extend(infos)
        return added

    def _load_emoji(self, spec: str) -> Font:
        if Path(spec).suffix.lower() in FONT_SUFFIXES and Path(spec).exists():
            infos = self.add(spec)
            return load_font(FontRecipe(infos[0].path, infos[0].index), infos[0])
        return self.find(spec)

    # lookup ------------------------------------------------------------------------------------

    def families(self) -> list[str]:
        """Known family names (bundled, user and, once indexed, system), sorted."""
        with self._lock:
            names = {f.family for f in self._index.faces}
            if self._system_index is not None:
                names.update(f.family for f in self._system_index.faces)
        return sorted(names, key=str.lower)

    @property
    def emoji_font(self) -> Font | None:
        return self._emoji

    def faces(self, family: str) -> list[FaceInfo]:
        key = family.strip().lower()
        with self._lock:
            found = list(self._index.by_name.get(key, ()))
        if not found and self.system:
            found = list(self._system().by_name.get(key, ()))
        return found

    def find(
        self,
        family: str,
        weight: float = 400,
        italic: bool = False,
        variations: dict[str, float] | None = None,
    ) -> Font:
        """The best face of ``family`` for ``weight`` and ``italic`` (CSS matching order).

        Variable fonts are instanced at exactly ``weight`` (clamped to the ``wght`` axis), with
        ``opsz`` pinned to its default and ``ital``/``slnt`` set for italics; ``variations``
        overrides any axis. Raises FontError listing the known families when none matches.
        """
        if not isinstance(family, str) or not family.strip():
            msg = "font family must be a non-empty string"
            raise FontError(msg, field="fonts", value=family)
        weight = _check_weight(weight)
        candidates = self.faces(family)
        if not candidates:
            known = ", ".join(self.families())
            msg = f"unknown font family; known families: {known}"
            raise FontError(msg, field="fonts", value=family)

        def score(info: FaceInfo) -> tuple[int, int, float]:
            italic_miss = 0 if info.italic == italic else 1
            if info.variable and info.axis("wght") is not None:
                axis = info.axis("wght")
                assert axis is not None
                inside = axis.minimum <= weight <= axis.maximum
                w = weight if inside else min(max(weight, axis.minimum), axis.maximum)
                key = _weight_key(weight, w)
                return (italic_miss, key[0], key[1])
            key = _weight_key(weight, info.weight)
            return (italic_miss, key[0], key[1])

        best = min(candidates, key=score)
        recipe_vars: dict[str, float] = {}
        if best.variable:
            for axis in best.axes:
                if axis.tag == "wght":
                    recipe_vars["wght"] = min(max(weight, axis.minimum), axis.maximum)
                elif axis.tag == "opsz":
                    recipe_vars["opsz"] = axis.default
                elif axis.tag == "ital" and italic:
                    recipe_vars["ital"] = axis.maximum
                elif axis.tag == "slnt" and italic and not best.italic:
                    recipe_vars["slnt"] = axis.minimum if axis.minimum < 0 else axis.maximum
            for tag, value in (variations or {}).items():
                found = best.axis(tag)
                if found is None:
                    msg = f"font has no {tag!r} axis (axes: {[a.tag for a in best.axes]})"
                    raise FontError(msg, field="variations", value=tag)
                recipe_vars[tag] = min(max(float(value), found.minimum), found.maximum)
        elif variations:
            msg = "variations given for a font that is not variable"
            raise FontError(msg, field="variations", value=dict(variations))
        recipe = FontRecipe(best.path, best.index, tuple(sorted(recipe_vars.items())))
        return load_font(recipe, best)

    def chain(
        self,
        families: Sequence[str] = (DEFAULT_FAMILY,),
        weight: float = 400,
        italic: bool = False,
        language: str | None = None,
        variations: dict[str, float] | None = None,
    ) -> FontChain:
        """The fallback chain for a layer (cached): ``families`` in order, then the bundled script
        fallbacks, the registry's configured fallbacks, and (when ``system``) system fonts."""
        if isinstance(families, str):
            families = (families,)
        if not families:
            families = (DEFAULT_FAMILY,)
        key = (
            tuple(f.strip().lower() for f in families),
            float(weight),
            bool(italic),
            _cjk_preference(language),
            tuple(sorted((variations or {}).items())),
        )
        with self._lock:
            chain = self._chains.get(key)
        if chain is not None:
            return chain
        fonts = [self.find(f, weight, italic, variations) for f in families]
        for family in BUNDLED_FALLBACK_FAMILIES + self.fallback_families:
            if self.faces(family):
                fonts.append(self.find(family, weight, italic))
            elif family in self.fallback_families:
                known = ", ".join(self.families())
                msg = f"unknown fallback font family; known families: {known}"
                raise FontError(msg, field="fallbacks", value=family)
        lookup = None
        if self.system:
            prefs = _cjk_preference(language)

            def lookup(cp: int) -> Font | None:
                return self._system_font_for(cp, weight, italic, prefs)

        chain = FontChain(fonts, self._emoji, lookup)
        with self._lock:
            if len(self._chains) > 64:
                self._chains.clear()
            return self._chains.setdefault(key, chain)

    # system fonts -------------------------------------------------------------------------------

    def _system(self) -> _Index:
        with self._lock:
            if self._system_index is not None:
                return self._system_index
            files, how = _system_font_files()
            index = _Index()
            for file in files:
                try:
                    infos = _face_infos(file, "system")
                except (FontError, LimitError):
                    continue
                for info in infos:
                    index.add(info)
            self._system_index = index
            self._system_source = how
            return index

    @property
    def system_source(self) -> str:
        """How system fonts were found: "fontconfig", "scan", or "" when not (yet) indexed."""
        return self._system_source

    def _system_font_for(
        self, cp: int, weight: float, italic: bool, prefs: tuple[str, ...]
    ) -> Font | None:
        index = self._system()
        best: tuple[tuple[Any, ...], FaceInfo] | None = None
        for info in index.faces:
            key = (info.path, info.index)
            with self._lock:
                cov = self._system_coverage.get(key)
            if cov is None:
                try:
                    cov = hb.Face(_hb_blob(info.path), info.index).unicodes
                except (FontError, LimitError):
                    cov = set()
                with self._lock:
                    self._system_coverage[key] = cov
            if cp not in cov:
                continue
            name = info.family.lower()
            pref_rank = 0
            if prefs:
                pref_rank = next(
                    (i for i, p in enumerate(prefs) if name.endswith(" " + p)), len(prefs)
                )
            rank = (
                pref_rank,
                0 if info.italic == italic else 1,
                _weight_key(weight, info.weight),
                0 if "sans" in name else 1,
                0 if "noto" in name else 1,
                info.path,
                info.index,
            )
            if best is None or rank < best[0]:
                best = (rank, info)
        if best is None:
            return None
        info = best[1]
        try:
            if info.variable:
                return self.find(info.family, weight, italic)
            return load_font(FontRecipe(info.path, info.index), info)
        except (FontError, LimitError):
            return None


def _registry_from_args(args: dict[str, Any]) -> FontRegistry:
    return FontRegistry(
        args["fonts"],
        bundled=args["bundled"],
        system=args["system"],
        fallbacks=args["fallbacks"],
        emoji=args["emoji"],
        glyph_cache_bytes=args["glyph_cache_bytes"],
    )
