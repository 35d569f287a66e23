"""The worker side of the service: what the render pool runs for a request.

:func:`render_job` runs in a pool worker: layout, paint and encode one card, write the bytes to
the disk cache when one is configured (atomically), and return the bytes. Each worker process
keeps one :class:`~fastshare.renderer.Renderer` (fonts, glyph and image caches, base frames) in a
module-level global, created by :func:`prepare_worker` in the pool's template process (so every
forked worker inherits it warm) or lazily on first use.

The encoder module is imported in exactly one place, :func:`encoders`.

Nothing here runs on the server's event loop (:func:`check_encode_options` runs in a worker at
start); the renderer is imported lazily, since the server process does not need it.
Everything sent to a worker pickles by value (templates are small immutable objects; item data
is plain JSON).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from fastshare.pool import task_phase
from fastshare.stores import DirectoryStore
from fastshare.targets import Target
from fastshare.template import Template

if TYPE_CHECKING:
    from fastshare.renderer import Renderer

__all__ = [
    "RenderJob",
    "RenderOutput",
    "check_encode_options",
    "encoders",
    "prepare_worker",
    "render_job",
    "worker_renderer",
]

log = logging.getLogger("fastshare.service")

_RENDERER: Renderer | None = None


def encoders() -> ModuleType:
    """The encoder module (the one place the service imports it)."""
    import fastshare.encoders as module

    return module


def worker_renderer() -> Renderer:
    """This process's renderer, created on first use."""
    global _RENDERER
    if _RENDERER is None:
        from fastshare.renderer import Renderer  # heavy (kernels, text): workers only

        _RENDERER = Renderer()
    return _RENDERER


@dataclass(frozen=True)
class RenderJob:
    """One render, as sent to a worker."""

    template: Template
    item: Mapping[str, Any]
    target: Target
    #: canonical encoder format: png, jpeg or webp
    format: str
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the output key
    key: str = ""
    #: the disk cache to write the bytes to, and where (``None``: no disk cache)
    cache: DirectoryStore | None = None
    cache_location: str = ""
    #: a token unique to this render (names its temporary file)
    token: str = ""
    #: return the bytes (a request) or only store them (background warming)
    return_bytes: bool = True


@dataclass(frozen=True)
class RenderOutput:
    """What a worker sends back: the bytes (unless not asked for), whether it stored them."""

    data: bytes | None
    stored: bool
    size: int
    seconds: float


def render_job(job: RenderJob) -> RenderOutput:
    """Render, encode and (optionally) store one card in the disk cache. Runs in a pool worker."""
    started = time.perf_counter()
    renderer = worker_renderer()
    with task_phase("render"):
        frame = renderer.render(job.template, job.item, job.target)
    with task_phase("encode"):
        data = encoders().encode(frame, job.format, **job.options)
    stored = False
    if job.cache is not None and job.cache_location:
        with task_phase("write"):
            job.cache.write(job.cache_location, data, job.token)
        stored = True
    return RenderOutput(
        data=data if job.return_bytes else None,
        stored=stored,
        size=len(data),
        seconds=time.perf_counter() - started,
    )


def prepare_worker(templates: Sequence[Template] = ()) -> None:
    """Pool initializer (template process): create the renderer and render each template once.

    Loads fonts, fills glyph caches and base frames, so forked workers start warm. Problems are
    logged, never raised: a template that fails here fails its requests with a proper error.
    """
    renderer = worker_renderer()
    for template in templates[:32]:
        sample = {name: "Sample" for name in template.required_fields}
        try:
            renderer.render(template, sample, "og")
        except Exception as exc:  # warm-up only: the request path reports errors properly
            log.debug("warm-up render of %s failed: %r", template.name, exc)


def check_encode_options(fmt: str, options: Mapping[str, Any]) -> None:
    """Encode a tiny frame with ``options`` so bad options fail at start, not per request."""
    encoders().encode(np.zeros((2, 2, 3), dtype=np.uint8), fmt, **options)
