"""Backfill end to end with real worker processes, real files and a real SQLite registry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import _backfill_util as util
import pytest
from PIL import Image

from fastshare.backfiller import (
    BackfillSummary,
    _RunLock,
    backfill,
    backfill_async,
    default_paths,
    read_failures,
)
from fastshare.errors import DataError, EncodeError, TemplateError, ValueRangeError
from fastshare.examples import example_path
from fastshare.pool import RenderPool
from fastshare.registry import Registry
from fastshare.stores import DirectoryStore
from fastshare.targets import Target, parse_target

T = TypeVar("T")
CARD_TARGETS = ("og", "square", "story")


def run(coro: Awaitable[T], timeout: float = 240.0) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(main())


def check_outputs(out: Path, db: Path) -> dict[str, Any]:
    """Every registry row's file exists, decodes to its size and matches hash and bytes;
    no file exists without a row. Returns {relative path: row}."""
    with Registry(db, readonly=True) as reg:
        rows = {str(Path(r.path).relative_to(out)): r for r in reg.outputs() if r.path}
    files = util.files_under(out)
    assert sorted(files) == sorted(rows), "files and registry rows differ"
    for rel, row in rows.items():
        path = out / rel
        data = path.read_bytes()
        assert len(data) == row.bytes
        assert hashlib.sha256(data).hexdigest() == row.content_hash
        with Image.open(path) as img:
            img.load()
            assert img.size == (row.width, row.height)
    assert util.temp_files(out) == []
    return rows


# --------------------------------------------------------------------------- Python API


def test_card_a_rerun_skips_and_edits_rerender_only_what_changed(tmp_path: Path) -> None:
    card = example_path("card-a")
    assert card is not None
    out = tmp_path / "out"
    items = util.card_items(5)
    db = out / ".fastshare" / "registry.sqlite"

    async def main() -> None:
        async with RenderPool(2, import_main=False) as pool:

            async def go(its: Any, **kw: Any) -> BackfillSummary:
                kw.setdefault("targets", CARD_TARGETS)
                return await backfill_async(card, its, out=out, pool=pool, **kw)

            first = await go(items, gallery="{category}", metadata_fields=["title", "nope"])
            assert (first.rendered, first.skipped, first.failed) == (15, 0, 0)
            assert first.ok and first.exit_code == 0 and first.items == 5
            assert set(first.phases) >= {"render", "encode", "write"}
            rows = check_outputs(out, db)
            assert sorted(rows) == sorted(
                f"post-{i}/{t}.png" for i in range(5) for t in CARD_TARGETS
            )
            sizes = {parse_target(t).size for t in CARD_TARGETS}
            assert {(r.width, r.height) for r in rows.values()} == sizes
            before = util.files_under(out)

            with Registry(db, readonly=True) as reg:
                original = reg.original("post-1")
                assert original is not None and original.correlation_id == "Engineering"
                assert original.metadata["fields"] == {"title": items[1]["title"]}
                assert original.metadata["source"] == "items[1]"
                versions = reg.versions("post-1")
                assert [v.version for v in versions] == sorted(CARD_TARGETS)
                assert {v.original_id for v in versions} == {original.id}
                assert all(v.template == "card-a" and v.format == "png" for v in versions)
                assert len(reg.gallery("Engineering")) == 2 * 3  # post-1 and post-4
                (run_row,) = reg.runs()
                assert run_row["status"] == "done" and run_row["summary"]["rendered"] == 15

            again = await go(items)
            assert (again.rendered, again.skipped, again.failed) == (0, 15, 0)
            assert util.files_under(out) == before

            edited = [dict(i) for i in items]
            edited[2]["title"] = "An edited title"
            edited[3]["author"] = "Not used by card A"  # does not change the image
            third = await go(edited)
            assert (third.rendered, third.skipped) == (3, 12)
            now = util.files_under(out)
            changed = sorted(k for k in now if now[k] != before[k])
            assert changed == [f"post-2/{t}.png" for t in sorted(CARD_TARGETS)]

            os.unlink(out / "post-0" / "og.png")  # a lost file is rendered again
            (out / "post-4" / "story.png").write_bytes(b"truncated")  # so is a damaged one
            fourth = await go(edited)
            assert (fourth.rendered, fourth.skipped) == (2, 13)
            assert util.files_under(out) == now

            forced = await go(edited, force=True, limit=1)
            assert (forced.items, forced.rendered, forced.skipped) == (1, 3, 0)

            jpeg = await go(edited, format="jpeg", encode_options={"quality": 80})
            assert jpeg.rendered == 15
            check_outputs(out, db)
            with Registry(db, readonly=True) as reg:
                assert reg.stats()["formats"]["jpeg"]["outputs"] == 15
                assert reg.stats()["outputs"] == 30

            # an edited template re-renders everything it changes
            source_dir = tmp_path / "tpl"
            source_dir.mkdir()
            text = card.read_text(encoding="utf-8").replace("#38BDF8", "#F97316")
            (source_dir / "card-a.toml").write_text(text, encoding="utf-8")
            changed_template = await go(edited, targets=("og",))
            assert changed_template.skipped == 5
            recolored = await backfill_async(
                source_dir / "card-a.toml", edited, out=out, pool=pool, targets=("og",)
            )
            assert (recolored.rendered, recolored.skipped) == (5, 0)
            check_outputs(out, db)

    run(main())


def test_sync_api_inside_a_running_loop_and_stop_then_resume(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    items = util.tiny_items(1000)
    out = tmp_path / "out"

    async def main() -> None:
        stop = asyncio.Event()
        seen: list[dict[str, Any]] = []

        async def stop_after_some_files() -> None:
            while len(list(out.glob("item-*"))) < 10:
                await asyncio.sleep(0.01)
            stop.set()

        watcher = asyncio.ensure_future(stop_after_some_files())
        first = await backfill_async(
            template, items, out=out, workers=1, progress=seen.append, stop=stop
        )
        watcher.cancel()
        assert first.interrupted and not first.ok and first.exit_code == 130
        assert 9 <= first.rendered < 3000 and first.failed == 0
        assert seen and seen[-1]["rendered"] == first.rendered and seen[-1]["total"] == 3000
        check_outputs(out, out / ".fastshare" / "registry.sqlite")
        with Registry(out / ".fastshare" / "registry.sqlite", readonly=True) as reg:
            assert reg.runs()[0]["status"] == "interrupted"
            assert reg.inflight() == []
        # a blocking call from async code still works (it runs in a helper thread)
        second = backfill(template, items, out=out, workers=2)
        assert second.ok and second.rendered + second.skipped == 3000
        assert second.skipped == first.rendered

    run(main())
    rows = check_outputs(out, out / ".fastshare" / "registry.sqlite")
    assert len(rows) == 3000


def test_duplicate_and_unusual_ids(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    items = [
        {"id": "a", "title": "first a"},
        {"id": "../escape", "title": "dots"},
        {"id": "a", "title": "second a"},
        {"id": 12, "title": "numeric"},
        {"id": "x" * 300, "title": "too long"},
    ]
    summary = backfill(template, items, out=out, workers=1, targets=["120x63"])
    assert (summary.rendered, summary.failed) == (3, 2)
    codes = sorted((f.item_id[:5] if f.item_id else None, f.code) for f in summary.failures)
    assert codes == [("a", "duplicate"), ("xxxxx", "limit_exceeded")]
    dup = next(f for f in summary.failures if f.code == "duplicate")
    assert "items[0]" in dup.error and dup.source == "items[2]"
    assert sorted(util.files_under(out)) == [
        "%2E.%2Fescape/120x63.png",
        "12/120x63.png",
        "a/120x63.png",
    ]
    with Registry(out / ".fastshare" / "registry.sqlite", readonly=True) as reg:
        record = reg.original("a")
        assert record is not None and record.metadata["source"] == "items[0]"


def test_worker_crash_fails_only_the_item_that_causes_it(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    store = util.CrashingStore(out, crash_on="boom")
    items = [*util.tiny_items(3), {"id": "boom", "title": "kills its worker"}]
    items += util.tiny_items(2, prefix="after")
    summary = backfill(
        template, items, out=store, db=tmp_path / "reg.sqlite", workers=2, targets=["64x64"]
    )
    assert summary.rendered == 5 and summary.failed == 1
    (failure,) = summary.failures
    assert failure.item_id == "boom" and failure.code == "worker_crashed"
    assert failure.target == "64x64"
    assert sorted(util.files_under(out)) == sorted(
        [f"item-{i:05d}/64x64.png" for i in range(3)]
        + [f"after-{i:05d}/64x64.png" for i in range(2)]
    )
    assert util.temp_files(out) == []


def test_bad_arguments_fail_before_any_work(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(TemplateError):
        backfill(tmp_path / "missing.toml", [], out=out)
    with pytest.raises(DataError, match="no such input file"):
        backfill(template, tmp_path / "missing.jsonl", out=out)
    with pytest.raises(ValueRangeError):
        backfill(template, [], out=out, targets="og,nonsense")
    with pytest.raises(ValueRangeError, match="share a name"):
        backfill(template, [], out=out, targets=[Target("hero", 100, 100), Target("hero", 90, 90)])
    with pytest.raises(ValueRangeError):
        backfill(template, [], out=out, pattern="{item_id}.{ext}")
    with pytest.raises(EncodeError):
        backfill(template, [], out=out, format="jpeg", encode_options={"quality": 500})
    with pytest.raises(EncodeError):
        backfill(template, [], out=out, format="nope")
    for bad in ({"workers": 0}, {"timeout": -1.0}, {"batch_size": 0}, {"limit": -1}):
        with pytest.raises(ValueRangeError):
            backfill(template, [], out=out, **bad)
    assert not out.exists()


def test_one_backfill_per_registry(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    db, _ = default_paths(out)
    lock = _RunLock(db)
    lock.acquire()
    try:
        with pytest.raises(DataError, match="another backfill is using this registry"):
            backfill(template, util.tiny_items(2), out=out)
    finally:
        lock.release()
    assert backfill(template, util.tiny_items(2), out=out, workers=1).rendered == 6


def test_killed_run_leftovers_are_swept_on_start(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"
    store = DirectoryStore(out)
    db, _ = default_paths(out)
    # what a run killed mid-write leaves: inflight rows and temporary files beside the targets
    target = parse_target("64x64")
    location = store.location("item-00000", target, "png")
    os.makedirs(os.path.dirname(location))
    Path(location).with_name(".64x64.png.deadbeef.999.tmp").write_bytes(b"partial")
    with Registry(db) as reg:
        reg.add_inflight([location], "killed-run")
    summary = backfill(template, util.tiny_items(1), out=out, workers=1, targets=["64x64"])
    assert summary.swept == 1 and summary.rendered == 1
    assert util.temp_files(out) == []
    with Registry(db, readonly=True) as reg:
        assert reg.inflight() == []


# --------------------------------------------------------------------------- the command


def test_cli_failures_file_exit_code_and_retry(tmp_path: Path) -> None:
    card = example_path("card-a")
    assert card is not None
    good = util.card_items(3)
    missing = {"id": "no-category", "title": "T", "site": "s", "read_time": "r"}
    huge = {**good[0], "id": "huge", "title": "x" * 1_000_000}
    input_path = util.write_jsonl(
        tmp_path / "items.jsonl", [good[0], "{broken json", missing, huge, good[1], good[2]]
    )
    out = tmp_path / "out"
    args = [str(card), str(input_path), "--out", str(out), "--targets", "og", "--workers", "2"]
    done = util.run_cli([*args, "--quiet"])
    assert done.returncode == 1, done.stderr
    assert "rendered 3, skipped 0 (already done), failed 3" in done.stdout
    failures_path = out / ".fastshare" / "failures.jsonl"
    assert f"all failures: {failures_path}" in done.stdout
    entries = read_failures(failures_path)
    by_code = {f.code: f for f in entries}
    assert set(by_code) == {"bad_data", "limit_exceeded"} and len(entries) == 3
    broken = next(f for f in entries if f.item_id is None)
    assert broken.source == "items.jsonl:2" and "not valid JSON" in broken.error
    assert broken.target is None and broken.position == 2
    lacking = next(f for f in entries if f.item_id == "no-category")
    assert lacking.target == "og" and "'category'" in lacking.error
    assert lacking.field == "category"
    too_long = by_code["limit_exceeded"]
    assert too_long.item_id == "huge" and "longer than" in too_long.error
    raw = [json.loads(line) for line in failures_path.read_text(encoding="utf-8").splitlines()]
    assert {"item_id", "target", "error"} <= set(raw[0])
    check_outputs(out, out / ".fastshare" / "registry.sqlite")

    # fix the input and retry only the failures
    fixed = [
        good[0],
        {**missing, "id": "was-broken", "category": "C"},
        {**missing, "category": "C"},
        {**huge, "title": "short"},
        good[1],
        good[2],
    ]
    util.write_jsonl(input_path, fixed)
    retried = util.run_cli([*args, "--retry-failed", "--json"])
    assert retried.returncode == 0, retried.stderr
    summary = json.loads(retried.stdout)
    assert (summary["items"], summary["rendered"], summary["skipped"], summary["failed"]) == (
        3,
        3,
        0,
        0,
    )
    assert summary["failures_path"] is None and not failures_path.exists()
    rows = check_outputs(out, out / ".fastshare" / "registry.sqlite")
    assert len(rows) == 6

    again = util.run_cli([*args, "--retry-failed"])
    assert again.returncode == 0 and "nothing to retry" in again.stderr
    rerun = util.run_cli([*args, "--json"])
    assert rerun.returncode == 0
    assert json.loads(rerun.stdout)["skipped"] == 6


def test_cli_dry_run_list_and_limit(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", util.tiny_items(4))
    out = tmp_path / "out"
    dry = util.run_cli([str(template), str(input_path), "--out", str(out), "--dry-run", "--json"])
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert summary["dry_run"] and summary["rendered"] == 12 and summary["skipped"] == 0
    assert not out.exists()  # a dry run writes nothing, not even the registry
    some = util.run_cli([str(template), str(input_path), "--out", str(out), "--limit", "2"])
    assert some.returncode == 0, some.stderr
    assert len(util.files_under(out)) == 6
    listed = util.run_cli(
        [str(template), str(input_path), "--out", str(out), "--dry-run", "--list"]
    )
    lines = [line.split("\t") for line in listed.stdout.splitlines() if "\t" in line]
    assert len(lines) == 12
    actions = {(item, action) for action, item, _, _ in lines}
    assert ("item-00000", "skip") in actions and ("item-00003", "render") in actions
    assert all(path.startswith(str(out)) for *_, path in lines)
    assert "would render 6, would skip 6" in listed.stdout
    piped = subprocess.run(
        [*util.cli_command(), str(template), "-", "--out", str(out), "--dry-run", "--json"],
        input=input_path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["skipped"] == 6  # standard input is JSON Lines


def test_cli_help_and_usage_errors(tmp_path: Path) -> None:
    helped = util.run_cli(["--help"])
    assert helped.returncode == 0
    assert "examples:" in helped.stdout and "--retry-failed" in helped.stdout
    bad = util.run_cli([str(tmp_path / "nope.toml"), "x.jsonl", "--out", str(tmp_path / "o")])
    assert bad.returncode == 2 and "template" in bad.stderr
    template = util.write_tiny_template(tmp_path)
    bad_input = util.run_cli([str(template), str(tmp_path / "none.jsonl"), "--out", "o"])
    assert bad_input.returncode == 2 and "no such input file" in bad_input.stderr
    bad_option = util.run_cli([str(template), "-", "--out", "o", "--option", "novalue"])
    assert bad_option.returncode == 2 and "KEY=VALUE" in bad_option.stderr


@pytest.mark.slow
def test_cli_sigterm_finishes_in_flight_work_and_says_how_to_resume(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", util.tiny_items(1500))
    out = tmp_path / "out"
    args = [str(template), str(input_path), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(
        [*util.cli_command(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(out.glob("item-*"))) < 20:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 130, stderr
    assert "finishing the renders in flight" in stderr
    assert "to resume" in stderr and "fastshare" in stderr and str(input_path) in stderr
    db = out / ".fastshare" / "registry.sqlite"
    rows = check_outputs(out, db)  # every row has its file, no file without a row
    assert 0 < len(rows) < 4500
    resumed = util.run_cli([*args, "--json"])
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == len(rows) and summary["rendered"] == 4500 - len(rows)
    assert len(check_outputs(out, db)) == 4500


@pytest.mark.slow
def test_cli_second_signal_cancels_cleanly(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", util.tiny_items(1500))
    out = tmp_path / "out"
    args = [str(template), str(input_path), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(
        [*util.cli_command(), *args, "--batch-size", "64"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(out.glob("item-*"))) < 20:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 130, stderr
    assert "cancelling" in stderr and "To resume, rerun" in stderr
    db = out / ".fastshare" / "registry.sqlite"
    rows = check_outputs(out, db)  # what the cancelled tasks wrote is recorded: files == rows
    with Registry(db, readonly=True) as reg:
        assert reg.inflight() == [] and reg.runs()[0]["status"] == "interrupted"
    assert not list((out / ".fastshare").glob("*.stop-*"))
    resumed = util.run_cli([*args, "--json"])
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["skipped"] == len(rows)
    assert len(check_outputs(out, db)) == 4500


def test_directory_and_csv_inputs(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    folder = tmp_path / "items"
    folder.mkdir()
    for item in util.tiny_items(3):
        (folder / f"{item['id']}.json").write_text(json.dumps({"title": item["title"]}))
    out = tmp_path / "out"
    summary = backfill(template, folder, out=out, workers=1, targets=["64x64"])
    assert summary.rendered == 3
    assert sorted(util.files_under(out)) == [f"item-{i:05d}/64x64.png" for i in range(3)]
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("slug,title\nc1,One\nc2,Two\n", encoding="utf-8")
    out2 = tmp_path / "out2"
    summary = backfill(
        template, csv_path, out=out2, workers=1, targets=["64x64"], id_field="slug",
        pattern="{template}/{target}/{item_id}.{ext}",
    )  # fmt: skip
    assert summary.rendered == 2
    assert sorted(util.files_under(out2)) == ["tiny/64x64/c1.png", "tiny/64x64/c2.png"]
    shutil.rmtree(out2 / "tiny")
    assert backfill(template, csv_path, out=out2, workers=1, targets=["64x64"],
                    id_field="slug", pattern="{template}/{target}/{item_id}.{ext}",
                    ).rendered == 2  # fmt: skip


def test_async_iterable_of_items(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    out = tmp_path / "out"

    async def rows() -> Any:
        for item in util.tiny_items(4):
            await asyncio.sleep(0)  # as a database cursor would
            yield item

    async def main() -> BackfillSummary:
        return await backfill_async(template, rows(), out=out, workers=1, targets=["64x64"])

    summary = run(main())
    assert summary.ok and summary.rendered == 4 and summary.items == 4
    assert len(check_outputs(out, out / ".fastshare" / "registry.sqlite")) == 4
