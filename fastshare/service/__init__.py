"""``fastshare serve``: the HTTP render service.

An ASGI app (Starlette, run by uvicorn) in front of a :class:`~fastshare.pool.RenderPool` of warm
render workers: ``GET /v1/render/{template}/{target}.{png|jpg|jpeg|webp}?field=…``,
``POST /v1/render``, ``GET /v1/templates``, ``GET /v1/targets``, ``/healthz``, ``/readyz``,
``/metrics``, and background warming (``POST /v1/warm``). Signed URLs (HMAC-SHA256), ETags from
the project's output key, ``Cache-Control``, an optional disk cache, bounded admission (503
with ``Retry-After``), render timeouts (504) and JSON errors. User documentation:
``docs/service.md``.

Modules: :mod:`~fastshare.service.config` (``ServiceConfig``), :mod:`~fastshare.service.core`
(``RenderService``, framework-free), :mod:`~fastshare.service.routes` (endpoints),
:mod:`~fastshare.service.app` (``create_app``, ``run``), :mod:`~fastshare.service.signing`,
:mod:`~fastshare.service.caching`, :mod:`~fastshare.service.keys`,
:mod:`~fastshare.service.limits`, :mod:`~fastshare.service.metrics`,
:mod:`~fastshare.service.templates`, :mod:`~fastshare.service.worker` (runs in pool workers).

Starlette and uvicorn are the optional ``serve`` extra; they are imported only by
:func:`create_app` and :func:`run`, so signing URLs (``fastshare sign``) needs neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fastshare.service.config import ServiceConfig
from fastshare.service.errors import SignatureError
from fastshare.service.signing import sign_url, verify

if TYPE_CHECKING:
    from fastshare.service.app import MissingExtraError, create_app, run
    from fastshare.service.core import RenderService
    from fastshare.service.routes import endpoint, get_service, service_routes

__all__ = [
    "MissingExtraError",
    "RenderService",
    "ServiceConfig",
    "SignatureError",
    "create_app",
    "endpoint",
    "get_service",
    "run",
    "service_routes",
    "sign_url",
    "verify",
]

_LAZY = {
    "MissingExtraError": "fastshare.service.app",
    "RenderService": "fastshare.service.core",
    "create_app": "fastshare.service.app",
    "run": "fastshare.service.app",
    "endpoint": "fastshare.service.routes",
    "get_service": "fastshare.service.routes",
    "service_routes": "fastshare.service.routes",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fastshare.service' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
