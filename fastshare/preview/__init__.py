"""``fastshare preview``: a template playground served by the render service in preview mode.

The page shows one template rendered at every target it lists, with a form per placeholder, a
target and a format picker (byte size and render time of each image) and a toggle that outlines
every layer's box. Editing a field re-renders; saving the template file re-renders too (the file
is watched, no restart); a template that stops loading shows its problems while the last good
render stays. Plain HTML, CSS and JavaScript shipped in ``fastshare/preview/static/``, served by
the app itself. User documentation: ``docs/preview.md``.

Modules: :mod:`~fastshare.preview.state` (``PreviewState``: the watched template, framework-free),
:mod:`~fastshare.preview.routes` (the page, the JSON API, ``PreviewGuard``),
:mod:`~fastshare.preview.app` (``create_preview_app``, ``run_preview``, ``check_host``),
:mod:`~fastshare.preview._worker` (box layout, runs in pool workers).

Renders go through the service's pool, never the event loop. Preview mode needs no signature and
therefore listens on loopback only unless a token is configured. Starlette and uvicorn (the
``serve`` extra) are imported lazily, so pool workers importing :mod:`._worker` never load them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastshare.preview.app import check_host, create_preview_app, run_preview
    from fastshare.preview.routes import PreviewGuard, preview_routes
    from fastshare.preview.state import PreviewState

__all__ = [
    "PreviewGuard",
    "PreviewState",
    "check_host",
    "create_preview_app",
    "preview_routes",
    "run_preview",
]

_LAZY = {
    "PreviewGuard": "fastshare.preview.routes",
    "PreviewState": "fastshare.preview.state",
    "check_host": "fastshare.preview.app",
    "create_preview_app": "fastshare.preview.app",
    "preview_routes": "fastshare.preview.routes",
    "run_preview": "fastshare.preview.app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fastshare.preview' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
