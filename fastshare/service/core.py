"""``RenderService``: the service's runtime, independent of the web framework.

It owns the :class:`~fastshare.pool.RenderPool` (N warm render workers), the template store, the
output keys, the optional disk cache and the metrics, and turns a validated request into image
bytes. The HTTP layer (:mod:`fastshare.service.routes`) only parses requests and formats answers;
another front end (the preview mode, a test) can drive a ``RenderService`` directly.

Invariants:

* **Rendering never runs on the event loop.** Layout, paint and encode run in pool workers; file
  I/O (disk cache, key builders that hash fonts or assets) runs in threads. The loop validates
  requests, computes keys (microseconds) and awaits.
* **Requests first.** Requests are submitted at ``PRIORITY_INTERACTIVE``, background work
  (:meth:`RenderService.warm`) at ``PRIORITY_BATCH``, so a free worker always takes a waiting
  request before waiting background work.
* **Bounded admission.** At most ``workers + queue_size`` requests are admitted at once; more
  answer 503 at once (:class:`Overloaded`), so latency stays bounded under overload. Background
  work has its own small window and never takes a request's place.
* **No retry for requests.** A request's render is submitted with ``retries=0``: a worker crash
  answers an error at once (the worker is replaced for the next request); background work retries
  a crash once.
* Belongs to the event loop it was started on (the pool does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastshare import errors
from fastshare.pool import (
    PRIORITY_BATCH,
    PRIORITY_INTERACTIVE,
    PoolFullError,
    RenderPool,
    TaskResult,
)
from fastshare.service.caching import DiskCache
from fastshare.service.config import ServiceConfig
from fastshare.service.errors import AuthError, NoCache, NotReady, Overloaded, RenderTimedOut
from fastshare.service.keys import OutputKeys
from fastshare.service.metrics import ServiceMetrics
from fastshare.service.signing import verify
from fastshare.service.templates import TemplateInfo, TemplateStore
from fastshare.service.worker import RenderJob, RenderOutput, check_encode_options, prepare_worker
from fastshare.service.worker import render_job as default_render_function
from fastshare.targets import Target

__all__ = ["RenderService", "Rendered", "WarmJob", "public_message"]

log = logging.getLogger("fastshare.service")

_KEPT_WARM_JOBS = 64


@dataclass(frozen=True)
class Rendered:
    """Image bytes for a request and where they came from (``hit``: disk cache, ``miss``)."""

    data: bytes
    key: str
    cache: str


@dataclass
class WarmJob:
    """Progress of one background warming job."""

    id: str
    template: str
    total: int
    state: str = "queued"  # queued, running, done, cancelled
    rendered: int = 0
    cached: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "template": self.template,
            "state": self.state,
            "total": self.total,
            "rendered": self.rendered,
            "cached": self.cached,
            "failed": self.failed,
            "errors": self.errors,
            "started": self.started,
            "finished": self.finished,
        }


def public_message(exc: BaseException, config: ServiceConfig) -> tuple[str, str]:
    """(code, message) safe to show a caller for a server-side failure: no internals."""
    if isinstance(exc, Overloaded | PoolFullError):
        return "overloaded", f"the server is busy; retry after {config.retry_after} s"
    if isinstance(exc, NotReady | errors.CancelledError):
        return "not_ready", "the render workers are not ready (starting or stopping); retry shortly"
    if isinstance(exc, RenderTimedOut):
        return "timeout", "the render took too long and was stopped"
    if isinstance(exc, errors.WorkerCrashed):
        return "worker_crashed", "the render failed because its worker process died; retry"
    if isinstance(exc, errors.ServerError) and exc.code == "template_unavailable":
        return exc.code, "this template does not load on the server; its operator has the details"
    if isinstance(exc, errors.ServerError):
        return "render_failed", "the render failed on the server"
    return "internal_error", "internal server error"


class RenderService:
    """The render service: pool, templates, keys, cache and metrics. See the module docstring."""

    def __init__(self, config: ServiceConfig | None = None) -> None:
        self.config = (config or ServiceConfig()).checked()
        cfg = self.config
        self.workers = cfg.worker_count()
        self.templates = TemplateStore(cfg.templates_dir, cfg.asset_dirs)
        self.keys = OutputKeys(cfg.encode_options)
        self.cache = DiskCache(cfg.cache_dir, cfg.cache_max_bytes) if cfg.cache_dir else None
        self.metrics = ServiceMetrics(self._pool_stats)
        self.pool: RenderPool | None = None
        #: new, starting, ready, failed, closing, closed
        self.state = "new"
        self.failure: str | None = None
        #: seconds a request's render may run, and may wait for a worker (plain attributes,
        #: read per request: tests lower them)
        self.render_timeout = cfg.render_timeout
        self.queue_timeout = cfg.queue_timeout
        self.render_function: Callable[..., Any] = cfg.render_function or default_render_function
        self.in_flight = 0
        self._background: set[asyncio.Task[Any]] = set()
        self._warm_jobs: OrderedDict[str, WarmJob] = OrderedDict()
        self._warm_tasks: set[asyncio.Task[Any]] = set()
        self._tokens = itertools.count(1)
        self._token_prefix = secrets.token_hex(4)

    # ------------------------------------------------------------------ lifecycle

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.pool is not None and self.pool.size > 0

    def _pool_stats(self) -> dict[str, float]:
        pool = self.pool
        stats = pool.stats if pool is not None else {}
        return {
            "ready": 1.0 if self.ready else 0.0,
            "workers": float(pool.size) if pool is not None else 0.0,
            "workers_configured": float(self.workers),
            "queued": float(pool.queued) if pool is not None else 0.0,
            "in_flight": float(self.in_flight),
            "respawns": float(stats.get("respawns", 0)),
            "crashes": float(stats.get("crashes", 0)),
            "timeouts": float(stats.get("timeouts", 0)),
            "cache_bytes": float(self.cache.size_bytes) if self.cache is not None else 0.0,
        }

    def _pool_queue_size(self) -> int:
        # requests are admitted by in_flight; the pool's own bound is a backstop that also
        # leaves room for the warm window of every warm job
        cfg = self.config
        return cfg.queue_size + self.workers + 2 * self.workers * cfg.max_warm_jobs + 8

    async def start(self) -> None:
        """Load templates, prepare keys and the cache, start and warm the pool."""
        if self.state != "new":
            return
        self.state = "starting"
        cfg = self.config
        try:
            infos = await asyncio.to_thread(self.templates.load_all)
            if not infos:
                log.warning("no loadable templates in %s", cfg.templates_dir)
            if self.cache is not None:
                await asyncio.to_thread(self.cache.measure)
            await asyncio.to_thread(self.keys.prepare, [info.template for info in infos])
            options: dict[str, Any] = {
                "queue_size": self._pool_queue_size(),
                "warm_up": True,
                "initializer": prepare_worker,
                "initargs": (tuple(info.template for info in infos),),
                "import_main": False,
            }
            options.update(cfg.pool_options)
            pool = RenderPool(self.workers, **options)
            self.pool = pool
            await pool.start()
            for fmt, fmt_options in cfg.encode_options.items():
                await pool.submit(check_encode_options, fmt, dict(fmt_options), timeout=60)
        except asyncio.CancelledError:
            self.state = "failed"
            self.failure = "start was cancelled"
            await self._close_pool(cancel=True)
            raise
        except Exception as exc:
            self.state = "failed"
            self.failure = f"{type(exc).__name__}: {exc}"
            log.error("the render service failed to start: %s", self.failure)
            await self._close_pool(cancel=True)
            return
        self.state = "ready"
        signing = "on" if cfg.signing else "OFF (anyone can render any template)"
        log.info(
            "render service ready: %d workers, %d templates from %s, signing %s, disk cache %s",
            pool.size,
            len(infos),
            cfg.templates_dir,
            signing,
            cfg.cache_dir or "off",
        )

    async def _close_pool(self, *, cancel: bool, grace: float = 10.0) -> None:
        pool = self.pool
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(cancel=cancel), grace)
        except (TimeoutError, Exception):
            with contextlib.suppress(Exception):
                await pool.close(cancel=True)

    async def close(self, grace: float = 10.0) -> None:
        """Stop: cancel background warming, finish in-flight renders (up to ``grace`` s)."""
        if self.state in ("closing", "closed"):
            return
        self.state = "closing"
        for task in list(self._warm_tasks):
            task.cancel()
        if self._warm_tasks:
            await asyncio.gather(*self._warm_tasks, return_exceptions=True)
        await self._close_pool(cancel=False, grace=grace)
        if self._background:
            await asyncio.wait(list(self._background), timeout=grace)
        self.state = "closed"
        log.info("render service stopped")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ auth

    def verify_signature(
        self, path: str, params: Sequence[tuple[str, str]]
    ) -> tuple[bool, int | None]:
        """(signed, expiry) for a GET; raises SignatureError when signing is on and it fails."""
        if not self.config.secrets:
            return False, None
        return True, verify(self.config.secrets, path, params)

    def check_bearer(self, authorization: str | None) -> None:
        """Accept a POST: the bearer token when tokens are configured (see the docs)."""
        cfg = self.config
        if not cfg.tokens:
            if cfg.secrets:
                msg = (
                    "POST endpoints are disabled: this server requires signed URLs and has no "
                    "bearer token configured (start it with --token-env)"
                )
                raise AuthError(msg, status=403, code="post_disabled")
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("a bearer token is required (Authorization: Bearer …)")
        given = token.strip().encode("utf-8", errors="replace")
        ok = False
        for expected in cfg.tokens:
            ok |= hmac.compare_digest(expected, given)
        if not ok:
            raise AuthError("the bearer token is not valid", code="bad_token")

    # ------------------------------------------------------------------ keys and renders

    async def output_key(
        self, info: TemplateInfo, fmt: str, item: Mapping[str, Any], target: Target
    ) -> str:
        """The output key; file hashing (new builders, image assets) happens in a thread."""
        if info.has_images or not self.keys.has(info.template, fmt):
            return await asyncio.to_thread(self.keys.key, info.template, fmt, item, target)
        return self.keys.key(info.template, fmt, item, target)

    def _job(
        self,
        info: TemplateInfo,
        target: Target,
        fmt: str,
        item: Mapping[str, Any],
        key: str,
        *,
        return_bytes: bool = True,
    ) -> RenderJob:
        cache = self.cache
        return RenderJob(
            template=info.template,
            item=dict(item),
            target=target,
            format=fmt,
            options=self.keys.options(fmt),
            key=key,
            cache=cache.store if cache is not None else None,
            cache_location=cache.location(key, target, fmt) if cache is not None else "",
            token=f"r{self._token_prefix}{next(self._tokens)}",
            return_bytes=return_bytes,
        )

    async def image(
        self,
        info: TemplateInfo,
        target: Target,
        fmt: str,
        item: Mapping[str, Any],
        key: str | None = None,
    ) -> Rendered:
        """Image bytes for a request: from the disk cache, else rendered now (no retry)."""
        if key is None:
            key = await self.output_key(info, fmt, item, target)
        if self.cache is not None:
            location = self.cache.location(key, target, fmt)
            data = await asyncio.to_thread(self.cache.get, location)
            if data is not None:
                self.metrics.cache.inc("hit")
                return Rendered(data, key, "hit")
            self.metrics.cache.inc("miss")
        job = self._job(info, target, fmt, item, key)
        output = await self._submit_request(job)
        assert output.data is not None
        return Rendered(output.data, key, "miss")

    def _admit(self) -> None:
        if not self.ready:
            raise NotReady(self.failure or "the render workers are not ready")
        if self.in_flight >= self.workers + self.config.queue_size:
            self.metrics.renders.inc("request", "overloaded")
            msg = f"{self.in_flight} requests in flight"
            raise Overloaded(msg)

    async def _submit_request(self, job: RenderJob) -> RenderOutput:
        self._admit()
        pool = self.pool
        assert pool is not None
        self.in_flight += 1
        try:
            result = await self._submit(
                pool, job, kind="request", priority=PRIORITY_INTERACTIVE, retries=0
            )
        finally:
            self.in_flight -= 1
        return result

    async def submit_timed(
        self,
        fn: Any,
        *args: Any,
        kind: str,
        priority: int,
        retries: int = 0,
        queue_timeout: float | None = None,
        on_outcome: Callable[[str], None] | None = None,
    ) -> TaskResult[Any]:
        """Run ``fn(*args)`` on the pool with the service's render timeout, mapping pool errors
        to HTTP errors (overload 503, timeout 504) and counting the outcome in the metrics under
        ``kind``. ``on_outcome`` sees the outcome name whatever happens."""
        pool = self.pool
        assert pool is not None
        outcome = "failed"
        try:
            result = await pool.submit_detailed(
                fn,
                *args,
                priority=priority,
                timeout=self.render_timeout,
                queue_timeout=queue_timeout,
                retries=retries,
                block=False,
            )
            outcome = "ok"
        except PoolFullError as exc:
            outcome = "overloaded"
            raise Overloaded(str(exc)) from None
        except errors.TaskTimeout as exc:
            # the pool sets ``attempt`` on run timeouts only; a queue timeout has none
            if getattr(exc, "attempt", None) is None:
                outcome = "overloaded"
                raise Overloaded(str(exc)) from None
            outcome = "timeout"
            raise RenderTimedOut(str(exc)) from None
        except errors.WorkerCrashed:
            outcome = "crashed"
            raise
        except errors.ClientError:
            outcome = "bad_input"
            raise
        except errors.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self.metrics.renders.inc(kind, outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        self.metrics.render_seconds.observe(result.timings.run, kind)
        self.metrics.queue_wait.observe(result.timings.queue_wait, kind)
        return result

    async def _submit(
        self, pool: RenderPool, job: RenderJob, *, kind: str, priority: int, retries: int
    ) -> RenderOutput:
        def cleanup(outcome: str) -> None:
            killed = outcome in ("timeout", "crashed", "cancelled")
            if killed and job.cache is not None and self.cache is not None:
                # a worker killed while writing leaves a temporary file behind
                self._spawn(asyncio.to_thread(self.cache.abort, job.cache_location))

        result = await self.submit_timed(
            self.render_function,
            job,
            kind=kind,
            priority=priority,
            retries=retries,
            queue_timeout=self.queue_timeout if kind == "request" else None,
            on_outcome=cleanup,
        )
        value = result.value
        if not isinstance(value, RenderOutput):
            msg = f"the render function returned {type(value).__name__}, not RenderOutput"
            raise errors.RenderError(msg)
        if value.stored and self.cache is not None:
            self.metrics.cache.inc("store")
            if self.cache.added(value.size):
                self._spawn(asyncio.to_thread(self.cache.prune))
        return value

    # ------------------------------------------------------------------ background warming

    def warm_job(self, job_id: str) -> WarmJob | None:
        return self._warm_jobs.get(job_id)

    def warm(
        self,
        info: TemplateInfo,
        targets: Sequence[Target],
        fmt: str,
        items: Sequence[Mapping[str, Any]],
    ) -> WarmJob:
        """Start rendering ``items`` × ``targets`` into the disk cache in the background.

        Runs at batch priority with at most two renders per worker in flight, so requests go
        first. Returns at once with the job (poll :meth:`warm_job`).
        """
        if self.cache is None:
            msg = "background warming needs a disk cache: start the server with --cache-dir"
            raise NoCache(msg, field="cache_dir")
        if not self.ready:
            raise NotReady("the render workers are not ready")
        running = sum(1 for j in self._warm_jobs.values() if j.state in ("queued", "running"))
        if running >= self.config.max_warm_jobs:
            raise Overloaded(f"{running} warm jobs are running")
        job = WarmJob(id=secrets.token_hex(8), template=info.name, total=len(items) * len(targets))
        self._warm_jobs[job.id] = job
        while len(self._warm_jobs) > _KEPT_WARM_JOBS:
            oldest = next(iter(self._warm_jobs))
            if self._warm_jobs[oldest].state in ("queued", "running"):
                break
            self._warm_jobs.popitem(last=False)
        task = asyncio.ensure_future(self._run_warm(job, info, targets, fmt, items))
        self._warm_tasks.add(task)
        task.add_done_callback(self._warm_tasks.discard)
        return job

    async def _run_warm(
        self,
        job: WarmJob,
        info: TemplateInfo,
        targets: Sequence[Target],
        fmt: str,
        items: Sequence[Mapping[str, Any]],
    ) -> None:
        job.state = "running"
        window = 2 * self.workers
        pending: set[asyncio.Task[None]] = set()
        try:
            for index, item in enumerate(items):
                for target in targets:
                    while len(pending) >= window:
                        _, pending = await asyncio.wait(
                            pending, return_when=asyncio.FIRST_COMPLETED
                        )
                    pending.add(
                        asyncio.ensure_future(self._warm_one(job, index, info, target, fmt, item))
                    )
            if pending:
                await asyncio.gather(*pending)
            job.state = "done"
        except asyncio.CancelledError:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            job.state = "cancelled"
            raise
        finally:
            job.finished = time.time()

    async def _warm_one(
        self,
        job: WarmJob,
        index: int,
        info: TemplateInfo,
        target: Target,
        fmt: str,
        item: Mapping[str, Any],
    ) -> None:
        cache = self.cache
        pool = self.pool
        assert cache is not None and pool is not None
        try:
            key = await self.output_key(info, fmt, item, target)
            if await asyncio.to_thread(cache.has, cache.location(key, target, fmt)):
                job.cached += 1
                return
            render = self._job(info, target, fmt, item, key, return_bytes=False)
            delay = 0.02
            while True:
                try:
                    await self._submit(
                        pool, render, kind="warm", priority=PRIORITY_BATCH, retries=1
                    )
                    break
                except Overloaded:
                    if self.state != "ready":
                        raise
                    await asyncio.sleep(delay)  # the queue is full: wait for room
                    delay = min(delay * 2, 0.5)
            job.rendered += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            job.failed += 1
            if isinstance(exc, errors.ClientError):
                code, message = exc.code, str(exc)
            else:
                code, message = public_message(exc, self.config)
                log.warning("warm job %s: item %d at %s failed: %r", job.id, index, target, exc)
            if len(job.errors) < 20:
                job.errors.append(
                    {"item": index, "target": target.spec(), "code": code, "message": message}
                )
