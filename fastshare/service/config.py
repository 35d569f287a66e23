"""``ServiceConfig``: every setting of the HTTP render service, validated once.

A config is an immutable dataclass; :meth:`ServiceConfig.checked` returns a copy with paths
resolved and every value validated (a bad value raises
:class:`~fastshare.errors.ValueRangeError` naming the field). It holds secrets as bytes and never
prints them (``repr`` masks them). It imports nothing from the web stack, so the CLI can build
one without Starlette installed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastshare.errors import ValueRangeError
from fastshare.targets import MAX_PIXELS

__all__ = [
    "DEFAULT_CACHE_CONTROL_POST",
    "DEFAULT_CACHE_CONTROL_SIGNED",
    "DEFAULT_CACHE_CONTROL_UNSIGNED",
    "ServiceConfig",
    "default_templates_dir",
    "secret_from_env",
]

#: signed GET URLs are immutable: the signature pins every parameter
DEFAULT_CACHE_CONTROL_SIGNED = "public, max-age=31536000, immutable"
#: unsigned GET URLs (no secret configured): a day, revalidated with the ETag after that
DEFAULT_CACHE_CONTROL_UNSIGNED = "public, max-age=86400"
#: POST answers are for the caller only
DEFAULT_CACHE_CONTROL_POST = "no-store"


def default_templates_dir() -> Path:
    """The bundled example templates (``fastshare/examples``)."""
    from fastshare import examples

    return Path(examples.__file__).resolve().parent


def secret_from_env(name: str, field_name: str = "--secret-env") -> bytes:
    """The value of environment variable ``name`` as bytes; an unset or empty one is an error."""
    value = os.environ.get(name, "")
    if not value:
        msg = f"environment variable {name} is not set or empty"
        raise ValueRangeError(msg, field=field_name, value=name)
    return value.encode()


def _positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueRangeError("must be a positive number", field=name, value=value)


def _non_negative_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueRangeError("must be an integer >= 0", field=name, value=value)


@dataclass(frozen=True)
class ServiceConfig:
    """Settings of ``fastshare serve`` / :func:`fastshare.service.create_app`.

    Only ``templates_dir`` matters for a first run; everything else has a safe default.
    """

    #: directory of ``*.toml`` / ``*.json`` templates; only these can be rendered
    templates_dir: Path = field(default_factory=default_templates_dir)
    #: render worker processes in the server's pool (default: the CPUs this process may use)
    workers: int | None = None
    #: requests allowed to wait for a worker beyond one running per worker; more answer 503
    queue_size: int = 64
    #: seconds a render may run before its worker is killed and the request answers 504
    render_timeout: float = 10.0
    #: seconds a request may wait for a worker before it answers 503
    queue_timeout: float = 5.0
    #: ``Retry-After`` seconds sent with 503 answers
    retry_after: int = 1
    #: HMAC secrets for signed GET URLs; the first one signs, every one verifies (rotation).
    #: Empty: GET URLs need no signature.
    secrets: tuple[bytes, ...] = ()
    #: bearer tokens accepted by POST endpoints. Empty with secrets set: POST is refused.
    tokens: tuple[bytes, ...] = ()
    #: directory of the on-disk render cache (``None``: no disk cache)
    cache_dir: Path | None = None
    #: size budget of the disk cache; the oldest entries are removed above it
    cache_max_bytes: int = 1 << 30
    cache_control_signed: str = DEFAULT_CACHE_CONTROL_SIGNED
    cache_control_unsigned: str = DEFAULT_CACHE_CONTROL_UNSIGNED
    cache_control_post: str = DEFAULT_CACHE_CONTROL_POST
    #: largest frame a request may ask for, in pixels (after scale)
    max_pixels: int = 8_388_608
    #: allow ``WxH`` sizes (and scales); ``False``: preset names only
    allow_custom_sizes: bool = True
    #: longest query string of a GET request, in bytes
    max_query_bytes: int = 8192
    #: longest text value of one field, in characters
    max_field_chars: int = 2000
    #: most item fields in one request
    max_fields: int = 64
    #: largest POST body, in bytes
    max_body_bytes: int = 65536
    #: most items in one ``POST /v1/warm`` request, and warm jobs running at once
    max_warm_items: int = 1000
    max_warm_jobs: int = 4
    #: extra asset directories image layers may read from (besides each template's own)
    asset_dirs: tuple[Path, ...] = ()
    #: encoder options by format (``{"png": {"level": "fast"}, "jpeg": {"quality": 85}}``)
    encode_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the function the pool runs for a render (``fastshare.service.worker.render_job``);
    #: a module-level callable importable in the workers (tests use it for slow renders)
    render_function: Callable[..., Any] | None = None
    #: extra keyword arguments for :class:`~fastshare.pool.RenderPool` (``env``, ``preload``,
    #: ``max_tasks_per_worker``, ...)
    pool_options: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            text = f"<{len(value)} hidden>" if f.name in ("secrets", "tokens") else repr(value)
            shown.append(f"{f.name}={text}")
        return f"ServiceConfig({', '.join(shown)})"

    @property
    def signing(self) -> bool:
        """True when GET render URLs must be signed."""
        return bool(self.secrets)

    def checked(self) -> ServiceConfig:
        """A validated copy with directories resolved; raises ``ValueRangeError`` naming a field."""
        templates = Path(self.templates_dir).expanduser().resolve()
        if not templates.is_dir():
            msg = "the templates directory does not exist"
            raise ValueRangeError(msg, field="templates_dir", value=str(self.templates_dir))
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            raise ValueRangeError("must be a positive integer", field="workers", value=self.workers)
        _non_negative_int("queue_size", self.queue_size)
        for name in ("render_timeout", "queue_timeout"):
            _positive(name, getattr(self, name))
        _non_negative_int("retry_after", self.retry_after)
        for name in (
            "cache_max_bytes",
            "max_pixels",
            "max_query_bytes",
            "max_field_chars",
            "max_fields",
            "max_body_bytes",
            "max_warm_items",
            "max_warm_jobs",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueRangeError("must be a positive integer", field=name, value=value)
        if self.max_pixels > MAX_PIXELS:
            msg = f"must be at most fastshare's cap of {MAX_PIXELS:,} pixels"
            raise ValueRangeError(msg, field="max_pixels", value=self.max_pixels)
        for name in ("secrets", "tokens"):
            for i, value in enumerate(getattr(self, name)):
                if not isinstance(value, bytes) or len(value) < 16:
                    msg = "must be bytes, at least 16 long (use a random value)"
                    raise ValueRangeError(msg, field=f"{name}[{i}]", value=f"<{len(value)} bytes>")
        for name in ("cache_control_signed", "cache_control_unsigned", "cache_control_post"):
            value = getattr(self, name)
            if not isinstance(value, str) or any(c in value for c in "\r\n"):
                raise ValueRangeError("must be a one-line header value", field=name, value=value)
        for fmt, options in self.encode_options.items():
            if fmt not in ("png", "jpeg", "webp") or not isinstance(options, Mapping):
                msg = "keys are png, jpeg or webp; values are option tables"
                raise ValueRangeError(msg, field=f"encode_options.{fmt}", value=options)
        cache_dir = None
        if self.cache_dir is not None:
            cache_dir = Path(self.cache_dir).expanduser().resolve()
            cache_dir.mkdir(parents=True, exist_ok=True)
        assets = tuple(Path(p).expanduser().resolve() for p in self.asset_dirs)
        return dataclasses.replace(
            self, templates_dir=templates, cache_dir=cache_dir, asset_dirs=assets
        )

    def worker_count(self) -> int:
        """The number of render workers this config starts."""
        if self.workers is not None:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
