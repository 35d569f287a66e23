"""The playground's runtime state: one template file, watched on disk, and its last good load.

:class:`PreviewState` polls the template file's modification time, size and inode every
``poll_interval`` seconds (no extra dependency, works on every file system and with editors that
save by writing a new file and renaming it); a file modified in the last two seconds is also
compared by content, since two saves within one file-system time tick keep the same stamp. On a
change it validates the file and builds its
:class:`~fastshare.service.templates.TemplateInfo` through a fresh
:class:`~fastshare.service.templates.TemplateStore`, in a thread: file I/O and validation never
run on the event loop. A template that no longer loads keeps the **last good**
one in :attr:`PreviewState.info` (renders go on with it) and records every problem (field path,
message, value) for the page.

Two counters tell the page what changed: :attr:`~PreviewState.version` counts good loads (image
URLs carry it, so a new template never shows a cached image) and :attr:`~PreviewState.revision`
counts every change the page shows (a good load, new problems, the workers becoming ready).
:meth:`~PreviewState.wait` lets a request wait (bounded) for the next revision: the page
long-polls ``/preview/api/state`` instead of asking many times a second.

The service's template directory is a private temporary directory holding one symbolic link,
``<name>.<toml|json>`` → the user's file (:func:`link_template`), so the template keeps its own
directory for relative ``assets`` and ``fonts`` while the service sees a valid template name and
nothing else from the user's directory.

Thread safety: belongs to the event loop of the app that serves it; only the loading runs in a
worker thread, and its result is applied on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastshare.binding import lookup
from fastshare.errors import ClientError, Problem, ServerError, TemplateError, ValueRangeError
from fastshare.service.templates import NAME, TemplateInfo, TemplateStore
from fastshare.targets import TARGETS, parse_target
from fastshare.template import MAX_TEMPLATE_BYTES, load_template

if TYPE_CHECKING:
    from fastshare.service.core import RenderService

__all__ = [
    "PreviewProblem",
    "PreviewState",
    "default_value",
    "field_kind",
    "link_template",
    "template_name",
]

log = logging.getLogger("fastshare.preview")

#: seconds between two looks at the template file
DEFAULT_POLL_INTERVAL = 0.25
#: a file modified less than this long ago (ns) is also compared by content
RECENT_NS = 2_000_000_000
_SUFFIXES = (".toml", ".json")
_MISSING = object()


@dataclass(frozen=True)
class PreviewProblem:
    """A problem shown on the page: where (a path such as ``layers[2].size``), what, the value."""

    field: str
    message: str
    value: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "message": self.message, "value": self.value}

    @classmethod
    def from_problem(cls, problem: Problem) -> PreviewProblem:
        value = problem.value
        shown = None if value is None else (value if isinstance(value, str) else repr(value))
        if shown is not None and len(shown) > 120:
            shown = shown[:119] + "…"
        return cls(problem.field or "template", problem.message, shown)


def template_name(path: Path) -> str:
    """A valid service template name for ``path`` (its stem, with other characters as ``-``)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-_")[:64]
    return name if NAME.fullmatch(name) else "template"


def link_template(path: Path) -> tuple[Path, str]:
    """A new temporary directory holding ``<name><suffix>`` → ``path``; (directory, name).

    The caller removes the directory (:meth:`PreviewState.cleanup`). Raises ``ValueRangeError``
    naming ``template`` for a file that is not ``.toml``/``.json`` or a link that cannot be made.
    """
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        msg = "template files must end in .toml or .json"
        raise ValueRangeError(msg, field="template", value=str(path))
    name = template_name(path)
    directory = Path(tempfile.mkdtemp(prefix="fastshare-preview-"))
    try:
        os.symlink(path.resolve(), directory / f"{name}{suffix}")
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        msg = f"cannot link the template into the preview's directory: {exc.strerror or exc}"
        raise ValueRangeError(msg, field="template", value=str(path)) from None
    return directory, name


def field_kind(value: Any) -> str:
    """How the page edits a field whose sample value is ``value``: text, number, boolean, json."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | dict):
        return "json"
    return "text"


def default_value(name: str) -> str:
    """A readable sample for a required field with no data: ``read_time`` → ``Read time``."""
    last = name.rsplit(".", 1)[-1]
    words = re.sub(r"[_\-]+", " ", last).strip()
    return words[:1].upper() + words[1:] if words else name


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _digest(path: Path) -> str | None:
    """The SHA-256 of the file's bytes, or None when it cannot be read (or is over the cap)."""
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            return f"size:{size}"  # never read: loading reports it as too large
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class PreviewState:
    """The watched template of one preview server. See the module docstring."""

    def __init__(
        self,
        service: RenderService,
        path: Path,
        name: str,
        *,
        data: Mapping[str, Any] | None = None,
        link_dir: Path | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        #: the user's template file, made absolute (watched), and as given (shown on the page)
        self.path = Path(os.path.abspath(path))
        self.shown_path = str(path)
        self.name = name
        self.service = service
        #: the sample item the form starts from (``--data``)
        self.data: dict[str, Any] = dict(data or {})
        self.poll_interval = poll_interval
        self.link_dir = link_dir
        #: the last template that loaded, or None before the first good load
        self.info: TemplateInfo | None = None
        #: problems of the file as it is now (empty when it loads)
        self.problems: tuple[PreviewProblem, ...] = ()
        #: good loads so far (image URLs carry it) and changes the page shows
        self.version = 0
        self.revision = 0
        self.loaded_at: float | None = None
        self.failed_at: float | None = None
        self._stamp: object = _MISSING
        self._digest: str | None = None
        self._service_seen: tuple[str, bool] = ("", False)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the template now, then keep watching it in a background task."""
        await self.check()
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        """Stop watching; wake every waiting request."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._changed.set()

    def cleanup(self) -> None:
        """Remove the temporary directory with the link (the user's file is never touched)."""
        if self.link_dir is not None:
            shutil.rmtree(self.link_dir, ignore_errors=True)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the watcher die: log and look again
                log.exception("watching %s failed", self.path)

    # ------------------------------------------------------------------ changes

    def _bump(self) -> None:
        self.revision += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def check(self) -> bool:
        """Look at the file (and the workers); reload on a change. True when anything changed."""
        changed = False
        service = (self.service.state, self.service.ready)
        if service != self._service_seen:
            self._service_seen = service
            changed = True
        stamp = _stamp(self.path)
        # file systems stamp modification times coarsely (a few ms): two saves in one tick
        # keep the stamp, so a recently modified file is compared by content as well
        recent = stamp is not None and time.time_ns() - stamp[0] < RECENT_NS
        if stamp != self._stamp or recent:
            self._stamp = stamp
            digest = await asyncio.to_thread(_digest, self.path)
            if digest != self._digest or self.revision == 0:
                self._digest = digest
                info, problems = await asyncio.to_thread(self._load)
                self._apply(info, problems)
                return True
        if changed:
            self._bump()
        return changed

    def _apply(self, info: TemplateInfo | None, problems: tuple[PreviewProblem, ...]) -> None:
        now = time.time()
        if info is not None:
            self.info = info
            self.version += 1
            self.problems = ()
            self.loaded_at = now
            log.info("preview: %s loaded (version %d)", self.path.name, self.version)
        else:
            self.problems = problems
            self.failed_at = now
            shown = "; ".join(f"{p.field}: {p.message}" for p in problems[:3])
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            log.warning(
                "preview: %s does not load, showing the last good version: %s%s",
                self.path.name,
                shown,
                more,
            )
        self._bump()

    def _load(self) -> tuple[TemplateInfo | None, tuple[PreviewProblem, ...]]:
        """Validate the file (for the problem list), then take it through the service's store.

        The direct load comes first so a broken file is reported with every problem, under the
        user's own path, and the store only ever sees files that load.
        """
        for _attempt in range(3):
            try:
                load_template(self.path, asset_dirs=self.service.config.asset_dirs)
            except TemplateError as exc:
                return None, tuple(PreviewProblem.from_problem(p) for p in exc.problems)
            except ClientError as exc:
                problem = Problem(exc.field or "template", exc.reason, exc.value)
                return None, (PreviewProblem.from_problem(problem),)
            # a fresh store: the service's own caches by (mtime, size), which two quick saves
            # can share
            store = TemplateStore(self.link_dir or self.path.parent, self.service.config.asset_dirs)
            try:
                return store.get(self.name), ()
            except (ClientError, ServerError):
                continue  # the file changed between the two reads: look again
        problem = Problem("template", "the file keeps changing while it is read", str(self.path))
        return None, (PreviewProblem.from_problem(problem),)

    async def wait(self, since: int, timeout: float) -> None:
        """Return when :attr:`revision` differs from ``since``, or after ``timeout`` seconds."""
        if self.revision != since:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # ------------------------------------------------------------------ what the page shows

    def fields(self) -> list[dict[str, Any]]:
        """The form: one entry per field the template reads, prefilled from the sample item."""
        info = self.info
        if info is None:
            return []
        template = info.template
        required = set(template.required_fields)
        out = []
        for name in template.fields:
            value = lookup(self.data, name)
            if value is _MISSING_LOOKUP or value is None:
                value = default_value(name) if name in required else ""
            out.append(
                {
                    "name": name,
                    "required": name in required,
                    "kind": field_kind(value),
                    "value": value,
                    "image": name in info.image_fields,
                }
            )
        return out

    def targets(self) -> list[dict[str, Any]]:
        """The template's own targets (name, spec, size in pixels)."""
        info = self.info
        if info is None:
            return []
        out = []
        for spec in info.template.targets:
            target = parse_target(spec)
            out.append(
                {
                    "spec": target.spec(),
                    "name": target.name,
                    "width": target.pixel_width,
                    "height": target.pixel_height,
                }
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        """The JSON the page polls: counters, template, form, problems, service readiness."""
        service = self.service
        template: dict[str, Any] | None = None
        if self.info is not None:
            template = {
                "name": self.name,
                "file": self.shown_path,
                "targets": self.targets(),
                "fields": self.fields(),
                "loaded_at": self.loaded_at,
            }
        own = {t["spec"] for t in (template or {}).get("targets", [])}
        presets = [
            {"spec": t.name, "name": t.name, "width": t.width, "height": t.height}
            for t in TARGETS.values()
            if t.name not in own
        ]
        return {
            "revision": self.revision,
            "version": self.version,
            "file": self.shown_path,
            "path": str(self.path),
            "template": template,
            "problems": [p.to_dict() for p in self.problems],
            "failed_at": self.failed_at if self.problems else None,
            "ready": service.ready,
            "service": service.state,
            "presets": presets,
            "formats": ["png", "jpeg", "webp"],
        }


#: what :func:`fastshare.binding.lookup` returns for an absent field
_MISSING_LOOKUP: Any = lookup({}, "absent")
