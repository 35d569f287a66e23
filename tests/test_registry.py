"""The SQLite image registry: schema and migrations, records, queries, durability under kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from fastshare.registry import (
    SCHEMA_VERSION,
    ImageRecord,
    Registry,
    RegistryError,
    original_id_for,
    version_id_for,
)


def output(reg: Registry, item: str, target: str, **extra: Any) -> str:
    fields: dict[str, Any] = {
        "item_id": item,
        "target": target,
        "path": f"/out/{item}/{target}.png",
        "width": 1200,
        "height": 630,
        "format": "png",
        "bytes": 1000,
        "content_hash": "c" * 64,
        "output_key": "k" * 64,
        "template": "card-a",
        "config_hash": "h" * 64,
    }
    fields.update(extra)
    return reg.record_output(**fields)


def test_new_registry_schema_wal_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "reg.sqlite"
    with Registry(path) as reg:
        assert reg.schema_version == SCHEMA_VERSION
        assert reg.execute("PRAGMA journal_mode")[0][0] == "wal"
        tables = {r[0] for r in reg.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"images", "runs", "inflight"} <= tables
        assert reg.integrity_check() == "ok"
    with Registry(path) as again:  # reopening migrates nothing
        assert again.schema_version == SCHEMA_VERSION
    with Registry(path, readonly=True) as ro:
        assert ro.stats()["outputs"] == 0
        with pytest.raises(sqlite3.OperationalError):
            ro.execute("DELETE FROM images")


def test_migrates_an_older_database_and_refuses_a_newer_one(tmp_path: Path) -> None:
    path = tmp_path / "reg.sqlite"
    sqlite3.connect(path).close()  # an empty file at user_version 0
    with Registry(path) as reg:
        assert reg.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(RegistryError, match="newer than this fastshare"):
        Registry(path)
    not_db = tmp_path / "text.sqlite"
    not_db.write_text("this is not a database, just text " * 100, encoding="utf-8")
    with pytest.raises(RegistryError, match="not a usable fastshare registry"):
        Registry(not_db)
    with pytest.raises(RegistryError, match="no registry file"):
        Registry(tmp_path / "missing.sqlite", readonly=True)


def test_originals_versions_and_dedup_lookup(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.sqlite") as reg:
        oid = reg.upsert_original(
            "post-1", correlation_id="blog", content_hash="d" * 64, metadata={"source": "x:1"}
        )
        assert oid == original_id_for("post-1")
        ids = [output(reg, "post-1", t, correlation_id="blog") for t in ("og", "square", "story")]
        assert ids[0] == version_id_for("/out/post-1/og.png")
        original = reg.original("post-1")
        assert original is not None and original.is_original and original.version is None
        assert original.metadata == {"source": "x:1"}
        versions = reg.versions(oid)
        assert [v.version for v in versions] == ["og", "square", "story"]
        assert all(v.original_id == oid and not v.is_original for v in versions)
        assert reg.versions("post-1") == versions  # by item id too
        found = reg.find("post-1", "square", "k" * 64)
        assert isinstance(found, ImageRecord) and found.path == "/out/post-1/square.png"
        assert found.width == 1200 and found.bytes == 1000 and found.template == "card-a"
        assert reg.find("post-1", "square", "other-key") is None
        assert reg.find("post-2", "square", "k" * 64) is None
        records = reg.item_records("post-1")
        assert records[0].is_original and len(records) == 4


def test_recording_an_output_again_replaces_its_row(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.sqlite") as reg:
        first = output(reg, "a", "og", output_key="1" * 64, bytes=10)
        second = output(reg, "a", "og", output_key="2" * 64, bytes=20)
        assert first == second
        (row,) = reg.versions("a")
        assert row.output_key == "2" * 64 and row.bytes == 20
        # an output without an original record creates it
        assert reg.original("a") is not None
        assert reg.stats()["outputs"] == 1 and reg.stats()["originals"] == 1


def test_gallery_returns_the_most_recent_version_per_item_and_target(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.sqlite") as reg:
        for item in ("a", "b"):
            reg.upsert_original(item, correlation_id="g1")
            for target in ("og", "square"):
                output(reg, item, target, correlation_id="g1",
                       created_at=f"2025-01-01T00:00:0{'ab'.index(item)}.000Z")  # fmt: skip
        # a newer og of "a" at another path (another output directory)
        output(reg, "a", "og", correlation_id="g1", path="/other/a/og.png",
               created_at="2025-06-01T00:00:00.000Z", bytes=99)  # fmt: skip
        output(reg, "c", "og", correlation_id="g2")
        gallery = reg.gallery("g1")
        assert len(gallery) == 4
        assert {(r.item_id, r.version) for r in gallery} == {
            ("a", "og"),
            ("a", "square"),
            ("b", "og"),
            ("b", "square"),
        }
        assert gallery[0].path == "/other/a/og.png" and gallery[0].bytes == 99
        assert [r.item_id for r in reg.gallery("g2")] == ["c"]
        assert len(reg.gallery("g1", limit=2)) == 2
        assert reg.gallery("nope") == []


def test_stats_outputs_and_delete_cascade(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.sqlite") as reg:
        output(reg, "a", "og", bytes=100)
        output(reg, "a", "story", bytes=300, format="jpeg", path="/out/a/story.jpg")
        output(reg, "b", "og", bytes=50, template="other")
        stats = reg.stats()
        assert stats["originals"] == 2 and stats["outputs"] == 3 and stats["bytes"] == 450
        assert stats["targets"] == {
            "og": {"outputs": 2, "bytes": 150},
            "story": {"outputs": 1, "bytes": 300},
        }
        assert stats["formats"]["jpeg"] == {"outputs": 1, "bytes": 300}
        assert stats["templates"]["other"]["outputs"] == 1
        assert [r.path for r in reg.outputs(target="og")] == ["/out/a/og.png", "/out/b/og.png"]
        assert [r.item_id for r in reg.outputs(template="other")] == ["b"]
        assert reg.delete(original_id_for("a"))
        assert reg.versions("a") == [] and reg.stats()["outputs"] == 1
        assert not reg.delete(original_id_for("a"))


def test_transactions_commit_or_roll_back(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with Registry(path) as reg:
        with pytest.raises(RuntimeError), reg.transaction():
            output(reg, "a", "og")
            with reg.transaction():  # nested: joins the outer one
                output(reg, "b", "og")
            raise RuntimeError("boom")
        assert reg.stats()["outputs"] == 0
        with reg.transaction():
            output(reg, "a", "og")
            # another connection does not see uncommitted rows (WAL: readers are not blocked)
            with Registry(path, readonly=True) as other:
                assert other.stats()["outputs"] == 0
        with Registry(path, readonly=True) as other:
            assert other.stats()["outputs"] == 1


def test_runs_and_inflight_journal(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.sqlite") as reg:
        reg.start_run("run1", template="card-a", targets=["og", "story"], format="png")
        reg.add_inflight(["/out/a/og.png", "/out/a/story.png"], "run1")
        assert reg.inflight() == [("/out/a/og.png", "run1"), ("/out/a/story.png", "run1")]
        reg.remove_inflight(["/out/a/og.png"])
        assert reg.inflight("run1") == [("/out/a/story.png", "run1")]
        assert reg.inflight("other") == []
        reg.finish_run("run1", "done", {"rendered": 2})
        (run,) = reg.runs()
        assert run["status"] == "done" and run["summary"] == {"rendered": 2}
        assert run["targets"] == "og,story" and run["finished_at"] is not None


_WRITER = textwrap.dedent(
    """
    import sys
    from fastshare.registry import Registry

    reg = Registry(sys.argv[1])
    batch = int(sys.argv[2])
    n = 0
    print("ready", flush=True)
    while True:
        with reg.transaction():
            for t in range(batch):
                reg.record_output(
                    item_id=f"item-{n}", target=f"t{t}", path=f"/out/item-{n}/t{t}.png",
                    width=10, height=10, format="png", bytes=n, content_hash="x" * 64,
                    output_key="k",
                )
            reg.upsert_original(f"item-{n}", content_hash="y" * 64)
        n += 1
    """
)


@pytest.mark.slow
def test_kill_9_during_writes_never_corrupts_the_registry(tmp_path: Path) -> None:
    """A writer committing batches is killed at random moments; every open finds a sound
    database whose rows are whole transactions (never a partial batch)."""
    path = tmp_path / "r.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER, encoding="utf-8")
    rng = random.Random(7)
    batch = 5
    previous = 0
    for _round in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(batch)],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0.05, 0.4))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        with Registry(path) as reg:
            assert reg.integrity_check() == "ok"
            stats = reg.stats()
            assert stats["outputs"] == batch * stats["originals"]
            for t in range(batch):
                assert stats["targets"][f"t{t}"]["outputs"] == stats["originals"]
            counts = reg.execute(
                "SELECT COUNT(*) FROM images WHERE version IS NOT NULL GROUP BY original_id"
            )
            assert {c[0] for c in counts} <= {batch}
            assert stats["originals"] >= previous  # committed rows survive later kills
            previous = stats["originals"]
    assert previous > 10  # the writer got well into its work


def test_registry_sink_records_what_the_pipeline_commits(tmp_path: Path) -> None:
    import asyncio
    import hashlib
    import pickle

    from fastshare.pipeline import run_pipeline
    from fastshare.pool import RenderPool
    from fastshare.pool._demo import DemoGenerator
    from fastshare.registry import RegistrySink
    from fastshare.sinks import DirectorySink

    async def main() -> None:
        with Registry(tmp_path / "r.sqlite") as reg:
            sink = RegistrySink(
                DirectorySink(tmp_path / "out"), reg, template="demo", correlation_id="g"
            )
            assert sink.stage_in_worker
            assert pickle.loads(pickle.dumps(sink)).registry is None  # workers get no connection
            async with RenderPool(1, warm_up=False, import_main=False) as pool:
                result = await run_pipeline(DemoGenerator(3), ["og", "64x64"], sink, pool=pool)
                again = await run_pipeline(DemoGenerator(3), ["og", "64x64"], sink, pool=pool)
            assert again.reused
            rows = reg.versions(result.key)
            assert [r.version for r in rows] == ["64x64", "og"]
            for row in rows:
                out = result.output(row.version or "")
                data = Path(out.location).read_bytes()
                assert row.path == out.location and row.bytes == len(data)
                assert row.content_hash == hashlib.sha256(data).hexdigest()
                assert row.output_key == result.key and row.template == "demo"
            assert [r.item_id for r in reg.gallery("g")] == [result.key, result.key]
            assert reg.stats()["outputs"] == 2  # the reused run recorded nothing new

    asyncio.run(asyncio.wait_for(main(), 120))
