"""Building and running the playground: the render service in preview mode, plus the page.

:func:`create_preview_app` wraps one template file: the service's template directory becomes a
private temporary directory linking to that file (:func:`~fastshare.preview.state.link_template`),
signing is off (preview mode requires no signature), the disk cache is off (every image is a real
render, so its time means something), and the preview routes and :class:`PreviewGuard` are added.
The app's lifespan starts the service (in the background, as ``fastshare serve`` does), loads the
template and watches it; on shutdown it stops the watcher and removes the temporary directory.

:func:`run_preview` checks the address first (:func:`check_host`: loopback only unless a token is
configured), binds the socket itself (so ``port=0`` works and the real URL is known before the
server starts), announces the URL and runs uvicorn until SIGINT/SIGTERM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from fastshare.errors import ValueRangeError
from fastshare.preview.state import DEFAULT_POLL_INTERVAL, PreviewState, link_template
from fastshare.service.app import create_app, require_extra
from fastshare.service.config import ServiceConfig
from fastshare.service.core import RenderService

__all__ = [
    "LOOPBACK_HOSTS",
    "bind_socket",
    "check_host",
    "create_preview_app",
    "default_workers",
    "preview_url",
    "run_preview",
]

#: the host names preview mode accepts without a token
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: the most render workers a preview starts by default
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """Render workers for a preview: the CPUs this process may use, at most 4."""
    return min(MAX_DEFAULT_WORKERS, ServiceConfig().worker_count())


def check_host(host: str, tokens: tuple[bytes, ...] = ()) -> None:
    """Refuse (``ValueRangeError`` naming ``host``) a non-loopback address without a token."""
    from fastshare.preview.routes import is_loopback

    if host in LOOPBACK_HOSTS or is_loopback(host) or tokens:
        return
    msg = (
        "preview mode renders without signatures, so it listens on loopback only "
        "(127.0.0.1, ::1 or localhost); to listen on another interface, configure a token "
        "(--token-env NAME)"
    )
    raise ValueRangeError(msg, field="host", value=host)


def create_preview_app(
    template: str | Path,
    *,
    data: Mapping[str, Any] | None = None,
    config: ServiceConfig | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
) -> Any:
    """A Starlette app previewing ``template`` (a ``.toml``/``.json`` file).

    ``data`` prefills the form. ``config`` supplies workers, timeouts, asset directories,
    encoder options and ``tokens`` (a token makes every preview request need it); its
    ``templates_dir``, ``secrets`` and ``cache_dir`` are replaced.
    """
    require_extra("starlette")
    from fastshare.preview.routes import PreviewGuard, preview_routes

    path = Path(template)
    if not path.is_file():
        msg = "the template file does not exist"
        raise ValueRangeError(msg, field="template", value=str(template))
    base = config if config is not None else ServiceConfig(workers=default_workers())
    link_dir, name = link_template(path)
    try:
        service_config = dataclasses.replace(
            base, templates_dir=link_dir, secrets=(), cache_dir=None
        ).checked()
        service = RenderService(service_config)
    except BaseException:
        shutil.rmtree(link_dir, ignore_errors=True)
        raise
    state = PreviewState(
        service, path, name, data=data, link_dir=link_dir, poll_interval=poll_interval
    )
    app = create_app(service=service, routes=preview_routes())
    app.state.preview = state
    service_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with service_lifespan(app) as value:
                await state.start()
                try:
                    yield value
                finally:
                    await state.stop()
        finally:
            state.cleanup()

    app.router.lifespan_context = lifespan
    app.add_middleware(PreviewGuard, tokens=service_config.tokens)
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (``port=0``: any free port)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def preview_url(host: str, port: int) -> str:
    """The page's URL for a server on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/preview/"


def run_preview(
    template: str | Path,
    *,
    data: Mapping[str, Any] | None = None,
    config: ServiceConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    access_log: bool = False,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Check the address, bind it, announce the page's URL, serve until SIGINT/SIGTERM.

    Raises ``ValueRangeError`` (naming ``host``) for a non-loopback host without a token in
    ``config.tokens``, and ``OSError`` when the address cannot be bound.
    """
    uvicorn = require_extra("uvicorn")
    tokens = config.tokens if config is not None else ()
    check_host(host, tokens)
    sock = bind_socket(host, port)
    try:
        app = create_preview_app(template, data=data, config=config)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level=log_level,
                access_log=access_log,
                lifespan="on",
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=5,
            )
        )
        if announce is not None:
            announce(preview_url(host, sock.getsockname()[1]))
        server.run(sockets=[sock])
    finally:
        sock.close()
