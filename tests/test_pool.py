"""RenderPool with real worker processes: verbs, errors, priorities, queue, frames, recycling."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import _pool_tasks as tasks
import numpy as np
import pytest

from fastshare.errors import (
    CancelledError,
    DataError,
    RenderError,
    TaskTimeout,
    ValueRangeError,
)
from fastshare.pool import PoolFullError, RenderPool, SyncRenderPool, TaskResult
from fastshare.pool._demo import demo_card, demo_card_pixels

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run ``coro`` with a hard deadline, so a bug fails the test instead of hanging CI."""

    async def main() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(main())


def pool(workers: int = 2, **options: Any) -> RenderPool:
    options.setdefault("warm_up", False)
    options.setdefault("preload", ("_pool_tasks",))
    return RenderPool(workers, **options)


async def wait_for_path(path: Path, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.002)


def test_verbs() -> None:
    async def main() -> None:
        async with pool() as p:
            assert p.size == 2 and len(set(p.worker_pids())) == 2
            assert await p.submit(tasks.add, 2, 3) == 5
            assert await p.submit(tasks.add, 2, kwargs={"b": 5}) == 7
            assert await p.create_task(tasks.add, 1, 1) == 2
            items = list(range(20))
            assert await p.map(tasks.echo, items) == items
            assert [x async for x in p.imap(tasks.echo, items, window=3)] == items
            got = [x async for x in p.imap_unordered(tasks.echo, items)]
            assert sorted(got) == items
            assert sorted([x async for x in p.unordered_imap(tasks.echo, items)]) == items
            pairs = [(i, 10 * i) for i in range(6)]
            assert await p.star().map(tasks.add, pairs) == [11 * i for i in range(6)]
            assert await p.starmap(tasks.add, pairs) == [11 * i for i in range(6)]
            # suitkaise's star() unpacks only tuples
            assert await p.star().map(tasks.echo, [[1, 2]]) == [[1, 2]]
            handle = p.star().async_map(tasks.sleep_return, [(None, 0.05)])
            assert not handle.ready()
            with pytest.raises(TimeoutError):
                await handle.get(timeout=0.001)
            assert await handle.wait(timeout=10)
            assert handle.ready()
            assert await handle.get() == [None]
            detailed = await p.submit_detailed(tasks.phases)
            assert isinstance(detailed, TaskResult)
            assert detailed.value == "ok" and detailed.attempt == 1
            assert detailed.worker_pid in p.worker_pids()
            t = detailed.timings
            assert t.layout > 0 and t.paint > 0 and t.run >= t.layout + t.paint
            assert t.total >= t.run and t.queue_wait >= 0 and t.transfer >= 0
            assert p.stats["completed"] >= 60

    run(main())


def test_submit_rejects_bad_options_and_unpicklable_callables() -> None:
    async def main() -> None:
        async with pool(1) as p:
            with pytest.raises(ValueRangeError):
                await p.submit(tasks.add, 1, timeout=0)
            with pytest.raises(ValueRangeError):
                await p.submit(tasks.add, 1, retries=-1)
            with pytest.raises(Exception, match=r"pickle|local object"):
                await p.submit(lambda: 1)
            assert await p.submit(tasks.add, 1) == 1

    run(main())


def test_errors_come_back_typed_and_the_pool_survives() -> None:
    async def main() -> None:
        async with pool(1) as p:
            pid = p.worker_pids()[0]
            with pytest.raises(RenderError) as info:
                await p.submit(tasks.raise_value_error, "bad thing")
            err = info.value
            assert err.type_name == "ValueError"
            assert "bad thing" in str(err) and err.attempt == 1
            assert "raise_value_error" in err.traceback_text

            # fastshare client errors keep their class (a 4xx stays a 4xx)
            with pytest.raises(DataError) as data_info:
                await p.submit(tasks.raise_data_error)
            assert data_info.value.field == "title"

            # an exception that would fail to unpickle, one whose str() raises,
            # a result that cannot be pickled, SystemExit inside a task
            with pytest.raises(RenderError) as info:
                await p.submit(tasks.raise_unpicklable)
            assert info.value.type_name.endswith("TwoArgError") and "1/2" in str(info.value)
            with pytest.raises(RenderError) as info:
                await p.submit(tasks.raise_broken_str)
            assert info.value.type_name.endswith("BrokenStrError")
            with pytest.raises(RenderError, match="could not be pickled"):
                await p.submit(tasks.return_unpicklable)
            with pytest.raises(RenderError) as info:
                await p.submit(tasks.exit_in_task)
            assert info.value.type_name == "SystemExit"

            # none of that cost the worker
            assert p.worker_pids() == [pid]
            assert await p.submit(tasks.add, 40, 2) == 42
            # retry_errors re-runs a task that raised (attempt number goes up)
            with pytest.raises(RenderError) as info:
                await p.submit(tasks.raise_value_error, "again", retries=2, retry_errors=True)
            assert info.value.attempt == 3

    run(main())


def test_timeout_kills_and_replaces_the_worker() -> None:
    async def main() -> None:
        async with pool(2) as p:
            before = set(p.worker_pids())
            with pytest.raises(TaskTimeout, match="timeout"):
                await p.submit(tasks.sleep_return, 1, 30.0, timeout=0.2)
            deadline = time.monotonic() + 20
            while p.size < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            after = set(p.worker_pids())
            assert len(after) == 2 and after != before
            assert await p.map(tasks.add, [1, 2, 3]) == [1, 2, 3]
            with pytest.raises(TaskTimeout):
                await p.submit(tasks.sleep_return, 1, 30.0, queue_timeout=0.05, timeout=0.3)

    run(main())


@pytest.mark.slow
def test_segfault_and_self_kill_give_worker_crashed() -> None:
    from fastshare.errors import WorkerCrashed

    async def main() -> None:
        async with pool(2, poison_threshold=2) as p:
            with pytest.raises(WorkerCrashed, match="SIGSEGV") as info:
                await p.submit(tasks.segfault)
            assert info.value.attempt == 1  # type: ignore[attr-defined]
            # retried once after a crash: the second attempt succeeds
            assert await p.submit(tasks.crash_on_first_attempt, "x", retries=1) == ("x", 2)
            # a task that keeps killing workers stops being retried at the poison threshold
            with pytest.raises(WorkerCrashed, match="not retried again") as info:
                await p.submit(tasks.self_kill, retries=5)
            assert info.value.attempt == 2  # type: ignore[attr-defined]
            assert p.stats["crashes"] == 4
            assert await p.map(tasks.add, range(4)) == list(range(4))
            deadline = time.monotonic() + 20
            while p.size < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)

    run(main())


@pytest.mark.slow
def test_kill_9_mid_task_fails_only_that_task(tmp_path: Path) -> None:
    from fastshare.errors import WorkerCrashed

    async def main() -> None:
        async with pool(2) as p:
            marker = tmp_path / "pid"
            victim = p.create_task(tasks.pid_file_then_sleep, str(marker), 0.5, retries=1)
            victim_no_retry: asyncio.Task[Any] | None = None
            others = [p.create_task(tasks.sleep_return, i, 0.02) for i in range(30)]
            await wait_for_path(marker)
            pid, attempt = map(int, marker.read_text().split())
            assert attempt == 1
            os.kill(pid, 9)
            # retried on a fresh worker, and every other task answers exactly once
            assert await victim == 2
            assert await asyncio.gather(*others) == list(range(30))
            # without retries the task fails, still alone
            marker.unlink()
            victim_no_retry = p.create_task(tasks.pid_file_then_sleep, str(marker), 5.0)
            more = [p.create_task(tasks.sleep_return, i, 0.01) for i in range(10)]
            await wait_for_path(marker)
            os.kill(int(marker.read_text().split()[0]), 9)
            with pytest.raises(WorkerCrashed, match="SIGKILL"):
                await victim_no_retry
            assert await asyncio.gather(*more) == list(range(10))
            deadline = time.monotonic() + 20
            while p.size < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            assert pid not in p.worker_pids()
            assert p.stats["submitted"] == p.stats["completed"] + p.stats["failed"]

    run(main())


def test_interactive_work_jumps_the_batch_queue(tmp_path: Path) -> None:
    async def main() -> None:
        async with pool(1) as p:
            started, release = tmp_path / "started", tmp_path / "release"
            first = p.create_task(tasks.gate, str(started), str(release), "batch-0")
            await wait_for_path(started)
            batch = [p.create_task(tasks.timestamped, f"batch-{i}", 0.0) for i in range(1, 8)]
            await asyncio.sleep(0.01)
            urgent = p.create_task(tasks.timestamped, "urgent", 0.0, priority=10)
            await asyncio.sleep(0.01)
            release.write_text("go")
            _, urgent_start = await urgent
            starts = [s for _, s in await asyncio.gather(*batch)]
            assert all(urgent_start < s for s in starts)
            await first

    run(main())


def test_aging_lets_old_batch_work_go_first(tmp_path: Path) -> None:
    async def main() -> None:
        # aging 1 ms per priority unit: a batch task queued 50 ms ago beats priority 10
        async with pool(1, aging=0.001) as p:
            started, release = tmp_path / "started", tmp_path / "release"
            first = p.create_task(tasks.gate, str(started), str(release))
            await wait_for_path(started)
            old = p.create_task(tasks.timestamped, "old", 0.0)
            await asyncio.sleep(0.05)
            urgent = p.create_task(tasks.timestamped, "urgent", 0.0, priority=10)
            await asyncio.sleep(0.01)
            release.write_text("go")
            (_, old_start), (_, urgent_start) = await asyncio.gather(old, urgent)
            assert old_start < urgent_start
            await first

    run(main())


def test_bounded_queue_waits_or_fails_fast(tmp_path: Path) -> None:
    async def main() -> None:
        async with pool(1, queue_size=2) as p:
            started, release = tmp_path / "started", tmp_path / "release"
            running = p.create_task(tasks.gate, str(started), str(release), "r")
            await wait_for_path(started)
            queued = [p.create_task(tasks.echo, i) for i in range(2)]
            await asyncio.sleep(0.01)
            assert p.queued == 2
            with pytest.raises(PoolFullError):
                await p.submit(tasks.echo, "x", block=False)
            waiting = p.create_task(tasks.echo, "waited")
            done, _ = await asyncio.wait([waiting], timeout=0.05)
            assert not done  # still waiting for room
            release.write_text("go")
            assert await waiting == "waited"
            assert await asyncio.gather(*queued) == [0, 1]
            assert (await running)[0] == "r"

    run(main())


def test_cancellation_cooperative_and_forced() -> None:
    async def main() -> None:
        async with pool(1, cancel_grace=0.2) as p:
            pid = p.worker_pids()[0]
            # a task that watches its exit flag stops, and its worker lives on
            task = p.create_task(tasks.cooperative)
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await p.join()
            assert p.worker_pids() == [pid]
            # a task that ignores it is killed after the grace period
            task = p.create_task(tasks.sleep_return, 1, 30.0)
            queued = p.create_task(tasks.echo, "never runs")
            await asyncio.sleep(0.1)
            task.cancel()
            queued.cancel()
            await p.join()
            assert p.stats["cancelled"] == 3
            deadline = time.monotonic() + 20
            while p.size < 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            assert p.worker_pids() != [pid]
            assert await p.submit(tasks.echo, "alive") == "alive"

    run(main())


def test_close_cancel_fails_pending_work() -> None:
    async def main() -> None:
        p = pool(1)
        await p.start()
        running = p.create_task(tasks.cooperative)
        queued = p.create_task(tasks.echo, 1)
        await asyncio.sleep(0.05)
        await p.close(cancel=True)
        for t in (running, queued):
            with pytest.raises(CancelledError):
                await t
        with pytest.raises(CancelledError):
            await p.submit(tasks.echo, 1)

    run(main())


def test_pixels_through_shared_memory() -> None:
    async def main() -> None:
        async with pool(2, frame_slots=2) as p:
            frame = await p.submit(demo_card_pixels, 320, 200, 3, pixels=True)
            with frame:
                assert frame.shape == (200, 320, 3)
                np.testing.assert_array_equal(frame.array, demo_card(320, 200, 3))
                image = frame.to_image()
                assert image.size == (320, 200) and image.mode == "RGB"
            with pytest.raises(ValueError, match="released"):
                _ = frame.array
            # more frames than slots: the consumer's releases are the backpressure
            seen = []
            items = [(i, 8, 8) for i in range(12)]
            async for f in p.star().imap(tasks.frame_of, items, pixels=True):
                with f:
                    seen.append(int(f.array[0, 0, 0]))
            assert seen == list(range(12))
            assert p._ring is not None and p._ring.free_count == 2

    run(main())


def test_pixels_larger_than_a_slot_still_arrive() -> None:
    async def main() -> None:
        async with pool(1, slot_bytes=1000) as p:
            with await p.submit(tasks.frame_of, 7, 100, 100, pixels=True) as f:
                assert f.shape == (100, 100, 3) and int(f.array.max()) == 7

    run(main())


def test_recycling_after_n_tasks() -> None:
    async def main() -> None:
        async with pool(1, max_tasks_per_worker=3) as p:
            pids = [await p.submit(tasks.worker_pid) for _ in range(7)]
            assert len(set(pids[0:3])) == 1 and len(set(pids[3:6])) == 1
            assert len(set(pids)) == 3
            assert p.stats["recycled"] == 2

    run(main())


def test_recycling_above_an_rss_limit() -> None:
    async def main() -> None:
        async with pool(1, max_rss_bytes=1) as p:
            pids = [await p.submit(tasks.worker_pid) for _ in range(3)]
            assert len(set(pids)) == 3

    run(main())


def test_warm_up_failure_is_raised_not_hung() -> None:
    async def main() -> None:
        with pytest.raises(RenderError, match="warm-up broke on purpose"):
            async with pool(1, warm_up=tasks.fail_warm_up):
                pass
        with pytest.raises(RenderError, match="worker_init broke on purpose"):
            async with pool(1, worker_init=tasks.fail_worker_init):
                pass

    run(main())


def test_threads_in_the_template_are_reported() -> None:
    async def main() -> None:
        with pytest.warns(RuntimeWarning, match="threads"):
            async with pool(1, warm_up=tasks.start_thread_warm_up) as p:
                assert p.info["os_threads"] > 1

    run(main())


@pytest.mark.slow
def test_template_death_is_survived() -> None:
    async def main() -> None:
        async with pool(2) as p:
            template = p.template_pid
            assert template is not None
            os.kill(template, 9)
            # workers die with their template; tasks with retries ride it out
            results = await p.starmap(tasks.sleep_return, [(i, 0.01) for i in range(6)], retries=3)
            assert len(results) == 6
            assert p.template_pid != template
            deadline = time.monotonic() + 30
            while p.size < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)

    run(main(), timeout=120)


def test_default_warm_up_runs_before_work() -> None:
    async def main() -> None:
        async with RenderPool(1, preload=("_pool_tasks",)) as p:
            report = p.info["warm_up"]
            assert report["warm_up_png_bytes"] > 0
            assert p.info["numba_threads"] == "1" and p.info["os_threads"] == 1
            assert await p.submit(tasks.add, 1, 2) == 3

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run(main(), timeout=600)
    # warm-up problems of other modules are reported as warnings, never as a hang
    assert all(issubclass(w.category, RuntimeWarning) for w in record)


def test_sync_wrapper() -> None:
    with SyncRenderPool(2, warm_up=False, preload=("_pool_tasks",)) as p:
        assert p.run(tasks.add, 1, 2) == 3
        assert p.submit(tasks.add, 2, 2).result(timeout=30) == 4
        assert p.map(tasks.echo, range(5)) == list(range(5))
        assert list(p.imap(tasks.echo, range(5))) == list(range(5))
        assert sorted(p.imap_unordered(tasks.echo, range(5))) == list(range(5))
        assert p.star().map(tasks.add, [(1, 2), (3, 4)]) == [3, 7]
        assert p.starmap(tasks.add, [(1, 2)]) == [3]
        handle = p.star().async_map(tasks.sleep_return, [(1, 0.01)], window=1)
        assert handle.wait(timeout=30) and handle.get() == [1]
        assert p.async_map(tasks.echo, [5]).get(timeout=30) == [5]
        with p.run(demo_card_pixels, 64, 32, pixels=True) as frame:
            np.testing.assert_array_equal(frame.array, demo_card(64, 32))
        assert p.size == 2


def test_pool_refuses_to_start_inside_a_worker_template() -> None:
    os.environ["FASTSHARE_TEMPLATE_PROCESS"] = "1"
    try:
        with pytest.raises(RuntimeError, match="__main__"):
            RenderPool(1)
    finally:
        del os.environ["FASTSHARE_TEMPLATE_PROCESS"]
