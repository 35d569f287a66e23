"""Backfill at scale: thousands of outputs, kill -9 at random points, bounded memory.

These run real ``fastshare backfill`` processes with real worker pools, files and SQLite. They use
a tiny template (three small sizes) so they stay fast on two shared cores; the card-sized
end-to-end checks live in ``test_backfill.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import _backfill_util as util
import pytest
from PIL import Image

from fastshare.backfiller import backfill
from fastshare.registry import Registry

pytestmark = pytest.mark.slow


def test_2000_items_x_3_targets_every_file_decodes_and_matches_its_row(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    input_path = util.write_jsonl(tmp_path / "items.jsonl", util.tiny_items(2000))
    out = tmp_path / "out"
    summary = backfill(template, input_path, out=out, workers=2)
    assert summary.ok, summary.format_text()
    assert (summary.items, summary.rendered, summary.skipped, summary.failed) == (2000, 6000, 0, 0)
    db = out / ".fastshare" / "registry.sqlite"
    with Registry(db, readonly=True) as reg:
        assert reg.integrity_check() == "ok"
        stats = reg.stats()
        assert stats["originals"] == 2000 and stats["outputs"] == 6000
        assert stats["targets"].keys() == set(util.TINY_TARGETS)
        rows = {str(Path(r.path).relative_to(out)): r for r in reg.outputs() if r.path}
        per_original = reg.execute(
            "SELECT COUNT(*) FROM images WHERE version IS NOT NULL GROUP BY original_id"
        )
        assert {n for (n,) in per_original} == {3}
    files = util.files_under(out)
    expected = {f"item-{i:05d}/{t}.png" for i in range(2000) for t in util.TINY_TARGETS}
    assert set(files) == expected == set(rows)  # no missing, no extra file
    assert util.temp_files(out) == []
    sizes = {t: tuple(int(v) for v in t.split("x")) for t in util.TINY_TARGETS}
    for rel, digest in files.items():
        row = rows[rel]
        path = out / rel
        assert digest == row.content_hash and path.stat().st_size == row.bytes
        with Image.open(path) as img:
            img.load()
            assert img.format == "PNG" and img.size == sizes[row.version or ""]
            assert (row.width, row.height) == img.size
    # everything is done: a second run renders nothing and starts no pool
    again = backfill(template, input_path, out=out, workers=2)
    assert (again.rendered, again.skipped) == (0, 6000) and again.phases == {}


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*util.cli_command(), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the pool's processes die with it
    )


def test_kill_9_at_random_points_then_resume_equals_a_clean_run(tmp_path: Path) -> None:
    template = util.write_tiny_template(tmp_path)
    n_items = 1000
    input_path = util.write_jsonl(tmp_path / "items.jsonl", util.tiny_items(n_items))
    clean, killed = tmp_path / "clean", tmp_path / "killed"

    def args(out: Path) -> list[str]:
        return [str(template), str(input_path), "--out", str(out), "--workers", "2", "--quiet"]

    done = util.run_cli(args(clean))
    assert done.returncode == 0, done.stderr

    rng = random.Random(20250131)
    kills = 0
    # kill once during start-up, then each time some random number of items have files
    goals = [0, *sorted(rng.randrange(1, n_items) for _ in range(4))]
    for goal in goals:
        proc = _start(args(killed))
        try:
            deadline = time.monotonic() + 120
            if goal == 0:
                time.sleep(rng.uniform(0.1, 1.0))
            while goal and time.monotonic() < deadline and proc.poll() is None:
                if sum(1 for _ in killed.glob("item-*")) >= goal:
                    break
                time.sleep(rng.uniform(0.0, 0.05))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
            assert proc.stderr is not None
            proc.stderr.close()
        db = killed / ".fastshare" / "registry.sqlite"
        if db.exists():
            with Registry(db, readonly=True) as reg:
                assert reg.integrity_check() == "ok"
    assert kills == len(goals), "every run should have been killed, not finished"

    resumed = util.run_cli([*args(killed), "--json"])
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["rendered"] + summary["skipped"] == 3 * n_items and summary["failed"] == 0

    # files: same names, same bytes, nothing partial, no temporary files
    assert util.files_under(killed) == util.files_under(clean)
    assert util.temp_files(killed) == [] and util.temp_files(clean) == []
    # rows: equal to the clean run's, without timestamps and run ids; no duplicates
    clean_rows = util.registry_rows(clean / ".fastshare" / "registry.sqlite", clean)
    killed_rows = util.registry_rows(killed / ".fastshare" / "registry.sqlite", killed)
    assert killed_rows == clean_rows
    assert len(killed_rows) == 4 * n_items  # one original and three versions per item
    with Registry(killed / ".fastshare" / "registry.sqlite", readonly=True) as reg:
        assert reg.inflight() == []
        dupes = reg.execute(
            "SELECT item_id, version, COUNT(*) FROM images GROUP BY item_id, version "
            "HAVING COUNT(*) > 1"
        )
        assert dupes == []
        runs = reg.runs(limit=100)
        assert runs[0]["status"] == "done"
        # killed runs stay "running" in the run log (those killed before they began are absent)
        assert 1 <= sum(1 for r in runs if r["status"] == "running") <= kills


_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from fastshare._cli_backfill import main
    code = main(sys.argv[1:])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"MAXRSS_KB {rss}", file=sys.stderr)
    raise SystemExit(code)
    """
)


def test_streaming_memory_stays_bounded(tmp_path: Path) -> None:
    """Peak memory of a 200k-line dry run is that of a 20k-line one (plus a little)."""
    template = util.write_tiny_template(tmp_path)
    script = tmp_path / "measure.py"
    script.write_text(_MEASURE, encoding="utf-8")
    peaks = {}
    for n in (20_000, 200_000):
        path = tmp_path / f"items-{n}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                title = hashlib.sha256(str(i).encode()).hexdigest()
                fh.write(json.dumps({"id": f"item-{i:06d}", "title": title}) + "\n")
        proc = subprocess.run(
            [sys.executable, str(script), str(template), str(path), "--out",
             str(tmp_path / "out"), "--dry-run", "--json"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["items"] == n and summary["rendered"] == 3 * n
        line = next(x for x in proc.stderr.splitlines() if x.startswith("MAXRSS_KB"))
        peaks[n] = int(line.split()[1]) * 1024
    growth = peaks[200_000] - peaks[20_000]
    # 180k more records (~14 MB more input) may not cost more than 16 MB: nothing per record
    # is kept. The absolute bound is generous: imports (numpy, numba, fonts) dominate.
    assert growth < 16 * 1024 * 1024, peaks
    assert peaks[200_000] < 400 * 1024 * 1024, peaks
    assert not (tmp_path / "out").exists()
