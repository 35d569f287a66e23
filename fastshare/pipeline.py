"""The share-image generator pipeline: one generator, every target, rendered in the pool.

A :class:`ShareImageGenerator` computes its image per target (text a fixed number of pixels from
the bottom-left whatever the aspect ratio), instead of cropping one original. ``run_pipeline``:

1. asks the generator for its configuration (JSON) and hashes it, with the targets and encoder
   settings, into the run's *key*; if the sink already holds a complete output for that key, the
   work is skipped and ``finish`` gets the existing outputs;
2. calls ``prepare()`` in the orchestrator;
3. renders every target in the pool: once per worker ``prepare_process(exit_requested)``, then
   ``generate(width, height, exit_requested)`` (plus ``target=`` when the generator accepts it);
   the worker encodes (:func:`encode_frame`) and stages the bytes through the sink;
4. commits every target through the sink, then calls ``finish(result)``.

A stop request (an ``asyncio.Event``; :func:`stop_on_signals` sets one on SIGTERM/SIGINT) makes
the run stop taking work, cancel its in-flight tasks (exit flag, then kill after the pool's grace
period), remove what it staged, and raise :class:`~fastshare.errors.ShareImageBounceError` so the
caller can requeue. A failed target fails the run the same way, with that target's error.

Frames are H×W×3 ``uint8``; a generator may return a PIL image instead (converted to RGB).
Orchestrator hooks (``get_configuration``, ``prepare``, ``finish``) may be sync or async.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import pickle
import signal
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from fastshare import errors
from fastshare.pool._core import PRIORITY_BATCH, RenderPool, Timings
from fastshare.pool._task import ExitFlag, exit_requested, task_phase
from fastshare.sinks import Output, Sink, Staged
from fastshare.targets import Target, parse_target

__all__ = [
    "FunctionGenerator",
    "PipelineResult",
    "ShareImageGenerator",
    "configuration_key",
    "encode_frame",
    "render_in_worker",
    "run_pipeline",
    "stop_on_signals",
]

T = TypeVar("T")

#: bump when a change to the pipeline changes output bytes for the same configuration
PIPELINE_VERSION = 1


@runtime_checkable
class ShareImageGenerator(Protocol):
    """What ``run_pipeline`` runs. ``prepare``, ``prepare_process`` and ``finish`` are optional.

    * ``get_configuration()`` — orchestrator; JSON-serialisable data identifying the images
      (hashed for dedup). Sync or async.
    * ``prepare()`` — orchestrator, before any worker renders. Sync or async.
    * ``prepare_process(exit_requested)`` — once per worker process, before its first
      ``generate``. May raise once ``exit_requested`` is set.
    * ``generate(width, height, exit_requested)`` — many times per worker: an H×W×3 ``uint8``
      array or a PIL image of exactly that size. Add a ``target`` parameter to get the
      :class:`~fastshare.targets.Target` too (two presets may share a size).
    * ``finish(result)`` — orchestrator, after every target is written (or found by dedup);
      ``result`` is a :class:`PipelineResult`. Sync or async.

    The generator object is pickled to the workers: keep it small (a recipe, not loaded state).
    """

    def get_configuration(self) -> Any: ...

    def generate(self, width: int, height: int, exit_requested: ExitFlag) -> Any: ...


@dataclass(frozen=True)
class PipelineResult:
    """What a pipeline run produced."""

    key: str
    configuration: Any
    outputs: tuple[Output, ...]
    #: True when the sink already had this key and nothing was rendered
    reused: bool
    #: per target name: the pool's timings (empty when reused)
    timings: Mapping[str, Timings] = field(default_factory=dict)
    elapsed: float = 0.0

    def output(self, target: str) -> Output:
        for o in self.outputs:
            if o.target == target:
                return o
        raise KeyError(target)


class FunctionGenerator:
    """Adapt a picklable ``fn(*args, target) -> frame`` into a :class:`ShareImageGenerator`.

    ``configuration`` identifies the output (it is hashed for dedup). The template renderer is
    ``FunctionGenerator(fastshare.render, config, template, item)``-shaped.
    """

    def __init__(self, fn: Callable[..., Any], configuration: Any, *args: Any) -> None:
        self.fn = fn
        self.configuration = configuration
        self.args = args

    def get_configuration(self) -> Any:
        return self.configuration

    def generate(
        self, width: int, height: int, exit_requested: ExitFlag, target: Target | None = None
    ) -> Any:
        if target is None:
            target = Target("custom", width, height)
        return self.fn(*self.args, target)


# --------------------------------------------------------------------------- encoding


def encode_frame(frame: np.ndarray[Any, Any], fmt: str = "png", **options: Any) -> bytes:
    """Encode an H×W×3 ``uint8`` frame with :func:`fastshare.encoders.encode`."""
    from fastshare.encoders import encode

    return encode(frame, fmt, **options)


# --------------------------------------------------------------------------- identity


def configuration_key(
    configuration: Any,
    targets: Sequence[Target],
    fmt: str,
    encode_options: Mapping[str, Any] | None = None,
) -> str:
    """The run's key: SHA-256 of the configuration, targets, encoder settings and versions."""
    from fastshare import __version__

    doc = {
        "configuration": configuration,
        "targets": [[t.name, t.width, t.height, t.scale] for t in targets],
        "format": fmt.lower(),
        "encode_options": dict(encode_options or {}),
        "fastshare": __version__,
        "pipeline": PIPELINE_VERSION,
    }
    try:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        msg = f"get_configuration() must return JSON-serialisable data: {exc}"
        raise errors.DataError(msg, field="configuration", value=configuration) from exc
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- worker side


_GENERATORS: OrderedDict[str, tuple[Any, bool]] = OrderedDict()
_MAX_GENERATORS = 8


def _accepts_target(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "target" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _generator_token(generator: Any) -> tuple[str, bytes]:
    """A content token and the pickled generator (equal generators share a worker instance)."""
    blob = pickle.dumps(generator, protocol=5)
    return hashlib.blake2b(blob, digest_size=16).hexdigest(), blob


def _worker_generator(token: str, blob: bytes) -> tuple[Any, bool]:
    entry = _GENERATORS.get(token)
    if entry is not None:
        _GENERATORS.move_to_end(token)
        return entry
    generator = pickle.loads(blob)
    prepare_process = getattr(generator, "prepare_process", None)
    if callable(prepare_process):
        with task_phase("prepare"):
            prepare_process(exit_requested())
    entry = (generator, _accepts_target(generator.generate))
    _GENERATORS[token] = entry
    while len(_GENERATORS) > _MAX_GENERATORS:
        _GENERATORS.popitem(last=False)
    return entry


def _as_frame(image: Any, target: Target) -> np.ndarray[Any, Any]:
    if not isinstance(image, np.ndarray):
        if hasattr(image, "convert") and hasattr(image, "mode"):
            image = image if image.mode == "RGB" else image.convert("RGB")
        image = np.asarray(image)
    expected = (target.pixel_height, target.pixel_width, 3)
    if image.shape != expected or image.dtype != np.uint8:
        msg = (
            f"generate() must return a {expected[1]}×{expected[0]} image (a "
            f"{expected[0]}×{expected[1]}×3 uint8 array) for target {target.name!r}"
        )
        raise errors.ValueRangeError(msg, field="generate", value=f"{image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def render_in_worker(
    gen_token: str,
    blob: bytes,
    target: Target,
    fmt: str | None,
    encode_options: Mapping[str, Any],
    stager: Sink | None,
    key: str | None,
    run_token: str | None = None,
) -> Any:
    """Pool task: paint one target with a generator, then encode and stage it.

    Returns the frame (``fmt`` is None), the encoded bytes (no ``stager``), or the
    :class:`~fastshare.sinks.Staged` record the stager wrote.
    """
    generator, wants_target = _worker_generator(gen_token, blob)
    flag = exit_requested()
    with task_phase("paint"):
        if wants_target:
            image = generator.generate(target.pixel_width, target.pixel_height, flag, target=target)
        else:
            image = generator.generate(target.pixel_width, target.pixel_height, flag)
        frame = _as_frame(image, target)
    if fmt is None:
        return frame
    with task_phase("encode"):
        data = encode_frame(frame, fmt, **encode_options)
    if stager is None:
        return data
    assert key is not None and run_token is not None
    with task_phase("write"):
        return stager.stage(key, target, fmt, data, run_token)


# --------------------------------------------------------------------------- orchestrator


async def _maybe_await(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


async def _call_hook(obj: Any, name: str, *args: Any) -> Any:
    hook = getattr(obj, name, None)
    if hook is None:
        return None
    return await _maybe_await(hook(*args))


@contextmanager
def stop_on_signals(
    event: asyncio.Event, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)
) -> Iterator[asyncio.Event]:
    """Set ``event`` on SIGTERM/SIGINT while the ``with`` body runs (main thread, running loop)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in signals:
        loop.add_signal_handler(sig, event.set)
        installed.append(sig)
    try:
        yield event
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _targets(targets: Iterable[Target | str]) -> list[Target]:
    out = [parse_target(t, f"targets[{i}]") for i, t in enumerate(targets)]
    if not out:
        raise errors.ValueRangeError("at least one target is needed", field="targets", value=[])
    names = [t.name for t in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = "target names must be unique within a run"
        raise errors.ValueRangeError(msg, field="targets", value=dupes)
    return out


async def run_pipeline(
    generator: ShareImageGenerator,
    targets: Iterable[Target | str],
    sink: Sink,
    *,
    pool: RenderPool | None = None,
    workers: int | None = None,
    format: str = "png",
    encode_options: Mapping[str, Any] | None = None,
    stop: asyncio.Event | None = None,
    priority: float = PRIORITY_BATCH,
    timeout: float | None = None,
    retries: int = 1,
    force: bool = False,
) -> PipelineResult:
    """Render ``generator`` for every target, write through ``sink``, call ``finish``.

    Uses ``pool`` when given (recommended: one pool for many runs), otherwise starts a pool of
    ``workers`` for this run. ``force`` renders even when the sink already has the key. Raises
    :class:`~fastshare.errors.ShareImageBounceError` when ``stop`` is set before the outputs are
    committed (nothing of the run is left in the sink); a target's failure is raised as the
    pool raised it (RenderError, WorkerCrashed, TaskTimeout, a client error), also after cleanup.
    """
    started = time.monotonic()
    target_list = _targets(targets)
    options = dict(encode_options or {})
    configuration = await _maybe_await(generator.get_configuration())
    key = configuration_key(configuration, target_list, format, options)

    if not force:
        existing = await _maybe_await(sink.lookup(key))
        if existing:
            result = PipelineResult(
                key, configuration, tuple(existing), True, {}, time.monotonic() - started
            )
            await _call_hook(generator, "finish", result)
            return result

    def bounce(detail: str) -> errors.ShareImageBounceError:
        return errors.ShareImageBounceError(
            f"the pipeline run was stopped {detail}; nothing was written", field="key", value=key
        )

    if stop is not None and stop.is_set():
        raise bounce("before it started")
    await _call_hook(generator, "prepare")

    owned = pool is None
    if pool is None:
        pool = RenderPool(workers)
        await pool.start()
    try:
        return await _render_all(
            pool,
            generator,
            target_list,
            sink,
            key=key,
            configuration=configuration,
            fmt=format,
            options=options,
            stop=stop,
            priority=priority,
            timeout=timeout,
            retries=retries,
            started=started,
            bounce=bounce,
        )
    finally:
        if owned:
            await pool.close(cancel=True)


async def _render_all(
    pool: RenderPool,
    generator: ShareImageGenerator,
    targets: list[Target],
    sink: Sink,
    *,
    key: str,
    configuration: Any,
    fmt: str,
    options: dict[str, Any],
    stop: asyncio.Event | None,
    priority: float,
    timeout: float | None,
    retries: int,
    started: float,
    bounce: Callable[[str], errors.ShareImageBounceError],
) -> PipelineResult:
    run_token = uuid.uuid4().hex
    gen_token, blob = _generator_token(generator)
    stager = sink if sink.stage_in_worker else None
    tasks = [
        asyncio.ensure_future(
            pool.submit_detailed(
                render_in_worker,
                gen_token,
                blob,
                target,
                fmt,
                options,
                stager,
                key,
                run_token,
                priority=priority,
                timeout=timeout,
                retries=retries,
                tag=run_token,
            )
        )
        for target in targets
    ]
    stop_task = asyncio.ensure_future(stop.wait()) if stop is not None else None
    failure: BaseException | None = None
    stopped = False
    try:
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending:
            waiting = pending | ({stop_task} if stop_task is not None else set())
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if stop_task is not None and stop_task in done:
                stopped = True
                break
            for task in done:
                pending.discard(task)
                if task.exception() is not None and failure is None:
                    failure = task.exception()
            if failure is not None:
                break
        if not stopped and failure is None and stop is not None and stop.is_set():
            stopped = True
    except BaseException:
        # the caller cancelled us: clean up as for a stop, then let the cancellation through
        await _discard(pool, sink, key, run_token, tasks)
        raise
    finally:
        if stop_task is not None:
            stop_task.cancel()

    if stopped or failure is not None:
        done_count = sum(
            1 for t in tasks if t.done() and not t.cancelled() and t.exception() is None
        )
        await _discard(pool, sink, key, run_token, tasks)
        if failure is not None:
            raise failure
        raise bounce(f"after {done_count} of {len(tasks)} targets were rendered")

    results = [t.result() for t in tasks]
    if stager is None:
        staged = [
            sink.stage(key, target, fmt, r.value, run_token)
            for target, r in zip(targets, results, strict=True)
        ]
    else:
        staged = [r.value for r in results]
    if stop is not None and stop.is_set():
        await _maybe_await(sink.abort(key, run_token, staged))
        raise bounce("before its outputs were committed")
    outputs = await _maybe_await(sink.commit(key, staged, configuration))
    result = PipelineResult(
        key=key,
        configuration=configuration,
        outputs=tuple(outputs),
        reused=False,
        timings={t.name: r.timings for t, r in zip(targets, results, strict=True)},
        elapsed=time.monotonic() - started,
    )
    await _call_hook(generator, "finish", result)
    return result


async def _discard(
    pool: RenderPool, sink: Sink, key: str, run_token: str, tasks: Sequence[asyncio.Future[Any]]
) -> None:
    """Cancel a run's tasks, wait until none runs in a worker, and remove what it staged."""
    await pool.cancel_tag(run_token, wait=True)
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    staged = [
        o.value
        for o in outcomes
        if not isinstance(o, BaseException) and isinstance(o.value, Staged)
    ]
    await _maybe_await(sink.abort(key, run_token, staged))
