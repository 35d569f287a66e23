"""Shared-memory blocks of the render pool: the exit-flag block and the frame ring.

Ownership: the orchestrator creates every block (``multiprocessing.shared_memory`` with a
``fastshare_<pid>_<token>`` name, so the resource tracker unlinks it even if the orchestrator is
killed, and :func:`cleanup_stale_segments` removes what a dead pool left behind). Workers only
*attach*, by mapping ``/dev/shm/<name>`` directly (never through ``SharedMemory``, whose resource
tracker would unlink the segment when an attaching process exits, cpython#82300).

Frame ring: ``slots`` fixed-size slots in one segment. The orchestrator assigns a free slot when it
dispatches a task that asks for pixels; the worker writes the frame there; the orchestrator wraps
the slot in a numpy view and puts it back on the free list when the caller releases the
:class:`~fastshare.pool.Frame`. Free slots are the backpressure. A slot whose worker died goes
back to the free list; nobody reads half-written data.

Thread safety: blocks and rings are used from the event-loop thread only; ``Frame.release`` from
another thread is marshalled onto the loop by the caller of :meth:`FrameRing.release`.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import secrets
from collections import deque
from multiprocessing import shared_memory
from typing import Any

import numpy as np

__all__ = ["PREFIX", "FrameRing", "SharedBlock", "attach", "cleanup_stale_segments"]

PREFIX = "fastshare_"
_SHM_DIR = "/dev/shm"
_NAME_RE = re.compile(r"^fastshare_(\d+)_[0-9a-f]+$")


class SharedBlock:
    """A shared-memory segment owned (created and unlinked) by this process."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            msg = f"shared block size must be positive, got {size}"
            raise ValueError(msg)
        name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(6)}"
        self._shm: shared_memory.SharedMemory | None = shared_memory.SharedMemory(
            name=name, create=True, size=size
        )
        self.name = name
        self.size = size

    @property
    def buf(self) -> memoryview:
        if self._shm is None or self._shm.buf is None:
            msg = f"shared block {self.name} is closed"
            raise ValueError(msg)
        return self._shm.buf

    def destroy(self) -> None:
        """Unmap (when no view is left) and unlink the segment. Idempotent."""
        shm, self._shm = self._shm, None
        if shm is None:
            return
        # BufferError: a caller still holds a numpy view of a frame; the mapping stays until
        # it is collected, but the name goes away now, so nothing outlives the process
        with contextlib.suppress(BufferError):
            shm.close()
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()


def attach(name: str, size: int) -> mmap.mmap:
    """Map an existing segment by name without registering it with a resource tracker."""
    path = os.path.join(_SHM_DIR, name)
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale_segments() -> list[str]:
    """Unlink ``fastshare_<pid>_*`` segments whose creating process no longer exists.

    Returns the names removed. Safe to call at any time: a live pool's segments are kept.
    """
    removed: list[str] = []
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:
        return removed
    for name in names:
        m = _NAME_RE.match(name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(_SHM_DIR, name))
            removed.append(name)
        except OSError:
            continue
    return removed


class FrameRing:
    """``slots`` slots of ``slot_bytes`` each in one shared segment (event-loop thread only)."""

    def __init__(self, slots: int, slot_bytes: int) -> None:
        if slots < 1:
            msg = f"frame_slots must be at least 1, got {slots}"
            raise ValueError(msg)
        if slot_bytes < 3:
            msg = f"slot_bytes must be at least 3, got {slot_bytes}"
            raise ValueError(msg)
        self.slots = slots
        self.slot_bytes = slot_bytes
        self.block = SharedBlock(slots * slot_bytes)
        self._free: deque[int] = deque(range(slots))
        self._in_use: set[int] = set()

    @property
    def name(self) -> str:
        return self.block.name

    @property
    def free_count(self) -> int:
        return len(self._free)

    def acquire(self) -> int | None:
        """Take a free slot, or ``None`` when every slot is in use."""
        if not self._free:
            return None
        slot = self._free.popleft()
        self._in_use.add(slot)
        return slot

    def release(self, slot: int) -> None:
        """Put ``slot`` back on the free list (a second release of the same slot is ignored)."""
        if slot in self._in_use:
            self._in_use.discard(slot)
            self._free.append(slot)

    def view(self, slot: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray[Any, Any]:
        """A numpy view of the first bytes of ``slot``, interpreted as ``shape``/``dtype``."""
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if count * dt.itemsize > self.slot_bytes:
            msg = f"frame of {count * dt.itemsize} bytes exceeds the {self.slot_bytes}-byte slot"
            raise ValueError(msg)
        return np.frombuffer(
            self.block.buf, dtype=dt, count=count, offset=slot * self.slot_bytes
        ).reshape(shape)

    def destroy(self) -> None:
        self.block.destroy()
