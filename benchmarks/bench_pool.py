"""Render pool benchmarks: card A at ``og`` on 1 and 2 workers vs in-process, start, respawn, CPU.

Goals (issue 6): 2 workers ≥ 1.8× one worker; respawn ≤ 50 ms; orchestrator CPU per card (and
per shared-memory frame) ≤ 0.25 ms. The goals are asserted only when benchmarks are enabled
(``pytest benchmarks/bench_pool.py --benchmark-enable``); with ``--benchmark-disable`` (CI) every
measurement still runs once, as a smoke test. ``python benchmarks/bench_pool.py`` prints a table.

The workload is one line: :data:`CARD` (a picklable callable returning encoded bytes) and
:data:`PIXELS` (the same card returned as a frame).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fastshare.pipeline import encode_frame
from fastshare.pool import RenderPool, SyncRenderPool, frame_buffer, task_phase

_ITEMS: list[dict[str, Any]] | None = None


def _card_a(item_index: int, target: str) -> np.ndarray[Any, Any]:
    global _ITEMS
    from fastshare.examples import example_path, sample_items
    from fastshare.renderer import render

    if _ITEMS is None:
        needed = {"title", "category", "site", "read_time"}
        _ITEMS = [item for item in sample_items() if needed <= item.keys()]
    path = example_path("card-a")
    assert path is not None
    return render(path, _ITEMS[item_index % len(_ITEMS)], target)


def card_a_png(item_index: int, target: str = "og") -> bytes:
    """Card A, painted and encoded as PNG (the default pool path: bytes come back)."""
    with task_phase("paint"):
        frame = _card_a(item_index, target)
    with task_phase("encode"):
        return encode_frame(frame, "png")


def card_a_pixels(item_index: int, target: str = "og") -> np.ndarray[Any, Any]:
    """Card A as pixels (the shared-memory path)."""
    with task_phase("paint"):
        frame = _card_a(item_index, target)
    out = frame_buffer(*frame.shape[:2])
    out[...] = frame
    return out


#: the benchmarked card: switch the workload here
CARD: Callable[[int], bytes] = card_a_png
PIXELS: Callable[[int], np.ndarray[Any, Any]] = card_a_pixels
CARDS = int(os.environ.get("FASTSHARE_BENCH_CARDS", "48"))


def _machine() -> dict[str, Any]:
    import numba

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "cpus": len(os.sched_getaffinity(0)),
    }


def in_process(n: int = CARDS) -> float:
    """Seconds to render ``n`` cards serially in this process."""
    CARD(0)  # warm
    start = time.perf_counter()
    for i in range(n):
        CARD(i)
    return time.perf_counter() - start


def pool_throughput(pool: SyncRenderPool, n: int = CARDS) -> tuple[float, float]:
    """Seconds to render ``n`` cards through ``pool``, and orchestrator CPU seconds per card."""
    pool.map(CARD, range(2 * pool.workers))  # warm every worker
    cpu, start = time.process_time(), time.perf_counter()
    out = pool.map(CARD, range(n))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(out) == n and all(isinstance(b, bytes) and b for b in out)
    return wall, cpu / n


def pixel_cpu(pool: SyncRenderPool, n: int = CARDS) -> float:
    """Orchestrator CPU seconds per frame received through shared memory."""

    async def consume() -> None:
        async for frame in pool.pool.imap(PIXELS, range(n), pixels=True):
            with frame:
                assert frame.shape[2] == 3

    pool._call(consume())
    cpu = time.process_time()
    pool._call(consume())
    return (time.process_time() - cpu) / n


def respawn_times(pool: SyncRenderPool, kills: int = 8) -> list[float]:
    """Worker death → replacement ready, in seconds, for ``kills`` kill -9s."""
    before = len(pool.stats["respawn_seconds"])
    for _ in range(kills):
        victim = pool.worker_pids()[0]
        os.kill(victim, 9)
        deadline = time.monotonic() + 30
        while victim in pool.worker_pids() or pool.size < pool.workers:
            assert time.monotonic() < deadline, "a worker was not replaced"
            time.sleep(0.001)
    return list(pool.stats["respawn_seconds"])[before:]


def pool_start() -> float:
    async def main() -> float:
        start = time.perf_counter()
        async with RenderPool(2):
            return time.perf_counter() - start

    return asyncio.run(main())


# --------------------------------------------------------------------------- pytest-benchmark


@pytest.fixture(scope="module")
def pool1() -> Any:
    with SyncRenderPool(1) as p:
        yield p


@pytest.fixture(scope="module")
def pool2() -> Any:
    with SyncRenderPool(2) as p:
        yield p


_RESULTS: dict[str, float] = {}


def test_in_process(benchmark: Any) -> None:
    _RESULTS["in_process"] = benchmark.pedantic(in_process, rounds=1, iterations=1)
    benchmark.extra_info.update(_machine())


def test_one_worker(benchmark: Any, pool1: SyncRenderPool) -> None:
    wall, cpu = benchmark.pedantic(pool_throughput, args=(pool1,), rounds=1, iterations=1)
    _RESULTS["one_worker"], _RESULTS["cpu_per_card_1"] = wall, cpu


def test_two_workers(benchmark: Any, pool2: SyncRenderPool) -> None:
    wall, cpu = benchmark.pedantic(pool_throughput, args=(pool2,), rounds=1, iterations=1)
    _RESULTS["two_workers"], _RESULTS["cpu_per_card"] = wall, cpu
    benchmark.extra_info["orchestrator_cpu_ms_per_card"] = cpu * 1e3
    if "one_worker" in _RESULTS:
        speedup = _RESULTS["one_worker"] / wall
        benchmark.extra_info["speedup_2_vs_1"] = speedup
        if not benchmark.disabled:
            assert speedup >= 1.8, f"2 workers are only {speedup:.2f}× one worker"
    if not benchmark.disabled:
        assert cpu <= 0.25e-3, f"orchestrator CPU {cpu * 1e3:.3f} ms per card"


def test_pixels_orchestrator_cpu(benchmark: Any, pool2: SyncRenderPool) -> None:
    cpu = benchmark.pedantic(pixel_cpu, args=(pool2,), rounds=1, iterations=1)
    benchmark.extra_info["orchestrator_cpu_ms_per_frame"] = cpu * 1e3
    if not benchmark.disabled:
        assert cpu <= 0.25e-3, f"orchestrator CPU {cpu * 1e3:.3f} ms per frame"


def test_respawn(benchmark: Any, pool2: SyncRenderPool) -> None:
    times = benchmark.pedantic(respawn_times, args=(pool2,), rounds=1, iterations=1)
    median = statistics.median(times)
    benchmark.extra_info["respawn_ms_median"] = median * 1e3
    benchmark.extra_info["respawn_ms_max"] = max(times) * 1e3
    if not benchmark.disabled:
        assert median <= 0.050, f"respawn takes {median * 1e3:.1f} ms"


def test_pool_start(benchmark: Any) -> None:
    seconds = benchmark.pedantic(pool_start, rounds=1, iterations=1)
    benchmark.extra_info["pool_start_s"] = seconds


def main() -> None:
    print("machine:", _machine())
    print(f"cards per run: {CARDS} (card A, og, PNG)")
    serial = in_process()
    print(f"in-process        {serial:7.3f} s   {CARDS / serial:7.1f} cards/s")
    with SyncRenderPool(1) as p1:
        one, cpu1 = pool_throughput(p1)
    print(f"1 worker          {one:7.3f} s   {CARDS / one:7.1f} cards/s   cpu {cpu1 * 1e3:.3f} ms")
    with SyncRenderPool(2) as p2:
        two, cpu2 = pool_throughput(p2)
        print(
            f"2 workers         {two:7.3f} s   {CARDS / two:7.1f} cards/s   cpu {cpu2 * 1e3:.3f} ms"
            f"   speedup {one / two:.2f}× (goal ≥ 1.8)"
        )
        print(f"orchestrator CPU per frame (shared memory): {pixel_cpu(p2) * 1e3:.3f} ms")
        times = respawn_times(p2)
        print(
            f"respawn (kill -9 → ready): median {statistics.median(times) * 1e3:.1f} ms, "
            f"max {max(times) * 1e3:.1f} ms (goal ≤ 50)"
        )
    print(f"pool start (2 workers, warm cache): {pool_start():.2f} s")


if __name__ == "__main__":
    main()
