"""Output keys for the service: the project's identity (:mod:`fastshare.identity`) per request.

One :class:`~fastshare.identity.KeyBuilder` per (template configuration, format) is built once
(it hashes the font files, so build them at start, from a thread: :meth:`OutputKeys.prepare`)
and reused; a key then costs a few microseconds. The key feeds the ETag and the disk cache, and
is the same key backfills and the registry use, so a card rendered by a backfill and served by
the service share one identity.

Font files are hashed when a builder is made: a font file replaced while the server runs is seen
after a restart (or when its template changes). Thread safe: the builder cache is guarded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from fastshare.identity import KeyBuilder
from fastshare.targets import Target
from fastshare.template import Template

__all__ = ["OutputKeys"]

_FORMATS = ("png", "jpeg", "webp")


class OutputKeys:
    """Caches key builders by (template configuration hash, format)."""

    def __init__(
        self, encode_options: Mapping[str, Mapping[str, Any]] | None = None, capacity: int = 256
    ) -> None:
        self._options = {fmt: dict(opts) for fmt, opts in (encode_options or {}).items()}
        self._builders: OrderedDict[tuple[str, str], KeyBuilder] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def options(self, fmt: str) -> dict[str, Any]:
        """The encoder options configured for ``fmt`` (canonical name)."""
        return dict(self._options.get(fmt, {}))

    def builder(self, template: Template, fmt: str) -> KeyBuilder:
        ident = (template.config_hash(), fmt)
        with self._lock:
            found = self._builders.get(ident)
            if found is not None:
                self._builders.move_to_end(ident)
                return found
        built = KeyBuilder(template, fmt, self._options.get(fmt) or None)
        with self._lock:
            self._builders[ident] = built
            while len(self._builders) > self._capacity:
                self._builders.popitem(last=False)
        return built

    def has(self, template: Template, fmt: str) -> bool:
        """True when the builder for (template, format) is ready (no file hashing needed)."""
        with self._lock:
            return (template.config_hash(), fmt) in self._builders

    def prepare(self, templates: Iterable[Template]) -> None:
        """Build every (template, format) builder now (hashes fonts: call from a thread)."""
        for template in templates:
            for fmt in _FORMATS:
                self.builder(template, fmt)

    def key(self, template: Template, fmt: str, item: Mapping[str, Any], target: Target) -> str:
        """The output key (hex SHA-256) of ``item`` rendered with ``template`` at ``target``."""
        return self.builder(template, fmt).key(item, target)
