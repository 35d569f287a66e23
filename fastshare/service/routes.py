"""The HTTP endpoints (Starlette): parse and validate on the loop, render through the service.

Every endpoint is wrapped by :func:`endpoint`, which gives the answer a request id
(``X-Request-ID``), turns any exception into a JSON error, and records the request's metrics.
:func:`service_routes` returns the route list; another module (the preview mode) adds its own
routes next to them with :func:`fastshare.service.create_app` (``routes=``) and reaches the
:class:`~fastshare.service.core.RenderService` with :func:`get_service`.

Error bodies: ``{"code": ..., "message": ..., "field": ..., "value": ..., "request_id": ...}``;
4xx name the bad field; 5xx carry a fixed message per code and nothing from the server's
internals (details go to the log with the request id).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from fastshare import errors
from fastshare.service.caching import cache_control, etag_for, etag_matches
from fastshare.service.core import RenderService, public_message
from fastshare.service.errors import (
    AuthError,
    BodyTooLarge,
    NoCache,
    NotFound,
    NotReady,
    Overloaded,
    RenderTimedOut,
    SignatureError,
)
from fastshare.service.limits import (
    MEDIA_TYPES,
    check_query_size,
    json_item,
    parse_format,
    parse_render_target,
    query_item,
)
from fastshare.service.signing import parse_query
from fastshare.service.templates import TemplateInfo
from fastshare.targets import TARGETS, Target

__all__ = ["endpoint", "error_response", "get_service", "service_routes"]

log = logging.getLogger("fastshare.service")

Handler = Callable[[Request, RenderService], Awaitable[Response]]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: absolute file paths in messages (never shown to callers)
_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"(),/]+/)+[^\s'\"(),]*")
_POST_KEYS = {"template", "target", "format", "data"}
_WARM_KEYS = {"template", "targets", "format", "items"}


def get_service(request: Request) -> RenderService:
    """The :class:`RenderService` of the app handling ``request``."""
    service: RenderService = request.app.state.fastshare
    return service


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]


def _status(exc: BaseException) -> int:
    if isinstance(exc, AuthError):
        return exc.status
    if isinstance(exc, SignatureError):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NoCache):
        return 409
    if isinstance(exc, BodyTooLarge):
        return 413
    if isinstance(exc, errors.ClientError):
        return 400
    if isinstance(exc, Overloaded | NotReady | errors.CancelledError):
        return 503
    if isinstance(exc, RenderTimedOut):
        return 504
    return 500


def error_response(exc: BaseException, request_id: str, service: RenderService) -> JSONResponse:
    """The JSON answer for ``exc`` (see the module docstring)."""
    status = _status(exc)
    headers = {"Cache-Control": "no-store", "X-Request-ID": request_id}
    if isinstance(exc, errors.ClientError):
        body: dict[str, Any] = exc.to_dict()
        body["message"] = _PATH.sub("…", body["message"])
        if isinstance(body.get("value"), str):
            body["value"] = _PATH.sub("…", body["value"])
        if isinstance(exc, AuthError) and exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="fastshare"'
    else:
        code, message = public_message(exc, service.config)
        field = getattr(exc, "field", None) if code == "template_unavailable" else None
        body = {"code": code, "message": message, "field": field, "value": None}
        if status == 503:
            headers["Retry-After"] = str(service.config.retry_after)
        if status >= 500 and code not in ("overloaded", "not_ready"):
            log.warning("request %s failed (%s): %s: %s", request_id, code, type(exc).__name__, exc)
    body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


def endpoint(route: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: request id, JSON errors, metrics labelled with ``route``."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            service = get_service(request)
            request_id = _request_id(request)
            try:
                response = await handler(request, service)
            except Exception as exc:
                if not isinstance(exc, errors.FastshareError):
                    log.exception("request %s: unexpected error", request_id)
                response = error_response(exc, request_id, service)
            response.headers["X-Request-ID"] = request_id
            metrics = service.metrics
            metrics.requests.inc(route, request.method, str(response.status_code))
            metrics.latency.observe(time.perf_counter() - started, route)
            return response

        run.__name__ = getattr(handler, "__name__", route)
        run.__doc__ = handler.__doc__
        return run

    return wrap


# ======================================================================= rendering


async def _respond_image(
    request: Request,
    service: RenderService,
    info: TemplateInfo,
    target: Target,
    fmt: str,
    item: dict[str, Any],
    control: str,
) -> Response:
    key = await service.output_key(info, fmt, item, target)
    etag = etag_for(key)
    headers = {"ETag": etag, "Cache-Control": control, "X-Content-Type-Options": "nosniff"}
    if request.method in ("GET", "HEAD") and etag_matches(
        request.headers.get("if-none-match"), etag
    ):
        service.metrics.cache.inc("not_modified")
        return Response(status_code=304, headers=headers)
    image = await service.image(info, target, fmt, item, key)
    headers["X-Cache"] = image.cache.upper()
    return Response(image.data, media_type=MEDIA_TYPES[fmt], headers=headers)


@endpoint("/v1/render/{template}/{file}")
async def render_get(request: Request, service: RenderService) -> Response:
    """``GET /v1/render/{template}/{target}.{png|jpg|jpeg|webp}?field=value&…``"""
    config = service.config
    raw_query: bytes = request.scope.get("query_string", b"")
    check_query_size(raw_query, config)
    params = parse_query(raw_query)
    signed, expires = service.verify_signature(request.scope["path"], params)
    filename: str = request.path_params["file"]
    spec, dot, ext = filename.rpartition(".")
    if not dot or not spec:
        msg = "the file name is <target>.<format>, for example og.png"
        raise errors.ValueRangeError(msg, field="format", value=filename)
    fmt = parse_format(ext)
    target = parse_render_target(spec, config)
    info = service.templates.get(request.path_params["template"])
    item = query_item(info, params, config)
    base = config.cache_control_signed if signed else config.cache_control_unsigned
    return await _respond_image(
        request, service, info, target, fmt, item, cache_control(base, expires)
    )


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        msg = f"the body is {int(declared):,} bytes, above the limit of {limit:,}"
        raise BodyTooLarge(msg, field="body", value=int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            msg = f"the body is above the limit of {limit:,} bytes"
            raise BodyTooLarge(msg, field="body", value=size)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"the body is not valid JSON: {exc}"
        raise errors.DataError(msg, field="body") from None


def _object(doc: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(doc, dict):
        msg = "the body must be a JSON object"
        raise errors.DataError(msg, field="body", value=type(doc).__name__)
    for key in doc:
        if key not in allowed:
            msg = f"unknown key; allowed: {', '.join(sorted(allowed))}"
            raise errors.ValueRangeError(msg, field=str(key), value=doc[key])
    if "template" not in doc:
        raise errors.DataError("the template name is required", field="template")
    return doc


@endpoint("/v1/render")
async def render_post(request: Request, service: RenderService) -> Response:
    """``POST /v1/render`` with ``{"template", "target", "format", "data"}``: image bytes."""
    service.check_bearer(request.headers.get("authorization"))
    config = service.config
    doc = _object(await _read_json(request, config.max_body_bytes), _POST_KEYS)
    info = service.templates.get(doc["template"])
    target = parse_render_target(doc.get("target", "og"), config)
    fmt = parse_format(doc.get("format", "png"))
    item = json_item(info, doc.get("data"), config)
    return await _respond_image(
        request, service, info, target, fmt, item, config.cache_control_post
    )


# ======================================================================= warming


@endpoint("/v1/warm")
async def warm_post(request: Request, service: RenderService) -> Response:
    """``POST /v1/warm``: render items into the disk cache in the background (202)."""
    service.check_bearer(request.headers.get("authorization"))
    config = service.config
    doc = _object(await _read_json(request, config.max_body_bytes * 16), _WARM_KEYS)
    info = service.templates.get(doc["template"])
    raw_targets = doc.get("targets", list(info.template.targets))
    if isinstance(raw_targets, str):
        raw_targets = [t.strip() for t in raw_targets.split(",") if t.strip()]
    if not isinstance(raw_targets, list) or not raw_targets or len(raw_targets) > len(TARGETS):
        msg = f"targets is a list of 1 to {len(TARGETS)} target names"
        raise errors.ValueRangeError(msg, field="targets", value=raw_targets)
    targets = [parse_render_target(t, config, f"targets[{i}]") for i, t in enumerate(raw_targets)]
    fmt = parse_format(doc.get("format", "png"))
    raw_items = doc.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise errors.DataError("items is a non-empty list of data objects", field="items")
    if len(raw_items) > config.max_warm_items:
        msg = f"at most {config.max_warm_items} items per request"
        raise errors.LimitError(msg, field="items", value=len(raw_items))
    items = []
    for i, raw in enumerate(raw_items):
        try:
            items.append(json_item(info, raw, config))
        except errors.ClientError as exc:
            where = f"items[{i}]" + (f".{exc.field}" if exc.field else "")
            raise type(exc)(
                exc.reason, field=where.replace(".data.", "."), value=exc.value
            ) from None
    job = service.warm(info, targets, fmt, items)
    return JSONResponse(job.to_dict(), status_code=202, headers={"Cache-Control": "no-store"})


@endpoint("/v1/warm/{job}")
async def warm_status(request: Request, service: RenderService) -> Response:
    """``GET /v1/warm/{job}``: a warm job's progress."""
    service.check_bearer(request.headers.get("authorization"))
    job = service.warm_job(request.path_params["job"])
    if job is None:
        raise NotFound("no such warm job", field="job", value=request.path_params["job"])
    return JSONResponse(job.to_dict(), headers={"Cache-Control": "no-store"})


# ======================================================================= information


@endpoint("/v1/templates")
async def list_templates(request: Request, service: RenderService) -> Response:
    """``GET /v1/templates``: the templates this server renders, with their fields."""
    rows = []
    for name in service.templates.names():
        try:
            rows.append(service.templates.get(name).summary())
        except (errors.ClientError, errors.ServerError):
            continue
    return JSONResponse({"templates": rows}, headers={"Cache-Control": "no-cache"})


@endpoint("/v1/targets")
async def list_targets(request: Request, service: RenderService) -> Response:
    """``GET /v1/targets``: preset targets and the size policy."""
    config = service.config
    presets = [{"name": t.name, "width": t.width, "height": t.height} for t in TARGETS.values()]
    body = {
        "targets": presets,
        "custom_sizes": config.allow_custom_sizes,
        "max_pixels": config.max_pixels,
        "formats": ["png", "jpg", "jpeg", "webp"],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-cache"})


@endpoint("/healthz")
async def healthz(request: Request, service: RenderService) -> Response:
    """``GET /healthz``: 200 while the process serves (503 if the pool failed to start)."""
    if service.state == "failed":
        body = {"status": "failed", "reason": "the render pool failed to start (see the log)"}
        return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@endpoint("/readyz")
async def readyz(request: Request, service: RenderService) -> Response:
    """``GET /readyz``: 200 when the workers are warm and serving, else 503."""
    pool = service.pool
    body = {
        "ready": service.ready,
        "state": service.state,
        "workers": pool.size if pool is not None else 0,
        "workers_configured": service.workers,
    }
    status = 200 if service.ready else 503
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = str(service.config.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


@endpoint("/metrics")
async def metrics(request: Request, service: RenderService) -> Response:
    """``GET /metrics``: Prometheus text format."""
    return PlainTextResponse(
        service.metrics.render(),
        media_type="text/plain; version=0.0.4; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def service_routes() -> list[BaseRoute]:
    """The service's routes; extend the list to add endpoints (see :func:`create_app`)."""
    return [
        Route("/v1/render/{template}/{file}", render_get, methods=["GET", "HEAD"]),
        Route("/v1/render", render_post, methods=["POST"]),
        Route("/v1/warm", warm_post, methods=["POST"]),
        Route("/v1/warm/{job}", warm_status, methods=["GET"]),
        Route("/v1/templates", list_templates, methods=["GET"]),
        Route("/v1/targets", list_targets, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    """JSON bodies for the router's own 404 and 405 answers."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    message = {404: "no such endpoint", 405: "method not allowed"}.get(status, "error")
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    request_id = _request_id(request)
    headers["X-Request-ID"] = request_id
    body = {"code": code, "message": message, "field": None, "value": None}
    body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)
