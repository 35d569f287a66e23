"""Backfill throughput on Dask distributed against the local engine, on this machine.

Card A at ``og``, ``square`` and ``story`` for the same items, three cases per format:

* ``local-2``: the local engine (:class:`~fastshare.pool.RenderPool`, 2 workers);
* ``dask-local-2``: ``engine="dask", local=2``: the run starts its own LocalCluster (2 worker
  processes, one thread each), warms it through the worker plugin, and closes it;
* ``dask-cluster-2``: ``engine="dask", scheduler=...``: a LocalCluster started once before the
  measurements (like a cluster that is already running); each run connects a client to it and
  registers the warm-up plugin.

Two rates per case, as in ``bench_backfill.py``: **steady** (outputs / seconds from the first
chunk submitted to the last result) and **wall** (outputs / the whole call, start-up included).
Both Dask cases use the engine's default chunk size for the input (:func:`fastshare.dask_engine.
chunk_items`), or ``--batch-size``.

``python benchmarks/bench_dask.py [--items N] [--rounds R] [--formats png,jpeg]`` interleaves the
cases round by round and prints a table of medians (docs/scaling.md quotes it). Under pytest
(CI runs ``pytest benchmarks --benchmark-disable``) each case runs once on a few items as a smoke
test; it is skipped when the ``dask`` extra is not installed.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TARGETS = ("og", "square", "story")
CASES = ("local-2", "dask-local-2", "dask-cluster-2")


def make_items(n: int) -> list[dict[str, Any]]:
    from fastshare.bench.workloads import bench_items

    base = bench_items()
    return [{**base[i % len(base)], "id": f"card-{i:05d}"} for i in range(n)]


def start_cluster() -> Any:
    """A 2-worker LocalCluster configured as the engine configures its own."""
    import dask
    import distributed

    from fastshare.dask_engine import SCHEDULER_CONFIG, local_cluster_kwargs

    with dask.config.set(SCHEDULER_CONFIG):
        return distributed.LocalCluster(**local_cluster_kwargs(2))


def run_case(
    case: str,
    items: list[dict[str, Any]],
    fmt: str,
    out: Path,
    cluster: Any,
    batch_size: int | None = None,
) -> dict[str, float]:
    from fastshare.backfiller import backfill
    from fastshare.bench.workloads import card_template_path

    options: dict[str, Any] = {"batch_size": batch_size}
    if case == "local-2":
        options = {"workers": 2}
    elif case == "dask-local-2":
        options.update(engine="dask", local=2)
    else:
        options.update(engine="dask", scheduler=cluster.scheduler_address)
    shutil.rmtree(out, ignore_errors=True)
    try:
        started = time.perf_counter()
        summary = backfill(card_template_path(), items, out=out, targets=TARGETS, format=fmt,
                           **options)  # fmt: skip
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if not summary.ok or summary.rendered != len(items) * len(TARGETS):
        raise RuntimeError(summary.format_text())
    return {
        "images": summary.rendered,
        "steady": summary.images_per_second,
        "wall": summary.rendered / wall,
        "seconds": wall,
    }


# --------------------------------------------------------------------------- pytest


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install 'fastshare[dask]')"
    )
    lc = start_cluster()
    try:
        yield lc
    finally:
        lc.close(timeout=30)


@pytest.mark.parametrize("case", CASES)
def test_dask_backfill_throughput(
    benchmark: Any, request: Any, tmp_path: Path, cluster: Any, case: str
) -> None:
    disabled = bool(request.config.getoption("benchmark_disable", False))
    items = make_items(3 if disabled else 60)
    benchmark.group = "backfill on dask, png"
    results: list[dict[str, float]] = []

    def once() -> None:
        results.append(run_case(case, items, "png", tmp_path / "out", cluster))

    benchmark.pedantic(once, rounds=1 if disabled else 3, iterations=1)
    assert results and all(r["images"] == len(items) * len(TARGETS) for r in results)
    benchmark.extra_info.update(
        case=case,
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


def measure(
    n_items: int,
    rounds: int,
    formats: list[str],
    batch_size: int | None,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    items = make_items(n_items)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="fastshare-bench-dask-") as tmp:
            for case in CASES:  # warm numba's cache, the fonts and the cluster, unmeasured
                run_case(case, items[:3], "png", Path(tmp) / "warm", cluster)
            for r in range(rounds):
                for fmt in formats:
                    for case in CASES:
                        result = run_case(case, items, fmt, Path(tmp) / "out", cluster, batch_size)
                        runs.setdefault((case, fmt), []).append(result)
                        progress(
                            f"round {r + 1}/{rounds} {fmt} {case}: steady {result['steady']:.1f}/s"
                            f", wall {result['wall']:.1f}/s"
                        )
    finally:
        cluster.close(timeout=30)
    medians = {
        key: {name: statistics.median(v[name] for v in values) for name in values[0]}
        for key, values in runs.items()
    }
    best = {key: max(v["steady"] for v in values) for key, values in runs.items()}
    return {
        "items": n_items,
        "rounds": rounds,
        "formats": formats,
        "batch_size": batch_size,
        "medians": medians,
        "best": best,
    }


def format_table(data: dict[str, Any]) -> str:
    from fastshare.dask_engine import chunk_items

    medians, best = data["medians"], data["best"]
    chunk = data["batch_size"] or chunk_items(data["items"])
    lines = [
        f"card A × {', '.join(TARGETS)}: {data['items']} items = "
        f"{data['items'] * len(TARGETS)} images per case, Dask chunks of {chunk} items; median "
        f"and best of {data['rounds']} interleaved rounds",
        "",
        "| format | case | steady images/s (median) | best | wall images/s (median) "
        "| wall seconds | steady vs local-2 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for fmt in data["formats"]:
        base = medians[("local-2", fmt)]["steady"]
        for case in CASES:
            m = medians[(case, fmt)]
            lines.append(
                f"| {fmt} | {case} | {m['steady']:.1f} | {best[(case, fmt)]:.1f} | "
                f"{m['wall']:.1f} | {m['seconds']:.2f} | {m['steady'] / base:.2f}× |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=400, help="items per case (default 400)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--formats", default="png,jpeg", help="formats (default png,jpeg)")
    parser.add_argument("--batch-size", type=int, help="items per Dask chunk (default: auto)")
    args = parser.parse_args(argv)
    before = _load()
    started = time.perf_counter()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    data = measure(
        args.items, args.rounds, formats, args.batch_size, lambda s: print(s, file=sys.stderr)
    )
    import distributed

    print(format_table(data))
    print()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, dask/distributed {distributed.__version__}; "
        f"load average {before} before, {_load()} after; {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
