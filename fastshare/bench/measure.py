"""Timing primitives of the benchmark harness: medians of repeated rounds after a warm-up.

A measurement is a callable ``call(i)`` whose inputs were built beforehand (``i`` counts calls, so
the callable can cycle through prepared items). :func:`measure` warms it up, sizes a round from the
warm-up timings (``round_seconds`` of work, at least ``min_reps`` calls), then runs ``rounds``
rounds; a round's value is the median of its per-call times, and the result is the median of the
round values. The spread of the round values is the noise band :mod:`fastshare.bench.report`
compares against. :func:`measure_many` interleaves the rounds of several calls (round 1 of every
call, then round 2...), so a burst of load from a neighbour hits fastshare and the baseline alike
and their ratio stays fair. The garbage collector runs before each round and is paused during it.

Nothing here is thread safe; run one measurement at a time.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["MIN_BAND", "Sample", "Timing", "measure", "measure_many", "sample_of"]

#: the narrowest noise band a comparison assumes (relative), whatever the rounds say
MIN_BAND = 0.02


@dataclass(frozen=True)
class Sample:
    """A measured quantity: the median of its round values, and those values.

    ``reps`` is the number of calls each round value is the median of (1 for one-shot
    measurements such as a process start).
    """

    value: float
    rounds: tuple[float, ...]
    reps: int = 1

    @property
    def low(self) -> float:
        return min(self.rounds) if self.rounds else self.value

    @property
    def high(self) -> float:
        return max(self.rounds) if self.rounds else self.value

    @property
    def spread(self) -> float | None:
        """Half the range of the round values relative to the median, or None with one round."""
        if len(self.rounds) < 2 or self.value == 0:
            return None
        return (self.high - self.low) / 2 / abs(self.value)


def sample_of(values: Sequence[float], reps: int = 1) -> Sample:
    """A :class:`Sample` of ``values`` (their median, and the values as rounds)."""
    if not values:
        msg = "a sample needs at least one value"
        raise ValueError(msg)
    return Sample(float(statistics.median(values)), tuple(float(v) for v in values), reps)


@dataclass(frozen=True)
class Timing:
    """How to time a call: rounds, the work per round, and the warm-up."""

    rounds: int = 3
    round_seconds: float = 0.08
    min_reps: int = 3
    max_reps: int = 2000
    warmup: int = 3
    warmup_seconds: float = 0.05

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.min_reps < 1 or self.max_reps < self.min_reps:
            msg = f"bad timing settings: {self}"
            raise ValueError(msg)


class _Bench:
    def __init__(self, call: Callable[[int], object]) -> None:
        self.call = call
        self.calls = 0
        self.reps = 1
        self.rounds: list[float] = []

    def warm(self, timing: Timing) -> None:
        times: list[float] = []
        deadline = time.perf_counter() + timing.warmup_seconds
        while len(times) < timing.warmup or (
            time.perf_counter() < deadline and len(times) < timing.max_reps
        ):
            times.append(self._one())
        per_call = statistics.median(times)
        wanted = timing.round_seconds / per_call if per_call > 0 else timing.max_reps
        self.reps = int(min(timing.max_reps, max(timing.min_reps, math.ceil(wanted))))

    def _one(self) -> float:
        call, index = self.call, self.calls
        self.calls += 1
        start = time.perf_counter()
        call(index)
        return time.perf_counter() - start

    def round(self) -> None:
        times = [self._one() for _ in range(self.reps)]
        self.rounds.append(statistics.median(times))

    def sample(self) -> Sample:
        return sample_of(self.rounds, self.reps)


def measure_many(
    calls: Sequence[Callable[[int], object]],
    timing: Timing,
    progress: Callable[[int, int], None] | None = None,
) -> list[Sample]:
    """Time every call in ``calls``; rounds are interleaved across the calls.

    ``progress(done, total)`` is called after each round of each call.
    """
    benches = [_Bench(call) for call in calls]
    total = len(benches) * (timing.rounds + 1)
    done = 0
    for bench in benches:
        bench.warm(timing)
        done += 1
        if progress is not None:
            progress(done, total)
    was_enabled = gc.isenabled()
    try:
        for _ in range(timing.rounds):
            gc.collect()
            gc.disable()
            for bench in benches:
                bench.round()
                done += 1
                if progress is not None:
                    progress(done, total)
            if was_enabled:
                gc.enable()
    finally:
        if was_enabled:
            gc.enable()
    return [bench.sample() for bench in benches]


def measure(call: Callable[[int], object], timing: Timing | None = None) -> Sample:
    """Time one call (see :func:`measure_many`)."""
    return measure_many([call], timing or Timing())[0]
