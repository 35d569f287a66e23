"""End-to-end benchmarks of card A: each stage and format, fastshare vs the Pillow baseline.

The cases are the ones ``fastshare bench`` times (:class:`fastshare.bench.cases.CardCases`): plan,
layout, paint, fromarray, encode and write per format, to pixels, and end to end per format, for
fastshare and for the Pillow + numpy baseline that ships in ``fastshare.bench.baseline``, at
``og`` (1200×630) and ``story`` (1080×1920). Inputs are built in a module fixture, outside the
timed calls; each call works on the next benchmark item (three items, one with an ellipsised
title). pytest-benchmark groups put each fastshare case beside its baseline.

Goals, ratios in the same run against the baseline (asserted only when benchmarks are enabled:
``pytest benchmarks/bench_e2e.py --benchmark-enable``; with ``--benchmark-disable``, as in CI,
every case runs once as a smoke test):

* to pixels ≤ 0.25×; PNG end to end ≤ 0.25× at comparable bytes (≤ 1.1× the baseline's);
  JPEG end to end ≤ 0.4×.

The pool goals (2 workers ≥ 1.8× one) live in ``bench_pool.py``; cold start and pool warm-up in
``fastshare bench`` (they need fresh processes, not repeated calls).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fastshare.bench.cases import CardCases, CaseKey
from fastshare.bench.report import Result, compute_goals

TARGETS = ("og", "story")
FORMATS = ("png", "jpeg", "webp")
KEYS = CardCases.case_keys(FORMATS)

_MEDIANS: dict[str, Result] = {}


def _key_id(key: CaseKey) -> str:
    return "-".join(part for part in key if part is not None)


@pytest.fixture(scope="module")
def cards() -> Iterator[Callable[[str], CardCases]]:
    built: dict[str, CardCases] = {}

    def get(target: str) -> CardCases:
        if target not in built:
            built[target] = CardCases(target, FORMATS)
        return built[target]

    yield get
    for cases in built.values():
        cases.close()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("key", KEYS, ids=[_key_id(k) for k in KEYS])
def test_card(benchmark: Any, cards: Callable[[str], CardCases], target: str, key: CaseKey) -> None:
    case = cards(target).case(*key)
    group, impl, name, fmt = key
    benchmark.group = f"{target} {name}" + (f" {fmt}" if fmt else "")
    benchmark.extra_info.update(impl=impl, target=target, format=fmt, bytes=case.bytes)
    counter = itertools.count()
    call = case.call
    out = benchmark(lambda: call(next(counter)))
    assert out is not None
    if benchmark.stats is not None:
        median_ms = benchmark.stats.stats.median * 1e3
        _MEDIANS[case.id] = Result(
            group, impl, name, "ms", "lower", median_ms, (median_ms,),
            target=target, format=fmt, bytes=case.bytes,
        )  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
def test_goals(benchmark: Any, target: str) -> None:
    """The same-run ratios of the goals, from the medians above (needs --benchmark-enable)."""
    benchmark.group = f"{target} goals"
    results = [r for r in _MEDIANS.values() if r.target == target]
    goals = {g.name: g for g in compute_goals(results, target=target)}
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    for name in ("to_pixels", "png_end_to_end", "jpeg_end_to_end"):
        goal = goals[name]
        benchmark.extra_info[name] = goal.value
        benchmark.extra_info[f"{name}_detail"] = goal.detail
    if benchmark.disabled:
        return
    failed = [
        f"{g.description}: {g.value:.2f}{g.unit} (goal {g.op} {g.limit:g}{g.unit}; {g.detail})"
        for name, g in goals.items()
        if name in ("to_pixels", "png_end_to_end", "jpeg_end_to_end") and g.met is False
    ]
    checked = ("to_pixels", "png_end_to_end", "jpeg_end_to_end")
    missing = [name for name in checked if goals[name].met is None]
    assert not missing, f"not measured in this run: {missing}"
    assert not failed, "goals not met at " + target + ":\n" + "\n".join(failed)
