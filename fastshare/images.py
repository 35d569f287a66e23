"""Image assets: confined file lookup, decode, fit into a box, premultiply, byte-budgeted cache.

* Files come only from the configured asset directories. A name (possibly from item data) is a
  relative path; absolute paths, ``..``, NUL bytes and symlinks that leave the directory are
  refused. URLs are never fetched (the template parser refuses them).
* Decoded once per (file, mtime, size, box, fit, focal) and kept in a process-wide LRU cache with a
  byte budget (``FASTSHARE_IMAGE_CACHE_MB``, default 128 MiB). Thread safe.
* Limits before decoding: file bytes (:data:`MAX_IMAGE_BYTES`) and pixels (Pillow's
  ``MAX_IMAGE_PIXELS`` guard, reported as :class:`~fastshare.errors.LimitError`).
* Output: premultiplied RGBA ``uint8`` H×W×4, C-contiguous, exactly the box size for ``cover`` and
  ``fill``; for ``contain`` the fitted size plus its offset inside the box.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fastshare.errors import DataError, LimitError

__all__ = ["FittedImage", "ImageCache", "fit_image", "resolve_asset"]

#: the largest image file read, in bytes
MAX_IMAGE_BYTES = 50_000_000
#: the largest decoded image, in pixels
MAX_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class FittedImage:
    """A decoded, fitted, premultiplied RGBA image and where it sits inside its box."""

    pixels: np.ndarray  # H×W×4 uint8 premultiplied
    dx: int  # offset of the pixels inside the box (contain letterboxing), px
    dy: int

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)


def resolve_asset(name: str, asset_dirs: Sequence[Path], field: str = "src") -> Path:
    """The file ``name`` inside one of ``asset_dirs``; refuses anything that escapes them."""
    if not asset_dirs:
        msg = "no asset directory is configured, so image files cannot be used"
        raise DataError(msg, field=field, value=name)
    if not name or "\x00" in name or len(name) > 1024:
        msg = "not a usable image file name"
        raise DataError(msg, field=field, value=name)
    relative = Path(name)
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        msg = "image names must be relative paths inside the asset directories"
        raise DataError(msg, field=field, value=name)
    for directory in asset_dirs:
        root = directory.resolve()
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root):
            msg = "image path leaves the asset directory"
            raise DataError(msg, field=field, value=name)
        if candidate.is_file():
            return candidate
    shown = ", ".join(str(d) for d in asset_dirs)
    msg = f"image file not found in the asset directories ({shown})"
    raise DataError(msg, field=field, value=name)


def _decode(source: Path | bytes, field: str) -> Image.Image:
    if isinstance(source, Path):
        size = source.stat().st_size
        if size > MAX_IMAGE_BYTES:
            msg = f"image file is {size:,} bytes, above the {MAX_IMAGE_BYTES:,} byte limit"
            raise LimitError(msg, field=field, value=str(source))
        data = source.read_bytes()
    else:
        if len(source) > MAX_IMAGE_BYTES:
            msg = f"image data is {len(source):,} bytes, above the {MAX_IMAGE_BYTES:,} byte limit"
            raise LimitError(msg, field=field, value=len(source))
        data = source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_IMAGE_PIXELS:
                msg = f"image is {image.width}×{image.height}, above {MAX_IMAGE_PIXELS:,} pixels"
                raise LimitError(msg, field=field, value=str(source)[:200])
            image.load()
    except LimitError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LimitError(str(exc), field=field) from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = f"cannot decode image: {exc}"
        raise DataError(msg, field=field, value=str(source)[:200]) from None
    return image


def fit_image(
    image: Image.Image,
    box_w: int,
    box_h: int,
    fit: str = "cover",
    focal: tuple[float, float] = (0.5, 0.5),
) -> FittedImage:
    """Fit ``image`` into a ``box_w × box_h`` box; return premultiplied RGBA pixels."""
    box_w, box_h = max(1, box_w), max(1, box_h)
    rgba = image.convert("RGBA")
    iw, ih = rgba.size
    dx = dy = 0
    if fit == "fill":
        out = rgba.resize((box_w, box_h), Image.Resampling.LANCZOS)
    elif fit == "contain":
        scale = min(box_w / iw, box_h / ih)
        w, h = max(1, round(iw * scale)), max(1, round(ih * scale))
        out = rgba.resize((w, h), Image.Resampling.LANCZOS)
        dx, dy = (box_w - w) // 2, (box_h - h) // 2
    else:  # cover: scale to cover the box, crop around the focal point
        scale = max(box_w / iw, box_h / ih)
        crop_w, crop_h = box_w / scale, box_h / scale
        fx, fy = focal
        left = min(max(fx * iw - crop_w / 2, 0.0), iw - crop_w)
        top = min(max(fy * ih - crop_h / 2, 0.0), ih - crop_h)
        out = rgba.resize(
            (box_w, box_h),
            Image.Resampling.LANCZOS,
            box=(left, top, left + crop_w, top + crop_h),
        )
    pixels = np.asarray(out, dtype=np.uint8).copy()
    _premultiply(pixels)
    return FittedImage(np.ascontiguousarray(pixels), dx, dy)


def _premultiply(pixels: np.ndarray) -> None:
    alpha = pixels[..., 3:4].astype(np.uint16)
    if int(alpha.min()) == 255:
        return
    pixels[..., :3] = ((pixels[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)


def _round_corners(
    fitted: FittedImage, box_w: int, box_h: int, radii: tuple[float, float, float, float]
) -> FittedImage:
    """Mask the corners of the *box* with the rounded-rectangle coverage kernel."""
    from fastshare.paint import rounded_rect_mask

    mask = rounded_rect_mask(box_w, box_h, radii)
    h, w = fitted.pixels.shape[:2]
    window = mask[fitted.dy : fitted.dy + h, fitted.dx : fitted.dx + w].astype(np.uint16)
    pixels = (fitted.pixels.astype(np.uint16) * window[..., None] + 127) // 255
    return FittedImage(np.ascontiguousarray(pixels.astype(np.uint8)), fitted.dx, fitted.dy)


class ImageCache:
    """A thread-safe LRU of fitted images bounded by bytes."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        if budget_bytes is None:
            budget_bytes = int(os.environ.get("FASTSHARE_IMAGE_CACHE_MB", "128")) * 1024 * 1024
        self.budget = budget_bytes
        self._entries: OrderedDict[tuple[object, ...], FittedImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(
        self,
        source: Path | bytes,
        box_w: int,
        box_h: int,
        fit: str,
        focal: tuple[float, float],
        field: str = "src",
        radii: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    ) -> FittedImage:
        if isinstance(source, Path):
            stat = source.stat()
            ident: object = (str(source), stat.st_mtime_ns, stat.st_size)
        else:
            ident = hashlib.sha256(source).hexdigest()
        key = (ident, box_w, box_h, fit, focal, radii)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        fitted = fit_image(_decode(source, field), box_w, box_h, fit, focal)
        if any(radii):
            fitted = _round_corners(fitted, box_w, box_h, radii)
        with self._lock:
            self.misses += 1
            if fitted.nbytes <= self.budget:
                self._entries[key] = fitted
                self._bytes += fitted.nbytes
                while self._bytes > self.budget:
                    _, evicted = self._entries.popitem(last=False)
                    self._bytes -= evicted.nbytes
        return fitted

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
