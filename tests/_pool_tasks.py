"""Task functions the pool tests send to worker processes (importable by reference)."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastshare.errors import DataError
from fastshare.pool import current_task, exit_requested, task_phase


def add(a: int, b: int = 0) -> int:
    return a + b


def echo(x: Any) -> Any:
    return x


def worker_pid(_: Any = None) -> int:
    return os.getpid()


def sleep_return(x: Any, seconds: float) -> Any:
    time.sleep(seconds)
    return x


def timestamped(label: Any, seconds: float) -> tuple[Any, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return label, start


def gate(started: str, release: str, label: Any = None, limit: float = 30.0) -> tuple[Any, float]:
    """Say we started (create ``started``), then wait until ``release`` exists."""
    start = time.monotonic()
    Path(started).write_text(str(os.getpid()))
    deadline = start + limit
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.002)
    return label, start


def phases() -> str:
    with task_phase("layout"):
        time.sleep(0.001)
    with task_phase("paint"):
        time.sleep(0.002)
    return "ok"


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def raise_data_error() -> None:
    raise DataError("is required", field="title", value=None)


class TwoArgError(Exception):
    """Pickles, but fails to unpickle (its __init__ needs two arguments)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}/{b}")


class BrokenStrError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def raise_unpicklable() -> None:
    raise TwoArgError(1, 2)


def raise_broken_str() -> None:
    raise BrokenStrError()


def return_unpicklable() -> Any:
    return threading.Lock()


def exit_in_task() -> None:
    raise SystemExit(0)


def segfault() -> None:
    ctypes.string_at(0)


def self_kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_on_first_attempt(x: Any) -> tuple[Any, int]:
    ctx = current_task()
    assert ctx is not None
    if ctx.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x, ctx.attempt


def pid_file_then_sleep(path: str, seconds: float) -> int:
    """Write our pid to ``path`` (for the test to kill us), sleep, return the attempt number."""
    ctx = current_task()
    assert ctx is not None
    tmp = path + ".tmp"
    Path(tmp).write_text(f"{os.getpid()} {ctx.attempt}")
    os.replace(tmp, path)
    time.sleep(seconds)
    return ctx.attempt


def cooperative(limit: float = 30.0) -> str:
    flag = exit_requested()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if flag.is_set():
            return "stopped"
        time.sleep(0.002)
    return "timed out"


def frame_of(value: int, height: int, width: int) -> np.ndarray[Any, Any]:
    return np.full((height, width, 3), value, dtype=np.uint8)


def fail_warm_up() -> None:
    raise RuntimeError("warm-up broke on purpose")


def fail_worker_init() -> None:
    raise RuntimeError("worker_init broke on purpose")


def start_thread_warm_up() -> None:
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
