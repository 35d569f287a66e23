"""Thousands of small tasks: file descriptors, shared-memory segments and RSS stay bounded."""

from __future__ import annotations

import asyncio
import os

import _pool_tasks as tasks
import pytest

from fastshare.pool import RenderPool


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _segments() -> list[str]:
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith(f"fastshare_{os.getpid()}_"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split()[2] != b"Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_thousands_of_tasks_stay_bounded() -> None:
    async def round_trip(pool: RenderPool, n: int) -> None:
        got = [x async for x in pool.imap_unordered(tasks.echo, range(n), window=64)]
        assert sorted(got) == list(range(n))
        items = [(i % 256, 64, 64) for i in range(50)]
        async for frame in pool.star().imap(tasks.frame_of, items, pixels=True):
            with frame:
                assert frame.shape == (64, 64, 3)

    async def main() -> None:
        fds0 = _fds()
        async with RenderPool(2, warm_up=False, preload=("_pool_tasks",)) as pool:
            await round_trip(pool, 500)  # first round: lazily created ring, imports, caches
            fds1, rss1, segments1 = _fds(), _rss(), _segments()
            assert len(segments1) == 2  # exit flags and the frame ring
            for _ in range(4):
                await round_trip(pool, 1000)
            assert _fds() <= fds1 + 2
            assert _segments() == segments1
            assert _rss() - rss1 < 30 * 1024 * 1024
            pids = [*pool.worker_pids(), pool.template_pid]
            assert pool.stats["completed"] == 500 + 50 + 4 * 1050
        assert _segments() == []
        assert _fds() <= fds0 + 2
        assert not any(_alive(pid) for pid in pids if pid is not None)

    asyncio.run(asyncio.wait_for(main(), 300))


@pytest.mark.slow
def test_recycling_many_workers_does_not_leak() -> None:
    async def main() -> None:
        async with RenderPool(2, warm_up=False, max_tasks_per_worker=5) as pool:
            await pool.map(tasks.echo, range(20))
            fds1 = _fds()
            await pool.map(tasks.echo, range(200))
            assert _fds() <= fds1 + 2
            assert pool.stats["recycled"] >= 40
            while pool.size < 2:  # the last retirees are being replaced
                await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(main(), 300))
