"""The share-image pipeline across targets in a real pool: dedup, hooks, bounce, cleanup."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import _pool_tasks as tasks
import numpy as np
import pytest
from PIL import Image

from fastshare.errors import DataError, RenderError, ShareImageBounceError, ValueRangeError
from fastshare.pipeline import (
    FunctionGenerator,
    ShareImageGenerator,
    configuration_key,
    encode_frame,
    run_pipeline,
    stop_on_signals,
)
from fastshare.pool import RenderPool
from fastshare.pool._demo import DemoGenerator, demo_card
from fastshare.sinks import DirectorySink, MemorySink
from fastshare.targets import TARGETS, Target

T = TypeVar("T")
TARGET_NAMES = ["og", "square", "story", "x"]


def run(coro: Awaitable[T], timeout: float = 120.0) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(main())


def pool(workers: int = 2, **options: Any) -> RenderPool:
    options.setdefault("warm_up", False)
    options.setdefault("preload", ("_pool_tasks",))
    return RenderPool(workers, **options)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_renders_every_target_and_dedups(tmp_path: Path) -> None:
    async def main() -> None:
        gen = tasks.RecordingDemo(variant=5)
        assert isinstance(gen, ShareImageGenerator)
        sink = DirectorySink(tmp_path)
        async with pool() as p:
            result = await run_pipeline(gen, TARGET_NAMES, sink, pool=p)
            assert not result.reused and gen.finished is result
            assert [o.target for o in result.outputs] == TARGET_NAMES
            for name in TARGET_NAMES:
                out = result.output(name)
                target = TARGETS[name]
                with Image.open(out.location) as img:
                    assert img.size == (target.width, target.height)
                    np.testing.assert_array_equal(
                        np.asarray(img.convert("RGB")), demo_card(target.width, target.height, 5)
                    )
                assert set(result.timings[name].phases) >= {"paint", "encode", "write"}
            submitted = p.stats["submitted"]
            again = await run_pipeline(gen, TARGET_NAMES, sink, pool=p)
            assert again.reused and again.outputs == result.outputs
            assert p.stats["submitted"] == submitted  # nothing rendered the second time
            assert gen.finished is again
            forced = await run_pipeline(gen, TARGET_NAMES, sink, pool=p, force=True)
            assert not forced.reused and p.stats["submitted"] == submitted + 4
        assert files_under(tmp_path) == sorted(
            [f"{result.key}/manifest.json"] + [f"{result.key}/{n}.png" for n in TARGET_NAMES]
        )

    run(main())


def test_target_argument_prepare_process_and_async_hooks() -> None:
    async def main() -> None:
        sink = MemorySink()
        async with pool(1) as p:
            result = await run_pipeline(
                tasks.TargetAwareGenerator(), ["og", "facebook"], sink, pool=p
            )
            og = sink.data(result.key, "og")
            assert og != sink.data(result.key, "facebook")  # same size, different target

            counted = await run_pipeline(
                tasks.CountingGenerator(), ["og", "x", "square", "story"], sink, pool=p
            )
            for out in counted.outputs:
                with Image.open(io.BytesIO(sink.data(counted.key, out.target))) as img:
                    assert img.getpixel((0, 0))[0] == 1  # prepare_process ran once

            gen = tasks.AsyncHooksGenerator()
            res = await run_pipeline(gen, ["og"], sink, pool=p, format="jpeg")
            assert gen.events == ["configuration", "prepare", "finish"] and gen.result is res
            assert sink.data(res.key, "og")[:2] == b"\xff\xd8"

            png = await p.render(DemoGenerator(2), Target("og", 400, 210))
            with Image.open(io.BytesIO(png)) as img:
                np.testing.assert_array_equal(np.asarray(img), demo_card(400, 210, 2))
            with await p.render(DemoGenerator(2), Target("og", 40, 21), pixels=True) as frame:
                np.testing.assert_array_equal(frame.array, demo_card(40, 21, 2))

    run(main())


def test_bad_generator_output_fails_the_run_and_leaves_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with pool(2) as p:
            with pytest.raises(ValueRangeError, match="630×1200×3"):
                await run_pipeline(
                    tasks.WrongShapeGenerator(), ["og"], DirectorySink(tmp_path), pool=p
                )
            gen = tasks.FailingGenerator((1080, 1920))
            with pytest.raises(RenderError, match="cannot be drawn"):
                await run_pipeline(gen, TARGET_NAMES, DirectorySink(tmp_path), pool=p)
            await p.join()
        assert files_under(tmp_path) == []

    run(main())


def test_bounce_removes_partial_outputs_and_a_rerun_completes(tmp_path: Path) -> None:
    async def main() -> None:
        sink = DirectorySink(tmp_path)
        async with pool(2, cancel_grace=0.3) as p:
            gen = DemoGenerator(variant=9, delay=0.3)
            stop = asyncio.Event()
            run_task = asyncio.ensure_future(
                run_pipeline(gen, TARGET_NAMES, sink, pool=p, stop=stop)
            )
            # let the first two targets finish and be staged, then stop mid-way
            deadline = asyncio.get_running_loop().time() + 30
            while p.stats["completed"] < 2:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.005)
            stop.set()
            with pytest.raises(ShareImageBounceError, match="stopped"):
                await run_task
            assert files_under(tmp_path) == []
            assert p.stats["cancelled"] >= 1

            # a generator that ignores the flag is killed after the grace period
            stop = asyncio.Event()
            stubborn = tasks.StubbornGenerator(5.0)
            run_task = asyncio.ensure_future(
                run_pipeline(stubborn, ["og", "x"], sink, pool=p, stop=stop)
            )
            await asyncio.sleep(0.2)
            stop.set()
            with pytest.raises(ShareImageBounceError):
                await run_task
            assert files_under(tmp_path) == []

            # stopped before it started: nothing runs
            with pytest.raises(ShareImageBounceError):
                await run_pipeline(gen, TARGET_NAMES, sink, pool=p, stop=stop)

            # the requeued run completes the work
            gen.delay = 0.0
            result = await run_pipeline(gen, TARGET_NAMES, sink, pool=p)
            assert len(result.outputs) == 4
            assert all(os.path.isfile(o.location) for o in result.outputs)
            assert not [f for f in files_under(tmp_path) if f.endswith(".tmp")]

    run(main())


def test_run_pipeline_with_its_own_pool() -> None:
    sink = MemorySink()
    result = run(run_pipeline(DemoGenerator(1), ["og"], sink, workers=1), timeout=600)
    assert len(sink.data(result.key, "og")) == result.outputs[0].size


def test_configuration_key() -> None:
    og, x = TARGETS["og"], TARGETS["x"]
    base = configuration_key({"a": 1}, [og], "png")
    assert base == configuration_key({"a": 1}, [og], "PNG")
    assert (
        len(
            {
                base,
                configuration_key({"a": 2}, [og], "png"),
                configuration_key({"a": 1}, [og, x], "png"),
                configuration_key({"a": 1}, [og], "jpeg"),
                configuration_key({"a": 1}, [og], "png", {"compress_level": 1}),
                configuration_key({"a": 1}, [og.scaled(2)], "png"),
            }
        )
        == 6
    )
    with pytest.raises(DataError, match="JSON"):
        configuration_key({"a": object()}, [og], "png")


def test_duplicate_or_empty_targets_are_refused() -> None:
    with pytest.raises(ValueRangeError):
        run(run_pipeline(DemoGenerator(), ["og", "og"], MemorySink(), workers=1))
    with pytest.raises(ValueRangeError):
        run(run_pipeline(DemoGenerator(), [], MemorySink(), workers=1))


def test_function_generator_and_encode_frame() -> None:
    gen = FunctionGenerator(tasks.frame_for_target, {"fn": "frame"}, 3)
    frame = gen.generate(8, 4, None, target=Target("t", 8, 4))
    assert frame.shape == (4, 8, 3) and int(frame[0, 0, 0]) == 3
    png = encode_frame(frame, "png")
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (8, 4)


def test_stop_on_signals() -> None:
    async def main() -> None:
        event = asyncio.Event()
        with stop_on_signals(event):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(event.wait(), 10)
        assert event.is_set()

    run(main())
