"""HTTP caching: ETags from the output key, ``If-None-Match``, ``Cache-Control``, the disk cache.

* **ETag**: a strong ETag made of the first 32 hex digits (128 bits) of the project's output key
  (:mod:`fastshare.identity` via :mod:`fastshare.service.keys`): the template's resolved plan,
  the item fields the template reads, the fonts, the assets, the encoder and its options, and the
  render version. Equal key, equal bytes; anything that changes the bytes changes the ETag.
* ``If-None-Match`` uses the weak comparison RFC 9110 asks for (``W/"x"`` matches ``"x"``);
  ``*`` matches any image.
* ``Cache-Control`` is configured per kind of request (signed GET, unsigned GET, POST). A signed
  URL with an expiry never gets a ``max-age``/``s-maxage`` longer than its remaining life.
* :class:`DiskCache` stores rendered bytes through the file store
  (:class:`~fastshare.stores.DirectoryStore`: ``<root>/<shard>/<key>-<target>.<ext>``, atomic
  writes).
  Workers write the file right after encoding; the server reads it for later requests. Methods
  that touch files are called from threads (``asyncio.to_thread``), never on the event loop;
  all are thread safe. Above ``max_bytes`` the oldest files are removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from pathlib import Path

from fastshare.stores import DirectoryStore
from fastshare.targets import Target

__all__ = ["DiskCache", "cache_control", "etag_for", "etag_matches"]

log = logging.getLogger("fastshare.service")

_MAX_AGE = re.compile(r"\b(max-age|s-maxage)\s*=\s*(\d+)", re.IGNORECASE)


def etag_for(key: str) -> str:
    """The strong ETag header value for an output key (hex)."""
    return f'"{key[:32]}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """True when an ``If-None-Match`` header matches ``etag`` (weak comparison, ``*``)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    for part in header.split(","):
        candidate = part.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == bare:
            return True
    return False


def cache_control(base: str, expires: int | None = None, now: float | None = None) -> str:
    """``base`` with ``max-age``/``s-maxage`` capped at the seconds left before ``expires``."""
    if expires is None:
        return base
    left = max(0, int(expires - (time.time() if now is None else now)))
    return _MAX_AGE.sub(lambda m: f"{m.group(1)}={min(int(m.group(2)), left)}", base)


class DiskCache:
    """Rendered images on disk, one file per output key, through a :class:`DirectoryStore`.

    Files are ``<root>/<shard>/<key>-<target>.<ext>`` (``shard``: two hex digits: 256
    directories; the key already covers target and format, the target makes names readable).
    Workers write them (atomically, :meth:`DirectoryStore.write`); the server reads them and
    keeps the byte count. A reader never sees a partial file.
    """

    PATTERN = "{shard}/{item_id}-{target}.{ext}"

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = DirectoryStore(self.root, self.PATTERN)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._bytes = 0
        self._pruning = False

    @property
    def size_bytes(self) -> int:
        """Bytes stored (measured at start, then counted as entries come and go)."""
        return self._bytes

    def location(self, key: str, target: Target, fmt: str) -> str:
        """Where the image of output ``key`` lives (the key already covers target and format)."""
        return self.store.location(key, target, fmt)

    def measure(self) -> int:
        """Walk the cache once and set the byte count (call at start, from a thread)."""
        total = sum(size for _, _, size in self._entries())
        with self._lock:
            self._bytes = total
        return total

    def get(self, location: str) -> bytes | None:
        """The stored bytes at ``location``, or ``None``."""
        try:
            with open(location, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            log.warning("disk cache: cannot read %s: %r", location, exc)
            return None

    def has(self, location: str) -> bool:
        return self.store.size(location) is not None

    def added(self, size: int) -> bool:
        """Count ``size`` new bytes; True when the cache is now over budget and needs a prune."""
        with self._lock:
            self._bytes += size
            if self._bytes > self.max_bytes and not self._pruning:
                self._pruning = True
                return True
        return False

    def abort(self, location: str) -> None:
        """Remove temporary files a killed or failed writer left for ``location``."""
        self.store.sweep(location)

    def _entries(self) -> list[tuple[float, str, int]]:
        entries: list[tuple[float, str, int]] = []
        with contextlib.suppress(FileNotFoundError):
            for shard in os.scandir(self.root):
                if not shard.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError):
                    for entry in os.scandir(shard.path):
                        if entry.name.startswith("."):
                            continue
                        with contextlib.suppress(OSError):
                            st = entry.stat(follow_symlinks=False)
                            entries.append((st.st_mtime, entry.path, st.st_size))
        return entries

    def prune(self, target_fraction: float = 0.9) -> int:
        """Remove the oldest files until the cache holds ``target_fraction × max_bytes``."""
        try:
            entries = sorted(self._entries())
            total = sum(size for _, _, size in entries)
            goal = int(self.max_bytes * target_fraction)
            removed = 0
            for _, path, size in entries:
                if total <= goal:
                    break
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                total -= size
                removed += 1
            with self._lock:
                self._bytes = total
        finally:
            with self._lock:
                self._pruning = False
        if removed:
            log.info("disk cache: removed %d oldest files, %d bytes left", removed, total)
        return removed
