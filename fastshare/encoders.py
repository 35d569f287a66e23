"""The encode stage: frame → PNG, JPEG, WebP or any format Pillow writes.

``encode(frame, format="png", **options) -> bytes`` and ``encode_to(fileobj, frame, ...) -> int``.
The user documentation, with the options, the named PNG levels and measured speed and size, is
``docs/encoders.md``.

Invariants:

* Frames are ``numpy.ndarray`` of dtype ``uint8``: H×W×3 (RGB, the main path), H×W×4 (RGBA,
  straight alpha), H×W×1 or H×W (gray), H×W×2 (gray + alpha; PNG and the generic path only). A
  frame that is not C-contiguous is copied once (about 0.05 ms for a 1200×630 card); frames are
  never modified. Everything is validated before any work: a bad frame, format or option raises
  :class:`~fastshare.errors.EncodeError` naming the field and the value and listing what is allowed.
* Fast paths: PNG is written by fastshare (numba row filters + ISA-L or libdeflate, see
  :mod:`fastshare._png`); JPEG goes through libjpeg-turbo (simplejpeg straight from the array
  when it is installed, otherwise Pillow); WebP through Pillow's libwebp. ``engine="pillow"``, and
  every other format Pillow can write, takes the generic path: ``Image.fromarray`` and
  ``Image.save`` with the options passed through unchanged (Pillow ignores options it does not
  know, so they are not checked there).
* No metadata by default: PNG gets only an ``sRGB`` chunk (``srgb=False`` drops it) and, when
  asked, ``text`` chunks; JPEG gets the JFIF header; WebP nothing.
* Thread safety: every function may be called from many threads at once. The PNG writer, simplejpeg
  and Pillow's WebP encoder release the GIL for their heavy parts. Pillow's JPEG writer holds the
  GIL when writing into memory (``encode``, or ``encode_to`` on a file object without
  ``fileno()``); it releases it when ``encode_to`` writes to a real file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from fastshare import _png
from fastshare.errors import EncodeError

__all__ = [
    "DEFAULT_OPTIONS",
    "FAST_FORMATS",
    "FORMATS",
    "PNG_FILTERS",
    "PNG_LEVELS",
    "encode",
    "encode_to",
    "encoder_config",
    "format_from_path",
    "pillow_formats",
    "warm_up",
]

if TYPE_CHECKING:
    #: every accepted format name: FAST_FORMATS, then what Pillow writes (computed on first use)
    FORMATS: tuple[str, ...]

#: formats with a fastshare fast path (``jpg`` is an alias of ``jpeg``)
FAST_FORMATS: tuple[str, ...] = ("png", "jpeg", "jpg", "webp")
#: named PNG levels, fastest first
PNG_LEVELS: tuple[str, ...] = tuple(_png.LEVELS)
#: PNG row filters (``adaptive`` picks per row)
PNG_FILTERS: tuple[str, ...] = tuple(_png.FILTERS)

_ENGINES = ("fastshare", "pillow")
_SUBSAMPLING = ("4:2:0", "4:2:2", "4:4:4")
_MAX_SIDE = {"png": 2**31 - 1, "jpeg": 65500, "webp": 16383}
_CHANNELS = {"png": (1, 2, 3, 4), "jpeg": (1, 3), "webp": (1, 3, 4)}
_CHANNEL_NAMES = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}

#: every option of the fast paths, with its default
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "png": {"level": "default", "filter": None, "text": None, "srgb": True},
    "jpeg": {"quality": 85, "subsampling": "4:2:0", "optimize": False, "progressive": False},
    "webp": {"quality": 80, "method": 0, "lossless": False},
}


# --------------------------------------------------------------------------- formats


@cache
def pillow_formats() -> tuple[str, ...]:
    """Lower-case names of every format this Pillow can write (the generic path)."""
    from PIL import Image

    Image.init()
    return tuple(sorted(name.lower() for name in Image.SAVE))


def __getattr__(name: str) -> tuple[str, ...]:
    # FORMATS is computed on first use: listing Pillow's writers imports all its plugins (~50 ms)
    if name == "FORMATS":
        return FAST_FORMATS + tuple(f for f in pillow_formats() if f not in FAST_FORMATS)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def _allowed_formats() -> str:
    others = [f for f in pillow_formats() if f not in FAST_FORMATS]
    return f"{', '.join(FAST_FORMATS)}, or a format Pillow writes: {', '.join(others)}"


def _canonical(format: Any) -> str:
    if not isinstance(format, str):
        msg = f"format must be a string; allowed: {_allowed_formats()}"
        raise EncodeError(msg, field="format", value=format)
    name = format.strip().lower().lstrip(".")
    if name == "jpg":
        return "jpeg"
    if name in FAST_FORMATS or name in pillow_formats():
        return name
    msg = f"unknown format; allowed: {_allowed_formats()}"
    raise EncodeError(msg, field="format", value=format)


def format_from_path(path: str | os.PathLike[str]) -> str:
    """The format for a file name's extension (``card.jpg`` → ``"jpeg"``), or EncodeError."""
    suffix = PurePath(path).suffix.lower()
    if suffix in (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp"):
        return {".png": "png", ".webp": "webp"}.get(suffix, "jpeg")
    from PIL import Image

    Image.init()
    pillow = Image.registered_extensions().get(suffix)
    if pillow is not None and pillow in Image.SAVE:
        return pillow.lower()
    msg = f"cannot tell the image format from this file name; use one of: {_allowed_formats()}"
    raise EncodeError(msg, field="path", value=str(path))


# --------------------------------------------------------------------------- validation


def _check_frame(frame: Any, fmt: str) -> np.ndarray:
    """A C-contiguous H×W×C uint8 view (or copy) of ``frame``, or EncodeError."""
    if not isinstance(frame, np.ndarray):
        msg = "a frame must be a numpy.ndarray of uint8, H×W×3 (or ×4, ×1, or H×W)"
        raise EncodeError(msg, field="frame", value=type(frame).__name__)
    if frame.dtype != np.uint8:
        msg = "a frame must have dtype uint8"
        raise EncodeError(msg, field="frame.dtype", value=str(frame.dtype))
    if frame.ndim == 2:
        frame = frame[:, :, None]
    allowed = _CHANNELS.get(fmt, (1, 2, 3, 4))
    if frame.ndim != 3 or frame.shape[2] not in allowed:
        names = ", ".join(f"{c} ({_CHANNEL_NAMES[c]})" for c in allowed)
        msg = f"a {fmt} frame must be H×W or H×W×C with C one of {names}"
        raise EncodeError(msg, field="frame.shape", value=tuple(frame.shape))
    h, w = frame.shape[:2]
    if h == 0 or w == 0:
        msg = "a frame must have at least one pixel"
        raise EncodeError(msg, field="frame.shape", value=tuple(frame.shape))
    limit = _MAX_SIDE.get(fmt)
    if limit is not None and max(h, w) > limit:
        msg = f"{fmt} frames are at most {limit} pixels wide and high"
        raise EncodeError(msg, field="frame.shape", value=tuple(frame.shape))
    if not frame.flags.c_contiguous:
        frame = np.ascontiguousarray(frame)
    checked: np.ndarray = frame
    return checked


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_in(lo: int, hi: int) -> Callable[[str, Any], int]:
    def check(field: str, value: Any) -> int:
        if not _is_int(value) or not lo <= int(value) <= hi:
            msg = f"must be an integer from {lo} to {hi}"
            raise EncodeError(msg, field=field, value=value)
        return int(value)

    return check


def _one_of(allowed: Iterable[str | None]) -> Callable[[str, Any], Any]:
    choices = tuple(allowed)

    def check(field: str, value: Any) -> Any:
        if value not in choices or (value is not None and not isinstance(value, str)):
            shown = ", ".join("None" if c is None else repr(c) for c in choices)
            msg = f"must be one of {shown}"
            raise EncodeError(msg, field=field, value=value)
        return value

    return check


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        msg = "must be True or False"
        raise EncodeError(msg, field=field, value=value)
    return bool(value)


def _subsampling(field: str, value: Any) -> str:
    aliases = {"420": "4:2:0", "422": "4:2:2", "444": "4:4:4"}
    if isinstance(value, str) and aliases.get(value, value) in _SUBSAMPLING:
        return aliases.get(value, value)
    msg = f"must be one of {', '.join(repr(s) for s in _SUBSAMPLING)}"
    raise EncodeError(msg, field=field, value=value)


def _text(field: str, value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        msg = "must be a mapping of keyword → text (or None)"
        raise EncodeError(msg, field=field, value=value)
    chunks = dict(value)
    _png.text_chunks(chunks)  # validates every keyword and value
    return chunks


_CHECKS: dict[str, dict[str, Callable[[str, Any], Any]]] = {
    "png": {
        "level": _one_of(PNG_LEVELS),
        "filter": _one_of((None, *PNG_FILTERS)),
        "text": _text,
        "srgb": _flag,
    },
    "jpeg": {
        "quality": _int_in(1, 100),
        "subsampling": _subsampling,
        "optimize": _flag,
        "progressive": _flag,
    },
    "webp": {"quality": _int_in(0, 100), "method": _int_in(0, 6), "lossless": _flag},
}


@dataclass(frozen=True)
class _Plan:
    format: str  # canonical: "png", "jpeg", "webp", or a Pillow format name
    engine: str  # "fastshare", "simplejpeg" or "pillow"
    options: dict[str, Any]  # complete for fast paths; passed through for Pillow


def _plan(format: Any, options: Mapping[str, Any]) -> _Plan:
    fmt = _canonical(format)
    opts = dict(options)
    engine = opts.pop("engine", "fastshare" if fmt in DEFAULT_OPTIONS else "pillow")
    if engine not in _ENGINES or (engine == "fastshare" and fmt not in DEFAULT_OPTIONS):
        allowed = _ENGINES if fmt in DEFAULT_OPTIONS else ("pillow",)
        msg = f"engine for {fmt} must be one of {', '.join(repr(e) for e in allowed)}"
        raise EncodeError(msg, field="engine", value=engine)
    if engine == "pillow":
        return _Plan(fmt, "pillow", opts)
    checks = _CHECKS[fmt]
    resolved = dict(DEFAULT_OPTIONS[fmt])
    for name, value in opts.items():
        check = checks.get(name)
        if check is None:
            allowed_names = ", ".join((*checks, "engine"))
            msg = f"unknown {fmt} option; allowed: {allowed_names}"
            raise EncodeError(msg, field=name, value=value)
        resolved[name] = check(name, value)
    if fmt == "jpeg":
        fast = not resolved["optimize"] and not resolved["progressive"]
        engine = "simplejpeg" if fast and _simplejpeg() is not None else "pillow"
    return _Plan(fmt, engine, resolved)


@cache
def _simplejpeg() -> Any:
    try:
        import simplejpeg  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    return simplejpeg


# --------------------------------------------------------------------------- encoders


def _pillow_image(frame: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(frame[:, :, 0] if frame.shape[2] == 1 else frame)


def _pillow_save(frame: np.ndarray, plan: _Plan, fileobj: IO[bytes]) -> None:
    # the generic path passes options through; resolved JPEG and WebP options use Pillow's names
    try:
        _pillow_image(frame).save(fileobj, plan.format.upper(), **plan.options)
    except (KeyError, ValueError, OSError, TypeError) as exc:
        msg = f"Pillow cannot write this frame as {plan.format}: {exc}"
        raise EncodeError(msg, field="format", value=plan.format) from exc


def _parts(frame: np.ndarray, plan: _Plan) -> list[Any]:
    """The encoded file as byte-like parts (one part except for PNG)."""
    if plan.format == "png" and plan.engine == "fastshare":
        o = plan.options
        return _png.png_parts(
            frame, level=o["level"], filter=o["filter"], text=o["text"], srgb=o["srgb"]
        )
    if plan.engine == "simplejpeg":
        o = plan.options
        gray = frame.shape[2] == 1
        data = _simplejpeg().encode_jpeg(
            frame,
            quality=o["quality"],
            colorspace="GRAY" if gray else "RGB",
            colorsubsampling="Gray" if gray else o["subsampling"].replace(":", ""),
        )
        return [data]
    buf = io.BytesIO()
    _pillow_save(frame, plan, buf)
    return [buf.getbuffer()]


def encode(frame: np.ndarray, format: str = "png", **options: Any) -> bytes:
    """Encode ``frame`` (H×W×3 uint8, or ×4 / ×1 / H×W, see the module doc) as ``format``.

    ``format``: ``png``, ``jpeg`` (or ``jpg``), ``webp``, or any format Pillow writes.
    Options: PNG ``level`` ("fast" | "default" | "small"), ``filter``, ``text``, ``srgb``; JPEG
    ``quality``, ``subsampling`` ("4:2:0" | "4:2:2" | "4:4:4"), ``optimize``, ``progressive``;
    WebP ``quality``, ``method``, ``lossless``; ``engine="pillow"`` passes any other options to
    Pillow's ``Image.save``. Raises :class:`~fastshare.errors.EncodeError` on bad input.
    """
    plan = _plan(format, options)
    frame = _check_frame(frame, plan.format)
    parts = _parts(frame, plan)
    if len(parts) == 1 and isinstance(parts[0], bytes):
        return parts[0]
    return b"".join(parts)


def _write_all(fileobj: IO[bytes], data: Any) -> int:
    view = memoryview(data).cast("B")
    total = len(view)
    while len(view):
        written = fileobj.write(view)
        if written is None or written >= len(view):  # buffered writers write everything
            break
        view = view[written:]
    return total


def encode_to(fileobj: IO[bytes], frame: np.ndarray, format: str = "png", **options: Any) -> int:
    """Encode like :func:`encode` and write the file to ``fileobj``; return the bytes written.

    PNG is streamed in parts (no joined copy). With the generic Pillow path and a real file
    (``fileno()``), Pillow writes directly, which also lets its JPEG writer release the GIL.
    """
    plan = _plan(format, options)
    frame = _check_frame(frame, plan.format)
    if plan.engine == "pillow" and _has_fileno(fileobj) and fileobj.seekable():
        start = fileobj.tell()
        _pillow_save(frame, plan, fileobj)
        return fileobj.tell() - start
    return sum(_write_all(fileobj, part) for part in _parts(frame, plan))


def _has_fileno(fileobj: IO[bytes]) -> bool:
    try:
        fileobj.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


def encoder_config(format: str = "png", **options: Any) -> dict[str, Any]:
    """The resolved encoder settings as JSON-ready data: format, engine, every option (defaults
    filled in) and the versions of the libraries that produce the bytes. Two calls that return
    equal dicts produce identical files for identical frames; use it in cache and dedup keys.
    """
    plan = _plan(format, options)
    versions: dict[str, str] = {}
    if plan.format == "png" and plan.engine == "fastshare":
        import deflate
        import isal

        versions = {"isal": isal.__version__, "deflate": deflate.__version__}
    elif plan.engine == "simplejpeg":
        versions = {"simplejpeg": _simplejpeg().__version__}
    else:
        import PIL

        versions = {"Pillow": PIL.__version__}
    options_out = {
        k: (dict(v) if isinstance(v, Mapping) else v) for k, v in sorted(plan.options.items())
    }
    return {
        "format": plan.format,
        "engine": plan.engine,
        "options": options_out,
        "versions": versions,
    }


def warm_up() -> None:
    """Load everything the encoders need (numba's cached filter kernel, ISA-L, libdeflate,
    simplejpeg, Pillow's plugins) by encoding a tiny frame in every fast format. Workers call it
    once before taking work; it changes no global state."""
    frame = np.zeros((4, 16, 3), np.uint8)
    frame[1::2, ::3] = 200
    for level in PNG_LEVELS:
        encode(frame, "png", level=level)
    encode(frame, "jpeg")
    encode(frame, "webp")
    pillow_formats()
