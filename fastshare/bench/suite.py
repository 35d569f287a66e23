"""The ``fastshare bench`` suites: what runs, in which order, and how long it may take.

:func:`run_suite` runs a :class:`SuiteConfig` and returns a :class:`~fastshare.bench.report.Report`:

1. **per card, in process** (:mod:`fastshare.bench.cases`): every stage of card A for fastshare
   and the Pillow baseline, to pixels, and end to end per format, at every target of the suite;
   inputs are built first, rounds are interleaved across all cases (:mod:`~fastshare.bench.measure`)
   and the other load on the machine is recorded;
2. **the render pool**: for 1..N workers, the time to start a pool ready to take work (template
   warm-up and card A warm-up included), then images/s of card A rendered *and encoded in the
   worker* (bytes come back), in rounds; worker respawn times (kill -9 → replacement ready) on the
   largest pool;
3. **cold start**: a fresh ``python -c`` process rendering card A to a PNG file, wall time from
   spawn to exit, after one untimed run that warms numba's on-disk cache and the OS file cache.

:data:`QUICK` finishes in about half a minute on a 2-core machine; :data:`FULL` in a few minutes.
Nothing here asserts a speed: the goals are computed and reported (:func:`compute_goals`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastshare.bench.machine import LoadProbe, machine_facts
from fastshare.bench.measure import Timing, measure_many, sample_of
from fastshare.bench.report import Report, Result, compute_goals
from fastshare.errors import ValueRangeError
from fastshare.targets import parse_target

__all__ = ["FULL", "QUICK", "SUITES", "SuiteConfig", "run_suite", "usable_cpus"]

Progress = Callable[[str], None]


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SuiteConfig:
    """What a suite measures. ``workers=None`` means every usable CPU; 0 skips the pool."""

    name: str
    targets: tuple[str, ...] = ("og",)
    formats: tuple[str, ...] = ("png", "jpeg")
    timing: Timing = field(default_factory=Timing)
    percard: bool = True
    workers: int | None = None
    worker_formats: tuple[str, ...] = ("png",)
    worker_impls: tuple[str, ...] = ("fastshare",)
    worker_cards: int = 48
    worker_rounds: int = 3
    pool_starts: int = 1
    respawns: int = 3
    cold_starts: int = 3
    cold_impls: tuple[str, ...] = ("fastshare", "pillow")

    def replace(self, **changes: Any) -> SuiteConfig:
        return dataclasses.replace(self, **changes)

    def max_workers(self) -> int:
        return usable_cpus() if self.workers is None else self.workers

    def to_dict(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["workers"] = self.max_workers()
        doc["rounds"] = self.timing.rounds
        doc["target_sizes"] = {t: "{}×{}".format(*parse_target(t).size) for t in self.targets}
        return doc


QUICK = SuiteConfig("quick")
FULL = SuiteConfig(
    "full",
    targets=("og", "story"),
    formats=("png", "jpeg", "webp"),
    timing=Timing(rounds=5, round_seconds=0.25, min_reps=5, warmup=5, warmup_seconds=0.2),
    worker_formats=("png", "jpeg"),
    worker_impls=("fastshare", "pillow"),
    worker_cards=96,
    worker_rounds=5,
    pool_starts=2,
    respawns=8,
    cold_starts=5,
)
SUITES: dict[str, SuiteConfig] = {"quick": QUICK, "full": FULL}


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --------------------------------------------------------------------------- 1. per card


def _card_results(
    config: SuiteConfig, progress: Progress | None
) -> tuple[list[Result], dict[str, Any]]:
    from fastshare.bench.cases import CardCases

    results: list[Result] = []
    load: dict[str, Any] = {}
    for target in config.targets:
        with CardCases(target, config.formats) as cards:
            cases = cards.cases(percard=config.percard)
            _say(
                progress,
                f"per card at {target}: {len(cases)} measurements × {config.timing.rounds} rounds",
            )
            with LoadProbe() as probe:
                samples = measure_many([c.call for c in cases], config.timing)
            load.setdefault("other_cores_by_target", {})[target] = probe.other_cores
            for case, sample in zip(cases, samples, strict=True):
                results.append(
                    Result(
                        group=case.group,
                        impl=case.impl,
                        name=case.name,
                        unit="ms",
                        better="lower",
                        value=sample.value * 1e3,
                        rounds=tuple(v * 1e3 for v in sample.rounds),
                        reps=sample.reps,
                        target=case.target,
                        format=case.format,
                        bytes=case.bytes,
                    )
                )
    values = [v for v in load.get("other_cores_by_target", {}).values() if v is not None]
    load["other_cores"] = max(values) if values else None
    return results, load


# --------------------------------------------------------------------------- 2. pool


def _pool_results(config: SuiteConfig, progress: Progress | None) -> list[Result]:
    from fastshare.bench.workloads import card_task, warm_worker
    from fastshare.pool import SyncRenderPool

    results: list[Result] = []
    top = config.max_workers()
    if top < 1:
        return results
    target = config.targets[0]
    throughput: dict[tuple[str, str], dict[int, list[float]]] = {}
    starts: dict[int, list[float]] = {}
    respawn: list[float] = []
    for attempt in range(config.pool_starts):
        for n in range(1, top + 1):
            _say(progress, f"pool with {n} worker(s): start {attempt + 1}/{config.pool_starts}")
            began = time.perf_counter()
            pool = SyncRenderPool(
                n,
                initializer=warm_worker,
                initargs=(config.worker_impls, config.worker_formats, target),
                import_main=False,
            )
            pool.start()
            try:
                starts.setdefault(n, []).append(time.perf_counter() - began)
                if attempt > 0:
                    continue
                for impl in config.worker_impls:
                    for fmt in config.worker_formats:
                        _say(progress, f"pool with {n} worker(s): {impl} {fmt} throughput")
                        args = [(i, impl, fmt, target) for i in range(4 * n)]
                        pool.starmap(card_task, args)  # every worker serves a few first
                        rates = throughput.setdefault((impl, fmt), {}).setdefault(n, [])
                        for _ in range(config.worker_rounds):
                            args = [(i, impl, fmt, target) for i in range(config.worker_cards)]
                            began = time.perf_counter()
                            out = pool.starmap(card_task, args)
                            wall = time.perf_counter() - began
                            if len(out) != len(args) or not all(out):
                                msg = "the pool returned empty results"
                                raise RuntimeError(msg)
                            rates.append(config.worker_cards / wall)
                if n == top and config.respawns > 0:
                    _say(progress, f"pool with {n} worker(s): {config.respawns} respawns")
                    respawn += _respawns(pool, config.respawns)
            finally:
                pool.close()
    for (impl, fmt), by_n in throughput.items():
        for n, rates in sorted(by_n.items()):
            s = sample_of(rates, config.worker_cards)
            results.append(
                Result(
                    "workers", impl, "throughput", "images/s", "higher", s.value, s.rounds,
                    s.reps, target, fmt, n,
                )
            )  # fmt: skip
    for n, seconds in sorted(starts.items()):
        s = sample_of(seconds)
        results.append(
            Result("pool", "fastshare", "warm_up", "s", "lower", s.value, s.rounds, workers=n)
        )
    if respawn:
        s = sample_of([v * 1e3 for v in respawn])
        results.append(
            Result("pool", "fastshare", "respawn", "ms", "lower", s.value, s.rounds, workers=top)
        )
    return results


def _respawns(pool: Any, kills: int) -> list[float]:
    """Kill a worker of ``pool`` ``kills`` times; the seconds each took to be replaced."""
    import signal

    before = len(pool.stats["respawn_seconds"])
    for _ in range(kills):
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while victim in pool.worker_pids() or pool.size < pool.workers:
            if time.monotonic() > deadline:
                msg = "a killed worker was not replaced within 60 s"
                raise RuntimeError(msg)
            time.sleep(0.001)
    return [float(v) for v in list(pool.stats["respawn_seconds"])[before:]]


# --------------------------------------------------------------------------- 3. cold start


def _cold_results(config: SuiteConfig, progress: Progress | None) -> list[Result]:
    from fastshare.bench.workloads import cold_start_code

    results: list[Result] = []
    if config.cold_starts < 1:
        return results
    with tempfile.TemporaryDirectory(prefix="fastshare-cold-") as tmp:
        for impl in config.cold_impls:
            out = Path(tmp) / f"{impl}.png"
            code = cold_start_code(impl, out, "png")
            times = []
            for run in range(config.cold_starts + 1):
                _say(progress, f"cold start {impl}: run {run + 1}/{config.cold_starts + 1}")
                out.unlink(missing_ok=True)
                seconds = _run_fresh(code, tmp)
                if not out.is_file() or out.stat().st_size == 0:
                    msg = f"the cold-start process for {impl} wrote no PNG"
                    raise RuntimeError(msg)
                if run > 0:  # run 0 warms numba's cache and the file cache
                    times.append(seconds)
            s = sample_of(times)
            results.append(
                Result(
                    "cold_start", impl, "first_card", "s", "lower", s.value, s.rounds,
                    target="og", format="png",
                )
            )  # fmt: skip
    return results


def _run_fresh(code: str, cwd: str) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        msg = f"the cold-start process failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        raise RuntimeError(msg)
    return seconds


# --------------------------------------------------------------------------- run


def run_suite(
    config: SuiteConfig | str = "quick",
    *,
    workers: int | None = None,
    targets: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Run a suite (a :class:`SuiteConfig` or ``"quick"``/``"full"``) and return its report.

    ``workers`` overrides the largest pool size (0 skips the pool), ``targets`` the targets.
    ``progress(message)`` is told what runs next.
    """
    if isinstance(config, str):
        if config not in SUITES:
            msg = f"unknown suite; expected one of {', '.join(SUITES)}"
            raise ValueRangeError(msg, field="suite", value=config)
        config = SUITES[config]
    if workers is not None:
        if not isinstance(workers, int) or workers < 0:
            raise ValueRangeError("must be an integer >= 0", field="workers", value=workers)
        config = config.replace(workers=workers)
    if targets is not None:
        config = config.replace(targets=tuple(parse_target(t).spec() for t in targets))
    for fmt in (*config.formats, *config.worker_formats):
        if fmt not in ("png", "jpeg", "webp"):
            raise ValueRangeError("must be png, jpeg or webp", field="formats", value=fmt)

    began = time.perf_counter()
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    machine = machine_facts()
    results, load = _card_results(config, progress)
    results += _pool_results(config, progress)
    results += _cold_results(config, progress)
    try:
        load["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load["loadavg_at_end"] = None
    report = Report(
        suite=config.name,
        created=created,
        config=config.to_dict(),
        machine=machine,
        results=results,
        goals=compute_goals(results, target=config.targets[0]),
        load=load,
        seconds=round(time.perf_counter() - began, 2),
    )
    return report
