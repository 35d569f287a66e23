"""What code inside a pool task can see: its attempt, its exit flag, phase timers, a frame buffer.

A worker runs one task at a time on one thread, so the current task is a module global set by the
worker loop around each call (and by in-process runs such as the benchmark's baseline). Outside a
task every helper still works: :func:`task_phase` records nothing, :func:`exit_requested` returns
a flag that is never set, :func:`frame_buffer` allocates.

The exit flag is one byte in a shared-memory block owned by the orchestrator (one byte per worker).
The orchestrator sets it when the task is cancelled or the pipeline bounces; Python code polls
:meth:`ExitFlag.is_set`, and numba kernels can read :attr:`ExitFlag.array` (a 1-element ``uint8``
array) between row bands, which no signal could interrupt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = [
    "ExitFlag",
    "TaskContext",
    "current_task",
    "exit_requested",
    "frame_buffer",
    "record_phase",
    "task_phase",
]


class ExitFlag:
    """A ``multiprocessing.Event``-like flag backed by one shared byte.

    ``is_set()`` and ``wait(timeout)`` as in ``threading.Event``; ``set()`` works locally (a
    generator may request its own exit); ``array`` is the byte as a 1-element ``uint8`` array.
    """

    __slots__ = ("_array",)

    def __init__(self, array: np.ndarray[Any, Any] | None = None) -> None:
        if array is None:
            array = np.zeros(1, dtype=np.uint8)
        if array.dtype != np.uint8 or array.shape != (1,):
            msg = f"an exit flag is a 1-element uint8 array, got {array.dtype} {array.shape}"
            raise ValueError(msg)
        self._array = array

    @property
    def array(self) -> np.ndarray[Any, Any]:
        """The shared byte: non-zero once an exit is requested (for numba kernels)."""
        return self._array

    def is_set(self) -> bool:
        return bool(self._array[0])

    def set(self) -> None:
        self._array[0] = 1

    def clear(self) -> None:
        self._array[0] = 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set or ``timeout`` seconds pass; return whether it is set."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    def __repr__(self) -> str:
        return f"ExitFlag(set={self.is_set()})"


class TaskContext:
    """The task a worker is running now."""

    __slots__ = ("attempt", "exit_flag", "frame_slot", "phases", "task_id")

    def __init__(
        self,
        task_id: int,
        attempt: int,
        exit_flag: ExitFlag,
        frame_slot: np.ndarray[Any, Any] | None = None,
    ) -> None:
        self.task_id = task_id
        #: 1 for the first run, 2 for the first retry, ...
        self.attempt = attempt
        self.exit_flag = exit_flag
        #: the bytes of the shared-memory slot assigned to this task (``uint8``, 1-D), if any
        self.frame_slot = frame_slot
        #: seconds spent per named phase (``layout``, ``paint``, ``encode``, ``write``, ...)
        self.phases: dict[str, float] = {}


_current: TaskContext | None = None
_NEVER = ExitFlag()


def set_current(ctx: TaskContext | None) -> None:
    """Install ``ctx`` as the running task (worker loop and in-process runners only)."""
    global _current
    _current = ctx


def current_task() -> TaskContext | None:
    """The task running in this process, or ``None`` outside a pool task."""
    return _current


def exit_requested() -> ExitFlag:
    """The running task's exit flag (a flag that is never set outside a task)."""
    ctx = _current
    return ctx.exit_flag if ctx is not None else _NEVER


def record_phase(name: str, seconds: float) -> None:
    """Add ``seconds`` to the running task's phase ``name`` (no-op outside a task)."""
    ctx = _current
    if ctx is not None:
        ctx.phases[name] = ctx.phases.get(name, 0.0) + seconds


@contextmanager
def task_phase(name: str) -> Iterator[None]:
    """Time the ``with`` body as phase ``name`` of the running task (``layout``, ``paint``, ...)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        record_phase(name, time.perf_counter() - start)


def frame_buffer(height: int, width: int, channels: int = 3) -> np.ndarray[Any, Any]:
    """An H×W×C ``uint8`` frame to paint into.

    Inside a task that returns pixels through shared memory, this is a view of the task's slot,
    so returning it costs no copy; otherwise (or if it does not fit) a new array.
    """
    if height <= 0 or width <= 0 or channels <= 0:
        msg = f"frame size must be positive, got {height}x{width}x{channels}"
        raise ValueError(msg)
    size = height * width * channels
    ctx = _current
    if ctx is not None and ctx.frame_slot is not None and ctx.frame_slot.size >= size:
        return ctx.frame_slot[:size].reshape(height, width, channels)
    return np.empty((height, width, channels), dtype=np.uint8)
