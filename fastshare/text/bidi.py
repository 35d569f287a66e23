"""Unicode BiDi: embedding levels per code point, and line reordering (rule L2).

Which implementation runs (:func:`backend_name` says):

1. **Fast path** — no code point of a right-to-left script, no Arabic number and no explicit RTL
   control, and the paragraph direction is not forced to RTL: every level is 0, no library call.
2. ``icu`` — ICU's ``ubidi`` through PyICU (``pip install pyicu-wheels``, the ``intl`` extra)
   when importable.
3. ``fribidi`` — GNU FriBidi (``libfribidi.so.0``, the library Pillow's raqm layout also uses)
   through ctypes, when the shared library is found. Implements UBA with bracket pairs (N0).
4. ``builtin`` — a compact pure-Python UBA (rules P2–P3, W1–W7, N1–N2, I1–I2, L1 at line ends),
   without explicit embeddings/overrides/isolates and without bracket pairing (N0). Used only
   when neither library is present; correct for ordinary mixed-direction titles.

Levels are computed per paragraph (text between hard newlines); a newline gets the paragraph
level. Stateless apart from the lazily loaded library handle; thread-safe.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

__all__ = ["backend_name", "may_have_rtl", "paragraph_levels", "reorder_visual"]

Direction = Literal["auto", "ltr", "rtl"]

_RTL_RANGES = np.array(
    [
        (0x0590, 0x08FF),  # Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic, Arabic ext
        (0xFB1D, 0xFDFF),  # Hebrew and Arabic presentation forms A
        (0xFE70, 0xFEFF),  # Arabic presentation forms B
        (0x10800, 0x10FFF),  # historic RTL scripts, Hanifi Rohingya, Rumi digits (AN), ...
        (0x1E800, 0x1EFFF),  # Mende Kikakui, Adlam, Arabic mathematical symbols
    ],
    dtype=np.int64,
)
_RTL_CONTROLS = (0x200F, 0x202B, 0x202E, 0x2067)


def may_have_rtl(codes: np.ndarray) -> bool:
    """True when any code point may need BiDi (RTL scripts, Arabic numbers, RTL controls)."""
    if codes.shape[0] == 0:
        return False
    hi = int(codes.max())
    if hi < 0x0590:
        return False
    for lo, up in _RTL_RANGES:
        if bool(np.any((codes >= lo) & (codes <= up))):
            return True
    return bool(np.isin(codes, _RTL_CONTROLS).any())


# --------------------------------------------------------------------------- backends

_lock = threading.Lock()
_backend: tuple[str, Any] | None = None


def _load_fribidi() -> Any:
    name = ctypes.util.find_library("fribidi") or "libfribidi.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    u32p = ctypes.POINTER(ctypes.c_uint32)
    lib.fribidi_get_bidi_types.argtypes = [u32p, ctypes.c_int, u32p]
    lib.fribidi_get_bidi_types.restype = None
    # FriBidiBracketType is uint32 per character: a smaller buffer corrupts the heap.
    lib.fribidi_get_bracket_types.argtypes = [u32p, ctypes.c_int, u32p, u32p]
    lib.fribidi_get_bracket_types.restype = None
    lib.fribidi_get_par_embedding_levels_ex.argtypes = [
        u32p,
        u32p,
        ctypes.c_int,
        u32p,
        ctypes.POINTER(ctypes.c_int8),
    ]
    lib.fribidi_get_par_embedding_levels_ex.restype = ctypes.c_int8
    return lib


def _get_backend() -> tuple[str, Any]:
    global _backend
    with _lock:
        if _backend is None:
            try:
                import icu  # type: ignore[import-not-found, import-untyped, unused-ignore]

                _backend = ("icu", icu)
            except ImportError:
                lib = _load_fribidi()
                _backend = ("fribidi", lib) if lib is not None else ("builtin", None)
        return _backend


def backend_name() -> str:
    """The BiDi implementation used for text with right-to-left content."""
    return _get_backend()[0]


# FriBidiParType values (fribidi-bidi-types.h)
_FRIBIDI_PAR_LTR = 0x00000110
_FRIBIDI_PAR_RTL = 0x00000111
_FRIBIDI_PAR_ON = 0x00000040


def _levels_fribidi(lib: Any, codes: np.ndarray, direction: Direction) -> tuple[np.ndarray, int]:
    n = int(codes.shape[0])
    chars = np.ascontiguousarray(codes, dtype=np.uint32)
    types = np.zeros(n, dtype=np.uint32)
    brackets = np.zeros(n, dtype=np.uint32)
    levels = np.zeros(n, dtype=np.int8)
    u32p = ctypes.POINTER(ctypes.c_uint32)
    cp = chars.ctypes.data_as(u32p)
    tp = types.ctypes.data_as(u32p)
    bp = brackets.ctypes.data_as(u32p)
    lib.fribidi_get_bidi_types(cp, n, tp)
    lib.fribidi_get_bracket_types(cp, n, tp, bp)
    base = {"ltr": _FRIBIDI_PAR_LTR, "rtl": _FRIBIDI_PAR_RTL}.get(direction, _FRIBIDI_PAR_ON)
    pbase = ctypes.c_uint32(base)
    ok = lib.fribidi_get_par_embedding_levels_ex(
        tp, bp, n, ctypes.byref(pbase), levels.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
    )
    if ok == 0:
        return _levels_builtin(codes, direction)
    return levels, (1 if pbase.value & 1 else 0)


def _levels_icu(icu: Any, text: str, direction: Direction) -> tuple[np.ndarray, int]:
    para = {"ltr": 0, "rtl": 1}.get(direction, int(icu.Bidi.DEFAULT_LTR))
    ustr = icu.UnicodeString(text)
    bidi = icu.Bidi()
    try:
        bidi.setPara(ustr, para)
        units = bidi.getLevels()  # per UTF-16 unit
        base = int(bidi.getParaLevel()) & 1
    finally:
        del bidi  # must be freed before its UnicodeString
    out = np.zeros(len(text), dtype=np.int8)
    u = 0
    for i, ch in enumerate(text):
        out[i] = units[u] if u < len(units) else base
        u += 2 if ord(ch) > 0xFFFF else 1
    return out, base


# --------------------------------------------------------------------------- built-in UBA

_STRONG_R = frozenset(("R", "AL"))


def _levels_builtin(codes: np.ndarray, direction: Direction) -> tuple[np.ndarray, int]:
    chars = [chr(int(c)) for c in codes]
    types = [unicodedata.bidirectional(ch) or "L" for ch in chars]
    n = len(types)
    # P2/P3: first strong character (explicit controls are treated as boundary neutrals)
    if direction == "rtl":
        base = 1
    elif direction == "ltr":
        base = 0
    else:
        base = 0
        for t in types:
            if t == "L":
                break
            if t in _STRONG_R:
                base = 1
                break
    removed = {"RLE", "LRE", "RLO", "LRO", "PDF", "BN", "LRI", "RLI", "FSI", "PDI"}
    types = ["ON" if t in removed else t for t in types]
    sos = "R" if base else "L"
    # W1: NSM takes the type of the previous character
    prev = sos
    for i, t in enumerate(types):
        if t == "NSM":
            types[i] = prev
        else:
            prev = types[i]
    # W2: EN after AL (nearest strong) becomes AN
    last = sos
    for i, t in enumerate(types):
        if t in ("L", "R", "AL"):
            last = t
        elif t == "EN" and last == "AL":
            types[i] = "AN"
    # W3: AL -> R
    types = ["R" if t == "AL" else t for t in types]
    # W4: single separators between numbers
    for i in range(1, n - 1):
        t = types[i]
        if t == "ES" and types[i - 1] == "EN" and types[i + 1] == "EN":
            types[i] = "EN"
        elif t == "CS" and types[i - 1] == types[i + 1] and types[i - 1] in ("EN", "AN"):
            types[i] = types[i - 1]
    # W5: ET sequences adjacent to EN become EN
    i = 0
    while i < n:
        if types[i] == "ET":
            j = i
            while j < n and types[j] == "ET":
                j += 1
            if (i > 0 and types[i - 1] == "EN") or (j < n and types[j] == "EN"):
                for k in range(i, j):
                    types[k] = "EN"
            i = j
        else:
            i += 1
    # W6: remaining separators and terminators -> ON
    types = ["ON" if t in ("ES", "ET", "CS") else t for t in types]
    # W7: EN after L (nearest strong) -> L
    last = sos
    for i, t in enumerate(types):
        if t in ("L", "R"):
            last = t
        elif t == "EN" and last == "L":
            types[i] = "L"
    # N1/N2: neutrals between same strong direction take it, else the embedding direction
    neutral = {"ON", "WS", "S", "B"}

    def strong(t: str) -> str:
        return "R" if t in ("R", "EN", "AN") else t

    i = 0
    while i < n:
        if types[i] in neutral:
            j = i
            while j < n and types[j] in neutral:
                j += 1
            before = strong(types[i - 1]) if i > 0 else sos
            after = strong(types[j]) if j < n else sos
            fill = before if before == after else sos
            for k in range(i, j):
                types[k] = fill
            i = j
        else:
            i += 1
    # I1/I2
    levels = np.empty(n, dtype=np.int8)
    for i, t in enumerate(types):
        if base == 0:
            levels[i] = 1 if t == "R" else (2 if t in ("AN", "EN") else 0)
        else:
            levels[i] = 2 if t in ("L", "EN", "AN") else 1
    # L1 for segment separators and paragraph ends: trailing whitespace to the base level
    k = n - 1
    while k >= 0 and unicodedata.bidirectional(chars[k]) in ("WS", "S", "B", "BN"):
        levels[k] = base
        k -= 1
    return levels, base


# --------------------------------------------------------------------------- public


def paragraph_levels(
    text: str, codes: np.ndarray, direction: Direction = "auto", *, force: str | None = None
) -> tuple[np.ndarray, int]:
    """Embedding levels (int8 per code point) and the base level (0/1) of one paragraph.

    ``force`` selects a backend by name (tests); default: the best available.
    """
    n = int(codes.shape[0])
    if n == 0:
        return np.zeros(0, dtype=np.int8), 1 if direction == "rtl" else 0
    if force is None and direction != "rtl" and not may_have_rtl(codes):
        return np.zeros(n, dtype=np.int8), 0
    name, handle = _get_backend()
    if force is not None:
        name = force
        if force == "fribidi":
            handle = _load_fribidi()
            if handle is None:
                msg = "libfribidi is not available"
                raise RuntimeError(msg)
        elif force == "icu":
            import icu  # type: ignore[import-not-found, import-untyped, unused-ignore]

            handle = icu
    if name == "icu":
        return _levels_icu(handle, text, direction)
    if name == "fribidi":
        return _levels_fribidi(handle, codes, direction)
    return _levels_builtin(codes, direction)


def reorder_visual(levels: Sequence[int]) -> list[int]:
    """Rule L2: the visual order (indices into ``levels``) of items with the given levels."""
    order = list(range(len(levels)))
    if not order:
        return order
    highest = max(levels)
    lowest_odd = min((lv for lv in levels if lv & 1), default=highest + 1)
    if lowest_odd > highest:
        return order
    lv = [levels[i] for i in order]
    for level in range(highest, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if lv[i] >= level:
                j = i
                while j < len(order) and lv[j] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                lv[i:j] = lv[i:j][::-1]
                i = j
            else:
                i += 1
    return order
