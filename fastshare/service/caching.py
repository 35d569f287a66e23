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
  (:class:`~fastshare.sinks.DirectorySink`: ``<root>/<key>/<target>.<ext>`` plus a manifest,
  atomic renames). Workers stage the file; the orchestrator commits it after answering. Its
  methods do file I/O and are called from threads (``asyncio.to_thread``), never on the event
  loop; they are thread safe. Above ``max_bytes`` the oldest entries are removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

from fastshare.sinks import DirectorySink, Staged

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
    """Rendered images on disk, keyed by output key, through a :class:`DirectorySink`."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.sink = DirectorySink(self.root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._bytes = 0
        self._pruning = False

    @property
    def size_bytes(self) -> int:
        """Bytes stored (measured at start, then counted as entries come and go)."""
        return self._bytes

    def measure(self) -> int:
        """Walk the cache once and set the byte count (call at start, from a thread)."""
        total = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root):
                if entry.is_dir(follow_symlinks=False):
                    total += _dir_bytes(Path(entry.path))
        with self._lock:
            self._bytes = total
        return total

    def get(self, key: str, target: str, fmt: str) -> bytes | None:
        """The stored bytes of (key, target, format), or ``None``."""
        outputs = self.sink.lookup(key)
        if not outputs:
            return None
        for output in outputs:
            if output.target == target and output.format == fmt:
                try:
                    with open(output.location, "rb") as fh:
                        return fh.read()
                except OSError:
                    return None  # pruned meanwhile
        return None

    def has(self, key: str, target: str, fmt: str) -> bool:
        """True when (key, target, format) is stored."""
        outputs = self.sink.lookup(key)
        return bool(outputs) and any(o.target == target and o.format == fmt for o in outputs or ())

    def commit(self, key: str, staged: Staged, configuration: dict[str, str]) -> None:
        """Move a staged file into place; prune when over budget."""
        self.sink.commit(key, [staged], configuration)
        with self._lock:
            self._bytes += staged.size
            over = self._bytes > self.max_bytes and not self._pruning
            if over:
                self._pruning = True
        if over:
            try:
                self.prune()
            finally:
                with self._lock:
                    self._pruning = False

    def abort(self, key: str, token: str) -> None:
        """Remove what a failed render staged (temp files of ``token``)."""
        self.sink.abort(key, token, [])

    def prune(self, target_fraction: float = 0.9) -> int:
        """Remove the oldest entries until the cache holds ``target_fraction × max_bytes``."""
        entries: list[tuple[float, Path, int]] = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                path = Path(entry.path)
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                entries.append((mtime, path, _dir_bytes(path)))
        entries.sort()
        total = sum(size for _, _, size in entries)
        goal = int(self.max_bytes * target_fraction)
        removed = 0
        for _, path, size in entries:
            if total <= goal:
                break
            shutil.rmtree(path, ignore_errors=True)
            total -= size
            removed += 1
        with self._lock:
            self._bytes = total
        if removed:
            log.info("disk cache: removed %d oldest entries, %d bytes left", removed, total)
        return removed


def _dir_bytes(path: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(path):
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total
