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
    from fastshare.backfiller import BackfillSummary, backfill, backfill_async
    from fastshare.encoders import encode, encode_to
    from fastshare.gradients import ConicGradient, LinearGradient, RadialGradient, Stop
    from fastshare.identity import output_key
    from fastshare.pipeline import (
        FunctionGenerator,
        PipelineResult,
        ShareImageGenerator,
        run_pipeline,
    )
    from fastshare.planner import TargetPlan, plan
    from fastshare.pool import PoolFullError, RenderPool, SyncRenderPool
    from fastshare.registry import ImageRecord, Registry, RegistrySink
    from fastshare.renderer import (
        DisplayList,
        Renderer,
        RenderResult,
        TemplateGenerator,
        render,
        render_image,
    )
    from fastshare.sinks import DirectorySink, MemorySink, Sink
    from fastshare.stores import DirectoryStore, OutputStore
    from fastshare.template import Template, load_template
    from fastshare.text import FontRegistry, TextLayout, TextStyle, draw_text, layout_text, measure

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TARGETS",
    "MAX_PIXELS",
    "TARGETS",
    "BackfillSummary",
    "CancelledError",
    "ClientError",
    "Color",
    "ColorError",
    "ConicGradient",
    "DataError",
    "DirectorySink",
    "DirectoryStore",
    "DisplayList",
    "EncodeError",
    "FastshareError",
    "FontError",
    "FontRegistry",
    "FunctionGenerator",
    "ImageRecord",
    "LimitError",
    "LinearGradient",
    "MemorySink",
    "MissingGlyphError",
    "OutputStore",
    "PipelineResult",
    "PoolFullError",
    "RadialGradient",
    "Registry",
    "RegistrySink",
    "RenderError",
    "RenderPool",
    "RenderResult",
    "Renderer",
    "ServerError",
    "ShareImageBounceError",
    "ShareImageGenerator",
    "Sink",
    "Stop",
    "SyncRenderPool",
    "Target",
    "TargetPlan",
    "TaskTimeout",
    "Template",
    "TemplateError",
    "TemplateGenerator",
    "TextError",
    "TextLayout",
    "TextStyle",
    "ValueRangeError",
    "WorkerCrashed",
    "__version__",
    "backfill",
    "backfill_async",
    "draw_text",
    "encode",
    "encode_to",
    "layout_text",
    "load_template",
    "measure",
    "output_key",
    "parse_color",
    "parse_target",
    "plan",
    "render",
    "render_image",
    "run_pipeline",
]

_LAZY: dict[str, str] = {
    "BackfillSummary": "fastshare.backfiller",
    "ConicGradient": "fastshare.gradients",
    "DirectorySink": "fastshare.sinks",
    "DirectoryStore": "fastshare.stores",
    "DisplayList": "fastshare.renderer",
    "FontRegistry": "fastshare.text",
    "FunctionGenerator": "fastshare.pipeline",
    "ImageRecord": "fastshare.registry",
    "LinearGradient": "fastshare.gradients",
    "MemorySink": "fastshare.sinks",
    "OutputStore": "fastshare.stores",
    "PipelineResult": "fastshare.pipeline",
    "PoolFullError": "fastshare.pool",
    "RadialGradient": "fastshare.gradients",
    "Registry": "fastshare.registry",
    "RegistrySink": "fastshare.registry",
    "RenderPool": "fastshare.pool",
    "RenderResult": "fastshare.renderer",
    "Renderer": "fastshare.renderer",
    "ShareImageGenerator": "fastshare.pipeline",
    "Sink": "fastshare.sinks",
    "Stop": "fastshare.gradients",
    "SyncRenderPool": "fastshare.pool",
    "TargetPlan": "fastshare.planner",
    "Template": "fastshare.template",
    "TemplateGenerator": "fastshare.renderer",
    "TextLayout": "fastshare.text",
    "TextStyle": "fastshare.text",
    "backfill": "fastshare.backfiller",
    "backfill_async": "fastshare.backfiller",
    "draw_text": "fastshare.text",
    "encode": "fastshare.encoders",
    "encode_to": "fastshare.encoders",
    "layout_text": "fastshare.text",
    "load_template": "fastshare.template",
    "measure": "fastshare.text",
    "output_key": "fastshare.identity",
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
