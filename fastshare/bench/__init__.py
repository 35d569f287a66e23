"""``fastshare bench``: the benchmark harness and the Pillow + numpy baseline it compares against.

It ships inside the package (no dev extra needed) and ``benchmarks/`` (pytest-benchmark) reuses it.

    >>> from fastshare.bench import run_suite, format_table          # doctest: +SKIP
    >>> report = run_suite("quick")                                   # doctest: +SKIP
    >>> print(format_table(report)); report.save("bench.json")        # doctest: +SKIP

Modules: :mod:`~fastshare.bench.baseline` (card A with Pillow + numpy), :mod:`~.cases` (every stage
of one card, inputs prepared outside the timed calls), :mod:`~.measure` (rounds, medians, noise
band), :mod:`~.machine` (machine facts, other load), :mod:`~.suite` (the quick and full suites),
:mod:`~.report` (JSON, table, goals, comparison), :mod:`~.plot` (stage breakdown, matplotlib
optional), :mod:`~.workloads` (items, pool tasks, cold start). Names below are imported lazily, so
``import fastshare.bench.baseline`` stays as light as Pillow and numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastshare.bench.baseline import CARD_A, PILLOW_OPTIONS, CardSpec, PillowCard
    from fastshare.bench.cases import CardCases, Case
    from fastshare.bench.machine import LoadProbe, machine_facts
    from fastshare.bench.measure import Sample, Timing, measure, measure_many
    from fastshare.bench.plot import plot_stages
    from fastshare.bench.report import (
        GOALS,
        Change,
        Goal,
        Report,
        Result,
        compare,
        compute_goals,
        format_comparison,
        format_table,
        load_report,
    )
    from fastshare.bench.suite import FULL, QUICK, SUITES, SuiteConfig, run_suite

__all__ = [
    "CARD_A",
    "FULL",
    "GOALS",
    "PILLOW_OPTIONS",
    "QUICK",
    "SUITES",
    "CardCases",
    "CardSpec",
    "Case",
    "Change",
    "Goal",
    "LoadProbe",
    "PillowCard",
    "Report",
    "Result",
    "Sample",
    "SuiteConfig",
    "Timing",
    "compare",
    "compute_goals",
    "format_comparison",
    "format_table",
    "load_report",
    "machine_facts",
    "measure",
    "measure_many",
    "plot_stages",
    "run_suite",
]

_LAZY: dict[str, str] = {
    "CARD_A": "baseline",
    "PILLOW_OPTIONS": "baseline",
    "CardSpec": "baseline",
    "PillowCard": "baseline",
    "Case": "cases",
    "CardCases": "cases",
    "LoadProbe": "machine",
    "machine_facts": "machine",
    "Sample": "measure",
    "Timing": "measure",
    "measure": "measure",
    "measure_many": "measure",
    "plot_stages": "plot",
    "GOALS": "report",
    "Change": "report",
    "Goal": "report",
    "Report": "report",
    "Result": "report",
    "compare": "report",
    "compute_goals": "report",
    "format_comparison": "report",
    "format_table": "report",
    "load_report": "report",
    "FULL": "suite",
    "QUICK": "suite",
    "SUITES": "suite",
    "SuiteConfig": "suite",
    "run_suite": "suite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fastshare.bench' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"fastshare.bench.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
