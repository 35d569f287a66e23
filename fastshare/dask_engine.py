"""Scale-out: the backfill's chunks on a Dask distributed cluster (``engine="dask"``).

The backfill orchestrator (:mod:`fastshare.backfiller`) is the same for both engines: it streams
the input, computes output keys, skips what the registry says is done, notes in-flight outputs,
and writes the registry rows and the failures file. Only *where a chunk runs* changes. With
``engine="dask"`` the orchestrator hands each chunk (hundreds of items) to :class:`DaskPool`
instead of the local :class:`~fastshare.pool.RenderPool`; the chunk runs
:func:`fastshare.backfiller.render_batch` on a Dask worker, which renders, encodes and writes
every output through the same :class:`~fastshare.stores.OutputStore` (atomic: temporary file
beside the target, then rename) and returns one small tuple per output (size, SHA-256, width,
height), never pixels. The client alone writes the SQLite registry.

Invariants:

* **Exactly once.** Dask reruns a chunk whose worker died. Writes are atomic (at most one
  complete file per path, never a partial one) and registry rows are keyed by path, so a rerun
  adds no file and no row. A rerun result carries ``attempt > 1`` (counted from the scheduler's
  ``remove-worker`` events), and the orchestrator then sweeps the temporary files the dead
  attempt may have left. A restarted client resumes from the registry like a local run.
* **Bounded memory.** The orchestrator keeps at most :attr:`DaskPool.window` chunks in flight
  (twice the cluster's threads, plus two); the input is streamed.
* **Warm workers.** :class:`fastshare._dask_plugin.WarmUpPlugin` (a ``distributed.WorkerPlugin``)
  compiles or cache-loads the kernels, loads the fonts, builds the worker's renderer and plans
  the template's targets in ``setup()``; Dask re-applies it to every worker that joins or is
  restarted by its nanny, before that worker takes a task.
* **Same environment.** Every chunk checks, once per worker process, that the worker's render
  version, fonts and encoder match the client's (they are part of the output key), and fails
  with a clear message otherwise.

Dask is an optional dependency (``pip install 'fastshare[dask]'``), imported only when this
engine is used; :func:`require_dask` turns its absence into a :class:`~fastshare.errors.ClientError`
that says what to install. This module itself imports without Dask (the worker-side helpers
:func:`run_chunk` and :func:`request_stop_here` need nothing from it).

Thread safety: a :class:`DaskPool` belongs to the event loop that started it (an asynchronous
``distributed.Client``). Worker-side functions keep per-process state behind a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastshare import errors

if TYPE_CHECKING:
    from fastshare.pool import ExitFlag, TaskResult
    from fastshare.targets import Target

__all__ = [
    "ALLOWED_FAILURES",
    "CONNECT_TIMEOUT",
    "DEFAULT_CHUNK_ITEMS",
    "MIN_CHUNKS",
    "MIN_CHUNK_ITEMS",
    "SCHEDULER_CONFIG",
    "WORKERS_TIMEOUT",
    "WORKER_ENV",
    "DaskPool",
    "chunk_items",
    "environment_fingerprint",
    "local_cluster_kwargs",
    "request_stop_here",
    "require_dask",
    "run_chunk",
    "start_pool",
]

#: items per chunk (one Dask task) when ``batch_size`` is not given: hundreds of items, so the
#: per-task cost of Dask (about 1-2 ms) and of a registry commit are negligible
DEFAULT_CHUNK_ITEMS = 200
#: a small input of known size is still cut into this many chunks (so every worker gets some),
#: with at least :data:`MIN_CHUNK_ITEMS` items each
MIN_CHUNKS = 32
MIN_CHUNK_ITEMS = 10
#: how many worker deaths a chunk survives before Dask gives up on it (``KilledWorker``); the
#: orchestrator then splits it so that only the output that kills workers fails. Applied to the
#: LocalCluster this engine starts; set ``distributed.scheduler.allowed-failures`` on your own
#: scheduler (docs/scaling.md).
ALLOWED_FAILURES = 1
#: Dask configuration of the LocalCluster this engine starts (set the same on your own
#: scheduler, docs/scaling.md): a chunk survives one worker death, and a worker holds only the
#: chunk it runs (saturation 1.0: nothing queued on it), so a worker killed by a poison output
#: takes no innocent queued chunk down with it
SCHEDULER_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.scheduler.worker-saturation": 1.0,
}
#: seconds to reach a scheduler
CONNECT_TIMEOUT = 10.0
#: seconds to wait for a scheduler's first worker
WORKERS_TIMEOUT = 60.0
#: environment of the LocalCluster's worker processes: kernels are serial, one thread each
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
_INSTALL_HINT = "pip install 'fastshare[dask]'"
#: seconds between refreshes of the cluster's thread count (it may grow or shrink)
_REFRESH_SECONDS = 5.0
_CLOSE_TIMEOUT = 20.0


def chunk_items(n_items: int | None) -> int:
    """The default chunk size for an input of ``n_items`` items (None: unknown, streamed).

    :data:`DEFAULT_CHUNK_ITEMS`, or fewer when the input is too small to make
    :data:`MIN_CHUNKS` chunks of that size (never fewer than :data:`MIN_CHUNK_ITEMS`).
    """
    if n_items is None:
        return DEFAULT_CHUNK_ITEMS
    return max(MIN_CHUNK_ITEMS, min(DEFAULT_CHUNK_ITEMS, -(-n_items // MIN_CHUNKS)))


def local_cluster_kwargs(n_workers: int) -> dict[str, Any]:
    """``distributed.LocalCluster`` arguments of the engine's own cluster: ``n_workers``
    processes with one thread each (:data:`WORKER_ENV`), loopback only, no dashboard (its
    HTTP endpoints on a free loopback port), Ctrl-C ignored by the workers. Create it inside
    ``dask.config.set(SCHEDULER_CONFIG)``."""
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": None,
        "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
        "env": dict(WORKER_ENV),
        "preload": ["fastshare._dask_local_worker"],
    }


def require_dask() -> Any:
    """Import ``distributed`` or raise a ClientError naming the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        msg = (
            f"the dask engine needs Dask distributed, which is not installed ({exc}); "
            f"install it with: {_INSTALL_HINT}"
        )
        raise errors.ClientError(msg, field="engine", value="dask") from None
    return distributed


# =========================================================================== worker side

_lock = threading.Lock()
#: run tag → its stop flag, in this worker process (bounded: old runs drop out)
_STOP_FLAGS: OrderedDict[str, ExitFlag] = OrderedDict()
_MAX_STOP_FLAGS = 64
#: environment fingerprints already checked in this process
_CHECKED: dict[str, str | None] = {}


def _stop_flag(tag: str) -> ExitFlag:
    from fastshare.pool import ExitFlag

    with _lock:
        flag = _STOP_FLAGS.get(tag)
        if flag is None:
            flag = _STOP_FLAGS[tag] = ExitFlag()
            while len(_STOP_FLAGS) > _MAX_STOP_FLAGS:
                _STOP_FLAGS.popitem(last=False)
        return flag


def request_stop_here(tag: str) -> int:
    """Worker side of :meth:`DaskPool.request_stop`: set run ``tag``'s stop flag in this process
    (chunks of that run return after the output they are on). Returns the pid."""
    _stop_flag(tag).set()
    return os.getpid()


def environment_fingerprint(font_paths: Sequence[str], fmt: str, options: Mapping[str, Any]) -> str:
    """SHA-256 of what an output key assumes about the process that renders: fastshare's render
    version, the font files' digest and the encoder identity (libraries and their versions)."""
    from fastshare.identity import RENDER_VERSION, canonical_json, encoder_identity, font_digest

    doc = {
        "render": RENDER_VERSION,
        "fonts": font_digest(font_paths),
        "encoder": encoder_identity(fmt, options),
    }
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def _check_environment(env: tuple[tuple[str, ...], str, Mapping[str, Any], str]) -> None:
    font_paths, fmt, options, expected = env
    with _lock:
        known = _CHECKED.get(expected, "")
    if known == "":
        try:
            here = environment_fingerprint(font_paths, fmt, options)
            known = None if here == expected else "differ"
        except errors.FastshareError as exc:
            known = str(exc)
        with _lock:
            _CHECKED[expected] = known
    if known is not None:
        import fastshare

        detail = "" if known == "differ" else f" ({known})"
        msg = (
            f"worker pid {os.getpid()} (fastshare {fastshare.__version__}) renders with another "
            f"render version, fonts or encoder libraries than the client{detail}; install the "
            "same fastshare and dependencies on every worker, with the fonts at the same paths"
        )
        raise errors.RenderError(msg, field="worker", value=os.getpid())


def run_chunk(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    tag: str,
    env: tuple[tuple[str, ...], str, Mapping[str, Any], str],
) -> tuple[Any, float, dict[str, float], int]:
    """The Dask task: check the environment, then run ``fn(*args)`` as a pool task would.

    ``fn`` sees the usual task helpers: :func:`~fastshare.pool.exit_requested` is run ``tag``'s
    stop flag, :func:`~fastshare.pool.task_phase` records phases. Returns ``(value, seconds,
    phases, pid)``: the value must be small (it travels back to the client).
    """
    from fastshare.pool import TaskContext, _task

    _check_environment(env)
    ctx = TaskContext(0, 1, _stop_flag(tag))
    previous = _task.current_task()
    _task.set_current(ctx)
    started = time.perf_counter()
    try:
        value = fn(*args)
    finally:
        _task.set_current(previous)
    return value, time.perf_counter() - started, dict(ctx.phases), os.getpid()


# =========================================================================== client side


def _scheduler_address(scheduler: Any) -> str:
    """An address string from a string, a Client or a cluster object."""
    if isinstance(scheduler, str):
        if not scheduler.strip():
            raise errors.ValueRangeError("cannot be empty", field="scheduler", value=scheduler)
        return scheduler.strip()
    address = getattr(scheduler, "scheduler_address", None)
    if isinstance(address, str) and address:
        return address
    inner = getattr(getattr(scheduler, "scheduler", None), "address", None)
    if isinstance(inner, str) and inner:
        return inner
    msg = "expected a scheduler address ('tcp://host:8786'), a distributed.Client or a cluster"
    raise errors.ValueRangeError(msg, field="scheduler", value=type(scheduler).__name__)


class DaskPool:
    """The subset of :class:`~fastshare.pool.RenderPool` the backfill uses, on Dask.

    Create it with :func:`start_pool`. ``submit_detailed(fn, *args, tag=...)`` runs ``fn`` in a
    Dask task (through :func:`run_chunk`) and returns a :class:`~fastshare.pool.TaskResult`
    whose ``attempt`` is 1 plus the number of workers that died while holding the task; a chunk
    that killed more than ``allowed-failures`` workers raises
    :class:`~fastshare.errors.WorkerCrashed`. ``request_stop(tag)`` makes running chunks of a
    run return after their current output; ``cancel_tag`` also drops them; ``close`` shuts
    down what the pool started (its client; the LocalCluster when it started one).
    """

    def __init__(
        self,
        client: Any,
        cluster: Any,
        env: tuple[tuple[str, ...], str, Mapping[str, Any], str],
        plugin_name: str | None,
        nthreads: int,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.env = env
        self.plugin_name = plugin_name
        self._nthreads = max(1, nthreads)
        self._refreshed = time.monotonic()
        self._seq = itertools.count()
        self._futures: dict[str, tuple[str | None, Any]] = {}
        self._deaths: dict[str, int] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._boxes: dict[str, asyncio.Future[Any]] = {}
        #: set when the scheduler is lost: the orchestrator stops the run with this error
        self.broken: errors.ServerError | None = None
        try:
            self._address = str(client.scheduler.address)
        except AttributeError:
            self._address = "?"
        self._monitor = asyncio.ensure_future(self._watch_client())
        #: worker deaths seen while one of this pool's tasks was on the worker
        self.worker_deaths = 0
        self._closed = False

    # ------------------------------------------------------------------ sizes

    @property
    def workers(self) -> int:
        """Threads in the cluster (workers × threads per worker), as last seen."""
        return self._nthreads

    @property
    def window(self) -> int:
        """Chunks the orchestrator keeps in flight: every thread busy, one more queued each."""
        return 2 * self._nthreads + 2

    @property
    def address(self) -> str:
        """The scheduler's address."""
        return self._address

    async def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._refreshed < _REFRESH_SECONDS:
            return
        self._refreshed = now
        with contextlib.suppress(Exception):
            counts = await asyncio.wait_for(self.client.nthreads(), 5.0)
            total = sum(int(n) for n in counts.values())
            if total > 0:
                self._nthreads = total

    def _on_event(self, event: Any) -> None:
        """Scheduler events (topic ``all``): count deaths of workers holding our tasks."""
        try:
            _, msg = event
            if not isinstance(msg, Mapping) or msg.get("action") != "remove-worker":
                return
            keys = msg.get("processing-tasks") or ()
        except (TypeError, ValueError):
            return
        hit = False
        for key in keys:
            if key in self._futures:
                self._deaths[key] = self._deaths.get(key, 0) + 1
                hit = True
        if hit:
            self.worker_deaths += 1

    # ------------------------------------------------------------------ tasks

    async def submit_detailed(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        tag: str | None = None,
        timeout: float | None = None,
        retries: int = 0,
        **_ignored: Any,
    ) -> TaskResult[Any]:
        """Run ``fn(*args)`` on a worker; see the class docstring.

        ``timeout`` is refused (Dask cannot interrupt a running task); ``retries`` is ignored:
        Dask reruns a task whose worker died, up to its ``allowed-failures``.
        """
        from distributed import KilledWorker

        from fastshare.pool import TaskResult, Timings

        if timeout is not None:
            msg = "per-output timeouts are not supported on Dask"
            raise errors.ValueRangeError(msg, field="timeout", value=timeout)
        if self.broken is not None:
            raise self.broken
        if self._closed:
            raise errors.CancelledError("the Dask pool is closed")
        await self._refresh()
        run_tag = tag or "untagged"
        key = f"fastshare-chunk-{run_tag[:12]}-{next(self._seq)}"
        submitted = time.monotonic()
        try:
            future = self.client.submit(
                run_chunk, fn, args, run_tag, self.env, key=key, pure=False, retries=0
            )
        except Exception as exc:  # the client closed under us: the scheduler is gone
            if self.broken is None:
                self._break(
                    f"lost the Dask scheduler ({type(exc).__name__}: {exc}); rerun the same "
                    "command to resume: what is done is skipped"
                )
            raise errors.CancelledError(str(self.broken)) from None
        self._futures[key] = (tag, future)
        box: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._boxes[key] = box
        relay = asyncio.ensure_future(self._relay(future, box))
        self._check_client()
        try:
            value, seconds, phases, pid = await box
        except KilledWorker:
            deaths = self._deaths.get(key, 0)
            times = f"{deaths} times" if deaths > 1 else "too often"
            msg = f"the Dask workers running this died {times} (the worker logs say why)"
            raise errors.WorkerCrashed(msg) from None
        except asyncio.CancelledError:
            if future.cancelled():  # dropped through cancel_tag / close, not by our caller
                raise errors.CancelledError("the chunk was cancelled") from None
            relay.cancel()
            self._cancel_later(future)  # our caller gave up on it: so does the cluster
            raise
        except errors.FastshareError:
            raise
        except Exception as exc:
            if future.cancelled():
                raise errors.CancelledError("the chunk was cancelled") from None
            raise errors.RenderError(
                f"the chunk failed on its worker: {type(exc).__name__}: {exc}",
                type_name=type(exc).__name__,
            ) from None
        finally:
            self._futures.pop(key, None)
            self._boxes.pop(key, None)
            deaths = self._deaths.pop(key, 0)
        total = time.monotonic() - submitted
        timings = Timings(0.0, 0.0, float(seconds), 0.0, total, dict(phases))
        return TaskResult(value, timings, 1 + deaths, int(pid))

    async def _relay(self, future: Any, box: asyncio.Future[Any]) -> None:
        """Hand the Dask future's outcome to ``box`` (which :meth:`_break` may settle first)."""
        try:
            value = await future
        except asyncio.CancelledError:
            if not future.cancelled():
                raise  # the relay itself was cancelled
            self._check_client()  # a client that lost its scheduler cancels every future
            if not box.done():
                box.set_exception(errors.CancelledError("the chunk was cancelled"))
        except Exception as exc:
            if not box.done():
                box.set_exception(exc)
        else:
            if not box.done():
                box.set_result(value)

    def _break(self, message: str) -> None:
        """The scheduler is gone: chunks in flight end as cancelled (not done: a rerun renders
        them), and :attr:`broken` stops the run."""
        self.broken = errors.ServerError(message, field="scheduler", value=self._address)
        for box in list(self._boxes.values()):
            if not box.done():
                box.set_exception(errors.CancelledError(message))

    def _check_client(self) -> None:
        """Break when the client lost its scheduler. Dask cancels every future of a client
        whose connection dropped (it then tries to reconnect, and closes if it cannot), so
        the chunks in flight are gone either way: the run stops and a rerun resumes it."""
        status = str(getattr(self.client, "status", "running"))
        if self.broken is None and not self._closed and status != "running":
            self._break(
                f"lost the Dask scheduler (client {status}); rerun the same command to "
                "resume: what is done is skipped"
            )

    async def _watch_client(self) -> None:
        while not self._closed and self.broken is None:
            await asyncio.sleep(0.5)
            self._check_client()

    def _cancel_later(self, future: Any) -> None:
        async def cancel() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.cancel([future]), 5.0)

        task = asyncio.ensure_future(cancel())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def request_stop(self, tag: str) -> None:
        """Make the running chunks of run ``tag`` return after the output each one is on."""
        if self.broken is not None:
            return  # no scheduler to reach; its chunks are gone
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.run(request_stop_here, tag), 5.0)

    async def cancel_tag(self, tag: str, *, wait: bool = True) -> None:
        """Stop the run's running chunks (cooperatively) and drop its queued ones."""
        if self.broken is not None:
            return
        await self.request_stop(tag)
        futures = [f for t, f in self._futures.values() if t == tag]
        if futures:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.cancel(futures), 5.0)

    async def close(self, *, cancel: bool = True) -> None:
        """Release this pool's tasks, plugin, client and (when it started one) cluster."""
        if self._closed:
            return
        self._closed = True
        self._monitor.cancel()
        client, cluster = self.client, self.cluster
        lost = self.broken is not None
        if cancel and self._futures and not lost:
            with contextlib.suppress(Exception):
                futures = [f for _, f in self._futures.values()]
                await asyncio.wait_for(client.cancel(futures), 5.0)
        with contextlib.suppress(Exception):
            client.unsubscribe_topic("all")
        if self.plugin_name is not None and cluster is None and not lost:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.unregister_worker_plugin(self.plugin_name), 5.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 2.0 if lost else _CLOSE_TIMEOUT)
        if cluster is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(cluster.close(), _CLOSE_TIMEOUT)


async def start_pool(
    *,
    scheduler: Any = None,
    local: int | None = None,
    warm: tuple[str, bytes, Sequence[Target]] | None = None,
    font_paths: Sequence[str] = (),
    fmt: str = "png",
    options: Mapping[str, Any] | None = None,
) -> DaskPool:
    """Connect to ``scheduler`` (an address, Client or cluster) or start a LocalCluster of
    ``local`` worker processes (one thread each, loopback only, no dashboard); register the
    warm-up plugin (``warm``: template token, pickled template, targets) and wait for it.

    Raises :class:`~fastshare.errors.ClientError` when Dask is missing, the scheduler cannot be
    reached, it has no worker, or the workers cannot warm up (fastshare not installed there).
    """
    distributed = require_dask()
    import dask

    from fastshare._dask_plugin import WarmUpPlugin

    if (scheduler is None) == (local is None):
        msg = "give exactly one of scheduler= (an address) or local= (worker processes)"
        raise errors.ValueRangeError(msg, field="scheduler", value=scheduler)
    if local is not None and (isinstance(local, bool) or not isinstance(local, int) or local < 1):
        raise errors.ValueRangeError("must be >= 1", field="local", value=local)
    opts = dict(options or {})
    env = (
        tuple(str(p) for p in font_paths),
        fmt,
        opts,
        environment_fingerprint(tuple(str(p) for p in font_paths), fmt, opts),
    )
    cluster: Any = None
    client: Any = None
    pool: DaskPool | None = None
    field, value = ("local", local) if local is not None else ("scheduler", scheduler)
    try:
        if local is not None:
            with dask.config.set(SCHEDULER_CONFIG):
                cluster = await distributed.LocalCluster(
                    **local_cluster_kwargs(local), asynchronous=True
                )
            client = await distributed.Client(cluster, asynchronous=True)
        else:
            address = _scheduler_address(scheduler)
            value = address
            try:
                client = await distributed.Client(
                    address, asynchronous=True, timeout=CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError) as exc:
                msg = f"cannot reach the Dask scheduler ({exc})"
                raise errors.ClientError(msg, field="scheduler", value=address) from None
        try:
            await client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            msg = f"the Dask scheduler has no worker after {WORKERS_TIMEOUT:g} s"
            raise errors.ClientError(msg, field=field, value=value) from None
        pool = DaskPool(client, cluster, env, None, 1)
        client.subscribe_topic("all", pool._on_event)
        if warm is not None:
            token, blob, targets = warm
            plugin = WarmUpPlugin(token, blob, tuple(targets), env)
            name = f"fastshare-warm-up-{token[:16]}"
            try:
                await client.register_plugin(plugin, name=name)
            except errors.FastshareError:
                raise
            except Exception as exc:
                msg = (
                    f"the Dask workers could not warm up ({type(exc).__name__}: {exc}); install "
                    "the same fastshare, with the 'dask' extra, on every worker"
                )
                raise errors.ClientError(msg, field=field, value=value) from None
            pool.plugin_name = name
        counts = await client.nthreads()
        pool._nthreads = max(1, sum(int(n) for n in counts.values()))
        return pool
    except BaseException:
        if pool is not None:
            pool._closed = True
            pool._monitor.cancel()
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), _CLOSE_TIMEOUT)
        if cluster is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(cluster.close(), _CLOSE_TIMEOUT)
        raise
