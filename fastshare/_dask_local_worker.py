"""Preload module of the LocalCluster workers that ``engine="dask", local=N`` starts.

Dask imports it in every worker process it spawns (at first start and after each nanny
restart) and calls :func:`dask_setup` before the worker registers with the scheduler. The
workers share the terminal's process group with the ``fastshare backfill`` command, so a Ctrl-C
reaches them too; they ignore it and the command decides what an interrupt means (finish the
chunks in flight, or cancel them on the second one). A worker that died of the Ctrl-C would
leave the run without workers.

Not for clusters you run yourself: stop those workers the way you started them.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["dask_setup"]


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process (only possible from its main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
