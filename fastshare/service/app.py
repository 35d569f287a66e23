"""The ASGI app factory and the uvicorn runner.

:func:`create_app` builds a Starlette app around a :class:`~fastshare.service.core.RenderService`.
Its lifespan starts the service in the background (``/healthz`` answers at once, ``/readyz``
turns 200 once the workers are warm, render requests answer 503 ``not_ready`` until then) and
closes it on shutdown (in-flight renders finish, background warming is cancelled). The app runs
under any ASGI server; :func:`run` runs it under uvicorn, one server process whose pool has the
configured render workers.

Composable: ``create_app(config, routes=[...])`` adds routes after the service's own
(:func:`~fastshare.service.routes.service_routes`); handlers reach the service with
:func:`~fastshare.service.routes.get_service`, and can be wrapped with
:func:`~fastshare.service.routes.endpoint` for request ids, JSON errors and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastshare.service.config import ServiceConfig
from fastshare.service.core import RenderService

__all__ = ["MissingExtraError", "create_app", "require_extra", "run"]

INSTALL_HINT = "pip install 'fastshare[serve]'"


class MissingExtraError(ImportError):
    """The web stack (Starlette, uvicorn) is not installed."""


def require_extra(module: str) -> Any:
    """Import ``module`` or raise :class:`MissingExtraError` naming the ``serve`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        msg = f"fastshare serve needs {module.split('.')[0]}: {INSTALL_HINT}"
        raise MissingExtraError(msg, name=exc.name) from exc


def create_app(
    config: ServiceConfig | None = None,
    *,
    routes: Sequence[Any] = (),
    service: RenderService | None = None,
) -> Any:
    """A Starlette app serving ``config`` (or an existing ``service``), plus extra ``routes``."""
    require_extra("starlette")
    from starlette.applications import Starlette

    from fastshare.service.routes import http_error, service_routes

    svc = service if service is not None else RenderService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        starting = asyncio.ensure_future(svc.start())
        try:
            yield
        finally:
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(BaseException):
                    await starting
            await svc.close()

    app = Starlette(
        routes=[*service_routes(), *routes],
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error},
    )
    app.state.fastshare = svc
    return app


def run(
    config: ServiceConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    access_log: bool = True,
    graceful_timeout: float = 15.0,
) -> None:
    """Serve ``config`` with uvicorn until SIGINT/SIGTERM (then finish in-flight requests)."""
    uvicorn = require_extra("uvicorn")
    app = create_app(config)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=graceful_timeout,
    )
