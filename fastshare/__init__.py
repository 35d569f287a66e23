"""fastshare: render social-share images from one template, for many sizes and many items, fast."""

from __future__ import annotations

from fastshare.colors import Color, parse_color
from fastshare.errors import (
    ClientError,
    ColorError,
    DataError,
    EncodeError,
    FastshareError,
    FontError,
    LimitError,
    MissingGlyphError,
    RenderError,
    ServerError,
    ShareImageBounceError,
    TaskTimeout,
    TemplateError,
    TextError,
    ValueRangeError,
    WorkerCrashed,
)

__version__ = "0.1.0"

__all__ = [
    "ClientError",
    "Color",
    "ColorError",
    "DataError",
    "EncodeError",
    "FastshareError",
    "FontError",
    "LimitError",
    "MissingGlyphError",
    "RenderError",
    "ServerError",
    "ShareImageBounceError",
    "TaskTimeout",
    "TemplateError",
    "TextError",
    "ValueRangeError",
    "WorkerCrashed",
    "__version__",
    "parse_color",
]
