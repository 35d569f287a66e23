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
from fastshare.pool._demo import DemoGenerator


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


# --------------------------------------------------------------------------- generators

_PREPARED = 0


class TargetAwareGenerator:
    """Paints a different card per target name (og and facebook share a size)."""

    def get_configuration(self) -> dict[str, Any]:
        return {"kind": "target-aware"}

    def generate(self, width: int, height: int, exit_requested: Any, target: Any) -> Any:
        from fastshare.pool._demo import demo_card

        return demo_card(width, height, variant=sum(map(ord, target.name)))


class CountingGenerator:
    """Writes how many times prepare_process ran in this worker into pixel (0, 0)."""

    def get_configuration(self) -> dict[str, Any]:
        return {"kind": "counting"}

    def prepare_process(self, exit_requested: Any) -> None:
        global _PREPARED
        _PREPARED += 1

    def generate(self, width: int, height: int, exit_requested: Any) -> Any:
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[0, 0, 0] = _PREPARED
        return frame


class AsyncHooksGenerator:
    """Async orchestrator hooks; returns a PIL image from generate."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.result: Any = None

    async def get_configuration(self) -> dict[str, Any]:
        self.events.append("configuration")
        return {"kind": "async"}

    async def prepare(self) -> None:
        self.events.append("prepare")

    def generate(self, width: int, height: int, exit_requested: Any) -> Any:
        from PIL import Image

        return Image.new("RGBA", (width, height), (10, 20, 30, 255))

    async def finish(self, result: Any) -> None:
        self.events.append("finish")
        self.result = result


class WrongShapeGenerator:
    def get_configuration(self) -> dict[str, Any]:
        return {"kind": "wrong"}

    def generate(self, width: int, height: int, exit_requested: Any) -> Any:
        return np.zeros((height, width + 1, 3), dtype=np.uint8)


class FailingGenerator:
    """Fails on one target, after the others had time to be staged."""

    def __init__(self, bad: tuple[int, int]) -> None:
        self.bad = bad

    def get_configuration(self) -> dict[str, Any]:
        return {"kind": "failing", "bad": list(self.bad)}

    def generate(self, width: int, height: int, exit_requested: Any) -> Any:
        if (width, height) == self.bad:
            time.sleep(0.2)
            raise RuntimeError("this target cannot be drawn")
        return np.zeros((height, width, 3), dtype=np.uint8)


class StubbornGenerator:
    """Ignores its exit flag: only a kill stops it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_configuration(self) -> dict[str, Any]:
        return {"kind": "stubborn"}

    def generate(self, width: int, height: int, exit_requested: Any) -> Any:
        time.sleep(self.seconds)
        return np.zeros((height, width, 3), dtype=np.uint8)


def frame_for_target(value: int, target: Any) -> Any:
    return np.full((target.pixel_height, target.pixel_width, 3), value, dtype=np.uint8)


class RecordingDemo(DemoGenerator):
    """The demo generator, remembering what ``finish`` received."""

    finished: Any = None

    def finish(self, result: Any) -> None:
        self.finished = result
