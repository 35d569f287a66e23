"""The pre-warmed render pool.

``RenderPool`` (asyncio) and ``SyncRenderPool`` (scripts, threads) run picklable callables and
share-image generators in worker processes forked from one warm template process. Inside a task,
:func:`task_phase`, :func:`exit_requested`, :func:`current_task` and :func:`frame_buffer` give
access to phase timers, the cooperative exit flag, the attempt number and the shared-memory slot.
See ``docs/operations.md`` for the process model and failure semantics.
"""

from __future__ import annotations

from fastshare.pool._core import (
    DEFAULT_SLOT_BYTES,
    PRIORITY_BATCH,
    PRIORITY_INTERACTIVE,
    Frame,
    MapHandle,
    PoolFullError,
    RenderPool,
    TaskResult,
    Timings,
)
from fastshare.pool._shm import cleanup_stale_segments
from fastshare.pool._sync import SyncMapHandle, SyncRenderPool
from fastshare.pool._task import (
    ExitFlag,
    TaskContext,
    current_task,
    exit_requested,
    frame_buffer,
    record_phase,
    task_phase,
)

__all__ = [
    "DEFAULT_SLOT_BYTES",
    "PRIORITY_BATCH",
    "PRIORITY_INTERACTIVE",
    "ExitFlag",
    "Frame",
    "MapHandle",
    "PoolFullError",
    "RenderPool",
    "SyncMapHandle",
    "SyncRenderPool",
    "TaskContext",
    "TaskResult",
    "Timings",
    "cleanup_stale_segments",
    "current_task",
    "exit_requested",
    "frame_buffer",
    "record_phase",
    "task_phase",
]
