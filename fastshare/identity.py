"""The output key: one hash of everything that changes an output's bytes.

``DESIGN.md`` ("Identity and dedup"): an output's key hashes the resolved per-target plan, the
item data, the font files' hashes, the encoder and its options, and fastshare's render version.
Backfill dedup, the registry, the generator pipeline and the service's ETag all use it, so an
edited title, a new font file or an upgraded renderer re-renders, and nothing else does.

What goes in, precisely (a canonical JSON document, hashed with SHA-256):

* ``render``: :data:`RENDER_VERSION`. Bump it in the same commit as any change that alters the
  pixels or bytes fastshare produces for an unchanged input (a kernel, the text engine, an
  encoder default, a dependency upgrade known to shift pixels).
* ``plan``: :func:`plan_digest` — the target (name, pixel size, scale) and the template as
  resolved for it: every layer and the background, with this target's overrides applied. An
  edit that only touches the ``story`` override leaves the ``og`` keys alone.
* ``data``: only the item fields the template reads (``Template.fields``: placeholders and
  ``when`` fields, dotted names followed into nested objects), a missing field distinct from an
  empty one. Fields the template never reads (an unused ``author``) do not change the key.
* ``fonts``: the SHA-256 of every font file fastshare may use for this template (the bundled font
  directory and the template's ``fonts``).
* ``assets``: the SHA-256 of each image file the item's image layers resolve to (a photo replaced
  in the asset directory re-renders the cards that show it).
* ``encoder``: :func:`encoder_identity` — the engine, canonical format (``jpg`` is ``jpeg``),
  every option with its default filled in, and the versions of the encoding libraries.

File hashes are computed once per process and cached by (path, size, modification time), so a
long-running process still sees a replaced file. Everything here is thread safe (the caches are
guarded by a lock) and pure Python: no frame is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastshare.errors import DataError, FastshareError
from fastshare.targets import Target, parse_target
from fastshare.template import ImageLayer, Template

__all__ = [
    "RENDER_VERSION",
    "KeyBuilder",
    "asset_digests",
    "canonical_json",
    "encoder_identity",
    "file_digest",
    "font_digest",
    "item_digest",
    "item_fields",
    "normalize_format",
    "output_key",
    "plan_digest",
]

#: fastshare's render version: bump when a change alters output bytes for an unchanged input
RENDER_VERSION = 2

_MISSING_MARK = {"$missing": True}
_FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
_CHUNK = 1 << 20

_lock = threading.Lock()
_file_cache: dict[str, tuple[int, int, str]] = {}
_font_cache: dict[tuple[str, ...], tuple[tuple[tuple[str, int, int], ...], str]] = {}


# --------------------------------------------------------------------------- primitives


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys; non-JSON values (dates, Decimals) as their ``str``."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=True,
        default=_json_default,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, set | frozenset):
        return sorted(map(str, value))
    return {"$" + type(value).__name__: str(value)}


def normalize_format(fmt: str) -> str:
    """The canonical encoder format name (``jpg`` → ``jpeg``), lower case."""
    name = str(fmt).strip().lower()
    return _FORMAT_ALIASES.get(name, name)


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, cached per process by (path, size, modification time)."""
    name = os.fspath(path)
    stat = os.stat(name)
    with _lock:
        cached = _file_cache.get(name)
    if cached is not None and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
        return cached[2]
    h = hashlib.sha256()
    with open(name, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    with _lock:
        _file_cache[name] = (stat.st_size, stat.st_mtime_ns, digest)
    return digest


def _font_files(paths: Iterable[Path]) -> list[str]:
    from fastshare.text.fonts import FONT_SUFFIXES

    files: set[str] = set()
    for path in paths:
        if path.is_dir():
            files.update(
                str(p) for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            files.add(str(path))
    return sorted(files)


def font_digest(extra: Iterable[str | os.PathLike[str]] = ()) -> str:
    """One hash over the bundled fonts and ``extra`` font files/directories (cached).

    The hash covers each file's name (relative to nothing: its base name) and its bytes' hash,
    so a renamed, added, removed or edited font file changes it, and moving the installation
    does not.
    """
    from fastshare.text import bundled_font_dir

    roots = [bundled_font_dir(), *(Path(p) for p in extra)]
    key = tuple(str(p) for p in roots)
    files = _font_files(roots)
    stamp = tuple((f, (st := os.stat(f)).st_size, st.st_mtime_ns) for f in files)
    with _lock:
        cached = _font_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    parts = sorted((os.path.basename(f), file_digest(f)) for f in files)
    digest = hashlib.sha256(canonical_json(parts).encode()).hexdigest()
    with _lock:
        _font_cache[key] = (stamp, digest)
    return digest


def encoder_identity(fmt: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Which encoder writes ``fmt`` here, and with what: part of the output key.

    It is :func:`fastshare.encoders.encoder_config`: the canonical format, the engine, every
    option with defaults filled in (so ``quality=85`` and no option give the same key when 85 is
    the default) and the versions of the libraries that produce the bytes. Invalid options raise
    :class:`~fastshare.errors.EncodeError` here, before any work.
    """
    from fastshare.encoders import encoder_config

    return {"encoder": "fastshare", **encoder_config(normalize_format(fmt), **dict(options or {}))}


# --------------------------------------------------------------------------- the plan


class _Opaque(Exception):
    """A value with no stable canonical form (the plan digest falls back to the plan's key)."""


def _canonical(value: Any) -> Any:
    """A JSON-ready, process-independent form of a plan value (dataclasses, tuples, colours)."""
    import dataclasses
    import enum
    import math

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return [type(value).__name__, _canonical(value.value)]
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$type": type(value).__name__, **fields}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple (Color, Target)
        return {"$type": type(value).__name__, **{k: _canonical(v) for k, v in zip(
            value._fields, value, strict=True)}}  # fmt: skip
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=canonical_json)
    slots = getattr(type(value), "__slots__", None)
    if slots:  # small value classes such as Length
        names = [slots] if isinstance(slots, str) else list(slots)
        return {"$type": type(value).__name__, **{n: _canonical(getattr(value, n)) for n in names}}
    raise _Opaque(type(value).__name__)


def plan_digest(target_plan: Any) -> str:
    """SHA-256 of what a resolved per-target plan paints: its layers, background and size.

    Only this target's resolved layers count, so editing a ``story`` override changes the
    ``story`` outputs' keys and not the ``og`` ones. A plan holding a value without a stable
    form (never the case for fastshare's own layer types) falls back to ``TargetPlan.key``,
    which covers the whole template.
    """
    target = target_plan.target
    try:
        doc = {
            "target": [target.name, target.pixel_width, target.pixel_height, target.scale],
            "layers": _canonical(target_plan.layers),
            "background": _canonical(target_plan.background),
            "static_prefix": target_plan.static_prefix,
        }
        text = canonical_json(doc)
    except (_Opaque, TypeError, ValueError):
        return str(target_plan.key)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- item data


def item_fields(template: Template, item: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the fields ``template`` reads from ``item`` (missing ones marked)."""
    from fastshare.binding import _MISSING, lookup

    out: dict[str, Any] = {}
    for name in template.fields:
        value = lookup(item, name)
        out[name] = _MISSING_MARK if value is _MISSING else value
    return out


def item_digest(item: Mapping[str, Any]) -> str:
    """SHA-256 of a whole item's canonical JSON (the registry's original record hash)."""
    return hashlib.sha256(canonical_json(item).encode()).hexdigest()


def _image_layers(template: Template, target: Target) -> list[ImageLayer]:
    layers, background = template.layers_for(target)
    found = [layer for layer in layers if isinstance(layer, ImageLayer)]
    if background.image is not None:
        found.append(background.image)
    return found


def asset_digests(template: Template, item: Mapping[str, Any], target: Target) -> list[Any]:
    """``[layer id, file hash]`` for each image layer drawn from an asset file for ``item``.

    An image name that does not resolve (missing field, missing file) contributes its name and
    ``None``: the render fails on it and is recorded as a failure, not skipped.
    """
    from fastshare.binding import field_present
    from fastshare.images import resolve_asset

    out: list[Any] = []
    for layer in _image_layers(template, target):
        if layer.data is not None or layer.src is None:
            continue  # inline bytes are hashed with the template's source
        if layer.when and not all(field_present(item, name) for name in layer.when):
            continue
        try:
            name = layer.src.render(item, f"{layer.path}.src")
            path = resolve_asset(name, template.asset_dirs, f"{layer.path}.src")
        except (DataError, FastshareError):
            out.append([layer.id, None])
            continue
        try:
            out.append([layer.id, file_digest(path)])
        except OSError:
            out.append([layer.id, None])
    return out


# --------------------------------------------------------------------------- the key


@dataclass
class KeyBuilder:
    """Computes output keys for one template, format and encoder options.

    The parts shared by every item (plan keys, font and encoder identity) are resolved once;
    :meth:`key` then hashes one item's fields for one target. Build it in the process that needs
    the keys (it is cheap); it is safe to share between threads.
    """

    template: Template
    format: str = "png"
    encode_options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        from fastshare.planner import plan

        self._plan = plan
        self._fonts = font_digest(self.template.font_paths)
        self._encoder = encoder_identity(self.format, self.encode_options)
        self._plans: dict[Target, str] = {}
        self._heads: dict[Target, str] = {}
        self._fields = self.template.fields
        self._has_images = any(isinstance(x, ImageLayer) for x in self.template.all_layers())

    @property
    def fonts(self) -> str:
        return self._fonts

    @property
    def encoder(self) -> Mapping[str, Any]:
        return self._encoder

    def plan_key(self, target: Target) -> str:
        """:func:`plan_digest` of this template at ``target`` (cached)."""
        cached = self._plans.get(target)
        if cached is None:
            cached = plan_digest(self._plan(self.template, target))
            self._plans[target] = cached
        return cached

    def data_part(self, item: Mapping[str, Any]) -> str:
        """Canonical JSON of the item's used fields (compute once per item, reuse per target)."""
        from fastshare.binding import _MISSING, lookup

        values = {}
        for name in self._fields:
            value = lookup(item, name)
            values[name] = _MISSING_MARK if value is _MISSING else value
        return canonical_json(values)

    def key(self, item: Mapping[str, Any], target: Target, data_part: str | None = None) -> str:
        """The output key of ``item`` rendered at ``target`` (hex SHA-256)."""
        data = self.data_part(item) if data_part is None else data_part
        head = self._heads.get(target) if not self._has_images else None
        if head is None:
            assets = asset_digests(self.template, item, target) if self._has_images else []
            head = canonical_json(
                {
                    "render": RENDER_VERSION,
                    "plan": self.plan_key(target),
                    "fonts": self._fonts,
                    "assets": assets,
                    "encoder": self._encoder,
                }
            )
            if not self._has_images:
                self._heads[target] = head
        h = hashlib.sha256(head.encode())
        h.update(b"\x00")
        h.update(data.encode())
        return h.hexdigest()


def output_key(
    template: Template,
    item: Mapping[str, Any],
    target: Target | str,
    *,
    format: str = "png",
    encode_options: Mapping[str, Any] | None = None,
) -> str:
    """The output key of one (template, item, target, encoder) — see the module docstring."""
    builder = KeyBuilder(template, format, encode_options)
    return builder.key(item, parse_target(target))
