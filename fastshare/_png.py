"""fastshare's PNG writer: numba row filters, ISA-L or libdeflate, then chunks and CRCs.

Invariants:

* Input: a C-contiguous ``uint8`` array, H×W×C with C = 1 (gray), 2 (gray + alpha), 3 (RGB) or
  4 (RGBA, straight alpha), already validated by :mod:`fastshare.encoders`. It is only read.
* Output: an 8-bit PNG (colour type 0, 4, 2 or 6), no interlace, one zlib stream split over
  IDAT chunks of at most ``idat_size`` bytes, an ``sRGB`` chunk unless disabled, optional
  ``tEXt``/``iTXt`` chunks, nothing else (no time stamp, no gamma, no physical size).
* Buffers: the filtered image (H × (1 + W·C) bytes) and the adaptive filter's scratch are
  per-thread and reused while they fit :data:`SCRATCH_CAP_BYTES`; larger frames get temporary
  buffers. The compressed stream is a fresh ``bytes``/``bytearray`` per call.
* Thread safety: any number of threads may encode at once. The filter kernel (``nogil``), ISA-L
  and libdeflate compression and ISA-L's CRC-32 all release the GIL, so two threads encode about
  twice as fast as one. (The ``deflate`` binding's ``crc32`` holds the GIL: measured, not used.)
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import deflate
import numpy as np
from isal import isal_zlib

from fastshare.errors import EncodeError
from fastshare.kernels.png import (
    FILTER_ADAPTIVE,
    FILTER_AVERAGE,
    FILTER_NONE,
    FILTER_PAETH,
    FILTER_SUB,
    FILTER_UP,
    filter_rows,
)

__all__ = [
    "COLOR_TYPES",
    "COMPRESSORS",
    "FILTERS",
    "LEVELS",
    "MAX_UNMATCHED",
    "PNG_SIGNATURE",
    "SCRATCH_CAP_BYTES",
    "PngLevel",
    "png_parts",
    "text_chunks",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: channels → PNG colour type
COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}

#: filter names → kernel method codes
FILTERS: dict[str, int] = {
    "none": FILTER_NONE,
    "sub": FILTER_SUB,
    "up": FILTER_UP,
    "average": FILTER_AVERAGE,
    "paeth": FILTER_PAETH,
    "adaptive": FILTER_ADAPTIVE,
}

#: adaptive filter: a row is filtered when more than this fraction of it is not a copy of the
#: row above shifted by at most one pixel. 0.25 filters photographs covering more than a quarter
#: of the width and costs plain cards a few percent (a handful of dense text rows get filtered);
#: 0.5 suits plain cards best (the "small" level tries both).
MAX_UNMATCHED = 0.25

#: when more than half of the rows were filtered (a photograph, noise, dither), the frame is
#: filtered again with this threshold: every row that is not an exact copy gets a filter, which
#: suits smooth photographs (sky, blur) that the first pass left unfiltered. Measured on the photo
#: example at story size: 709 KB → 611 KB at libdeflate level 6.
NOISY_UNMATCHED = 0.0

#: per-thread scratch is kept between calls up to this size (a 1080×1920 story card needs 6.2 MB)
SCRATCH_CAP_BYTES = 16 << 20

#: largest IDAT chunk written (the PNG limit is 2**31 - 1)
IDAT_SIZE = 1 << 30


#: CRC-32 of the chunk type, the start of every IDAT chunk's CRC
_IDAT_CRC = isal_zlib.crc32(b"IDAT")


def _isal(data: np.ndarray, level: int) -> bytes:
    return isal_zlib.compress(data, level)


def _libdeflate(data: np.ndarray, level: int) -> bytearray:
    return deflate.zlib_compress(data, level)


#: compressor name → (function(data, level) -> zlib stream, allowed levels)
COMPRESSORS: dict[str, tuple[Callable[[np.ndarray, int], bytes | bytearray], range]] = {
    "isal": (_isal, range(0, 4)),
    "libdeflate": (_libdeflate, range(0, 13)),
}


@dataclass(frozen=True)
class PngLevel:
    """A named PNG level: the row filter, and the deflate back end and level to use.

    With the adaptive filter, a frame where more than half of the rows got filtered is "noisy"
    (photographs, noise, dither): it is refiltered with :data:`NOISY_UNMATCHED` and compressed
    with ``noisy`` instead of ``smooth``, because libdeflate's higher levels buy 35 % on smooth
    cards but only a few percent on noisy frames, where they cost several times more.
    ``thresholds`` are the adaptive filter's ``max_unmatched`` values to try on smooth frames;
    with more than one, each filtering is compressed with ISA-L level 1 as an estimate and the
    smallest is kept.
    """

    name: str
    filter: str
    smooth: tuple[str, int]
    noisy: tuple[str, int]
    thresholds: tuple[float, ...] = (MAX_UNMATCHED,)


#: the named levels, chosen from measurements on the example cards (docs/encoders.md):
#: fast: ISA-L level 1, about 1 ms for an og card; default: libdeflate level 6 (level 5 on noisy
#: frames), at least 4× faster than Pillow's default and smaller than it on cards; small:
#: libdeflate level 9 on the better of two adaptive thresholds, level 7 on noisy frames, so that
#: it stays faster than Pillow's default there too.
LEVELS: dict[str, PngLevel] = {
    "fast": PngLevel("fast", "adaptive", ("isal", 1), ("isal", 1)),
    "default": PngLevel("default", "adaptive", ("libdeflate", 6), ("libdeflate", 5)),
    "small": PngLevel("small", "adaptive", ("libdeflate", 9), ("libdeflate", 7), (0.25, 0.5)),
}


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.filtered = [np.empty(0, np.uint8), np.empty(0, np.uint8)]
        self.mask = np.empty(0, np.uint8)
        self.words = np.empty(0, np.uint64)


_scratch = _Scratch()


def _filtered_buffer(h: int, stride: int, slot: int) -> np.ndarray:
    """This thread's H×(1+stride) buffer number ``slot`` (0 or 1), reused while under the cap."""
    need = h * (1 + stride)
    s = _scratch
    if need > SCRATCH_CAP_BYTES:
        return np.empty((h, 1 + stride), np.uint8)
    if s.filtered[slot].shape[0] < need:
        s.filtered[slot] = np.empty(need, np.uint8)
    return s.filtered[slot][:need].reshape(h, 1 + stride)


def _filter_scratch(stride: int) -> tuple[np.ndarray, np.ndarray]:
    s = _scratch
    if s.mask.shape[0] < stride:
        s.mask = np.empty(stride, np.uint8)
        s.words = np.empty(stride // 8 + 2, np.uint64)
    return s.mask, s.words


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = isal_zlib.crc32(payload, isal_zlib.crc32(kind))
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def text_chunks(text: Mapping[str, str]) -> list[bytes]:
    """tEXt chunks (Latin-1 text) or iTXt (UTF-8) for each keyword → text pair."""
    chunks = []
    for key, value in text.items():
        field = f"text[{key!r}]"
        if not isinstance(key, str) or not isinstance(value, str):
            msg = "PNG text keywords and values must be strings"
            raise EncodeError(msg, field=field, value=value)
        try:
            kw = key.encode("latin-1")
        except UnicodeEncodeError:
            msg = "a PNG text keyword must be Latin-1"
            raise EncodeError(msg, field=field, value=key) from None
        if not (
            1 <= len(kw) <= 79
            and all(32 <= b <= 126 or b >= 161 for b in kw)
            and key == key.strip()
            and "  " not in key
        ):
            msg = (
                "a PNG text keyword must be 1-79 printable Latin-1 characters without leading, "
                "trailing or double spaces"
            )
            raise EncodeError(msg, field=field, value=key)
        if "\x00" in value:
            msg = "PNG text must not contain NUL characters"
            raise EncodeError(msg, field=field, value=value)
        try:
            chunks.append(_chunk(b"tEXt", kw + b"\x00" + value.encode("latin-1")))
        except UnicodeEncodeError:
            # iTXt: keyword, NUL, compression flag 0, method 0, empty language, NUL, empty
            # translated keyword, NUL, UTF-8 text
            payload = kw + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")
            chunks.append(_chunk(b"iTXt", payload))
    return chunks


def png_parts(
    frame: np.ndarray,
    *,
    level: str = "default",
    filter: str | None = None,
    compression: tuple[str, int] | None = None,
    text: Mapping[str, str] | None = None,
    srgb: bool = True,
    idat_size: int = IDAT_SIZE,
) -> list[Any]:
    """Encode ``frame`` as PNG; return the file as a list of byte-like parts, in order.

    ``frame`` is a validated C-contiguous H×W×C uint8 array (C in 1..4). ``level`` names an entry
    of :data:`LEVELS`; ``filter`` and ``compression`` (back end, level) override its choices.
    Parts are ``bytes``, ``bytearray`` or ``memoryview``; writing them in order gives the file.
    """
    h, w, c = frame.shape
    ihdr = struct.pack(">IIBBBBB", w, h, 8, COLOR_TYPES[c], 0, 0, 0)
    head = [PNG_SIGNATURE, _chunk(b"IHDR", ihdr)]
    if srgb:
        head.append(_chunk(b"sRGB", b"\x00"))  # rendering intent 0: perceptual
    if text:
        head.extend(text_chunks(text))

    named = LEVELS[level]
    method = FILTERS[filter if filter is not None else named.filter]
    stride = w * c
    src = frame.reshape(h, stride)
    mask, words = _filter_scratch(stride)
    dst = _filtered_buffer(h, stride, 0)
    adaptive = method == FILTER_ADAPTIVE
    threshold = named.thresholds[0] if adaptive else 0.0
    noisy = 2 * int(filter_rows(dst, src, mask, words, c, method, threshold)) > h
    if adaptive and noisy:
        filter_rows(dst, src, mask, words, c, method, NOISY_UNMATCHED)
    elif adaptive and len(named.thresholds) > 1:
        # try the other thresholds; ISA-L level 1 ranks the candidates (~1 ms per og card)
        best = len(isal_zlib.compress(dst, 1))
        spare = _filtered_buffer(h, stride, 1)
        for threshold in named.thresholds[1:]:
            filter_rows(spare, src, mask, words, c, method, threshold)
            size = len(isal_zlib.compress(spare, 1))
            if size < best:
                best = size
                dst, spare = spare, dst
    if compression is None:
        compression = named.noisy if noisy else named.smooth
    compress, _ = COMPRESSORS[compression[0]]
    stream = compress(dst, compression[1])

    parts: list[Any] = [b"".join(head)]
    view = memoryview(stream)
    for start in range(0, len(view), idat_size):
        piece = view[start : start + idat_size]
        crc = isal_zlib.crc32(piece, _IDAT_CRC)
        parts.append(struct.pack(">I", len(piece)) + b"IDAT")
        parts.append(piece)
        parts.append(struct.pack(">I", crc))
    parts.append(_chunk(b"IEND", b""))
    return parts
