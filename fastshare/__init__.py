"""fastshare: render social-share images from one template, for many sizes and many items, fast.

The public API is the names in ``__all__``. Heavy parts (numba kernels, the text engine, the
pool) are imported on first use, so ``import fastshare`` stays cheap for scripts that only need
errors, colours or targets.

    >>> import fastshare
    >>> frame = fastshare.render("card.toml", {"title": "Hello"}, target="og")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fastshare.colors import Color, parse_color
from fastshare.errors import (
    CancelledError,
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
from fastshare.targets import DEFAULT_TARGETS, MAX_PIXELS, TARGETS, Target, parse_target

if TYPE_CHECKING:
    from fastshare.encode import encode, encode_to
    from fastshare.pipeline import ShareImageGenerator, run_pipeline
    from fastshare.planner import TargetPlan, plan
    from fastshare.pool import RenderPool, SyncRenderPool
    from fastshare.renderer import (
        DisplayList,
        Renderer,
        RenderResult,
        TemplateGenerator,
        render,
        render_image,
    )
    from fastshare.sinks import DirectorySink, Sink
    from fastshare.template import Template, load_template
    from fastshare.text import FontRegistry, TextStyle, measure

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TARGETS",
    "MAX_PIXELS",
    "TARGETS",
    "CancelledError",
    "ClientError",
    "Color",
    "ColorError",
    "DataError",
    "DirectorySink",
    "DisplayList",
    "EncodeError",
    "FastshareError",
    "FontError",
    "FontRegistry",
    "LimitError",
    "MissingGlyphError",
    "RenderError",
    "RenderPool",
    "RenderResult",
    "Renderer",
    "ServerError",
    "ShareImageBounceError",
    "ShareImageGenerator",
    "Sink",
    "SyncRenderPool",
    "Target",
    "TargetPlan",
    "TaskTimeout",
    "Template",
    "TemplateError",
    "TemplateGenerator",
    "TextError",
    "TextStyle",
    "ValueRangeError",
    "WorkerCrashed",
    "__version__",
    "encode",
    "encode_to",
    "load_template",
    "measure",
    "parse_color",
    "parse_target",
    "plan",
    "render",
    "render_image",
    "run_pipeline",
]

_LAZY: dict[str, str] = {
    "DirectorySink": "fastshare.sinks",
    "DisplayList": "fastshare.renderer",
    "FontRegistry": "fastshare.text",
    "RenderPool": "fastshare.pool",
    "RenderResult": "fastshare.renderer",
    "Renderer": "fastshare.renderer",
    "ShareImageGenerator": "fastshare.pipeline",
    "Sink": "fastshare.sinks",
    "SyncRenderPool": "fastshare.pool",
    "TargetPlan": "fastshare.planner",
    "Template": "fastshare.template",
    "TemplateGenerator": "fastshare.renderer",
    "TextStyle": "fastshare.text",
    "encode": "fastshare.encode",
    "encode_to": "fastshare.encode",
    "load_template": "fastshare.template",
    "measure": "fastshare.text",
    "plan": "fastshare.planner",
    "render": "fastshare.renderer",
    "render_image": "fastshare.renderer",
    "run_pipeline": "fastshare.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fastshare' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
