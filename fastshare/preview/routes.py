"""The playground's HTTP side: the page, its static files, a small JSON API and the guard.

Routes (added after the service's own by :func:`fastshare.service.create_app`):

* ``GET /`` → ``/preview/``; ``GET /preview/`` the page; ``GET /preview/static/{file}`` its CSS
  and JavaScript (package data, served from memory, no build step, nothing from the internet).
* ``GET /preview/api/state?since=R``: the template's targets, its form fields, the current
  problems and two counters (see :class:`~fastshare.preview.state.PreviewState`); waits up to
  a second for a revision other than ``R`` (a bounded long poll).
* ``POST /preview/api/image/{target}.{png|jpg|jpeg|webp}?v=N`` with ``{"data": {...}}``: the image,
  rendered with the last good template by the service's render function
  (:func:`fastshare.service.worker.render_job`) on the service's pool, at interactive priority,
  with the service's encoder options. No disk cache and no output key: every answer is a fresh
  render, so its time means something. ``X-Render-Ms`` is the time in the worker (layout, paint
  and encode), ``X-Queue-Ms`` the wait for a worker; ``Server-Timing`` has every phase.
* ``POST /preview/api/boxes?v=N`` with ``{"targets": [...], "data": {...}}``: every layer's box in
  pixels per target, laid out in a pool worker (:func:`fastshare.preview._worker.layout_boxes`).

Handlers validate on the event loop and never render there. Errors are the service's JSON
errors (``code``, ``message``, ``field``, ``value``), so the page can show the field path.

:class:`PreviewGuard` (ASGI middleware) keeps preview mode local: without a token it answers only
requests whose ``Host`` is a loopback name (which stops DNS-rebinding pages from reading it);
with a token it requires it on every request but ``/healthz`` and ``/readyz`` (bearer header,
a cookie set by ``/preview/?token=…``, or that query parameter).
"""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fastshare import errors
from fastshare.pool import PRIORITY_INTERACTIVE, TaskResult
from fastshare.preview._worker import layout_boxes
from fastshare.preview.state import PreviewState
from fastshare.service.core import RenderService
from fastshare.service.errors import (
    BodyTooLarge,
    NotFound,
    NotReady,
)
from fastshare.service.limits import MEDIA_TYPES, json_item, parse_format, parse_render_target
from fastshare.service.routes import endpoint
from fastshare.service.templates import TemplateInfo
from fastshare.service.worker import RenderJob, RenderOutput
from fastshare.targets import Target

__all__ = ["PreviewGuard", "get_state", "is_loopback", "preview_routes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the longest a state request waits for a change, in seconds
STATE_WAIT = 1.0
#: the most targets one boxes request may ask for
MAX_BOX_TARGETS = 16
#: the ``kind`` label of the preview's renders in the service's metrics
METRICS_KIND = "preview"
_TOKENS = itertools.count(1)

_STATIC: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "preview.css": "text/css; charset=utf-8",
    "preview.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
#: the page loads only its own files; images are blob: URLs made from fetched bytes
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_NO_STORE = {"Cache-Control": "no-store"}


def get_state(request: Request) -> PreviewState:
    """The :class:`PreviewState` of the app handling ``request``."""
    state: PreviewState = request.app.state.preview
    return state


@cache
def _static_file(name: str) -> bytes:
    return resources.files("fastshare.preview").joinpath("static", name).read_bytes()


def _static_response(name: str) -> Response:
    headers = {
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": _CSP,
        "Referrer-Policy": "no-referrer",
    }
    return Response(_static_file(name), media_type=_STATIC[name], headers=headers)


# ======================================================================= page


async def root(request: Request) -> Response:
    """``GET /``: the page lives at ``/preview/``."""
    return RedirectResponse("/preview/", status_code=307)


@endpoint("/preview/")
async def page(request: Request, service: RenderService) -> Response:
    """``GET /preview/``: the playground page."""
    return _static_response("index.html")


@endpoint("/preview/static/{file}")
async def static(request: Request, service: RenderService) -> Response:
    """``GET /preview/static/{file}``: the page's CSS and JavaScript."""
    name = request.path_params["file"]
    if name not in _STATIC or name == "index.html":
        raise NotFound("no such file", field="file", value=name)
    return _static_response(name)


# ======================================================================= API


@endpoint("/preview/api/state")
async def state_get(request: Request, service: RenderService) -> Response:
    """``GET /preview/api/state?since=R``: the page's state, after a change or a second."""
    state = get_state(request)
    since = request.query_params.get("since", "")
    if since.lstrip("-").isdigit():
        await state.wait(int(since), STATE_WAIT)
    return JSONResponse(state.snapshot(), headers=_NO_STORE)


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        msg = f"the body is {int(declared):,} bytes, above the limit of {limit:,}"
        raise BodyTooLarge(msg, field="body", value=int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            msg = f"the body is above the limit of {limit:,} bytes"
            raise BodyTooLarge(msg, field="body", value=len(body))
    if not body:
        return {}
    try:
        doc = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.DataError(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(doc, dict):
        raise errors.DataError("the body must be a JSON object", field="body")
    return doc


def _template(state: PreviewState) -> TemplateInfo:
    info = state.info
    if info is None:
        msg = "the template has not loaded yet: fix the problems shown on the page"
        raise errors.TemplateError(msg, field="template", value=state.path.name)
    return info


async def _submit(service: RenderService, fn: Any, *args: Any) -> TaskResult[Any]:
    """Run ``fn(*args)`` on the service's pool at interactive priority (no retry), timed."""
    if not service.ready or service.pool is None:
        raise NotReady(service.failure or "the render workers are not ready")
    return await service.submit_timed(
        fn,
        *args,
        kind=METRICS_KIND,
        priority=PRIORITY_INTERACTIVE,
        queue_timeout=service.queue_timeout,
    )


@endpoint("/preview/api/image/{file}")
async def image_post(request: Request, service: RenderService) -> Response:
    """``POST /preview/api/image/{target}.{format}?v=N`` with ``{"data": {...}}``: the image."""
    state = get_state(request)
    filename: str = request.path_params["file"]
    spec, dot, ext = filename.rpartition(".")
    if not dot or not spec:
        msg = "the file name is <target>.<format>, for example og.png"
        raise errors.ValueRangeError(msg, field="format", value=filename)
    fmt = parse_format(ext)
    config = service.config
    target = parse_render_target(spec, config)
    doc = await _read_json(request, config.max_body_bytes)
    info = _template(state)
    version = state.version
    item = json_item(info, doc.get("data"), config)
    job = RenderJob(
        template=info.template,
        item=item,
        target=target,
        format=fmt,
        options=service.keys.options(fmt),
        token=f"preview-{next(_TOKENS)}",
    )
    result = await _submit(service, service.render_function, job)
    output = result.value
    if not isinstance(output, RenderOutput) or output.data is None:
        msg = f"the render function returned {type(output).__name__}, not image bytes"
        raise errors.RenderError(msg)
    timings = result.timings
    work = output.seconds * 1000.0
    phases = {name: seconds * 1000.0 for name, seconds in timings.phases.items()}
    waited = timings.queue_wait * 1000.0
    total = timings.total * 1000.0
    server_timing = [f"{name};dur={ms:.2f}" for name, ms in phases.items()]
    server_timing += [f"queue;dur={waited:.2f}", f"total;dur={total:.2f}"]
    headers = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Render-Ms": f"{work:.2f}",
        "X-Queue-Ms": f"{waited:.2f}",
        "X-Phases": ", ".join(f"{name}={ms:.2f}" for name, ms in phases.items()),
        "Server-Timing": ", ".join(server_timing),
        "X-Preview-Version": str(version),
        "X-Image-Size": f"{target.pixel_width}x{target.pixel_height}",
    }
    return Response(output.data, media_type=MEDIA_TYPES[fmt], headers=headers)


def _box_targets(value: Any, service: RenderService) -> list[Target]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_BOX_TARGETS:
        msg = f"targets is a list of 1 to {MAX_BOX_TARGETS} target names"
        raise errors.ValueRangeError(msg, field="targets", value=value)
    return [parse_render_target(v, service.config, f"targets[{i}]") for i, v in enumerate(value)]


@endpoint("/preview/api/boxes")
async def boxes_post(request: Request, service: RenderService) -> Response:
    """``POST /preview/api/boxes?v=N`` with ``{"targets", "data"}``: layer boxes per target."""
    state = get_state(request)
    config = service.config
    doc = await _read_json(request, config.max_body_bytes)
    targets = _box_targets(doc.get("targets"), service)
    info = _template(state)
    version = state.version
    item = json_item(info, doc.get("data"), config)
    result = (await _submit(service, layout_boxes, info.template, item, tuple(targets))).value
    body = {"version": version, "targets": result}
    return JSONResponse(body, headers=_NO_STORE)


def preview_routes() -> list[BaseRoute]:
    """The preview routes, to pass as ``create_app(..., routes=preview_routes())``."""
    return [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/preview/", page, methods=["GET", "HEAD"]),
        Route("/preview/static/{file}", static, methods=["GET", "HEAD"]),
        Route("/preview/api/state", state_get, methods=["GET"]),
        Route("/preview/api/image/{file}", image_post, methods=["POST"]),
        Route("/preview/api/boxes", boxes_post, methods=["POST"]),
    ]


# ======================================================================= guard


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (brackets and a port allowed)."""
    text = host.strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if text.rstrip(".") == "localhost" or text.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


class PreviewGuard:
    """ASGI middleware: loopback ``Host`` only, or a token. See the module docstring."""

    #: paths that answer without a token (they reveal nothing)
    OPEN_PATHS = frozenset({"/healthz", "/readyz"})

    def __init__(self, app: ASGIApp, *, tokens: Sequence[bytes] = ()) -> None:
        self.app = app
        self.tokens = tuple(tokens)

    def _valid(self, given: str) -> bool:
        data = given.strip().encode("utf-8", errors="replace")
        ok = False
        for token in self.tokens:
            ok |= hmac.compare_digest(token, data)
        return ok and bool(data)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str) -> None:
        messages = {
            "bad_host": (
                "preview mode answers requests for localhost only; open the page at "
                "http://127.0.0.1:<port>/preview/"
            ),
            "unauthorized": (
                "this preview server needs its token: open /preview/?token=<token> once "
                "(the page keeps it in a cookie) or send Authorization: Bearer <token>"
            ),
        }
        field = "host" if code == "bad_host" else "token"
        body = {"code": code, "message": messages[code], "field": field, "value": None}
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="fastshare-preview"'
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self.tokens:
            host = headers.get("host")
            if host is not None and not is_loopback(host):
                await self._refuse(scope, receive, send, 403, "bad_host")
                return
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        port = (scope.get("server") or ("", 0))[1]
        cookie_name = f"fastshare_preview_{port}"
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._valid(bearer):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self._valid(request.cookies.get(cookie_name, "")):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [value for name, value in query if name == "token"]
        if given and self._valid(given[0]) and scope["method"] in ("GET", "HEAD"):
            # remember the token in a cookie and drop it from the address bar
            rest = urlencode([(name, value) for name, value in query if name != "token"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            response = RedirectResponse(location, status_code=303, headers=_NO_STORE)
            response.set_cookie(cookie_name, given[0], httponly=True, samesite="strict", path="/")
            await response(scope, receive, send)
            return
        await self._refuse(scope, receive, send, 401, "unauthorized")
