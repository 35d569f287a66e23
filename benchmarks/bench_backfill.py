"""Backfill throughput: card A at ``og``, ``square`` and ``story`` in PNG and JPEG.

``fastshare.backfill`` on 1 and 2 workers against a plain Pillow loop over the same items in the
same run. The loop is what a developer writes without fastshare: for each item and target, draw
card A with :class:`fastshare.bench.baseline.PillowCard` (cached background, the bundled Inter
fonts), ``Image.save`` into memory, write the file atomically (temporary file, then rename). It
runs in one process and keeps no registry; the backfill also computes output keys, checks and
writes its SQLite registry and its in-flight journal, so the comparison is generous to the loop.

Two rates are reported for the backfill: **steady** (outputs / seconds from the first task
submitted to the last result: what a long backfill sustains) and **wall** (outputs / the whole
call, including the pool's start, about a second). The loop has no start-up, so its two rates are
the same. Items are :func:`fastshare.bench.workloads.bench_items` (two sample items and a long,
ellipsised title) cycled with distinct ids.

``pytest benchmarks/bench_backfill.py --benchmark-enable`` times each case once per round with
pytest-benchmark (groups ``backfill png`` / ``backfill jpeg``); with ``--benchmark-disable`` (CI)
each case runs once on a handful of items, as a smoke test. ``python benchmarks/bench_backfill.py
[--items N] [--rounds R]`` interleaves the cases round by round (a burst of load from a neighbour
then hits every case alike) and prints a table of medians; docs/performance.md and docs/backfill.md
quote it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TARGETS = ("og", "square", "story")
FORMATS = ("png", "jpeg")
CASES = ("pillow-loop", "backfill-1", "backfill-2")


def make_items(n: int) -> list[dict[str, Any]]:
    from fastshare.bench.workloads import bench_items

    base = bench_items()
    return [{**base[i % len(base)], "id": f"card-{i:05d}"} for i in range(n)]


def pillow_loop(items: list[dict[str, Any]], fmt: str, out: Path) -> dict[str, float]:
    """The baseline: render, encode and atomically write every (item, target) in one process."""
    from fastshare.bench.baseline import PillowCard

    card = PillowCard()
    ext = "jpg" if fmt == "jpeg" else fmt
    started = time.perf_counter()
    count = 0
    for item in items:
        folder = out / item["id"]
        folder.mkdir(parents=True, exist_ok=True)
        for target in TARGETS:
            data = card.render_bytes(item, target, fmt)
            final = folder / f"{target}.{ext}"
            temp = folder / f".{target}.{ext}.tmp"
            with open(temp, "wb") as fh:
                fh.write(data)
            os.replace(temp, final)
            count += 1
    seconds = time.perf_counter() - started
    return {"images": count, "steady": count / seconds, "wall": count / seconds}


def run_backfill(
    items: list[dict[str, Any]], fmt: str, workers: int, out: Path
) -> dict[str, float]:
    from fastshare.backfiller import backfill
    from fastshare.bench.workloads import card_template_path

    started = time.perf_counter()
    summary = backfill(card_template_path(), items, out=out, targets=TARGETS, format=fmt,
                       workers=workers)  # fmt: skip
    wall = time.perf_counter() - started
    if not summary.ok or summary.rendered != len(items) * len(TARGETS):
        raise RuntimeError(summary.format_text())
    return {
        "images": summary.rendered,
        "steady": summary.images_per_second,
        "wall": summary.rendered / wall,
        "render": summary.phases.get("render", 0.0) / summary.rendered * 1e3,
        "encode": summary.phases.get("encode", 0.0) / summary.rendered * 1e3,
        "write": summary.phases.get("write", 0.0) / summary.rendered * 1e3,
    }


def run_case(case: str, items: list[dict[str, Any]], fmt: str, out: Path) -> dict[str, float]:
    from fastshare.bench.machine import LoadProbe

    shutil.rmtree(out, ignore_errors=True)
    try:
        with LoadProbe() as probe:
            if case == "pillow-loop":
                result = pillow_loop(items, fmt, out)
            else:
                result = run_backfill(items, fmt, int(case.rsplit("-", 1)[1]), out)
        # busy cores outside this process (the backfill's own workers count as "other" too)
        result["busy_elsewhere"] = probe.other_cores if probe.other_cores is not None else -1.0
        return result
    finally:
        shutil.rmtree(out, ignore_errors=True)


# --------------------------------------------------------------------------- pytest-benchmark


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_backfill_throughput(
    benchmark: Any, request: Any, tmp_path: Path, case: str, fmt: str
) -> None:
    # as pytest-benchmark decides: --benchmark-enable wins over the --benchmark-disable in addopts
    disabled = bool(request.config.getoption("benchmark_disable", False)) and not bool(
        request.config.getoption("benchmark_enable", False)
    )
    items = make_items(3 if disabled else 60)
    benchmark.group = f"backfill {fmt}"
    results: list[dict[str, float]] = []

    def once() -> None:
        results.append(run_case(case, items, fmt, tmp_path / "out"))

    benchmark.pedantic(once, rounds=1 if disabled else 3, iterations=1)
    assert results and all(r["images"] == len(items) * len(TARGETS) for r in results)
    benchmark.extra_info.update(
        case=case,
        format=fmt,
        images=len(items) * len(TARGETS),
        steady_images_per_second=statistics.median(r["steady"] for r in results),
        wall_images_per_second=statistics.median(r["wall"] for r in results),
    )


# --------------------------------------------------------------------------- table


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def measure(n_items: int, rounds: int, progress: Callable[[str], None]) -> dict[str, Any]:
    items = make_items(n_items)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="fastshare-bench-backfill-") as tmp:
        # warm the numba cache and fonts once, outside the measurements
        run_case("backfill-1", items[:2], "png", Path(tmp) / "warm")
        run_case("pillow-loop", items[:2], "png", Path(tmp) / "warm")
        for r in range(rounds):
            for fmt in FORMATS:
                for case in CASES:
                    result = run_case(case, items, fmt, Path(tmp) / "out")
                    runs.setdefault((case, fmt), []).append(result)
                    progress(f"round {r + 1}/{rounds} {fmt} {case}: {result['steady']:.1f}/s")
    medians = {
        key: {name: statistics.median(v[name] for v in values) for name in values[0]}
        for key, values in runs.items()
    }
    best = {key: max(v["steady"] for v in values) for key, values in runs.items()}
    return {"items": n_items, "rounds": rounds, "medians": medians, "best": best, "runs": runs}


def format_table(data: dict[str, Any]) -> str:
    medians, best = data["medians"], data["best"]
    lines = [
        f"card A × {', '.join(TARGETS)}: {data['items']} items = "
        f"{data['items'] * len(TARGETS)} images per case; median and best of {data['rounds']} "
        "interleaved rounds",
        "",
        "| format | case | steady images/s (median) | best | wall images/s (median) "
        "| vs Pillow loop (median, best) | worker ms/image: render, encode, write |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for fmt in FORMATS:
        base = medians[("pillow-loop", fmt)]["steady"]
        base_best = best[("pillow-loop", fmt)]
        for case in CASES:
            m = medians[(case, fmt)]
            phases = (
                f"{m['render']:.2f}, {m['encode']:.2f}, {m['write']:.2f}" if "render" in m else ""
            )
            top = best[(case, fmt)]
            lines.append(
                f"| {fmt} | {case} | {m['steady']:.1f} | {top:.1f} | {m['wall']:.1f} | "
                f"{m['steady'] / base:.2f}×, {top / base_best:.2f}× | {phases} |"
            )
    others = [
        r["busy_elsewhere"]
        for (case, _), values in data["runs"].items()
        if case == "pillow-loop"
        for r in values
        if r["busy_elsewhere"] >= 0
    ]
    if others:
        lines += [
            "",
            f"other processes kept {min(others):.2f}–{max(others):.2f} cores busy during the "
            "Pillow loop rounds (0 = a quiet machine)",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100, help="items per case (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args(argv)
    before = _load()
    started = time.perf_counter()
    data = measure(args.items, args.rounds, lambda line: print(line, file=sys.stderr))
    print(format_table(data))
    print()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average {before} before, {_load()} after; "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
