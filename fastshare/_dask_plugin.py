"""The Dask worker plugin that warms a worker before it renders (imported only with Dask).

:class:`WarmUpPlugin` is registered by :func:`fastshare.dask_engine.start_pool`. Dask calls its
``setup(worker)`` on every worker in the cluster at registration, and again on every worker that
joins later or that its nanny restarts after a crash, before that worker receives a task. Setup
does in the worker process what the local pool's template process does once:

1. ``NUMBA_NUM_THREADS=1`` unless the environment already says otherwise (only effective if
   numba is not imported yet: start workers with it in their environment, as the LocalCluster
   of :mod:`fastshare.dask_engine` does);
2. :func:`fastshare._worker.warm_up`: imports every kernel module, compiles or cache-loads the
   kernels (``fastshare.paint`` / ``fastshare.text`` / ``fastshare.encoders`` ``warm_up()``),
   loads the bundled fonts, paints and encodes one card;
3. builds the process's :class:`~fastshare.renderer.Renderer`, loads the template and plans every
   target (:func:`fastshare.backfiller.warm_worker`);
4. checks that this worker's render version, fonts and encoder libraries match the client's
   (they are part of every output key): a mismatch fails the registration with a clear message.

The heavy part runs on the worker's task thread (its default executor), so the thread that
renders is the one that was warmed, and the worker's event loop keeps answering heartbeats.

(The LocalCluster workers that ``local=N`` starts also ignore Ctrl-C, from the moment they
start: :mod:`fastshare._dask_local_worker`.)
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from distributed import WorkerPlugin

from fastshare.targets import Target

__all__ = ["WarmUpPlugin", "warm_state"]

_state: dict[str, Any] = {"warmed": 0, "seconds": None, "pid": None}
_state_lock = threading.Lock()


def warm_state() -> dict[str, Any]:
    """This worker process's warm-up record: how many times it warmed, how long the last took."""
    with _state_lock:
        return {**_state, "pid": os.getpid()}


class WarmUpPlugin(WorkerPlugin):
    """Warm a Dask worker for one template (see the module docstring)."""

    def __init__(
        self,
        token: str,
        blob: bytes,
        targets: Sequence[Target],
        env: tuple[tuple[str, ...], str, Mapping[str, Any], str],
    ) -> None:
        self.token = token
        self.blob = blob
        self.targets = tuple(targets)
        self.env = env

    def _warm(self) -> float:
        started = time.perf_counter()
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")
        from fastshare._worker import warm_up
        from fastshare.backfiller import warm_worker
        from fastshare.dask_engine import _check_environment

        report = warm_up()
        if report.get("errors"):
            msg = "; ".join(str(e) for e in report["errors"])
            raise RuntimeError(f"fastshare warm-up failed on pid {os.getpid()}: {msg}")
        warm_worker(self.token, self.blob, self.targets)
        _check_environment(self.env)
        return time.perf_counter() - started

    async def setup(self, worker: Any) -> None:
        executor = getattr(worker, "executors", {}).get("default")
        loop = asyncio.get_running_loop()
        try:
            pending = loop.run_in_executor(executor, self._warm)
        except RuntimeError:  # the worker is closing (its executor takes no more work)
            return
        seconds = await pending
        with _state_lock:
            _state["warmed"] = int(_state["warmed"]) + 1
            _state["seconds"] = seconds
