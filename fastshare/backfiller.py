"""Backfill: render every item of a large input for every target, safely, with a registry.

``fastshare.backfill(template, items, out=...)`` (and ``fastshare backfill``) streams the input
(:mod:`fastshare.inputs`), and for each item and target computes the output key
(:mod:`fastshare.identity`) and the output location (:mod:`fastshare.stores`). An output whose
registry record has the same key, at the same location, with a file of the recorded size, is
*skipped*; everything else is sent to the render pool's workers, which render, encode and write
the file atomically, and reply with a small record (size, SHA-256, width, height). Only then does
the orchestrator commit the registry row (:mod:`fastshare.registry`).

Invariants:

* **Bounded memory.** One input record at a time, at most ``window`` tasks in flight, counters
  instead of lists (the summary keeps the first :data:`MAX_LISTED_FAILURES` failures only).
* **A row means a complete file.** Workers write a temporary file beside the target and rename
  it; the row is committed after the worker replied. Before a task is submitted its locations are
  noted in the registry's ``inflight`` table (committed first), so a run killed with ``kill -9``
  leaves temporary files that the next start finds and sweeps.
* **Failures never stop the run.** A bad input line, a missing field, an over-long text or a
  crashing render becomes one line of the failures file (JSON Lines: ``item_id``, ``target``,
  ``error``, ``code``, ``field``, ``source``); ``retry_failed`` reruns exactly those.
* **Stopping.** When ``stop`` is set (the CLI sets it on Ctrl-C or SIGTERM) no new item is read,
  in-flight tasks finish and are recorded, and the summary says ``interrupted``. Cancelling the
  coroutine (the CLI's second Ctrl-C) cancels in-flight tasks, sweeps their temporary files and
  re-raises. Either way, rerunning the same command resumes: what is done is skipped.
* **One run per registry at a time**: an advisory lock on ``<db>.lock`` (released by the kernel
  when the process dies, so a killed run never blocks the next).
* **Duplicate item ids** in one input: the first occurrence is rendered, later ones are failures
  (``code: duplicate``) naming where the first one was.

Engines: ``engine="local"`` (the default) runs tasks on a :class:`~fastshare.pool.RenderPool`;
``engine="dask"`` runs chunks of hundreds of items on a Dask cluster through
:mod:`fastshare.dask_engine`, with the same orchestration, registry and failure handling.

Thread safety: a backfill runs on one asyncio event loop; :func:`backfill` runs one in a private
loop (in a helper thread when the calling thread already runs a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import pickle
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from fastshare import errors
from fastshare.identity import RENDER_VERSION, KeyBuilder, item_digest, normalize_format
from fastshare.inputs import (
    InputFormat,
    InputRecord,
    aiter_mappings,
    count_records,
    iter_mappings,
    read_items,
)
from fastshare.registry import ImageRecord, Registry
from fastshare.stores import DEFAULT_PATTERN, DirectoryStore, OutputStore
from fastshare.targets import Target, parse_targets
from fastshare.template import Template, load_template

__all__ = [
    "MAX_LISTED_FAILURES",
    "BackfillSummary",
    "Failure",
    "backfill",
    "backfill_async",
    "default_paths",
    "read_failures",
    "render_batch",
]

#: how many failures a summary lists (all of them are in the failures file)
MAX_LISTED_FAILURES = 20
#: automatic batching: aim for this much worker time per task, with at most this many items
#: and about this many bytes of item data per task
_TARGET_TASK_SECONDS = 0.025
_MAX_BATCH_ITEMS = 64
_MAX_BATCH_BYTES = 1 << 20
#: seconds running tasks get to return what they wrote when a backfill is cancelled
_CANCEL_GRACE = 3.0
#: the state directory inside a DirectoryStore's root (never an item's directory: safe names
#: cannot start with a dot)
STATE_DIR = ".fastshare"

ProgressMode = Literal["bar", "log"] | bool | Callable[[Mapping[str, Any]], None] | None

# =========================================================================== worker side

_RENDERER: Any = None
_TEMPLATES: OrderedDict[str, Template] = OrderedDict()
_MAX_TEMPLATES = 4


def _worker_renderer() -> Any:
    """This process's Renderer (created once: fonts, glyph cache and base frames persist)."""
    global _RENDERER
    if _RENDERER is None:
        from fastshare.renderer import Renderer

        _RENDERER = Renderer()
    return _RENDERER


def _worker_template(token: str, blob: bytes) -> Template:
    template = _TEMPLATES.get(token)
    if template is None:
        template = pickle.loads(blob)
        assert isinstance(template, Template)
        _TEMPLATES[token] = template
        while len(_TEMPLATES) > _MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
    else:
        _TEMPLATES.move_to_end(token)
    return template


def warm_worker(token: str, blob: bytes, targets: Sequence[Target]) -> None:
    """Pool initializer: build the renderer, load the template, plan every target (in the
    template process, before forking, so every worker starts warm)."""
    renderer = _worker_renderer()
    template = _worker_template(token, blob)
    renderer.template(template)
    for target in targets:
        renderer.plan(template, target)


def _error_tuple(index: int, exc: BaseException) -> tuple[Any, ...]:
    if isinstance(exc, errors.FastshareError):
        return ("error", index, exc.code, str(exc), exc.field)
    return ("error", index, "render_failed", f"{type(exc).__name__}: {exc}", None)


def render_batch(
    token: str,
    blob: bytes,
    fmt: str,
    options: Mapping[str, Any],
    store: OutputStore,
    write_token: str,
    items: Sequence[tuple[str, Mapping[str, Any], Sequence[tuple[Target, str]]]],
    stop_file: str | None = None,
) -> list[tuple[Any, ...]]:
    """Pool task: render, encode and write every (item, target, location) of a batch.

    Returns one small tuple per output, in order: ``("ok", index, size, sha256, width, height,
    missing_glyphs)``, ``("error", index, code, message, field)`` or ``("cancelled", index)``
    (the task's exit flag was set, or ``stop_file`` appeared, before it started). The stop file
    is how the orchestrator cancels cleanly: the task returns what it wrote, so every file in
    place gets its registry row. An error in one output never affects another.
    """
    from fastshare.pipeline import encode_frame
    from fastshare.pool import exit_requested, task_phase

    renderer = _worker_renderer()
    template = _worker_template(token, blob)
    flag = exit_requested()
    results: list[tuple[Any, ...]] = []
    index = 0
    stopping = False
    for _item_id, item, jobs in items:
        for target, location in jobs:
            if not stopping:
                stopping = flag.is_set() or (stop_file is not None and os.path.exists(stop_file))
            if stopping:
                results.append(("cancelled", index))
                index += 1
                continue
            try:
                with task_phase("render"):
                    result = renderer.render_result(template, item, target)
                with task_phase("encode"):
                    data = encode_frame(result.frame, fmt, **options)
                with task_phase("write"):
                    store.write(location, data, write_token)
                height, width = result.frame.shape[:2]
                results.append(
                    (
                        "ok",
                        index,
                        len(data),
                        hashlib.sha256(data).hexdigest(),
                        int(width),
                        int(height),
                        int(result.missing_glyphs),
                    )
                )
            except Exception as exc:
                results.append(_error_tuple(index, exc))
            index += 1
    return results


# =========================================================================== results


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed output (or one unusable input record, with ``target`` None)."""

    item_id: str | None
    target: str | None
    error: str
    code: str = "error"
    field: str | None = None
    source: str | None = None
    position: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "target": self.target,
            "error": self.error,
            "code": self.code,
            "field": self.field,
            "source": self.source,
            "position": self.position,
        }

    @classmethod
    def from_error(
        cls,
        exc: errors.FastshareError,
        item_id: str | None,
        target: str | None,
        source: str | None,
        position: int | None,
    ) -> Failure:
        return cls(item_id, target, str(exc), exc.code, exc.field, source, position)


@dataclass
class BackfillSummary:
    """What a backfill did. ``ok`` is True when nothing failed and it was not interrupted."""

    run_id: str
    template: str
    targets: tuple[str, ...]
    format: str
    out: str
    registry: str | None
    failures_path: str | None
    #: input records read (after ``limit`` and the ``retry_failed`` filter)
    items: int = 0
    #: outputs rendered and written in this run
    rendered: int = 0
    #: outputs already done (same output key, file present with the recorded size)
    skipped: int = 0
    #: failure entries (one per failed output; one per unusable input record)
    failed: int = 0
    #: outputs that were in flight when the run was cancelled (not done; a rerun renders them)
    cancelled: int = 0
    #: temporary files of a killed earlier run removed at start
    swept: int = 0
    interrupted: bool = False
    dry_run: bool = False
    elapsed: float = 0.0
    #: seconds from the pool being ready to the last result (excludes start-up)
    render_seconds: float = 0.0
    bytes_written: int = 0
    #: seconds spent in each worker phase (render, encode, write), summed over workers
    phases: dict[str, float] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.interrupted and self.cancelled == 0

    @property
    def images_per_second(self) -> float:
        seconds = self.render_seconds or self.elapsed
        return self.rendered / seconds if seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 all done, 1 some outputs failed, 130 interrupted."""
        if self.failed:
            return 1
        if self.interrupted or self.cancelled:
            return 130
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "template": self.template,
            "targets": list(self.targets),
            "format": self.format,
            "out": self.out,
            "registry": self.registry,
            "failures_path": self.failures_path,
            "items": self.items,
            "rendered": self.rendered,
            "skipped": self.skipped,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "swept": self.swept,
            "interrupted": self.interrupted,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "elapsed": round(self.elapsed, 3),
            "render_seconds": round(self.render_seconds, 3),
            "images_per_second": round(self.images_per_second, 2),
            "bytes_written": self.bytes_written,
            "phases": {k: round(v, 3) for k, v in sorted(self.phases.items())},
            "failures": [f.to_dict() for f in self.failures],
        }

    def format_text(self) -> str:
        """The human summary the CLI prints."""
        verb = "would render" if self.dry_run else "rendered"
        skip = "would skip" if self.dry_run else "skipped"
        lines = [
            f"{verb} {self.rendered:,}, {skip} {self.skipped:,} (already done), "
            f"failed {self.failed:,} — {self.items:,} items × {len(self.targets)} targets "
            f"in {self.elapsed:.1f} s"
            + ("" if self.dry_run else f", {self.images_per_second:.1f} images/s")
        ]
        if self.swept:
            lines.append(f"swept {self.swept} temporary file(s) left by an interrupted run")
        if self.failed:
            lines.append(f"failures ({self.failed:,}):")
            for failure in self.failures:
                if failure.item_id is None:  # an input problem: the message names the line
                    lines.append(f"  {failure.error}")
                    continue
                where = f" [{failure.target}]" if failure.target else ""
                lines.append(f"  {failure.item_id}{where}: {failure.error}")
            if self.failed > len(self.failures):
                lines.append(f"  … and {self.failed - len(self.failures):,} more")
            if self.failures_path and (self.interrupted or self.cancelled):
                lines.append(
                    f"failures so far: {self.failures_path}  (resuming renders them again)"
                )
            elif self.failures_path:
                lines.append(f"all failures: {self.failures_path}  (rerun with --retry-failed)")
        if not self.dry_run:
            lines.append(f"outputs: {self.out}   registry: {self.registry}")
        return "\n".join(lines)


def default_paths(
    out: str | os.PathLike[str] | OutputStore, db: str | os.PathLike[str] | None = None
) -> tuple[str, str]:
    """(registry path, failures path) for an output directory (or store) and optional db."""
    if db is not None:
        db_path = os.fspath(db)
    elif isinstance(out, DirectoryStore):
        db_path = str(out.root / STATE_DIR / "registry.sqlite")
    elif isinstance(out, str | os.PathLike):
        db_path = str(Path(out).resolve() / STATE_DIR / "registry.sqlite")
    else:
        msg = "a registry path (db=...) is needed when the outputs do not go to a directory"
        raise errors.ValueRangeError(msg, field="db", value=None)
    if isinstance(out, DirectoryStore):
        failures = str(out.root / STATE_DIR / "failures.jsonl")
    elif isinstance(out, str | os.PathLike):
        failures = str(Path(out).resolve() / STATE_DIR / "failures.jsonl")
    else:
        failures = db_path + ".failures.jsonl"
    return db_path, failures


def read_failures(path: str | os.PathLike[str]) -> list[Failure]:
    """The entries of a failures file (unreadable lines are ignored)."""
    out: list[Failure] = []
    if not os.path.isfile(path):
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                doc = json.loads(line)
                out.append(
                    Failure(
                        doc.get("item_id"),
                        doc.get("target"),
                        str(doc.get("error", "")),
                        str(doc.get("code", "error")),
                        doc.get("field"),
                        doc.get("source"),
                        doc.get("position"),
                    )
                )
            except (ValueError, AttributeError):
                continue
    return out


# =========================================================================== helpers


class _FailureLog:
    """Failures of this run: ``<path>.partial`` while running, renamed to ``path`` at the end."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.partial = None if path is None else path + ".partial"
        self._fh: TextIO | None = None
        self.count = 0
        self.listed: list[Failure] = []

    def add(self, failure: Failure) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED_FAILURES:
            self.listed.append(failure)
        if self.partial is None:
            return
        if self._fh is None:
            Path(self.partial).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.partial, "w", encoding="utf-8")  # noqa: SIM115
        self._fh.write(json.dumps(failure.to_dict(), ensure_ascii=False) + "\n")
        self._fh.flush()

    def finish(self, complete: bool) -> str | None:
        """Install the run's failures as the failures file (a complete run) or keep them aside.

        Returns the path that holds this run's failures (None when there were none).
        """
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.path is None or self.partial is None:
            return None
        if not complete:
            return self.partial if self.count else None
        if self.count:
            os.replace(self.partial, self.path)
            return self.path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.partial)
        return None


class _Progress:
    """A tqdm bar (``bar``), periodic log lines (``log``), a callback, or nothing."""

    def __init__(self, mode: ProgressMode, total: int | None, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.total = total
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.last = self.started
        self.counts = {"rendered": 0, "skipped": 0, "failed": 0}
        self._bar: Any = None
        self.interval = 10.0 if mode == "log" else 0.5
        if mode == "bar" or mode is True:
            from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

            try:
                columns = os.get_terminal_size(self.stream.fileno()).columns
            except (AttributeError, OSError, ValueError):
                columns = 0
            width: dict[str, Any] = {"dynamic_ncols": True} if columns else {"ncols": 100}
            self._bar = tqdm(
                total=total,
                unit="img",
                file=self.stream,
                smoothing=0.05,
                mininterval=0.25,
                **width,
            )

    def done(self) -> int:
        return sum(self.counts.values())

    def snapshot(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        done = self.done()
        rate = self.counts["rendered"] / elapsed if elapsed > 0 else 0.0
        eta = None
        if self.total and done and elapsed > 0:
            eta = max(0.0, (self.total - done) / (done / elapsed))
        return {
            **self.counts,
            "done": done,
            "total": self.total,
            "elapsed": elapsed,
            "images_per_second": rate,
            "eta": eta,
        }

    def update(self, key: str, n: int = 1) -> None:
        self.counts[key] += n
        if self._bar is not None:
            self._bar.update(n)
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        self._emit()

    def _emit(self) -> None:
        if self._bar is not None:
            c = self.counts
            self._bar.set_postfix(
                rendered=c["rendered"], skipped=c["skipped"], failed=c["failed"], refresh=False
            )
        elif self.mode == "log":
            s = self.snapshot()
            total = f"/{s['total']:,}" if s["total"] else ""
            eta = f", ETA {s['eta']:.0f} s" if s["eta"] is not None else ""
            print(
                f"backfill: {s['done']:,}{total} outputs (rendered {s['rendered']:,}, skipped "
                f"{s['skipped']:,}, failed {s['failed']:,}), "
                f"{s['images_per_second']:.1f} images/s{eta}",
                file=self.stream,
                flush=True,
            )
        elif callable(self.mode):
            self.mode(self.snapshot())

    def close(self) -> None:
        if self._bar is not None:
            self._emit()
            self._bar.refresh()
            self._bar.close()
        elif callable(self.mode):
            self.mode(self.snapshot())


class _RunLock:
    """An advisory ``flock`` on ``<db>.lock``: one backfill per registry at a time."""

    def __init__(self, db_path: str) -> None:
        self.path = db_path + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip()
            finally:
                os.close(fd)
            msg = (
                "another backfill is using this registry"
                + (f" (pid {holder})" if holder else "")
                + "; wait for it or pass another --db"
            )
            raise errors.DataError(msg, field="db", value=self.path) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _load(
    template: str | os.PathLike[str] | Mapping[str, Any] | Template,
    asset_dirs: Sequence[str | os.PathLike[str]],
) -> Template:
    dirs = [Path(d) for d in asset_dirs]
    if isinstance(template, Template | Mapping):
        return load_template(template, asset_dirs=dirs)
    path = Path(template)
    if not path.exists():
        from fastshare.examples import example_path

        found = example_path(str(template))
        if found is not None:
            path = found
    return load_template(path, asset_dirs=dirs)


def _version_name(target: Target) -> str:
    return target.name if target.scale == 1.0 else f"{target.name}@{target.scale:g}x"


@dataclass(slots=True)
class _Job:
    item_id: str
    target: Target
    version: str
    location: str
    key: str
    correlation_id: str | None
    source: str
    position: int
    #: roughly how many bytes of item data this output's task carries
    size_hint: int = 0


@dataclass(slots=True)
class _Batch:
    payload: list[tuple[str, Mapping[str, Any], list[tuple[Target, str]]]]
    jobs: list[_Job]
    split: bool = False  # already a single-output resubmission


# =========================================================================== orchestrator


class _Backfill:
    def __init__(
        self,
        template: Template,
        targets: tuple[Target, ...],
        store: OutputStore,
        registry: Registry | None,
        *,
        fmt: str,
        options: dict[str, Any],
        id_field: str,
        limit: int | None,
        retry: tuple[dict[str, set[str] | None], set[int]] | None,
        dry_run: bool,
        force: bool,
        gallery: str | None,
        metadata_fields: Sequence[str],
        batch_size: int | None,
        timeout: float | None,
        retries: int,
        window: int | None,
        failures: _FailureLog,
        progress: _Progress,
        summary: BackfillSummary,
        listing: Callable[[str, str, str, str], None] | None,
        stop: asyncio.Event | None,
        pool: Any,
        workers: int | None,
        keys: KeyBuilder,
        stop_file: str,
        pool_factory: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.template = template
        self.targets = targets
        self.versions = [_version_name(t) for t in targets]
        self.store = store
        self.registry = registry
        self.fmt = fmt
        self.options = options
        self.id_field = id_field
        self.limit = limit
        self.retry = retry
        self.dry_run = dry_run
        self.force = force
        self.gallery = None
        if gallery:
            from fastshare.binding import compile_pattern

            self.gallery = compile_pattern(gallery, "gallery")
        self.metadata_fields = tuple(metadata_fields)
        self.batch_size = batch_size
        self._auto_items = 1
        self._item_seconds: float | None = None
        self._pending_bytes = 0
        self.timeout = timeout
        self.retries = retries
        self.window = window
        self.failures = failures
        self.progress = progress
        self.summary = summary
        self.listing = listing
        self.stop = stop
        self.keys = keys
        self.run_id = summary.run_id
        self.write_token = self.run_id[:12]
        self.blob = pickle.dumps(template, protocol=5)
        self.token = hashlib.sha256(self.blob).hexdigest()[:32]
        self.config_hash = template.config_hash()
        self.metadata: dict[str, Any] = {"render_version": RENDER_VERSION}
        if options:
            self.metadata["options"] = dict(sorted(options.items()))
        self.pool = pool
        self.pool_factory = pool_factory
        self.workers = workers
        self.owned_pool = False
        self.stop_file = stop_file
        self._tx: contextlib.ExitStack | None = None
        self._tx_started = 0.0
        self._pending: list[tuple[str, Mapping[str, Any], list[tuple[Target, str]]]] = []
        self._pending_jobs: list[_Job] = []
        self._inflight: dict[asyncio.Future[Any], _Batch] = {}
        self._first_submit: float | None = None
        self._last_result: float | None = None

    # ------------------------------------------------------------------ registry writes

    def _begin(self) -> None:
        if self.registry is None or self.dry_run or self._tx is not None:
            return
        stack = contextlib.ExitStack()
        stack.enter_context(self.registry.transaction())
        self._tx = stack
        self._tx_started = time.monotonic()

    def _commit(self) -> None:
        if self._tx is not None:
            tx, self._tx = self._tx, None
            tx.close()

    def _maybe_commit(self) -> None:
        if self._tx is not None and time.monotonic() - self._tx_started > 0.25:
            self._commit()

    # ------------------------------------------------------------------ failures

    def _fail(self, failure: Failure) -> None:
        self.failures.add(failure)
        self.summary.failed += 1
        self.progress.update("failed")

    # ------------------------------------------------------------------ one record

    def _wanted(self, rec: InputRecord) -> set[str] | bool | None:
        """False: not part of this run; None: every target; a set: those target names."""
        if self.retry is None:
            return None
        by_id, positions = self.retry
        if rec.item_id is not None and rec.item_id in by_id:
            return by_id[rec.item_id]
        if rec.position in positions:
            return None
        return False

    def _correlation(self, item: Mapping[str, Any]) -> str | None:
        if self.gallery is None:
            return None
        try:
            value = self.gallery.render(item, "gallery")
        except errors.FastshareError:
            return None
        return value or None

    def _original_metadata(self, rec: InputRecord) -> dict[str, Any]:
        meta: dict[str, Any] = {"source": rec.source}
        if self.metadata_fields and rec.item is not None:
            from fastshare.binding import _MISSING, lookup

            fields = {}
            for name in self.metadata_fields:
                value = lookup(rec.item, name)
                if value is not _MISSING:
                    fields[name] = value
            meta["fields"] = fields
        return meta

    def plan_record(self, rec: InputRecord) -> list[_Job]:
        """Classify one record: failures and skips are counted here; returns outputs to render."""
        if rec.error is not None:
            self._fail(Failure.from_error(rec.error, rec.item_id, None, rec.source, rec.position))
            return []
        assert rec.item_id is not None and rec.item is not None
        item_id, item = rec.item_id, rec.item
        wanted = self._wanted(rec)
        selected = [
            (t, v)
            for t, v in zip(self.targets, self.versions, strict=True)
            if not isinstance(wanted, set) or v in wanted
        ]
        rows: list[ImageRecord] = []
        if self.registry is not None:
            rows = self.registry.item_records(item_id)
        original = rows[0] if rows and rows[0].is_original else None
        if original is not None and original.run_id == self.run_id and not self.dry_run:
            first = original.metadata.get("source", "an earlier line")
            err = errors.DataError(
                f"duplicate item id {item_id!r} (first seen at {first}); "
                "only the first is rendered",
                field=self.id_field,
                value=item_id,
            )
            self._fail(Failure(item_id, None, str(err), "duplicate", self.id_field, rec.source,
                               rec.position))  # fmt: skip
            return []
        correlation = self._correlation(item)
        try:
            data_part = self.keys.data_part(item)
        except (TypeError, ValueError) as exc:
            err = errors.DataError(f"item data cannot be hashed: {exc}", field="item")
            self._fail(Failure.from_error(err, item_id, None, rec.source, rec.position))
            return []
        by_location = {r.path: r for r in rows if r.path is not None}
        jobs: list[_Job] = []
        for target, version in selected:
            try:
                location = self.store.location(
                    item_id, target, self.fmt, template=self.template.name
                )
                key = self.keys.key(item, target, data_part)
            except errors.FastshareError as exc:
                self._fail(Failure.from_error(exc, item_id, version, rec.source, rec.position))
                continue
            row = by_location.get(location)
            if (
                not self.force
                and row is not None
                and row.output_key == key
                and row.version == version
                and row.bytes is not None
                and self.store.size(location) == row.bytes
            ):
                self.summary.skipped += 1
                self.progress.update("skipped")
                if self.listing is not None:
                    self.listing("skip", item_id, version, location)
                continue
            if self.listing is not None:
                self.listing("render", item_id, version, location)
            jobs.append(
                _Job(item_id, target, version, location, key, correlation, rec.source,
                     rec.position, len(data_part))
            )  # fmt: skip
        if self.dry_run:
            self.summary.rendered += len(jobs)
            self.progress.update("rendered", len(jobs))
            return []
        if self.registry is not None:
            self._begin()
            self.registry.upsert_original(
                item_id,
                correlation_id=correlation,
                content_hash=item_digest(item),
                metadata=self._original_metadata(rec),
                run_id=self.run_id,
            )
        return jobs

    # ------------------------------------------------------------------ submitting

    async def _submit(self, batch: _Batch) -> None:
        self._check_pool()
        if self.registry is not None:
            self._begin()
            self.registry.add_inflight([j.location for j in batch.jobs], self.run_id)
        self._commit()  # the inflight rows are durable before any worker writes
        pool = await self._ensure_pool()
        if self._first_submit is None:
            self._first_submit = time.monotonic()
        timeout = None if self.timeout is None else self.timeout * len(batch.jobs)
        fut = asyncio.ensure_future(
            pool.submit_detailed(
                render_batch,
                self.token,
                self.blob,
                self.fmt,
                self.options,
                self.store,
                self.write_token,
                batch.payload,
                self.stop_file,
                timeout=timeout,
                retries=0 if batch.split else self.retries,
                tag=self.run_id,
            )
        )
        self._inflight[fut] = batch

    async def _ensure_pool(self) -> Any:
        """The pool: the caller's, or one started on first use (a run with nothing to render
        never starts one). Its workers fork from a template process that has already built
        the renderer, loaded this template and planned every target."""
        if self.pool is None and self.pool_factory is not None:  # another engine (Dask)
            self.pool, self.owned_pool = await self.pool_factory(), True
        if self.pool is None:
            from fastshare.pool import RenderPool

            pool = RenderPool(
                self.workers,
                import_main=False,
                initializer=warm_worker,
                initargs=(self.token, self.blob, tuple(self.targets)),
            )
            await pool.start()
            self.pool, self.owned_pool = pool, True
        return self.pool

    def _check_pool(self) -> None:
        """Stop the run when the pool broke for good (Dask: the scheduler is gone)."""
        broken = getattr(self.pool, "broken", None)
        if isinstance(broken, BaseException):
            raise broken

    async def close_pool(self) -> None:
        if self.owned_pool and self.pool is not None:
            pool, self.pool, self.owned_pool = self.pool, None, False
            await pool.close(cancel=True)

    def _batch_items(self) -> int:
        return self.batch_size if self.batch_size is not None else self._auto_items

    def _learn(self, batch: _Batch, run_seconds: float) -> None:
        """Automatic batch size: about :data:`_TARGET_TASK_SECONDS` of work per task, so the
        per-task cost (pickling, a socket round trip, a commit) stays a small fraction."""
        per_item = run_seconds / max(1, len(batch.payload))
        ema = self._item_seconds
        self._item_seconds = per_item if ema is None else 0.8 * ema + 0.2 * per_item
        wanted = int(_TARGET_TASK_SECONDS / max(self._item_seconds, 1e-5))
        self._auto_items = max(1, min(_MAX_BATCH_ITEMS, wanted))

    async def _flush_pending(self) -> None:
        if not self._pending:
            return
        batch = _Batch(self._pending, self._pending_jobs)
        self._pending, self._pending_jobs, self._pending_bytes = [], [], 0
        await self._wait_room()
        await self._submit(batch)

    async def _wait_room(self) -> None:
        limit = (
            self.window
            or getattr(self.pool, "window", None)  # an engine that sizes its own window
            or max(4, 4 * getattr(self.pool, "workers", 2))
        )
        while len(self._inflight) >= limit:
            self._commit()
            done, _ = await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
            await self._collect(done)

    async def _collect(self, done: Iterable[asyncio.Future[Any]]) -> None:
        for fut in done:
            batch = self._inflight.pop(fut)
            await self._handle(batch, fut)
        self._last_result = time.monotonic()
        self._commit()

    async def _handle(self, batch: _Batch, fut: asyncio.Future[Any]) -> None:
        try:
            result = fut.result()
        except (errors.CancelledError, asyncio.CancelledError):
            self._cancelled(batch.jobs)
            return
        except (errors.WorkerCrashed, errors.TaskTimeout) as exc:
            if len(batch.jobs) > 1 and not batch.split:
                # isolate the output that kills its worker: resubmit one output per task
                for job in batch.jobs:
                    self.store.sweep(job.location)  # the dead attempts' temporary files
                    item = next(p[1] for p in batch.payload if p[0] == job.item_id)
                    single = _Batch([(job.item_id, item, [(job.target, job.location)])], [job],
                                    split=True)  # fmt: skip
                    await self._submit(single)  # may exceed the window by a few: fine
                return
            for job in batch.jobs:
                self._job_failed(job, exc.code, str(exc), None)
            return
        except errors.FastshareError as exc:
            for job in batch.jobs:
                self._job_failed(job, exc.code, str(exc), exc.field)
            return
        if result.attempt > 1:  # an earlier attempt died mid-chunk: drop its temporary files
            for job in batch.jobs:
                self.store.sweep(job.location)
        if not batch.split:
            self._learn(batch, result.timings.run)
        for key, value in result.timings.phases.items():
            self.summary.phases[key] = self.summary.phases.get(key, 0.0) + value
        self._begin()
        done_locations: list[str] = []
        cancelled: list[_Job] = []
        for entry in result.value:
            kind, index = entry[0], entry[1]
            job = batch.jobs[index]
            if kind == "ok":
                _, _, size, digest, width, height, missing = entry
                metadata = dict(self.metadata)
                if missing:
                    metadata["missing_glyphs"] = missing
                if self.registry is not None:
                    self.registry.record_output(
                        item_id=job.item_id,
                        target=job.version,
                        path=job.location,
                        width=width,
                        height=height,
                        format=self.fmt,
                        bytes=size,
                        content_hash=digest,
                        output_key=job.key,
                        template=self.template.name,
                        config_hash=self.config_hash,
                        correlation_id=job.correlation_id,
                        metadata=metadata,
                        run_id=self.run_id,
                    )
                done_locations.append(job.location)
                self.summary.rendered += 1
                self.summary.bytes_written += int(size)
                self.progress.update("rendered")
            elif kind == "error":
                _, _, code, message, field_name = entry
                self._job_failed(job, code, message, field_name)
            else:
                cancelled.append(job)
        if self.registry is not None and done_locations:
            self.registry.remove_inflight(done_locations)
        if cancelled:
            self._cancelled(cancelled)

    def _job_failed(self, job: _Job, code: str, message: str, field_name: str | None) -> None:
        self.store.sweep(job.location)
        if self.registry is not None:
            self._begin()
            self.registry.remove_inflight([job.location])
        self._fail(Failure(job.item_id, job.version, message, code, field_name, job.source,
                           job.position))  # fmt: skip

    def _cancelled(self, jobs: Sequence[_Job]) -> None:
        for job in jobs:
            self.store.sweep(job.location)
        if self.registry is not None:
            self._begin()
            self.registry.remove_inflight([j.location for j in jobs])
        self.summary.cancelled += len(jobs)

    # ------------------------------------------------------------------ the loop

    async def run(self, records: AsyncIterator[InputRecord]) -> None:
        started = time.monotonic()
        try:
            async for rec in records:
                if self.stop is not None and self.stop.is_set():
                    self.summary.interrupted = True
                    break
                if self.limit is not None and self.summary.items >= self.limit:
                    break
                if self._wanted(rec) is False:
                    continue
                self.summary.items += 1
                jobs = self.plan_record(rec)
                if jobs:
                    assert rec.item_id is not None and rec.item is not None
                    self._pending.append(
                        (rec.item_id, rec.item, [(j.target, j.location) for j in jobs])
                    )
                    self._pending_jobs.extend(jobs)
                    self._pending_bytes += jobs[0].size_hint
                    if (
                        len(self._pending) >= self._batch_items()
                        or self._pending_bytes >= _MAX_BATCH_BYTES
                    ):
                        await self._flush_pending()
                if self._inflight:
                    ready = [f for f in self._inflight if f.done()]
                    if ready:
                        await self._collect(ready)
                self._maybe_commit()
            await self._flush_pending()
            while self._inflight:
                self._commit()
                done, _ = await asyncio.wait(
                    set(self._inflight), return_when=asyncio.FIRST_COMPLETED
                )
                await self._collect(done)
            self._commit()
            self._check_pool()
        except BaseException:
            await self._abandon()
            raise
        finally:
            end = self._last_result or time.monotonic()
            begin = self._first_submit or started
            self.summary.render_seconds = max(0.0, end - begin)

    async def _abandon(self) -> None:
        """Cancelled (or failed): stop in-flight tasks, record what they wrote, sweep the rest.

        The stop file makes every running task return after its current output, with the
        outputs it wrote (recorded like any result); tasks still running after
        :data:`_CANCEL_GRACE` seconds are cancelled through the pool (their workers killed).
        """
        if self.pool is not None and self._inflight:
            with contextlib.suppress(OSError):
                Path(self.stop_file).parent.mkdir(parents=True, exist_ok=True)
                Path(self.stop_file).touch()
            request_stop = getattr(self.pool, "request_stop", None)  # remote workers (Dask)
            if request_stop is not None:
                with contextlib.suppress(Exception):
                    await request_stop(self.run_id)
            with contextlib.suppress(BaseException):
                await asyncio.wait(set(self._inflight), timeout=_CANCEL_GRACE)
            if any(not f.done() for f in self._inflight):
                with contextlib.suppress(Exception):
                    await self.pool.cancel_tag(self.run_id, wait=True)
                with contextlib.suppress(BaseException):
                    await asyncio.wait(set(self._inflight), timeout=5.0)
            for fut, batch in list(self._inflight.items()):
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    with contextlib.suppress(Exception):
                        await self._handle(batch, fut)
                else:
                    if not fut.done():
                        fut.cancel()
                    self._cancelled(batch.jobs)
            self._inflight.clear()
        self._pending, self._pending_jobs = [], []  # never submitted: nothing to sweep
        with contextlib.suppress(Exception):
            self._commit()


def _open_records(items: Any, id_field: str, input_format: InputFormat | None) -> Any:
    """A sync iterator of records (a file, a directory, an iterable) or an async one."""
    if isinstance(items, str | os.PathLike):
        return read_items(items, id_field=id_field, format=input_format)  # validates now
    if hasattr(items, "__aiter__"):
        return aiter_mappings(items, id_field)
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        msg = "items must be an input path or an iterable of mappings"
        raise errors.DataError(msg, field="items", value=type(items).__name__)
    return iter_mappings(items, id_field)


async def _records(source: Any) -> AsyncIterator[InputRecord]:
    if hasattr(source, "__aiter__"):
        async for rec in source:
            yield rec
        return
    for n, rec in enumerate(source):
        yield rec
        if n % 64 == 63:
            await asyncio.sleep(0)  # let finished tasks' callbacks run while reading fast


def _check_engine(
    engine: str, scheduler: Any, local: int | None, *, workers: Any, timeout: Any, pool: Any
) -> None:
    """Validate the engine options before any work (and that Dask is installed for it)."""
    if engine not in ("local", "dask"):
        raise errors.ValueRangeError("must be 'local' or 'dask'", field="engine", value=engine)
    if engine == "local":
        if scheduler is not None or local is not None:
            name = "scheduler" if scheduler is not None else "local"
            msg = "is an option of the dask engine; pass engine='dask' (--engine dask)"
            raise errors.ValueRangeError(msg, field=name, value=scheduler or local)
        return
    if (scheduler is None) == (local is None):
        msg = "the dask engine needs either a scheduler address or local=N worker processes"
        raise errors.ValueRangeError(msg, field="scheduler", value=scheduler)
    if local is not None and (isinstance(local, bool) or not isinstance(local, int) or local < 1):
        raise errors.ValueRangeError("must be >= 1", field="local", value=local)
    for name, value, hint in (
        ("workers", workers, "the cluster decides; use local=N for a LocalCluster"),
        ("timeout", timeout, "Dask cannot interrupt a running task"),
        ("pool", pool, "the dask engine starts its own client"),
    ):
        if value is not None:
            msg = f"is not supported with the dask engine ({hint})"
            raise errors.ValueRangeError(msg, field=name, value=value)
    from fastshare.dask_engine import require_dask

    require_dask()


def _dask_pool_factory(job: _Backfill, scheduler: Any, local: int | None) -> Any:
    """Starts the Dask engine's pool on first use, warmed for ``job``'s template and targets."""
    from fastshare.dask_engine import start_pool

    def factory() -> Awaitable[Any]:
        return start_pool(
            scheduler=scheduler,
            local=local,
            warm=(job.token, job.blob, tuple(job.targets)),
            font_paths=tuple(str(p) for p in job.template.font_paths),
            fmt=job.fmt,
            options=job.options,
        )

    return factory


def _sweep_inflight(registry: Registry, store: OutputStore) -> int:
    """Remove temporary files of outputs a killed run had in flight; forget those entries."""
    entries = registry.inflight()
    removed = 0
    for path, _run in entries:
        removed += store.sweep(path)
    if entries:
        with registry.transaction():
            registry.remove_inflight(p for p, _ in entries)
    return removed


def _retry_filter(path: str | None) -> tuple[dict[str, set[str] | None], set[int]]:
    by_id: dict[str, set[str] | None] = {}
    positions: set[int] = set()
    if path is None:
        return by_id, positions
    for failure in read_failures(path):
        if failure.item_id is None:
            if failure.position is not None:
                positions.add(int(failure.position))
            continue
        if failure.target is None:
            by_id[failure.item_id] = None
        else:
            current = by_id.get(failure.item_id, set())
            if current is not None:
                current.add(failure.target)
                by_id[failure.item_id] = current
    return by_id, positions


async def backfill_async(
    template: str | os.PathLike[str] | Mapping[str, Any] | Template,
    items: Any,
    *,
    out: str | os.PathLike[str] | OutputStore,
    targets: str | Sequence[str | Target] | None = None,
    format: str = "png",
    encode_options: Mapping[str, Any] | None = None,
    workers: int | None = None,
    db: str | os.PathLike[str] | Registry | None = None,
    id_field: str = "id",
    input_format: InputFormat | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
    dry_run: bool = False,
    force: bool = False,
    pattern: str = DEFAULT_PATTERN,
    failures: str | os.PathLike[str] | None = None,
    gallery: str | None = None,
    metadata_fields: Sequence[str] = (),
    asset_dirs: Sequence[str | os.PathLike[str]] = (),
    batch_size: int | None = None,
    timeout: float | None = None,
    retries: int = 1,
    window: int | None = None,
    fsync: bool = False,
    progress: ProgressMode = None,
    listing: Callable[[str, str, str, str], None] | None = None,
    pool: Any = None,
    stop: asyncio.Event | None = None,
    engine: Literal["local", "dask"] = "local",
    scheduler: Any = None,
    local: int | None = None,
) -> BackfillSummary:
    """Render every item of ``items`` for every target into ``out``; see :func:`backfill`."""
    started = time.monotonic()
    _check_engine(engine, scheduler, local, workers=workers, timeout=timeout, pool=pool)
    if limit is not None and (isinstance(limit, bool) or limit < 0):
        raise errors.ValueRangeError("must be >= 0", field="limit", value=limit)
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise errors.ValueRangeError("must be >= 1", field="workers", value=workers)
    if timeout is not None and not timeout > 0:
        raise errors.ValueRangeError("must be > 0 seconds", field="timeout", value=timeout)
    if batch_size is not None and batch_size < 1:
        raise errors.ValueRangeError("must be >= 1", field="batch_size", value=batch_size)
    tpl = _load(template, asset_dirs)
    target_list = parse_targets(targets if targets is not None else tpl.targets, "targets")
    names = [_version_name(t) for t in target_list]
    if len(set(names)) != len(names):
        msg = "two targets share a name; give custom sizes distinct names"
        raise errors.ValueRangeError(msg, field="targets", value=names)
    fmt = normalize_format(format)
    options = dict(encode_options or {})
    keys = KeyBuilder(tpl, fmt, options)  # validates the format and options, hashes the fonts
    is_path = isinstance(out, str | os.PathLike)
    store: OutputStore = DirectoryStore(out, pattern, fsync=fsync) if is_path else out  # type: ignore[arg-type, assignment]
    own_registry = not isinstance(db, Registry)
    db_path, default_failures = default_paths(store, None if isinstance(db, Registry) else db)
    if isinstance(db, Registry):
        db_path = db.path
    failures_path = os.fspath(failures) if failures is not None else default_failures
    retry = _retry_filter(failures_path) if retry_failed else None
    input_label = os.fspath(items) if isinstance(items, str | os.PathLike) else "<items>"
    source = _open_records(items, id_field, input_format)

    summary = BackfillSummary(
        run_id=uuid.uuid4().hex,
        template=tpl.name,
        targets=tuple(names),
        format=fmt,
        out=store.describe(),
        registry=db_path,
        failures_path=None,
        dry_run=dry_run,
    )

    total: int | None = None
    if retry is not None:
        by_id, positions = retry
        total = sum(len(v) if v else len(names) for v in by_id.values()) + len(positions)
    elif isinstance(items, str | os.PathLike):
        count = count_records(items, input_format)
        total = None if count is None else count * len(names)
    elif isinstance(items, Sequence):
        total = len(items) * len(names)
    if total is not None and limit is not None:
        total = min(total, limit * len(names))
    if engine == "dask" and batch_size is None:
        from fastshare.dask_engine import chunk_items

        batch_size = chunk_items(None if total is None else -(-total // len(names)))

    registry: Registry | None
    lock: _RunLock | None = None
    if not dry_run and db_path != ":memory:":
        lock = _RunLock(db_path)
        lock.acquire()
    try:
        if isinstance(db, Registry):
            registry = db
        elif dry_run:
            registry = Registry(db_path, readonly=True) if os.path.isfile(db_path) else None
        else:
            registry = Registry(db_path, fsync=fsync)
    except BaseException:
        if lock is not None:
            lock.release()
        raise

    log = _FailureLog(None if dry_run else failures_path)
    bar = _Progress(progress, total)
    complete = False
    try:
        if registry is not None and not dry_run:
            summary.swept = _sweep_inflight(registry, store)
            registry.start_run(
                summary.run_id,
                template=tpl.name,
                config_hash=tpl.config_hash(),
                input=input_label,
                out=store.describe(),
                targets=names,
                format=fmt,
            )
        job = _Backfill(
            tpl,
            target_list,
            store,
            registry,
            fmt=fmt,
            options=options,
            id_field=id_field,
            limit=limit,
            retry=retry,
            dry_run=dry_run,
            force=force,
            gallery=gallery,
            metadata_fields=metadata_fields,
            batch_size=batch_size,
            timeout=timeout,
            retries=retries,
            window=window,
            failures=log,
            progress=bar,
            summary=summary,
            listing=listing,
            stop=stop,
            pool=pool,
            workers=workers,
            keys=keys,
            stop_file=(
                os.path.join(tempfile.gettempdir(), f"fastshare-stop-{summary.run_id}")
                if db_path == ":memory:"
                else f"{db_path}.stop-{summary.run_id[:12]}"
            ),
        )
        if engine == "dask":
            job.pool_factory = _dask_pool_factory(job, scheduler, local)
        try:
            if retry is None or total:  # a retry with no failures recorded has nothing to do
                await job.run(_records(source))
            complete = not summary.interrupted
        finally:
            await job.close_pool()
            with contextlib.suppress(OSError):
                os.unlink(job.stop_file)
    finally:
        bar.close()
        summary.failures_path = log.finish(complete)
        summary.failures = list(log.listed)
        summary.elapsed = time.monotonic() - started
        if registry is not None:
            if not dry_run:
                with contextlib.suppress(Exception):
                    status = "done" if complete else "interrupted"
                    registry.finish_run(summary.run_id, status, summary.to_dict())
            if own_registry:
                registry.close()
        if lock is not None:
            lock.release()
    return summary


def backfill(
    template: str | os.PathLike[str] | Mapping[str, Any] | Template,
    items: Any,
    *,
    out: str | os.PathLike[str] | OutputStore,
    **options: Any,
) -> BackfillSummary:
    """Render every item for every target into ``out``, keep the registry, return a summary.

    ``template``: a path (``.toml``/``.json``), a bundled example name, a dict or a Template.
    ``items``: a JSON Lines / CSV file or a directory of JSON files (streamed), or an iterable
    (or async iterable) of mappings. ``out``: an output directory (or an
    :class:`~fastshare.stores.OutputStore`).

    Options (all keyword): ``targets`` (default: the template's), ``format`` (``png``),
    ``encode_options``, ``workers``, ``db`` (default ``<out>/.fastshare/registry.sqlite``, or a
    :class:`~fastshare.registry.Registry`), ``id_field`` (``id``), ``input_format``, ``limit``,
    ``retry_failed``, ``dry_run``, ``force`` (re-render even what is done), ``pattern``
    (``{item_id}/{target}.{ext}``), ``failures`` (default ``<out>/.fastshare/failures.jsonl``),
    ``gallery`` (the correlation id, ``{field}`` placeholders allowed), ``metadata_fields``,
    ``asset_dirs``, ``batch_size`` (items per pool task; default automatic: about 25 ms of work
    per task), ``timeout`` (seconds per output), ``retries`` (worker crashes retried),
    ``window`` (tasks in flight), ``fsync``, ``progress`` (``"bar"``, ``"log"``, a callable
    taking a dict, or None), ``listing`` (called with action, item id, target, path for each
    output), ``pool`` (a started :class:`~fastshare.pool.RenderPool` to reuse).

    Scale-out: ``engine="dask"`` runs the chunks (``batch_size`` items each; by default 200,
    fewer for a small input: :func:`fastshare.dask_engine.chunk_items`) on Dask distributed, with
    ``scheduler="tcp://host:8786"`` (or a ``distributed.Client`` / cluster) or ``local=N`` (a
    LocalCluster of N worker processes); the client keeps the registry. Needs
    ``pip install 'fastshare[dask]'``; see docs/scaling.md.

    From async code, ``await backfill_async(...)`` (same arguments, plus ``stop``: an
    ``asyncio.Event`` that finishes in-flight work and returns an ``interrupted`` summary).
    Called from a thread that already runs an event loop, this function runs the backfill in a
    helper thread (blocking the caller until it ends).
    """
    coro = backfill_async(template, items, out=out, **options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=runner, name="fastshare-backfill")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    summary: BackfillSummary = box["value"]
    return summary
