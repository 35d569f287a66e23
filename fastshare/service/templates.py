"""The templates a server may render: ``*.toml`` / ``*.json`` files directly in one directory.

A request names a template by its file stem (``card-a`` for ``card-a.toml``); names are 1-64
letters, digits, ``-`` and ``_``, so a name never reaches outside the directory. Templates are
loaded on first use and reloaded when their file changes (a ``stat`` per request, cached by
modification time and size). A template file that does not load is a server problem, not the
caller's: it answers 500 ``template_unavailable`` and the details go to the log.

Thread safety: used from the event loop; the cache is a plain dict guarded by a lock so a
thread (warm-up at start) may load templates too.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fastshare.errors import ClientError, ServerError, TemplateError, ValueRangeError
from fastshare.service.errors import TemplateUnavailable, UnknownTemplate
from fastshare.template import ImageLayer, Template, load_template

__all__ = ["TemplateInfo", "TemplateStore", "TemplateUnavailable", "UnknownTemplate"]

log = logging.getLogger("fastshare.service")

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SUFFIXES = (".toml", ".json")


@dataclass(frozen=True)
class TemplateInfo:
    """A loaded template with what the service needs to validate requests for it."""

    name: str
    path: Path
    template: Template
    stamp: tuple[int, int]
    #: the fields the template reads (placeholders and ``when``)
    fields: frozenset[str]
    #: top-level item keys that carry those fields (``author`` for ``author.name``)
    roots: frozenset[str]
    #: fields that name image files (refused when they look like URLs)
    image_fields: frozenset[str]
    #: the template draws image files (their hashes are part of the output key)
    has_images: bool

    def summary(self) -> dict[str, object]:
        t = self.template
        return {
            "name": self.name,
            "fields": list(t.fields),
            "required_fields": list(t.required_fields),
            "targets": list(t.targets),
            "config_hash": t.config_hash(),
        }


def check_name(name: str) -> str:
    """``name`` if it is a valid template name; ``ValueRangeError`` naming ``template``."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        msg = "template names are 1-64 letters, digits, '-' or '_'"
        raise ValueRangeError(msg, field="template", value=name)
    return name


def _image_layers(template: Template) -> list[ImageLayer]:
    found: list[ImageLayer] = []
    variants = [(template.layers, template.background), *template.overridden.values()]
    for layers, background in variants:
        images = [layer for layer in layers if isinstance(layer, ImageLayer)]
        if background.image is not None:
            images.append(background.image)
        found.extend(images)
    return found


class TemplateStore:
    """Loads and caches the templates of one directory."""

    def __init__(self, directory: Path, asset_dirs: Sequence[Path] = ()) -> None:
        self.directory = Path(directory)
        self.asset_dirs = tuple(asset_dirs)
        self._cache: dict[str, TemplateInfo] = {}
        self._failed: dict[str, tuple[Path, tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Template names in the directory, sorted (files with invalid names are skipped)."""
        found: set[str] = set()
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return []
        for entry in entries:
            stem, suffix = os.path.splitext(entry.name)
            if suffix in _SUFFIXES and NAME.fullmatch(stem) and entry.is_file():
                found.add(stem)
        return sorted(found)

    def _path(self, name: str) -> Path | None:
        for suffix in _SUFFIXES:
            path = self.directory / f"{name}{suffix}"
            if path.is_file():
                return path
        return None

    def get(self, name: str) -> TemplateInfo:
        """The template ``name``; raises UnknownTemplate (404) or TemplateUnavailable (500)."""
        check_name(name)
        path = self._path(name)
        if path is None:
            msg = "no such template on this server (see GET /v1/templates)"
            raise UnknownTemplate(msg, field="template", value=name)
        try:
            st = path.stat()
        except OSError:
            msg = "no such template on this server (see GET /v1/templates)"
            raise UnknownTemplate(msg, field="template", value=name) from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached.stamp == stamp and cached.path == path:
            return cached
        msg = "this template does not load on the server; its operator has the details"
        if self._failed.get(name) == (path, stamp):
            raise TemplateUnavailable(msg, field="template", value=name)
        try:
            template = load_template(path, asset_dirs=self.asset_dirs)
        except TemplateError as exc:
            log.error("template %s (%s) does not load: %s", name, path, exc)
            with self._lock:
                self._failed[name] = (path, stamp)
            raise TemplateUnavailable(msg, field="template", value=name) from None
        template.config_hash()
        fields = frozenset(template.fields)
        images = _image_layers(template)
        info = TemplateInfo(
            name=name,
            path=path,
            template=template,
            stamp=stamp,
            fields=fields,
            roots=frozenset(f.split(".", 1)[0] for f in fields) | fields,
            image_fields=frozenset(
                name for layer in images if layer.src is not None for name in layer.src.fields
            ),
            has_images=bool(images),
        )
        with self._lock:
            self._cache[name] = info
        return info

    def load_all(self) -> list[TemplateInfo]:
        """Every template that loads (the others are logged and skipped)."""
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except (ClientError, ServerError):
                continue
        return out
