"""The render pool's orchestrator side: ``RenderPool``.

Processes: the orchestrator (this module, on asyncio), one *template* process started with
``subprocess`` that warms up once and then only forks (see :mod:`fastshare._worker`), and ``N``
workers forked from it. The orchestrator never forks.

Invariants:

* **Pull dispatch, one task per worker.** Queued tasks stay here, in a priority heap, until a
  worker is idle; nothing is pre-queued in a worker, so priorities decide what runs next.
* **Priority with aging.** A task's heap key is ``submit_time - priority * aging``: a higher
  priority goes first, and a batch task that has waited ``priority * aging`` seconds catches up
  with a fresh interactive one, so nothing starves. Retries keep their original key.
* **Bounded queue.** At most ``queue_size`` tasks wait; ``submit`` then waits for room (waiters
  are admitted in key order) or, with ``block=False``, raises :class:`PoolFullError`.
* **Crash isolation.** A worker that dies fails only the task it was running (retried up to the
  task's ``retries``, then :class:`~fastshare.errors.WorkerCrashed`); it is re-forked from the
  template and the pool keeps its size. A task over its ``timeout`` gets its worker killed and
  raises :class:`~fastshare.errors.TaskTimeout`. Cancelling a task sets its worker's exit flag and
  kills the worker if it has not answered after ``cancel_grace`` seconds.
* **Errors as data.** Worker exceptions arrive flattened (type name, message, traceback text) and
  are raised as :class:`~fastshare.errors.RenderError` (fastshare client errors keep their class),
  with the attempt number.
* **Pixels only on request**, through a shared-memory ring whose free slots are the backpressure.

Thread safety: a ``RenderPool`` belongs to the event loop it was started on; use
:class:`~fastshare.pool.SyncRenderPool` from threads and scripts.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import functools
import heapq
import itertools
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
import warnings
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from fastshare import errors
from fastshare.pool import _wire
from fastshare.pool._shm import FrameRing, SharedBlock, cleanup_stale_segments

__all__ = [
    "DEFAULT_SLOT_BYTES",
    "PRIORITY_BATCH",
    "PRIORITY_INTERACTIVE",
    "Frame",
    "MapHandle",
    "PoolFullError",
    "RenderPool",
    "TaskResult",
    "Timings",
]

T = TypeVar("T")

#: a slot holds a 2048×2048 RGB frame
DEFAULT_SLOT_BYTES = 2048 * 2048 * 3
#: suggested priorities: backfills and batch work, and requests a person is waiting for
PRIORITY_BATCH = 0
PRIORITY_INTERACTIVE = 10

_TEMPLATE_ENV = "FASTSHARE_TEMPLATE_PROCESS"
_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class PoolFullError(errors.ServerError):
    """The pool's queue is full and the caller asked not to wait (``block=False``)."""

    code = "overloaded"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Timings:
    """Where one task's time went, in seconds.

    ``queue_wait``: submitted → sent to a worker (the last attempt's dispatch); ``send``: sent →
    the worker started it (transfer and unpickling); ``run``: the call in the worker; ``transfer``:
    the worker finished → the orchestrator had the reply; ``total``: submitted → result.
    ``phases``: what the task itself recorded with :func:`~fastshare.pool.task_phase`
    (``layout``, ``paint``, ``encode``, ``write``).
    """

    queue_wait: float
    send: float
    run: float
    transfer: float
    total: float
    phases: Mapping[str, float] = field(default_factory=dict)

    @property
    def layout(self) -> float:
        return self.phases.get("layout", 0.0)

    @property
    def paint(self) -> float:
        return self.phases.get("paint", 0.0)

    @property
    def encode(self) -> float:
        return self.phases.get("encode", 0.0)

    def as_dict(self) -> dict[str, float]:
        out = {
            "queue_wait": self.queue_wait,
            "send": self.send,
            "run": self.run,
            "transfer": self.transfer,
            "total": self.total,
        }
        out.update(self.phases)
        return out


@dataclass(frozen=True, slots=True)
class TaskResult(Generic[T]):
    """A task's value with its timings, the attempt that produced it and the worker's pid."""

    value: T
    timings: Timings
    attempt: int
    worker_pid: int


class Frame:
    """Pixels a worker painted into a shared-memory slot, on loan to the caller.

    Use it as a context manager (or call :meth:`release`): the slot goes back to the pool on
    release, and until then no other task can use it. ``array`` is a zero-copy view, valid only
    until release; :meth:`copy` and :meth:`to_image` make copies that outlive it. A frame that is
    garbage-collected releases its slot.
    """

    __slots__ = ("__weakref__", "_array", "_finalizer")

    def __init__(
        self, arr: np.ndarray[Any, Any], release: Callable[[], None] | None = None
    ) -> None:
        self._array: np.ndarray[Any, Any] | None = arr
        self._finalizer = weakref.finalize(self, release) if release is not None else None

    @property
    def array(self) -> np.ndarray[Any, Any]:
        if self._array is None:
            msg = "this frame was released; copy() it before release to keep the pixels"
            raise ValueError(msg)
        return self._array

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def copy(self) -> np.ndarray[Any, Any]:
        return self.array.copy()

    def to_image(self) -> Any:
        """A PIL image (a copy: Pillow stores RGB as 4 bytes a pixel)."""
        from PIL import Image

        return Image.fromarray(self.array)

    def release(self) -> None:
        self._array = None
        if self._finalizer is not None:
            self._finalizer()

    @property
    def released(self) -> bool:
        return self._array is None

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        arr = self.array
        return arr if dtype is None else arr.astype(dtype)

    def __enter__(self) -> Frame:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._array is None else f"shape={self._array.shape}"
        return f"Frame({state})"


# --------------------------------------------------------------------------- internals


class _Job:
    __slots__ = (
        "args",
        "attempt",
        "cancel_requested",
        "crashes",
        "future",
        "id",
        "key",
        "label",
        "payload",
        "phases",
        "pixels",
        "priority",
        "queue_timer",
        "retries",
        "retry_errors",
        "run_timer",
        "seq",
        "slot",
        "state",
        "t_dispatch",
        "t_end",
        "t_reply",
        "t_start",
        "t_submit",
        "tag",
        "timeout",
        "worker",
        "worker_pid",
    )

    id: int
    key: float
    seq: int
    payload: bytes
    label: str
    priority: float
    timeout: float | None
    retries: int
    retry_errors: bool
    pixels: bool
    future: asyncio.Future[Any]
    t_submit: float

    def __init__(self) -> None:
        self.attempt = 0
        self.crashes = 0
        self.cancel_requested = False
        self.slot: int | None = None
        self.state = "new"  # new, queued, running, done
        self.worker: _WorkerSlot | None = None
        self.worker_pid = 0
        self.queue_timer: asyncio.TimerHandle | None = None
        self.run_timer: asyncio.TimerHandle | None = None
        self.t_dispatch = self.t_start = self.t_end = self.t_reply = 0.0
        self.phases: dict[str, float] = {}
        self.tag: str | None = None


class _WorkerSlot:
    __slots__ = (
        "generation",
        "index",
        "job",
        "lost_at",
        "pid",
        "ready",
        "rss",
        "spawn_t0",
        "state",
        "tasks",
        "transport",
    )

    def __init__(self, index: int, generation: int, ready: asyncio.Future[None]) -> None:
        self.index = index
        self.generation = generation
        self.pid = 0
        self.state = "starting"  # starting, idle, busy, retiring, dying, dead
        self.job: _Job | None = None
        self.tasks = 0
        self.rss = 0
        self.transport: asyncio.Transport | None = None
        self.ready = ready
        self.spawn_t0 = time.monotonic()
        self.lost_at: float | None = None


class _WorkerProtocol(asyncio.Protocol):
    def __init__(self, pool: RenderPool, worker: _WorkerSlot) -> None:
        self.pool = pool
        self.worker = worker
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.worker.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        header = _wire.HEADER
        while len(buf) >= header.size:
            (size,) = header.unpack_from(buf)
            end = header.size + size
            if len(buf) < end:
                return
            msg = pickle.loads(memoryview(buf)[header.size : end])
            del buf[:end]
            self.pool._on_worker_message(self.worker, msg)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool._on_worker_lost(self.worker)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


def _label(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(type(fn), "__qualname__", "task")
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        msg = "must be a positive number of seconds"
        raise errors.ValueRangeError(msg, field=name, value=value)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- the pool


class RenderPool:
    """A pool of pre-warmed worker processes, driven from asyncio.

    ``async with RenderPool(workers=2) as pool: png = await pool.submit(fn, *args)``.

    Parameters
    ----------
    workers:
        Number of worker processes (default: the CPUs this process may use).
    queue_size:
        Maximum number of queued (not yet running) tasks; ``0`` means unbounded.
    warm_up:
        Warm-up hook run once in the template process: a picklable callable, ``True`` for
        :func:`fastshare._worker.warm_up` (kernels, fonts, one card), ``False``/``None`` for none.
    preload:
        Modules imported in the template before the warm-up.
    initializer, initargs:
        Called once in the template after the warm-up (inherited by every worker).
    worker_init:
        Called in each worker right after it is forked (RNG seeds, file handles, threads).
    max_tasks_per_worker, max_rss_bytes:
        Recycle a worker after this many tasks, or when its resident memory exceeds this.
    aging:
        Seconds of waiting worth one priority unit.
    cancel_grace:
        Seconds a cancelled task gets to notice its exit flag before its worker is killed.
    poison_threshold:
        A task that has killed this many workers is not retried again, whatever its ``retries``.
    frame_slots, slot_bytes:
        Shared-memory ring for tasks that return pixels (default ``2 * workers + 2`` slots).
    import_main:
        Import the caller's main module in the template (as ``multiprocessing`` spawn does), so
        functions defined in a script can be sent to workers.
    env:
        Extra environment variables for the template and workers (``NUMBA_NUM_THREADS=1`` and the
        BLAS thread counts are set by default).
    start_timeout:
        Seconds the template may take to warm up (a cold numba cache compiles everything).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        queue_size: int = 1024,
        warm_up: Callable[[], Any] | bool | None = True,
        preload: Iterable[str] = (),
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        worker_init: Callable[[], Any] | None = None,
        max_tasks_per_worker: int | None = None,
        max_rss_bytes: int | None = None,
        aging: float = 1.0,
        cancel_grace: float = 0.5,
        poison_threshold: int = 3,
        frame_slots: int | None = None,
        slot_bytes: int = DEFAULT_SLOT_BYTES,
        import_main: bool = True,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 600.0,
    ) -> None:
        if os.environ.get(_TEMPLATE_ENV) == "1":
            msg = (
                "a RenderPool cannot be created inside a pool worker or its template process; "
                "guard a script's pool with `if __name__ == '__main__':`"
            )
            raise RuntimeError(msg)
        n = _default_workers() if workers is None else workers
        if not isinstance(n, int) or n < 1:
            raise errors.ValueRangeError("must be a positive integer", field="workers", value=n)
        if queue_size < 0:
            raise errors.ValueRangeError("must be >= 0", field="queue_size", value=queue_size)
        if poison_threshold < 1:
            msg = "must be >= 1"
            raise errors.ValueRangeError(msg, field="poison_threshold", value=poison_threshold)
        for name, value in (
            ("aging", aging),
            ("cancel_grace", cancel_grace),
            ("start_timeout", start_timeout),
        ):
            _check_positive(name, value)
        if max_tasks_per_worker is not None and max_tasks_per_worker < 1:
            msg = "must be >= 1"
            raise errors.ValueRangeError(
                msg, field="max_tasks_per_worker", value=max_tasks_per_worker
            )
        self.workers = n
        self.queue_size = queue_size
        if warm_up is True:
            from fastshare._worker import warm_up as default_warm_up

            self._warm_up: Callable[[], Any] | None = default_warm_up
        elif warm_up is False or warm_up is None:
            self._warm_up = None
        else:
            self._warm_up = warm_up
        self._preload = tuple(preload)
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._worker_init = worker_init
        self.max_tasks_per_worker = max_tasks_per_worker
        self.max_rss_bytes = max_rss_bytes
        self.aging = float(aging)
        self.cancel_grace = float(cancel_grace)
        self.poison_threshold = poison_threshold
        self._frame_slots = frame_slots if frame_slots is not None else 2 * n + 2
        self._slot_bytes = slot_bytes
        self._import_main = import_main
        self._env = dict(env or {})
        self._start_timeout = start_timeout

        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._accepting = False
        self._closing = False
        self._closed = False
        self._broken: BaseException | None = None
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, _Job]] = []
        self._pixel_heap: list[tuple[float, int, _Job]] = []
        self._queued = 0
        self._outstanding = 0
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._idle: deque[_WorkerSlot] = deque()
        self._slots: list[_WorkerSlot | None] = [None] * n
        self._generation = itertools.count(1)
        self._flags_block: SharedBlock | None = None
        self._flags: np.ndarray[Any, Any] = np.zeros(n, dtype=np.uint8)
        self._ring: FrameRing | None = None
        self._tags: dict[str, int] = {}
        self._tag_waiters: dict[str, list[asyncio.Future[None]]] = {}
        # template process
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._ctrl_buf = bytearray()
        self._template_ready: asyncio.Future[dict[str, Any]] | None = None
        self._template_task: asyncio.Future[None] | None = None
        self._template_restarts: deque[float] = deque(maxlen=5)
        self._exit_codes: dict[int, int] = {}
        self._lost_pending: dict[int, tuple[_WorkerSlot, _Job, asyncio.TimerHandle]] = {}
        self._spawn_failures = 0
        self._respawn_tasks: set[asyncio.Task[None]] = set()
        #: what the template reported after warming up (timings, threads, warm-up report)
        self.info: dict[str, Any] = {}
        #: counters: submitted, completed, failed, crashes, retries, timeouts, cancelled, respawns,
        #: recycled; and ``respawn_seconds`` (recent worker-death → replacement-ready times)
        self.stats: dict[str, Any] = {
            "submitted": 0,
            "completed": 0,
            "failed": 0,
            "crashes": 0,
            "retries": 0,
            "timeouts": 0,
            "cancelled": 0,
            "respawns": 0,
            "recycled": 0,
            "respawn_seconds": deque(maxlen=64),
        }

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> RenderPool:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        await self.close(cancel=exc_type is not None)

    async def start(self) -> None:
        """Start the template, warm it up, fork the workers; return when every worker is ready."""
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        cleanup_stale_segments()
        self._flags_block = SharedBlock(max(self.workers, 1))
        self._flags = np.frombuffer(self._flags_block.buf, dtype=np.uint8)
        self._flags[:] = 0
        try:
            self._template_task = self._loop.create_task(self._start_template())
            await self._template_task
            readies = [self._spawn(i) for i in range(self.workers)]
            await asyncio.wait_for(asyncio.gather(*readies), self._start_timeout)
        except BaseException:
            self._closing = True
            await self._shutdown_processes(grace=0.0)
            self._destroy_blocks()
            self._closed = True
            raise
        self._accepting = True

    async def close(self, *, cancel: bool = False) -> None:
        """Stop the pool. By default wait for submitted work; ``cancel=True`` cancels it."""
        if self._closed or not self._started:
            self._closed = True
            return
        self._accepting = False
        if cancel:
            self._cancel_all_jobs("the pool was closed")
        await self.join()
        self._closing = True
        for _, _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(errors.CancelledError("the pool was closed"))
        self._waiters.clear()
        for task in list(self._respawn_tasks):
            task.cancel()
        await self._shutdown_processes(grace=1.0)
        self._destroy_blocks()
        self._closed = True

    async def join(self) -> None:
        """Wait until every submitted task has finished (the pool stays open)."""
        while self._outstanding > 0:
            assert self._loop is not None
            fut: asyncio.Future[None] = self._loop.create_future()
            self._drain_waiters.append(fut)
            await fut

    def _destroy_blocks(self) -> None:
        if self._ring is not None:
            self._ring.destroy()
            self._ring = None
        if self._flags_block is not None:
            self._flags = np.zeros(self.workers, dtype=np.uint8)
            self._flags_block.destroy()
            self._flags_block = None

    @property
    def size(self) -> int:
        """Workers alive and ready (idle or busy) right now."""
        return sum(1 for w in self._slots if w is not None and w.state in ("idle", "busy"))

    def worker_pids(self) -> list[int]:
        """Pids of the workers alive right now, by worker index."""
        return [
            w.pid for w in self._slots if w is not None and w.pid and w.state in ("idle", "busy")
        ]

    @property
    def template_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def queued(self) -> int:
        return self._queued

    # ------------------------------------------------------------------ template process

    def _main_module(self) -> tuple[str | None, str | None]:
        if not self._import_main:
            return None, None
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        if spec is not None and getattr(spec, "name", None):
            return str(spec.name), None
        path = getattr(main, "__file__", None)
        if isinstance(path, str) and os.path.isfile(path):
            return None, os.path.abspath(path)
        return None, None

    async def _start_template(self) -> None:
        assert self._loop is not None and self._flags_block is not None
        main_name, main_path = self._main_module()
        plain = {
            "sys_path": [p if p else os.getcwd() for p in sys.path],
            "import_main": self._import_main,
            "main_name": main_name,
            "main_path": main_path,
            "preload": list(self._preload),
            "flags_name": self._flags_block.name,
            "flags_size": self._flags_block.size,
        }
        hooks = {
            "warm_up": self._warm_up,
            "initializer": self._initializer,
            "initargs": self._initargs,
            "worker_init": self._worker_init,
        }
        blob = pickle.dumps(hooks, protocol=5)  # an unpicklable hook fails here, in the caller
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env.update(_THREAD_ENV)
        env.update(self._env)
        env.pop(_TEMPLATE_ENV, None)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "fastshare._worker", "--fd", str(child.fileno())],
                pass_fds=(child.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        parent.setblocking(False)
        self._ctrl = parent
        self._ctrl_buf = bytearray()
        self._template_ready = self._loop.create_future()
        self._loop.add_reader(parent.fileno(), self._on_ctrl_readable)
        self._ctrl_send((_wire.CONFIG, plain, blob))
        try:
            self.info = await asyncio.wait_for(
                asyncio.shield(self._template_ready), self._start_timeout
            )
        except TimeoutError:
            msg = f"the worker template did not finish warming up within {self._start_timeout} s"
            raise errors.RenderError(msg) from None
        report = self.info.get("warm_up")
        if isinstance(report, dict) and report.get("errors"):
            warnings.warn(
                "the pool's warm-up met errors (workers will meet them again when they render): "
                + "; ".join(map(str, report["errors"])),
                RuntimeWarning,
                stacklevel=3,
            )
        if self.info.get("os_threads") not in (None, 1):
            warnings.warn(
                f"the pool's template process runs {self.info['os_threads']} threads after "
                "warm-up; forking it is unsafe (keep threads out of preload/warm-up code)",
                RuntimeWarning,
                stacklevel=3,
            )

    def _ctrl_send(self, message: Any, fds: tuple[int, ...] = ()) -> None:
        sock = self._ctrl
        if sock is None:
            raise errors.WorkerCrashed("the worker template process is not running")
        data = memoryview(_wire.pack(message))
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        deadline = time.monotonic() + 5.0
        while data:
            try:
                n = sock.sendmsg([data], ancillary)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise errors.WorkerCrashed(
                        "the worker template process stopped reading"
                    ) from None
                select.select([], [sock], [], 0.05)
                continue
            ancillary = []
            data = data[n:]

    def _on_ctrl_readable(self) -> None:
        sock = self._ctrl
        if sock is None:
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._on_template_lost()
            return
        buf = self._ctrl_buf
        buf += data
        header = _wire.HEADER
        while len(buf) >= header.size:
            (size,) = header.unpack_from(buf)
            end = header.size + size
            if len(buf) < end:
                return
            msg = pickle.loads(bytes(buf[header.size : end]))
            del buf[:end]
            self._on_ctrl_message(msg)

    def _on_ctrl_message(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        ready = self._template_ready
        if kind == _wire.READY:
            if ready is not None and not ready.done():
                ready.set_result(dict(msg[1]))
        elif kind == _wire.FAILED:
            info = msg[1]
            exc = _wire.rebuild_error(info, 1, where="the pool's warm-up")
            if ready is not None and not ready.done():
                ready.set_exception(exc)
        elif kind == _wire.EXITED:
            pid, code = int(msg[1]), int(msg[2])
            self._exit_codes[pid] = code
            if len(self._exit_codes) > 4096:
                for old in list(self._exit_codes)[:2048]:
                    del self._exit_codes[old]
            pending = self._lost_pending.pop(pid, None)
            if pending is not None:
                pending[2].cancel()
                self._finish_lost_job(pending[0], pending[1])

    def _close_ctrl(self) -> None:
        sock, self._ctrl = self._ctrl, None
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()

    def _on_template_lost(self) -> None:
        self._close_ctrl()
        ready = self._template_ready
        code = self._proc.poll() if self._proc is not None else None
        if ready is not None and not ready.done():
            if code is None and self._proc is not None:
                try:
                    code = self._proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    code = None
            msg = f"the worker template process {_describe_exit(code)} before it was ready"
            ready.set_exception(errors.WorkerCrashed(msg))
        if self._closing or not self._accepting:
            return
        # the workers die with it (PR_SET_PDEATHSIG); their tasks are retried or failed
        # through the usual worker-lost path, and respawns restart the template first
        if self._template_task is not None and self._template_task.done():
            self._template_task = None

    async def _ensure_template(self) -> None:
        """Wait for a running template, restarting it (once, for every waiter) if it died."""
        assert self._loop is not None
        if self._template_task is None:
            self._template_task = self._loop.create_task(self._restart_template())
        await asyncio.shield(self._template_task)

    async def _restart_template(self) -> None:
        now = time.monotonic()
        self._template_restarts.append(now)
        if len(self._template_restarts) == self._template_restarts.maxlen and (
            now - self._template_restarts[0] < 60.0
        ):
            exc = errors.WorkerCrashed("the worker template process keeps dying")
            self._break(exc)
            raise exc
        if self._proc is not None:
            self._reap_template(kill=True)
        await self._start_template()

    def _reap_template(self, kill: bool) -> None:
        proc = self._proc
        if proc is None:
            return
        if kill and proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    async def _shutdown_processes(self, grace: float) -> None:
        for w in self._slots:
            if w is not None and w.transport is not None:
                w.transport.close()
        proc = self._proc
        if self._ctrl is not None:
            with contextlib.suppress(OSError, errors.WorkerCrashed):
                self._ctrl_send((_wire.EXIT, grace))
        if proc is not None:
            deadline = time.monotonic() + grace + 3.0
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            self._reap_template(kill=True)
        self._close_ctrl()
        for pending in self._lost_pending.values():
            pending[2].cancel()
        for w, job, _ in list(self._lost_pending.values()):
            self._finish_lost_job(w, job)
        self._lost_pending.clear()

    def _break(self, exc: BaseException) -> None:
        """The pool cannot run tasks any more: fail everything queued and refuse new work."""
        if self._broken is None:
            self._broken = exc
        self._accepting = False
        for heap in (self._heap, self._pixel_heap):
            for _, _, job in heap:
                if job.state == "queued":
                    self._fail(job, exc)
            heap.clear()

    # ------------------------------------------------------------------ workers

    async def _spawn(self, index: int) -> None:
        assert self._loop is not None
        ready: asyncio.Future[None] = self._loop.create_future()
        w = _WorkerSlot(index, next(self._generation), ready)
        old = self._slots[index]
        if old is not None and old.lost_at is not None:
            w.lost_at = old.lost_at
        self._slots[index] = w
        await self._ensure_template()
        parent, child = socket.socketpair()
        try:
            await self._loop.create_unix_connection(lambda: _WorkerProtocol(self, w), sock=parent)
            w.spawn_t0 = time.monotonic()
            self._ctrl_send((_wire.FORK, index), (child.fileno(),))
        finally:
            child.close()
        await ready

    def _respawn(self, index: int, delay: float = 0.0) -> None:
        if self._closing or self._broken is not None or self._loop is None:
            return

        async def run() -> None:
            if delay:
                await asyncio.sleep(delay)
            if self._closing:
                return
            try:
                await self._spawn(index)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._spawn_failure(index, exc)

        task = self._loop.create_task(run())
        self._respawn_tasks.add(task)
        task.add_done_callback(self._respawn_tasks.discard)

    def _spawn_failure(self, index: int, exc: BaseException) -> None:
        self._spawn_failures += 1
        if self._spawn_failures >= 5:
            msg = f"workers keep failing to start: {exc}"
            self._break(errors.WorkerCrashed(msg))
            return
        self._respawn(index, delay=min(2.0, 0.05 * 2**self._spawn_failures))

    def _on_worker_message(self, w: _WorkerSlot, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind in (_wire.OK, _wire.FRAME, _wire.ERR):
            self._on_reply(w, msg)
        elif kind == _wire.HELLO:
            w.pid = int(msg[1])
            w.state = "idle"
            now = time.monotonic()
            if w.lost_at is not None:
                self.stats["respawn_seconds"].append(now - w.lost_at)
                self.stats["respawns"] += 1
            self._spawn_failures = 0
            if not w.ready.done():
                w.ready.set_result(None)
            if self._closing:
                if w.transport is not None:
                    w.transport.close()
                return
            self._idle.append(w)
            self._pump()
        elif kind == _wire.FAILED:
            exc = _wire.rebuild_error(msg[1], 1, where="the pool's worker_init")
            if not w.ready.done():
                w.ready.set_exception(exc)

    def _kill(self, w: _WorkerSlot) -> None:
        if w.state in ("idle", "busy"):
            w.state = "dying"  # no longer counted in `size`, never handed work again
            with contextlib.suppress(ValueError):
                self._idle.remove(w)
        if w.pid and w.pid not in self._exit_codes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGKILL)

    def _on_worker_lost(self, w: _WorkerSlot) -> None:
        if w.state == "dead":
            return
        previous = w.state
        w.state = "dead"
        w.lost_at = time.monotonic()
        with contextlib.suppress(ValueError):
            self._idle.remove(w)
        self._kill(w)
        job, w.job = w.job, None
        if previous == "starting" and not w.ready.done():
            code = self._exit_codes.get(w.pid) if w.pid else None
            msg = f"a new worker {_describe_exit(code)} before it was ready"
            w.ready.set_exception(errors.WorkerCrashed(msg))
        if job is not None:
            self._job_left_worker(job)
            if w.pid and w.pid not in self._exit_codes and not self._closing and self._loop:
                timer = self._loop.call_later(0.5, self._lost_timeout, w.pid)
                self._lost_pending[w.pid] = (w, job, timer)
            else:
                self._finish_lost_job(w, job)
        if self._closing:
            return
        if previous == "retiring":
            self.stats["recycled"] += 1
            self._respawn(w.index)
        elif previous == "starting":
            if self._slots[w.index] is w:
                self._spawn_failure(w.index, errors.WorkerCrashed("worker died while starting"))
        else:
            self._respawn(w.index)

    def _lost_timeout(self, pid: int) -> None:
        pending = self._lost_pending.pop(pid, None)
        if pending is not None:
            self._finish_lost_job(pending[0], pending[1])

    def _finish_lost_job(self, w: _WorkerSlot, job: _Job) -> None:
        if job.cancel_requested and job.state != "done":
            self._cancelled(job, "the task was cancelled")
            return
        if job.state == "done" or job.future.done():
            self._settle(job)
            return
        if job.cancel_requested:
            self._cancelled(job, "the task was cancelled")
            return
        code = self._exit_codes.get(w.pid)
        self.stats["crashes"] += 1
        job.crashes += 1
        if (
            not self._closing
            and self._broken is None
            and job.crashes <= job.retries
            and job.crashes < self.poison_threshold
        ):
            self.stats["retries"] += 1
            self._requeue(job)
            return
        why = (
            f"; it has killed {job.crashes} workers and is not retried again"
            if job.crashes >= self.poison_threshold and job.retries >= job.crashes
            else ""
        )
        msg = (
            f"worker pid {w.pid} {_describe_exit(code)} while running {job.label} "
            f"(attempt {job.attempt}){why}"
        )
        exc = errors.WorkerCrashed(msg)
        exc.attempt = job.attempt  # type: ignore[attr-defined]
        exc.exit_code = code  # type: ignore[attr-defined]
        exc.worker_pid = w.pid  # type: ignore[attr-defined]
        self._fail(job, exc)

    # ------------------------------------------------------------------ queue and dispatch

    def _push(self, job: _Job) -> None:
        job.state = "queued"
        self._queued += 1
        heapq.heappush(self._pixel_heap if job.pixels else self._heap, (job.key, job.seq, job))

    def _requeue(self, job: _Job) -> None:
        job.worker = None
        self._push(job)
        self._pump()

    def _head(self, heap: list[tuple[float, int, _Job]]) -> _Job | None:
        while heap and heap[0][2].state != "queued":
            heapq.heappop(heap)
        return heap[0][2] if heap else None

    def _pop_ready(self) -> _Job | None:
        plain = self._head(self._heap)
        pixel = self._head(self._pixel_heap)
        if pixel is not None:
            ring = self._frame_ring()
            if ring.free_count == 0:
                pixel = None
        if plain is None and pixel is None:
            return None
        if pixel is None or (plain is not None and (plain.key, plain.seq) < (pixel.key, pixel.seq)):
            heapq.heappop(self._heap)
            assert plain is not None
            return plain
        heapq.heappop(self._pixel_heap)
        return pixel

    def _frame_ring(self) -> FrameRing:
        if self._ring is None:
            self._ring = FrameRing(self._frame_slots, self._slot_bytes)
        return self._ring

    def _pump(self) -> None:
        idle = self._idle
        while idle:
            job = self._pop_ready()
            if job is None:
                break
            self._dispatch(idle.popleft(), job)
        self._admit()

    def _admit(self) -> None:
        waiters = self._waiters
        while waiters and (self.queue_size == 0 or self._queued < self.queue_size):
            _, _, fut = heapq.heappop(waiters)
            if not fut.done():
                fut.set_result(None)
                return  # the admitted submitter pushes its job; it admits the next one

    def _dispatch(self, w: _WorkerSlot, job: _Job) -> None:
        assert self._loop is not None and w.transport is not None
        self._queued -= 1
        if job.queue_timer is not None:
            job.queue_timer.cancel()
            job.queue_timer = None
        job.state = "running"
        job.worker = w
        job.attempt += 1
        job.worker_pid = w.pid
        w.job = job
        w.state = "busy"
        slot_spec = None
        if job.pixels:
            ring = self._frame_ring()
            slot = ring.acquire()
            assert slot is not None
            job.slot = slot
            slot_spec = (ring.name, ring.block.size, slot, ring.slot_bytes)
        self._flags[w.index] = 0
        if job.tag is not None:
            self._tags[job.tag] = self._tags.get(job.tag, 0) + 1
        w.transport.write(_wire.pack((_wire.TASK, job.id, job.attempt, slot_spec, job.payload)))
        job.t_dispatch = time.monotonic()
        if job.timeout is not None:
            job.run_timer = self._loop.call_later(job.timeout, self._on_run_timeout, job, w)

    def _job_left_worker(self, job: _Job) -> None:
        """Bookkeeping when a job stops occupying a worker (reply, death or kill)."""
        if job.run_timer is not None:
            job.run_timer.cancel()
            job.run_timer = None
        if job.slot is not None and self._ring is not None:
            self._ring.release(job.slot)
        job.slot = None
        job.worker = None
        tag = job.tag
        if tag is not None and tag in self._tags:
            self._tags[tag] -= 1
            if self._tags[tag] <= 0:
                del self._tags[tag]
                for fut in self._tag_waiters.pop(tag, ()):
                    if not fut.done():
                        fut.set_result(None)

    def _on_reply(self, w: _WorkerSlot, msg: tuple[Any, ...]) -> None:
        kind, task_id, body, t_start, t_end, phases, rss = msg
        job = w.job
        if job is None or job.id != task_id:
            self._kill(w)  # out of step: never trust this worker again
            return
        t_reply = time.monotonic()
        w.job = None
        w.tasks += 1
        w.rss = int(rss)
        slot = job.slot
        job.slot = None  # a FRAME reply hands the slot to the Frame below
        self._job_left_worker(job)
        job.t_start, job.t_end, job.t_reply, job.phases = t_start, t_end, t_reply, phases
        if job.state == "done" or job.future.done() or job.cancel_requested:
            if slot is not None and self._ring is not None:
                self._ring.release(slot)
            if job.cancel_requested:
                self._cancelled(job, "the task was cancelled")
            else:
                self._settle(job)
        elif kind == _wire.ERR:
            if slot is not None and self._ring is not None:
                self._ring.release(slot)
            exc = _wire.rebuild_error(body, job.attempt, where=job.label)
            if (
                job.retry_errors
                and job.attempt <= job.retries
                and not isinstance(exc, errors.ClientError)
                and not self._closing
            ):
                self.stats["retries"] += 1
                self._push(job)
            else:
                self._fail(job, exc)
        elif kind == _wire.FRAME:
            shape, dtype = body
            ring = self._ring
            assert ring is not None and slot is not None
            self._succeed(
                job, Frame(ring.view(slot, tuple(shape), dtype), self._slot_releaser(slot))
            )
        else:
            if slot is not None and self._ring is not None:
                self._ring.release(slot)
            try:
                value = pickle.loads(body)
            except Exception as exc:
                msg_text = f"the result of {job.label} could not be unpickled: {exc!r}"
                err = errors.RenderError(
                    msg_text, type_name=type(exc).__name__, traceback_text="", attempt=job.attempt
                )
                self._fail(job, err)
            else:
                if job.pixels and isinstance(value, np.ndarray):
                    value = Frame(value)
                self._succeed(job, value)
        # recycle or put the worker back to work
        if w.state == "dying":
            return
        if self._closing:
            if w.transport is not None:
                w.transport.close()
            return
        if (self.max_tasks_per_worker is not None and w.tasks >= self.max_tasks_per_worker) or (
            self.max_rss_bytes is not None and w.rss > self.max_rss_bytes
        ):
            w.state = "retiring"
            w.lost_at = time.monotonic()
            assert w.transport is not None
            w.transport.write(_wire.pack((_wire.EXIT,)))
            w.transport.close()
            self._pump()
            return
        w.state = "idle"
        self._idle.append(w)
        self._pump()

    def _slot_releaser(self, slot: int) -> Callable[[], None]:
        loop = self._loop
        assert loop is not None
        ref = weakref.ref(self)
        ring = self._ring

        def release_on_loop() -> None:
            pool = ref()
            if pool is not None and pool._ring is ring and ring is not None:
                ring.release(slot)
                pool._pump()

        def release() -> None:
            if loop.is_closed():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                release_on_loop()
            else:
                try:
                    loop.call_soon_threadsafe(release_on_loop)
                except RuntimeError:
                    return  # the loop closed meanwhile: the ring is gone with it

        return release

    def _on_run_timeout(self, job: _Job, w: _WorkerSlot) -> None:
        job.run_timer = None
        if w.job is not job:
            return
        self.stats["timeouts"] += 1
        self._flags[w.index] = 1
        self._kill(w)
        exc = errors.TaskTimeout(
            f"{job.label} ran past its {job.timeout} s timeout (attempt {job.attempt}); "
            f"worker pid {w.pid} was killed and is replaced"
        )
        exc.attempt = job.attempt  # type: ignore[attr-defined]
        self._fail(job, exc)

    def _on_queue_timeout(self, job: _Job, seconds: float) -> None:
        job.queue_timer = None
        if job.state != "queued":
            return
        self.stats["timeouts"] += 1
        self._fail(
            job, errors.TaskTimeout(f"{job.label} waited more than {seconds} s for a worker")
        )
        self._admit()

    # ------------------------------------------------------------------ outcomes

    def _settle(self, job: _Job) -> None:
        if job.state != "done":
            job.state = "done"
            self._outstanding -= 1
            if self._outstanding == 0:
                for fut in self._drain_waiters:
                    if not fut.done():
                        fut.set_result(None)
                self._drain_waiters.clear()

    def _succeed(self, job: _Job, value: Any) -> None:
        self._settle(job)
        self.stats["completed"] += 1
        if not job.future.done():
            job.future.set_result(value)
        elif isinstance(value, Frame):
            value.release()

    def _fail(self, job: _Job, exc: BaseException) -> None:
        if job.state == "queued":
            self._queued -= 1
        self._settle(job)
        self.stats["failed"] += 1
        if not job.future.done():
            job.future.set_exception(exc)

    def _cancelled(self, job: _Job, reason: str) -> None:
        if job.state == "queued":
            self._queued -= 1
        self._settle(job)
        self.stats["cancelled"] += 1
        if not job.future.done():
            job.future.set_exception(errors.CancelledError(reason))

    def _on_future_done(self, job: _Job, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() and job.state != "done":
            self._cancel_job(job)

    def _cancel_job(self, job: _Job, reason: str = "the task was cancelled") -> None:
        if job.state == "queued":
            if job.queue_timer is not None:
                job.queue_timer.cancel()
            self._cancelled(job, reason)
            self._admit()
        elif job.state == "running" and job.worker is not None and not job.cancel_requested:
            w = job.worker
            job.cancel_requested = True
            self._flags[w.index] = 1
            assert self._loop is not None
            self._loop.call_later(self.cancel_grace, self._cancel_deadline, job, w)

    def _cancel_deadline(self, job: _Job, w: _WorkerSlot) -> None:
        if w.job is job:
            self._kill(w)

    def _cancel_all_jobs(self, reason: str) -> None:
        for heap in (self._heap, self._pixel_heap):
            for _, _, job in list(heap):
                if job.state == "queued":
                    self._cancel_job(job, reason)
            heap.clear()
        for w in self._slots:
            if w is not None and w.job is not None:
                self._cancel_job(w.job, reason)

    async def cancel_tag(self, tag: str, *, wait: bool = True) -> None:
        """Cancel every queued or running task submitted with ``tag``.

        With ``wait``, return only when none of them occupies a worker any more (each one has
        answered or its worker was killed), so files they were writing are no longer in use.
        """
        for heap in (self._heap, self._pixel_heap):
            for _, _, job in list(heap):
                if job.state == "queued" and job.tag == tag:
                    self._cancel_job(job)
        for w in self._slots:
            if w is not None and w.job is not None and w.job.tag == tag:
                self._cancel_job(w.job)
        if wait and self._tags.get(tag, 0) > 0:
            assert self._loop is not None
            fut: asyncio.Future[None] = self._loop.create_future()
            self._tag_waiters.setdefault(tag, []).append(fut)
            await fut

    # ------------------------------------------------------------------ submitting

    async def _enqueue(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any] | None,
        *,
        priority: float,
        timeout: float | None,
        queue_timeout: float | None,
        retries: int,
        retry_errors: bool,
        block: bool,
        pixels: bool,
        tag: str | None,
    ) -> _Job:
        if self._broken is not None:
            raise self._broken
        if not self._accepting:
            if not self._started:
                msg = "the pool is not started: use `async with RenderPool(...)` or `await start()`"
                raise RuntimeError(msg)
            raise errors.CancelledError("the pool is closed")
        _check_positive("timeout", timeout)
        _check_positive("queue_timeout", queue_timeout)
        if retries < 0:
            raise errors.ValueRangeError("must be >= 0", field="retries", value=retries)
        payload = pickle.dumps((fn, args, dict(kwargs) if kwargs else {}), protocol=5)
        loop = self._loop
        assert loop is not None
        job = _Job()
        job.t_submit = time.monotonic()
        job.key = job.t_submit - float(priority) * self.aging
        job.seq = next(self._seq)
        if self.queue_size and (self._queued >= self.queue_size or self._waiters):
            if not block:
                msg = f"the pool's queue is full ({self.queue_size} tasks waiting)"
                raise PoolFullError(msg, field="queue_size", value=self.queue_size)
            waiter: asyncio.Future[None] = loop.create_future()
            heapq.heappush(self._waiters, (job.key, job.seq, waiter))
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._admit()  # pass the admission on
                raise
            if not self._accepting:
                raise errors.CancelledError("the pool is closed")
        job.id = next(self._ids)
        job.payload = payload
        job.label = _label(fn)
        job.priority = priority
        job.timeout = timeout
        job.retries = retries
        job.retry_errors = retry_errors
        job.pixels = pixels
        job.tag = tag
        job.future = loop.create_future()
        job.future.add_done_callback(lambda fut: self._on_future_done(job, fut))
        self._outstanding += 1
        self.stats["submitted"] += 1
        self._push(job)
        if queue_timeout is not None:
            job.queue_timer = loop.call_later(
                queue_timeout, self._on_queue_timeout, job, queue_timeout
            )
        self._pump()
        self._admit()
        return job

    def _result(self, job: _Job, value: Any) -> TaskResult[Any]:
        timings = Timings(
            queue_wait=max(0.0, job.t_dispatch - job.t_submit),
            send=max(0.0, job.t_start - job.t_dispatch),
            run=max(0.0, job.t_end - job.t_start),
            transfer=max(0.0, job.t_reply - job.t_end),
            total=max(0.0, job.t_reply - job.t_submit),
            phases=dict(job.phases),
        )
        return TaskResult(value, timings, job.attempt, job.worker_pid)

    async def submit(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        priority: float = 0,
        timeout: float | None = None,
        queue_timeout: float | None = None,
        retries: int = 0,
        retry_errors: bool = False,
        block: bool = True,
        pixels: bool = False,
        tag: str | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` in a worker and return its result.

        ``priority``: higher runs sooner (see :data:`PRIORITY_INTERACTIVE`). ``timeout``: seconds
        the call may run before its worker is killed (:class:`~fastshare.errors.TaskTimeout`).
        ``queue_timeout``: seconds it may wait for a worker. ``retries``: how many times a worker
        crash is retried (``retry_errors`` also retries exceptions other than client errors).
        ``block=False``: raise :class:`PoolFullError` instead of waiting for queue room.
        ``pixels=True``: ``fn`` returns an H×W×3 array (or PIL image) and the caller gets a
        :class:`Frame` in shared memory. ``tag``: a label for :meth:`cancel_tag`.
        Cancelling the awaiting task cancels the pool task.
        """
        job = await self._enqueue(
            fn,
            args,
            kwargs,
            priority=priority,
            timeout=timeout,
            queue_timeout=queue_timeout,
            retries=retries,
            retry_errors=retry_errors,
            block=block,
            pixels=pixels,
            tag=tag,
        )
        return await job.future

    async def submit_detailed(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        priority: float = 0,
        timeout: float | None = None,
        queue_timeout: float | None = None,
        retries: int = 0,
        retry_errors: bool = False,
        block: bool = True,
        pixels: bool = False,
        tag: str | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> TaskResult[Any]:
        """Like :meth:`submit`, returning a :class:`TaskResult` (value, timings, attempt, pid)."""
        job = await self._enqueue(
            fn,
            args,
            kwargs,
            priority=priority,
            timeout=timeout,
            queue_timeout=queue_timeout,
            retries=retries,
            retry_errors=retry_errors,
            block=block,
            pixels=pixels,
            tag=tag,
        )
        value = await job.future
        return self._result(job, value)

    def create_task(
        self, fn: Callable[..., Any], /, *args: Any, **options: Any
    ) -> asyncio.Task[Any]:
        """Schedule :meth:`submit` as an asyncio task (aiomisc's ``create_task``)."""
        return asyncio.ensure_future(self.submit(fn, *args, **options))

    # ------------------------------------------------------------------ map family

    def _window(self, window: int | None) -> int:
        if window is None:
            return max(4, 4 * self.workers)
        if window < 1:
            raise errors.ValueRangeError("must be >= 1", field="window", value=window)
        return window

    async def _submit_item(
        self, fn: Callable[..., Any], item: Any, star: bool, options: dict[str, Any]
    ) -> _Job:
        args = tuple(item) if star and isinstance(item, tuple) else (item,)
        return await self._enqueue(
            fn,
            args,
            None,
            priority=options.get("priority", 0),
            timeout=options.get("timeout"),
            queue_timeout=options.get("queue_timeout"),
            retries=options.get("retries", 0),
            retry_errors=options.get("retry_errors", False),
            block=True,
            pixels=options.get("pixels", False),
            tag=options.get("tag"),
        )

    def _cancel_jobs(self, jobs: Iterable[_Job]) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.cancel()
            elif not job.future.cancelled():
                job.future.exception()  # retrieved: a later failure is not an unhandled one

    async def _imap(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None,
        return_exceptions: bool,
        star: bool,
        options: dict[str, Any],
    ) -> AsyncIterator[Any]:
        size = self._window(window)
        pending: deque[_Job] = deque()
        it = iter(iterable)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < size:
                    try:
                        item = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append(await self._submit_item(fn, item, star, options))
                if not pending:
                    return
                job = pending.popleft()
                try:
                    value = await job.future
                except errors.FastshareError as exc:
                    if not return_exceptions:
                        raise
                    value = exc
                yield value
        finally:
            self._cancel_jobs(pending)

    async def _imap_unordered(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None,
        return_exceptions: bool,
        star: bool,
        options: dict[str, Any],
    ) -> AsyncIterator[Any]:
        assert self._loop is not None
        size = self._window(window)
        pending: set[_Job] = set()
        done: deque[_Job] = deque()
        wake: list[asyncio.Future[None]] = []
        it = iter(iterable)
        exhausted = False

        def on_done(job: _Job, _fut: asyncio.Future[Any]) -> None:
            done.append(job)
            if wake and not wake[0].done():
                wake[0].set_result(None)

        try:
            while True:
                while not exhausted and len(pending) + len(done) < size:
                    try:
                        item = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    job = await self._submit_item(fn, item, star, options)
                    pending.add(job)
                    job.future.add_done_callback(functools.partial(on_done, job))
                if not done:
                    if not pending:
                        return
                    wake[:] = [self._loop.create_future()]
                    await wake[0]
                    continue
                job = done.popleft()
                pending.discard(job)
                try:
                    value = job.future.result()
                except errors.FastshareError as exc:
                    if not return_exceptions:
                        raise
                    value = exc
                yield value
        finally:
            self._cancel_jobs(pending)

    def imap(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None = None,
        return_exceptions: bool = False,
        **options: Any,
    ) -> AsyncIterator[Any]:
        """Results in input order, as an async iterator; at most ``window`` tasks in flight.

        ``options`` are :meth:`submit`'s (priority, timeout, retries, pixels, tag, ...). With
        ``return_exceptions`` a failed task yields its exception; otherwise the first failure is
        raised and the remaining tasks are cancelled.
        """
        return self._imap(
            fn,
            iterable,
            window=window,
            return_exceptions=return_exceptions,
            star=False,
            options=options,
        )

    def imap_unordered(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None = None,
        return_exceptions: bool = False,
        **options: Any,
    ) -> AsyncIterator[Any]:
        """Results as they complete, as an async iterator (see :meth:`imap`)."""
        return self._imap_unordered(
            fn,
            iterable,
            window=window,
            return_exceptions=return_exceptions,
            star=False,
            options=options,
        )

    unordered_imap = imap_unordered

    async def map(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None = None,
        return_exceptions: bool = False,
        **options: Any,
    ) -> list[Any]:
        """All results, in input order (see :meth:`imap`)."""
        return [
            v
            async for v in self.imap(
                fn, iterable, window=window, return_exceptions=return_exceptions, **options
            )
        ]

    async def unordered_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> list[Any]:
        """All results, in completion order."""
        return [v async for v in self.imap_unordered(fn, iterable, **options)]

    async def starmap(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> list[Any]:
        """``map`` calling ``fn(*item)`` for tuple items."""
        return await self.star().map(fn, iterable, **options)

    def async_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> MapHandle:
        """Start a ``map`` and return at once with a handle (``ready``/``wait``/``get``)."""
        return MapHandle(asyncio.ensure_future(self.map(fn, iterable, **options)))

    def star(self) -> _StarView:
        """A view whose verbs call ``fn(*item)`` for tuple items (suitkaise's ``star()``)."""
        return _StarView(self)

    # ------------------------------------------------------------------ generators

    async def render(
        self,
        generator: Any,
        target: Any,
        *,
        format: str = "png",
        encode_options: Mapping[str, Any] | None = None,
        pixels: bool = False,
        **options: Any,
    ) -> Any:
        """Run a :class:`~fastshare.pipeline.ShareImageGenerator` for one target in a worker.

        Returns the encoded bytes, or a :class:`Frame` with ``pixels=True``. ``options`` are
        :meth:`submit`'s. ``prepare_process`` runs once per worker for a given generator object.
        """
        from fastshare.pipeline import _generator_token, render_in_worker

        token, blob = _generator_token(generator)
        return await self.submit(
            render_in_worker,
            token,
            blob,
            target,
            None if pixels else format,
            dict(encode_options or {}),
            None,
            None,
            pixels=pixels,
            **options,
        )


class _StarView:
    """``pool.star()``: the map family, unpacking tuple items into arguments."""

    def __init__(self, pool: RenderPool) -> None:
        self._pool = pool

    def imap(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None = None,
        return_exceptions: bool = False,
        **options: Any,
    ) -> AsyncIterator[Any]:
        return self._pool._imap(
            fn,
            iterable,
            window=window,
            return_exceptions=return_exceptions,
            star=True,
            options=options,
        )

    def imap_unordered(
        self,
        fn: Callable[..., Any],
        iterable: Iterable[Any],
        *,
        window: int | None = None,
        return_exceptions: bool = False,
        **options: Any,
    ) -> AsyncIterator[Any]:
        return self._pool._imap_unordered(
            fn,
            iterable,
            window=window,
            return_exceptions=return_exceptions,
            star=True,
            options=options,
        )

    unordered_imap = imap_unordered

    async def map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> list[Any]:
        return [v async for v in self.imap(fn, iterable, **options)]

    async def unordered_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> list[Any]:
        return [v async for v in self.imap_unordered(fn, iterable, **options)]

    def async_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> MapHandle:
        return MapHandle(asyncio.ensure_future(self.map(fn, iterable, **options)))


class MapHandle:
    """What ``async_map`` returns: ``ready()``, ``await wait(timeout)``, ``await get(timeout)``."""

    def __init__(self, task: asyncio.Future[list[Any]]) -> None:
        self._task = task

    def ready(self) -> bool:
        return self._task.done()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the results are ready or ``timeout`` passes; return ``ready()``."""
        await asyncio.wait([self._task], timeout=timeout)
        return self._task.done()

    async def get(self, timeout: float | None = None) -> list[Any]:
        """The results; raises ``TimeoutError`` if they are not ready within ``timeout``."""
        if not await self.wait(timeout):
            msg = f"the results were not ready within {timeout} s"
            raise TimeoutError(msg)
        return self._task.result()

    def cancel(self) -> None:
        self._task.cancel()

    def __await__(self) -> Any:
        return self._task.__await__()
