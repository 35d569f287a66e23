"""Benchmark reports: results, goals, the JSON file, the printed table, the comparison of runs.

A :class:`Report` is what one ``fastshare bench`` run produced: the suite and its settings, the
machine facts, the other load on the machine during the run, every :class:`Result` and the
:class:`Goal` verdicts. :meth:`Report.to_json` / :func:`load_report` round-trip it through a JSON
document whose layout is :data:`SCHEMA` (checked on load by :func:`validate_report`, which lists
every problem with its field).

Result ids are ``group/impl/name[/target][/format][/workers=N]``, e.g.
``stage/fastshare/layout/og``, ``e2e/pillow/end_to_end/og/png``,
``workers/fastshare/throughput/og/png/workers=2``, ``cold_start/fastshare/first_card/og/png``.
Two reports are compared id by id (:func:`compare`): the ratio new/old, and a verdict that is
``same`` unless the ratio leaves the *combined noise band*, the sum of both runs' relative spreads
(half the range of their round values, at least :data:`~fastshare.bench.measure.MIN_BAND`
each; :data:`SINGLE_SHOT_BAND` for a value measured once).

Everything here is plain data; functions are pure and thread safe.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastshare.bench.measure import MIN_BAND
from fastshare.errors import DataError

__all__ = [
    "GOALS",
    "SCHEMA",
    "SINGLE_SHOT_BAND",
    "Change",
    "Goal",
    "GoalSpec",
    "Report",
    "Result",
    "compare",
    "compute_goals",
    "format_comparison",
    "format_markdown",
    "format_table",
    "load_report",
    "result_id",
    "validate_report",
]

#: the JSON document's schema name and version
SCHEMA = "fastshare.bench/1"
#: relative noise assumed for a value measured in a single round
SINGLE_SHOT_BAND = 0.10
#: PNG bytes count as "comparable" up to this multiple of the baseline's bytes
COMPARABLE_BYTES = 1.10

Better = Literal["lower", "higher"]
STAGES = ("plan", "layout", "paint", "fromarray", "encode", "write")


def result_id(
    group: str,
    impl: str,
    name: str,
    target: str | None = None,
    fmt: str | None = None,
    workers: int | None = None,
) -> str:
    """``group/impl/name[/target][/format][/workers=N]``."""
    parts = [group, impl, name]
    if target is not None:
        parts.append(target)
    if fmt is not None:
        parts.append(fmt)
    if workers is not None:
        parts.append(f"workers={workers}")
    return "/".join(parts)


@dataclass(frozen=True)
class Result:
    """One measured quantity: its median over rounds, the round values and what it is.

    ``group`` is ``stage`` (one stage of one card), ``pixels`` (plan + layout + paint in one
    call), ``e2e`` (pixels and encode: the bytes of one card), ``workers`` (cards per second
    through a pool), ``cold_start`` (a fresh process to its first card) or ``pool`` (pool
    warm-up and respawn). ``unit`` is ``ms``, ``s`` or ``images/s``; ``better`` says which way is
    faster. ``bytes`` is the mean encoded size over the items, for encode and e2e results.
    """

    group: str
    impl: str
    name: str
    unit: str
    better: Better
    value: float
    rounds: tuple[float, ...]
    reps: int = 1
    target: str | None = None
    format: str | None = None
    workers: int | None = None
    bytes: int | None = None
    note: str | None = None

    @property
    def id(self) -> str:
        return result_id(self.group, self.impl, self.name, self.target, self.format, self.workers)

    @property
    def spread(self) -> float | None:
        """Half the range of the round values relative to the median; None for one round."""
        if len(self.rounds) < 2 or self.value == 0:
            return None
        return (max(self.rounds) - min(self.rounds)) / 2 / abs(self.value)

    def band(self) -> float:
        """The relative noise band used when comparing this value."""
        spread = self.spread
        return SINGLE_SHOT_BAND if spread is None else max(MIN_BAND, spread)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "impl": self.impl,
            "name": self.name,
            "target": self.target,
            "format": self.format,
            "workers": self.workers,
            "unit": self.unit,
            "better": self.better,
            "value": self.value,
            "rounds": list(self.rounds),
            "reps": self.reps,
            "spread": self.spread,
            "bytes": self.bytes,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Result:
        return cls(
            group=str(doc["group"]),
            impl=str(doc["impl"]),
            name=str(doc["name"]),
            unit=str(doc["unit"]),
            better="higher" if doc["better"] == "higher" else "lower",
            value=float(doc["value"]),
            rounds=tuple(float(v) for v in doc["rounds"]),
            reps=int(doc.get("reps", 1)),
            target=doc.get("target"),
            format=doc.get("format"),
            workers=doc.get("workers"),
            bytes=doc.get("bytes"),
            note=doc.get("note"),
        )


# --------------------------------------------------------------------------- goals


@dataclass(frozen=True)
class GoalSpec:
    """A goal: ``value op limit``, where value is a ratio in the same run, or seconds."""

    name: str
    description: str
    op: Literal["<=", ">="]
    limit: float
    unit: str  # "×" for a ratio, "s" for seconds


#: the goals fastshare is held to (issue 8), all measured on card A
GOALS: tuple[GoalSpec, ...] = (
    GoalSpec("to_pixels", "to pixels vs the Pillow baseline", "<=", 0.25, "×"),
    GoalSpec("png_end_to_end", "PNG end to end vs Pillow, at comparable bytes", "<=", 0.25, "×"),
    GoalSpec("jpeg_end_to_end", "JPEG end to end vs Pillow", "<=", 0.40, "×"),
    GoalSpec("two_workers", "2 workers vs 1 worker, images/s", ">=", 1.80, "×"),
    GoalSpec("cold_start", "fresh process to its first card (warm numba cache)", "<=", 1.5, "s"),
)


@dataclass(frozen=True)
class Goal:
    """A goal's verdict in one run: ``met`` is None when the run did not measure it."""

    name: str
    description: str
    op: str
    limit: float
    unit: str
    value: float | None
    met: bool | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "op": self.op,
            "limit": self.limit,
            "unit": self.unit,
            "value": self.value,
            "met": self.met,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Goal:
        value = doc.get("value")
        met = doc.get("met")
        return cls(
            name=str(doc["name"]),
            description=str(doc["description"]),
            op=str(doc["op"]),
            limit=float(doc["limit"]),
            unit=str(doc["unit"]),
            value=None if value is None else float(value),
            met=None if met is None else bool(met),
            detail=str(doc.get("detail", "")),
        )


def _check(spec: GoalSpec, value: float | None, detail: str, ok: bool = True) -> Goal:
    if value is None:
        return Goal(spec.name, spec.description, spec.op, spec.limit, spec.unit, None, None, detail)
    met = (value <= spec.limit if spec.op == "<=" else value >= spec.limit) and ok
    return Goal(spec.name, spec.description, spec.op, spec.limit, spec.unit, value, met, detail)


def compute_goals(results: Iterable[Result], target: str = "og") -> list[Goal]:
    """The verdict of every goal in :data:`GOALS` from ``results`` (measured at ``target``)."""
    by_id = {r.id: r for r in results}
    specs = {spec.name: spec for spec in GOALS}

    def get(group: str, impl: str, name: str, fmt: str | None = None, **kw: Any) -> Result | None:
        return by_id.get(result_id(group, impl, name, kw.get("target", target), fmt, kw.get("n")))

    goals = []
    ours, base = get("pixels", "fastshare", "to_pixels"), get("pixels", "pillow", "to_pixels")
    if ours and base:
        detail = f"{ours.value:.2f} ms vs {base.value:.2f} ms"
        goals.append(_check(specs["to_pixels"], ours.value / base.value, detail))
    else:
        goals.append(_check(specs["to_pixels"], None, "not measured"))
    for fmt, name in (("png", "png_end_to_end"), ("jpeg", "jpeg_end_to_end")):
        ours, base = (
            get("e2e", "fastshare", "end_to_end", fmt),
            get("e2e", "pillow", "end_to_end", fmt),
        )
        if not (ours and base):
            goals.append(_check(specs[name], None, "not measured"))
            continue
        detail = f"{ours.value:.2f} ms vs {base.value:.2f} ms"
        ok = True
        if ours.bytes and base.bytes:
            size = ours.bytes / base.bytes
            detail += (
                f"; bytes {ours.bytes / 1024:.0f} KB vs {base.bytes / 1024:.0f} KB ({size:.2f}×)"
            )
            if fmt == "png" and size > COMPARABLE_BYTES:
                ok = False
                detail += f", not comparable (> {COMPARABLE_BYTES:.2f}×)"
        goals.append(_check(specs[name], ours.value / base.value, detail, ok))
    one = get("workers", "fastshare", "throughput", "png", n=1)
    two = get("workers", "fastshare", "throughput", "png", n=2)
    if one and two:
        detail = f"{two.value:.0f} vs {one.value:.0f} images/s"
        goals.append(_check(specs["two_workers"], two.value / one.value, detail))
    else:
        goals.append(_check(specs["two_workers"], None, "needs --workers 2 or more"))
    cold = get("cold_start", "fastshare", "first_card", "png")
    if cold:
        goals.append(_check(specs["cold_start"], cold.value, f"median of {len(cold.rounds)} runs"))
    else:
        goals.append(_check(specs["cold_start"], None, "not measured"))
    return goals


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    """One benchmark run (see the module docstring)."""

    suite: str
    created: str
    config: dict[str, Any]
    machine: dict[str, Any]
    results: list[Result] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None

    def get(self, id: str) -> Result | None:
        for result in self.results:
            if result.id == id:
                return result
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "suite": self.suite,
            "created": self.created,
            "seconds": self.seconds,
            "config": self.config,
            "machine": self.machine,
            "load": self.load,
            "results": [r.to_dict() for r in self.results],
            "goals": [g.to_dict() for g in self.goals],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON document to ``path`` (atomically: a temporary file, then a rename)."""
        from fastshare.bench.workloads import write_file

        write_file(Path(path), (self.to_json() + "\n").encode("utf-8"))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Report:
        problems = validate_report(doc)
        if problems:
            field_name, message = problems[0]
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise DataError(message + more, field=field_name, value=None)
        return cls(
            suite=str(doc["suite"]),
            created=str(doc["created"]),
            config=dict(doc["config"]),
            machine=dict(doc["machine"]),
            results=[Result.from_dict(r) for r in doc["results"]],
            goals=[Goal.from_dict(g) for g in doc.get("goals", [])],
            load=dict(doc.get("load") or {}),
            seconds=doc.get("seconds"),
        )


_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "group": (str,),
    "impl": (str,),
    "name": (str,),
    "unit": (str,),
    "better": (str,),
    "value": (int, float),
    "rounds": (list,),
}


def validate_report(doc: Any) -> list[tuple[str, str]]:
    """Every problem of a report document, as (field, message); empty when it is valid."""
    problems: list[tuple[str, str]] = []
    if not isinstance(doc, Mapping):
        return [("report", f"must be a JSON object, got {type(doc).__name__}")]
    if doc.get("schema") != SCHEMA:
        problems.append(("schema", f"must be {SCHEMA!r}, got {doc.get('schema')!r}"))
    for key, kind in (("suite", str), ("created", str), ("config", Mapping), ("machine", Mapping)):
        if not isinstance(doc.get(key), kind):
            problems.append((key, f"missing or not a {getattr(kind, '__name__', kind)}"))
    results = doc.get("results")
    if not isinstance(results, list):
        problems.append(("results", "missing or not a list"))
        results = []
    seen: set[str] = set()
    for index, result in enumerate(results):
        where = f"results[{index}]"
        if not isinstance(result, Mapping):
            problems.append((where, "must be an object"))
            continue
        for key, kinds in _RESULT_FIELDS.items():
            value = result.get(key)
            if not isinstance(value, kinds) or isinstance(value, bool):
                problems.append((f"{where}.{key}", f"missing or not {kinds[0].__name__}"))
        value = result.get("value")
        if isinstance(value, int | float) and not math.isfinite(value):
            problems.append((f"{where}.value", "must be finite"))
        rounds = result.get("rounds")
        if isinstance(rounds, list) and (
            not rounds or not all(isinstance(v, int | float) and math.isfinite(v) for v in rounds)
        ):
            problems.append((f"{where}.rounds", "must be a non-empty list of finite numbers"))
        if result.get("better") not in ("lower", "higher"):
            problems.append((f"{where}.better", "must be 'lower' or 'higher'"))
        rid = result.get("id")
        if isinstance(rid, str):
            if rid in seen:
                problems.append((f"{where}.id", f"duplicate id {rid!r}"))
            seen.add(rid)
            try:
                expected = result_id(
                    result["group"],
                    result["impl"],
                    result["name"],
                    result.get("target"),
                    result.get("format"),
                    result.get("workers"),
                )
            except (KeyError, TypeError):
                continue
            if expected != rid:
                problems.append(
                    (f"{where}.id", f"{rid!r} does not match its fields ({expected!r})")
                )
    goals = doc.get("goals", [])
    if not isinstance(goals, list):
        problems.append(("goals", "must be a list"))
    else:
        for index, goal in enumerate(goals):
            if not isinstance(goal, Mapping) or not {"name", "op", "limit", "met"} <= goal.keys():
                problems.append((f"goals[{index}]", "must have name, op, limit and met"))
    return problems


def load_report(path: str | os.PathLike[str]) -> Report:
    """Read a report written by ``fastshare bench --json``; DataError naming the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(
            f"cannot read: {exc.strerror or exc}", field="report", value=str(path)
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}", field="report", value=str(path)) from None
    try:
        return Report.from_dict(doc)
    except DataError as exc:
        raise DataError(f"{path}: {exc.reason}", field=exc.field, value=None) from None


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class Change:
    """One result in two runs: ``ratio = new / old``; ``verdict`` is better, worse or same."""

    id: str
    unit: str
    better: Better
    old: float
    new: float
    ratio: float
    band: float
    verdict: Literal["better", "worse", "same"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "unit": self.unit,
            "better": self.better,
            "old": self.old,
            "new": self.new,
            "ratio": self.ratio,
            "band": self.band,
            "verdict": self.verdict,
        }


def compare(old: Report, new: Report) -> list[Change]:
    """Every result present in both runs, with its ratio and verdict (see the module docstring)."""
    changes = []
    old_by_id = {r.id: r for r in old.results}
    for result in new.results:
        before = old_by_id.get(result.id)
        if before is None or before.value == 0:
            continue
        ratio = result.value / before.value
        band = before.band() + result.band()
        if abs(ratio - 1.0) <= band:
            verdict: Literal["better", "worse", "same"] = "same"
        elif (ratio < 1.0) == (result.better == "lower"):
            verdict = "better"
        else:
            verdict = "worse"
        changes.append(
            Change(
                result.id,
                result.unit,
                result.better,
                before.value,
                result.value,
                ratio,
                band,
                verdict,
            )
        )
    return changes


_MACHINE_KEYS = ("cpu_model", "cpus_usable", "python")


def machine_differences(old: Report, new: Report) -> list[str]:
    """What differs between the two runs' machines and library versions."""
    out = []
    for key in _MACHINE_KEYS:
        if old.machine.get(key) != new.machine.get(key):
            out.append(f"{key}: {old.machine.get(key)} → {new.machine.get(key)}")
    old_v, new_v = old.machine.get("versions") or {}, new.machine.get("versions") or {}
    for name in sorted(set(old_v) | set(new_v)):
        if old_v.get(name) != new_v.get(name):
            out.append(f"{name}: {old_v.get(name)} → {new_v.get(name)}")
    return out


# --------------------------------------------------------------------------- text output


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "images/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    if value >= 0.1:
        return f"{value:.2f} ms"
    return f"{value * 1000:.0f} µs"


def _cell(result: Result | None) -> str:
    if result is None:
        return "—"
    text = _fmt_value(result.value, result.unit)
    spread = result.spread
    if spread is not None:
        text += f" ±{spread * 100:.0f}%"
    return text


def _ratio(ours: Result | None, base: Result | None) -> str:
    if ours is None or base is None or base.value == 0:
        return ""
    return f"{ours.value / base.value:.2f}×"


def _kb(result: Result | None) -> str:
    return "" if result is None or result.bytes is None else f"{result.bytes / 1024:.0f} KB"


def _table(
    rows: Sequence[Sequence[str]], header: Sequence[str], left: tuple[int, ...] = (0,)
) -> list[str]:
    """Columns padded to their widest cell; ``left`` columns are left-aligned, others right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _machine_line(machine: Mapping[str, Any]) -> str:
    v = machine.get("versions") or {}
    libs = ", ".join(
        f"{name} {v[key]}"
        for name, key in (
            ("numpy", "numpy"),
            ("numba", "numba"),
            ("Pillow", "pillow"),
            ("uharfbuzz", "uharfbuzz"),
        )
        if v.get(key)
    )
    return (
        f"{machine.get('cpu_model', '?')}, {machine.get('cpu_count', '?')} cores "
        f"({machine.get('cpus_usable', '?')} usable), Python {machine.get('python', '?')}, {libs}"
    )


def format_table(report: Report) -> str:
    """The human-readable table of a run: stages, end to end, workers, start-up, goals."""
    by_id = {r.id: r for r in report.results}
    cfg = report.config
    lines = [
        f"fastshare bench — suite {report.suite}, card A, {cfg.get('rounds', '?')} rounds per "
        "value (median of rounds; ± = half the spread of the round medians)",
        f"machine: {_machine_line(report.machine)}",
    ]
    other = report.load.get("other_cores")
    if other is not None:
        lines.append(
            f"other load during the in-process measurements: {other:.2f} cores busy elsewhere"
            + ("  (noisy: numbers are slower than on a quiet machine)" if other > 0.15 else "")
        )
    for target in cfg.get("targets", []):
        size = cfg.get("target_sizes", {}).get(target, "")
        lines += ["", f"per card at {target} {size}   fastshare vs the Pillow + numpy baseline"]
        rows = _card_rows(by_id, cfg, target, "  vs gradient per card")
        lines += _table(rows, ["stage", "fastshare", "Pillow", "ratio", "bytes", "Pillow bytes"])

    worker_rows = []
    for result in report.results:
        if result.group == "workers":
            one = by_id.get(
                result_id("workers", result.impl, "throughput", result.target, result.format, 1)
            )
            scale = (
                f"{result.value / one.value:.2f}× 1 worker" if one and result.workers != 1 else ""
            )
            worker_rows.append(
                [
                    f"{result.impl} {result.format} {result.target}",
                    str(result.workers),
                    _cell(result),
                    scale,
                ]
            )
    if worker_rows:
        lines += ["", "throughput through the render pool (encode in the worker, bytes back)"]
        lines += _table(worker_rows, ["workload", "workers", "images/s", "scaling"])

    start_rows = []
    for result in report.results:
        if result.group == "cold_start":
            start_rows.append(
                [f"fresh process → first {result.format} ({result.impl})", _cell(result)]
            )
        elif result.group == "pool":
            label = {
                "warm_up": f"pool start, {result.workers} worker(s), ready to take work",
                "respawn": "worker respawn (kill -9 → replacement ready)",
            }.get(result.name, result.name)
            start_rows.append([label, _cell(result)])
    if start_rows:
        lines += ["", "start-up"]
        lines += _table(start_rows, ["", "median"])

    if report.goals:
        lines += [
            "",
            "goals (ratios in this run against the Pillow baseline; a report, not a test)",
        ]
        rows = []
        for goal in report.goals:
            limit = f"{goal.op} {goal.limit:g}{'×' if goal.unit == '×' else ' s'}"
            value = (
                "—"
                if goal.value is None
                else (f"{goal.value:.2f}×" if goal.unit == "×" else f"{goal.value:.2f} s")
            )
            verdict = {True: "met", False: "NOT met", None: "n/a"}[goal.met]
            rows.append([goal.description, limit, value, verdict, goal.detail])
        lines += _table(rows, ["goal", "target", "this run", "", "detail"], left=(0, 3, 4))
    if report.seconds is not None:
        lines += ["", f"suite took {report.seconds:.1f} s"]
    return "\n".join(lines)


def _md(
    rows: Sequence[Sequence[str]], header: Sequence[str], left: tuple[int, ...] = (0,)
) -> list[str]:
    align = ["---" if i in left else "---:" for i in range(len(header))]
    return ["| " + " | ".join(row) + " |" for row in [header, align, *rows]]


def format_markdown(report: Report) -> str:
    """The tables of :func:`format_table` as markdown (what ``docs/performance.md`` shows)."""
    by_id = {r.id: r for r in report.results}
    cfg = report.config
    out: list[str] = []
    for target in cfg.get("targets", []):
        size = cfg.get("target_sizes", {}).get(target, "")
        out += ["", f"Per card at `{target}`{' ' + size if size else ''}:", ""]
        rows = _card_rows(by_id, cfg, target, "to pixels, baseline with its gradient per card")
        out += _md(rows, ["", "fastshare", "Pillow baseline", "ratio", "bytes", "baseline bytes"])
    workers = [r for r in report.results if r.group == "workers"]
    if workers:
        out += ["", "Render pool (encode in the worker, bytes back):", ""]
        rows = []
        for result in workers:
            one = by_id.get(
                result_id("workers", result.impl, "throughput", result.target, result.format, 1)
            )
            scale = f"{result.value / one.value:.2f}×" if one and result.workers != 1 else ""
            label = f"{result.impl} {result.format} {result.target}"
            rows.append([label, str(result.workers), _cell(result), scale])
        out += _md(rows, ["workload", "workers", "images/s", "vs 1 worker"])
    starts = [r for r in report.results if r.group in ("cold_start", "pool")]
    if starts:
        out += ["", "Start-up:", ""]
        rows = []
        for result in starts:
            if result.group == "cold_start":
                label = f"fresh process → first {result.format}, {result.impl}"
            elif result.name == "warm_up":
                label = f"pool start, {result.workers} worker(s), ready for work"
            else:
                label = "worker respawn (kill -9 → replacement ready)"
            rows.append([label, _cell(result)])
        out += _md(rows, ["", "median"])
    if report.goals:
        out += ["", "Goals:", ""]
        rows = []
        for goal in report.goals:
            unit = "×" if goal.unit == "×" else " s"
            value = "—" if goal.value is None else f"{goal.value:.2f}{unit}"
            verdict = {True: "met", False: "not met", None: "n/a"}[goal.met]
            rows.append(
                [goal.description, f"{goal.op} {goal.limit:g}{unit}", value, verdict, goal.detail]
            )
        out += _md(rows, ["goal", "target", "this run", "", "detail"], left=(0, 3, 4))
    return "\n".join(out).strip() + "\n"


def _card_rows(
    by_id: Mapping[str, Result], cfg: Mapping[str, Any], target: str, percard_label: str
) -> list[list[str]]:
    """The per-card rows at ``target``: label, fastshare, baseline, ratio, bytes, baseline bytes."""
    keys: list[tuple[str, str, str, str | None]] = []
    formats = cfg.get("formats", [])
    for stage in STAGES:
        if stage in ("encode", "write"):
            keys += [("stage", stage, f"{stage} {fmt}", fmt) for fmt in formats]
        else:
            keys.append(("stage", stage, stage, None))
    keys.append(("pixels", "to_pixels", "to pixels (one call)", None))
    keys += [("e2e", "end_to_end", f"end to end {fmt}", fmt) for fmt in formats]
    rows = []
    for group, name, label, fmt in keys:
        ours = by_id.get(result_id(group, "fastshare", name, target, fmt))
        base = by_id.get(result_id(group, "pillow", name, target, fmt))
        if ours is None and base is None:
            continue
        rows.append([label, _cell(ours), _cell(base), _ratio(ours, base), _kb(ours), _kb(base)])
        percard = by_id.get(result_id(group, "pillow-percard", name, target, fmt))
        if group == "pixels" and ours is not None and percard is not None:
            rows.append([percard_label, "", _cell(percard), _ratio(ours, percard), "", ""])
    return rows


def format_comparison(old: Report, new: Report, changes: Sequence[Change]) -> str:
    """A table of :func:`compare`'s changes, worst first, with the machines' differences."""
    lines = [f"comparing {old.created} (old) with {new.created} (new): ratio = new / old"]
    diffs = machine_differences(old, new)
    if diffs:
        lines.append("machines differ: " + "; ".join(diffs))
    loads = [old.load.get("other_cores"), new.load.get("other_cores")]
    if any(v is not None for v in loads):
        shown = ["?" if v is None else f"{v:.2f}" for v in loads]
        note = ""
        if any(v is not None and v > 0.15 for v in loads):
            note = " — a busy machine slows every row of that run alike; compare ratios instead"
        lines.append(f"other load: old {shown[0]} cores, new {shown[1]} cores{note}")
    order = {"worse": 0, "better": 1, "same": 2}
    rows = []
    for change in sorted(changes, key=lambda c: (order[c.verdict], c.id)):
        rows.append(
            [
                change.id,
                _fmt_value(change.old, change.unit),
                _fmt_value(change.new, change.unit),
                f"{change.ratio:.3f}",
                f"±{change.band * 100:.0f}%",
                change.verdict if change.verdict == "same" else change.verdict.upper(),
            ]
        )
    lines += _table(rows, ["result", "old", "new", "ratio", "noise", "verdict"])
    counts = {v: sum(c.verdict == v for c in changes) for v in order}
    lines.append(
        f"{counts['worse']} worse, {counts['better']} better, "
        f"{counts['same']} within the noise band"
    )
    return "\n".join(lines)
