"""``SyncRenderPool``: the render pool for scripts and threads, with blocking calls.

The wrapper runs a private event loop on a background thread and drives a
:class:`~fastshare.pool.RenderPool` on it; every method marshals onto that loop with
``asyncio.run_coroutine_threadsafe``. Safe to call from any number of threads. The worker template
is still started with ``subprocess`` (the orchestrator, now multi-threaded, is never forked).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from fastshare.pool._core import RenderPool, TaskResult

__all__ = ["SyncMapHandle", "SyncRenderPool"]

T = TypeVar("T")


class SyncMapHandle:
    """``async_map`` for scripts: ``ready()``, ``wait(timeout)``, ``get(timeout)`` block."""

    def __init__(self, future: concurrent.futures.Future[list[Any]]) -> None:
        self._future = future

    def ready(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> bool:
        concurrent.futures.wait([self._future], timeout=timeout)
        return self._future.done()

    def get(self, timeout: float | None = None) -> list[Any]:
        """The results; raises ``TimeoutError`` if they are not ready within ``timeout``."""
        if not self.wait(timeout):
            msg = f"the results were not ready within {timeout} s"
            raise TimeoutError(msg)
        return self._future.result()

    def cancel(self) -> bool:
        return self._future.cancel()


class SyncRenderPool:
    """``with SyncRenderPool(workers=2) as pool: pool.map(fn, items)`` (RenderPool's options)."""

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        self._pool = RenderPool(workers, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def pool(self) -> RenderPool:
        """The underlying asynchronous pool (use it only on this wrapper's loop)."""
        return self._pool

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SyncRenderPool:
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fastshare-pool", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._call(self._pool.start())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def close(self, *, cancel: bool = False) -> None:
        if self._loop is None:
            return
        try:
            self._call(self._pool.close(cancel=cancel))
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def __enter__(self) -> SyncRenderPool:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(cancel=exc_type is not None)

    def _future(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if self._loop is None:
            coro.close()
            msg = "the pool is not started: use `with SyncRenderPool(...)` or start()"
            raise RuntimeError(msg)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._future(coro).result(timeout)

    # ------------------------------------------------------------------ verbs

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **options: Any
    ) -> concurrent.futures.Future[Any]:
        """Schedule ``fn(*args)``; returns a ``concurrent.futures.Future`` (``Executor.submit``)."""
        return self._future(self._pool.submit(fn, *args, **options))

    def run(self, fn: Callable[..., Any], /, *args: Any, **options: Any) -> Any:
        """Run ``fn(*args)`` in a worker and return its result (blocking)."""
        return self._call(self._pool.submit(fn, *args, **options))

    def submit_detailed(
        self, fn: Callable[..., Any], /, *args: Any, **options: Any
    ) -> TaskResult[Any]:
        return self._call(self._pool.submit_detailed(fn, *args, **options))

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any) -> list[Any]:
        return self._call(self._pool.map(fn, iterable, **options))

    def starmap(self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any) -> list[Any]:
        return self._call(self._pool.starmap(fn, iterable, **options))

    def unordered_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> list[Any]:
        return self._call(self._pool.unordered_map(fn, iterable, **options))

    def _iterate(self, agen: AsyncIterator[Any]) -> Iterator[Any]:
        try:
            while True:
                try:
                    value: Any = self._call(agen.__anext__())  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
                yield value
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None and self._loop is not None:
                self._call(aclose())

    def imap(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> Iterator[Any]:
        return self._iterate(self._pool.imap(fn, iterable, **options))

    def imap_unordered(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> Iterator[Any]:
        return self._iterate(self._pool.imap_unordered(fn, iterable, **options))

    unordered_imap = imap_unordered

    def async_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> SyncMapHandle:
        return SyncMapHandle(self._future(self._pool.map(fn, iterable, **options)))

    def star(self) -> _SyncStarView:
        return _SyncStarView(self)

    def render(self, generator: Any, target: Any, **options: Any) -> Any:
        """:meth:`RenderPool.render`, blocking."""
        return self._call(self._pool.render(generator, target, **options))

    # ------------------------------------------------------------------ introspection

    @property
    def workers(self) -> int:
        return self._pool.workers

    @property
    def size(self) -> int:
        return self._pool.size

    def worker_pids(self) -> list[int]:
        return self._pool.worker_pids()

    @property
    def stats(self) -> dict[str, Any]:
        return self._pool.stats

    @property
    def info(self) -> dict[str, Any]:
        return self._pool.info


class _SyncStarView:
    def __init__(self, sync: SyncRenderPool) -> None:
        self._sync = sync

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any) -> list[Any]:
        return self._sync._call(self._sync.pool.star().map(fn, iterable, **options))

    def unordered_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> list[Any]:
        return self._sync._call(self._sync.pool.star().unordered_map(fn, iterable, **options))

    def imap(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> Iterator[Any]:
        return self._sync._iterate(self._sync.pool.star().imap(fn, iterable, **options))

    def imap_unordered(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> Iterator[Any]:
        return self._sync._iterate(self._sync.pool.star().imap_unordered(fn, iterable, **options))

    unordered_imap = imap_unordered

    def async_map(
        self, fn: Callable[..., Any], iterable: Iterable[Any], **options: Any
    ) -> SyncMapHandle:
        return SyncMapHandle(
            self._sync._future(self._sync.pool.star().map(fn, iterable, **options))
        )
