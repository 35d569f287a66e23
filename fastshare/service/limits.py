"""Request limits and validation, applied on the event loop before anything is rendered.

Everything here is cheap, pure Python and raises a :class:`~fastshare.errors.ClientError` that
names the bad field (the service answers 400, 413 for an oversized body):

* formats: ``png``, ``jpg``/``jpeg``, ``webp`` (canonical names ``png``, ``jpeg``, ``webp``);
* targets: preset names, and ``WxH`` / ``@scale`` only when custom sizes are allowed, under the
  service's pixel cap;
* item data: query strings and JSON bodies capped in bytes, field count and characters per
  value; reserved query parameters (``sig``, ``exp``, ``v``) are never item data; fields the
  template does not read are dropped (they cannot change the image, nor its ETag);
* image fields: values that look like URLs (``scheme://``, ``data:``) are refused, since the
  service never fetches anything; file names are confined to asset directories by the renderer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastshare.errors import DataError, LimitError, ValueRangeError
from fastshare.service.config import ServiceConfig
from fastshare.service.signing import RESERVED_PARAMS
from fastshare.service.templates import TemplateInfo
from fastshare.targets import TARGETS, Target, parse_target

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "check_query_size",
    "json_item",
    "parse_format",
    "parse_render_target",
    "query_item",
]

#: URL extensions → canonical encoder format
FORMATS: dict[str, str] = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}
MEDIA_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_URL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*:|//|\\\\)")
_MAX_DEPTH = 8


def extension(fmt: str) -> str:
    """The file extension for a canonical format (``jpeg`` → ``jpg``)."""
    return _EXTENSIONS.get(fmt, fmt)


def parse_format(value: Any, field: str = "format") -> str:
    """The canonical format for ``png``, ``jpg``, ``jpeg`` or ``webp`` (any case)."""
    fmt = FORMATS.get(value.lower()) if isinstance(value, str) else None
    if fmt is None:
        msg = "the format must be png, jpg, jpeg or webp"
        raise ValueRangeError(msg, field=field, value=value)
    return fmt


def parse_render_target(value: Any, config: ServiceConfig, field: str = "target") -> Target:
    """A target the service renders: a preset, or ``WxH``/``@scale`` if allowed, under the cap."""
    if not isinstance(value, str) or not value or len(value) > 32:
        msg = "a target is a preset name (og, square, story, ...) or WxH"
        raise ValueRangeError(msg, field=field, value=value)
    if not config.allow_custom_sizes and value.strip().lower() not in TARGETS:
        known = ", ".join(TARGETS)
        msg = f"this server renders preset targets only: {known}"
        raise ValueRangeError(msg, field=field, value=value)
    target = parse_target(value, field)
    pixels = target.pixel_width * target.pixel_height
    if pixels > config.max_pixels:
        msg = (
            f"{target.pixel_width}×{target.pixel_height} = {pixels:,} pixels is above this "
            f"server's cap of {config.max_pixels:,}"
        )
        raise LimitError(msg, field=field, value=value)
    return target


def check_query_size(raw: bytes, config: ServiceConfig) -> None:
    if len(raw) > config.max_query_bytes:
        msg = (
            f"the query string is {len(raw):,} bytes, above the limit of {config.max_query_bytes:,}"
        )
        raise LimitError(msg, field="query", value=len(raw))


def _check_text(value: str, field: str, config: ServiceConfig) -> None:
    if len(value) > config.max_field_chars:
        msg = f"{len(value):,} characters is above the limit of {config.max_field_chars:,}"
        raise LimitError(msg, field=field, value=value[:40])
    if "\x00" in value:
        raise DataError("text must not contain NUL characters", field=field, value=value[:40])


def _check_image_value(info: TemplateInfo, name: str, value: Any) -> None:
    if name in info.image_fields and isinstance(value, str) and _URL.match(value):
        msg = "image fields take a file name from the server's asset directories; URLs are not read"
        raise DataError(msg, field=name, value=value)


def query_item(
    info: TemplateInfo, params: Sequence[tuple[str, str]], config: ServiceConfig
) -> dict[str, str]:
    """Item data from decoded query pairs: the template's fields, as strings."""
    item: dict[str, str] = {}
    seen: set[str] = set()
    count = 0
    for name, value in params:
        if name in RESERVED_PARAMS:
            continue
        count += 1
        if count > config.max_fields:
            msg = f"more than {config.max_fields} query parameters"
            raise LimitError(msg, field="query", value=count)
        if name in seen:
            raise DataError("the parameter is given more than once", field=name, value=value[:40])
        seen.add(name)
        if name not in info.fields:
            continue  # not read by the template: cannot change the image
        _check_text(value, name, config)
        _check_image_value(info, name, value)
        item[name] = value
    return item


def _check_json_value(value: Any, field: str, config: ServiceConfig, depth: int) -> int:
    """Validate one JSON value; returns the number of leaf values it holds."""
    if depth > _MAX_DEPTH:
        raise DataError(f"nested deeper than {_MAX_DEPTH} levels", field=field)
    if value is None or isinstance(value, bool | int):
        return 1
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError("numbers must be finite", field=field, value=value)
        return 1
    if isinstance(value, str):
        _check_text(value, field, config)
        return 1
    if isinstance(value, list):
        return sum(
            _check_json_value(v, f"{field}[{i}]", config, depth + 1) for i, v in enumerate(value)
        )
    if isinstance(value, Mapping):
        return sum(
            _check_json_value(v, f"{field}.{k}", config, depth + 1) for k, v in value.items()
        )
    raise DataError("unsupported value type", field=field, value=type(value).__name__)


def json_item(info: TemplateInfo, data: Any, config: ServiceConfig) -> dict[str, Any]:
    """Item data from a JSON body's ``data`` object (keys the template reads, validated)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise DataError("data must be a JSON object of field values", field="data", value=data)
    if len(data) > config.max_fields:
        msg = f"more than {config.max_fields} fields"
        raise LimitError(msg, field="data", value=len(data))
    item: dict[str, Any] = {}
    leaves = 0
    for name, value in data.items():
        if name not in info.roots:
            continue
        leaves += _check_json_value(value, f"data.{name}", config, 1)
        if leaves > config.max_fields * 16:
            msg = "too many values in data"
            raise LimitError(msg, field="data", value=leaves)
        _check_image_value(info, name, value)
        item[name] = value
    return item
