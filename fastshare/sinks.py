"""Sinks: where the generator pipeline puts encoded images.

A pipeline run has a *key* (the hash of the generator's configuration, the targets and the
encoder settings) and a *run token* (unique per run). Writing is two-phase so that a stopped run
leaves nothing behind and a finished run is all-or-nothing:

1. ``stage(key, target, format, data, token)`` puts one target's bytes somewhere temporary and
   returns a :class:`Staged` record. It is synchronous and, when ``stage_in_worker`` is true, runs
   inside the worker that encoded the image (the bytes never cross a process boundary).
2. ``commit(key, staged, configuration)`` runs in the orchestrator once every target is staged:
   it moves the staged files into place and records the run as complete, returning the
   :class:`Output` records. ``abort(key, token, staged)`` removes everything a run staged,
   including files from tasks that were killed before they could report (found by ``token``).
3. ``lookup(key)`` returns the outputs of a complete earlier run, or ``None``; the pipeline skips
   the work when it finds them.

``lookup``/``commit``/``abort`` may be plain functions or coroutines. The SQLite registry plugs in
as another sink (or wraps :class:`DirectorySink`), committing its rows only after the files are in
place.

:class:`DirectorySink` writes ``<root>/<key>/<target>.<ext>`` with atomic renames (a temp file in
the same directory, then ``os.replace``) and marks a key complete with ``manifest.json``, written
last, atomically. :class:`MemorySink` keeps bytes in a dict (tests, HTTP responses).

Thread safety: a sink is used by one pipeline run at a time per key; DirectorySink is safe across
processes for distinct keys, and two runs of the same key race only to write identical bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fastshare.errors import ValueRangeError

__all__ = [
    "DirectorySink",
    "MemorySink",
    "Output",
    "Sink",
    "Staged",
    "extension_for",
]

_EXTENSIONS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def extension_for(fmt: str) -> str:
    """The file extension for an encoder format name (``jpeg`` → ``jpg``)."""
    name = fmt.lower()
    return _EXTENSIONS.get(name, name)


def _check_name(value: str, field: str) -> str:
    if not isinstance(value, str) or not _SAFE.match(value) or ".." in value:
        msg = "must be 1-128 characters of letters, digits, '.', '_' or '-', not starting with '.'"
        raise ValueRangeError(msg, field=field, value=value)
    return value


@dataclass(frozen=True, slots=True)
class Staged:
    """One target's encoded image, staged but not yet committed."""

    key: str
    target: str
    width: int
    height: int
    format: str
    size: int
    sha256: str
    token: str
    #: where the staged bytes are (a temp path for DirectorySink)
    location: str
    #: the bytes themselves, for sinks that stage in the orchestrator (None otherwise)
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """One committed output: a target's image, where it is, and what it is."""

    key: str
    target: str
    width: int
    height: int
    format: str
    size: int
    sha256: str
    #: a path for DirectorySink, ``memory:<key>/<target>`` for MemorySink
    location: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Sink(Protocol):
    """The interface the pipeline writes through (see the module docstring)."""

    #: True when :meth:`stage` may run in a worker process (the sink must then pickle)
    stage_in_worker: bool

    def lookup(self, key: str) -> Sequence[Output] | Awaitable[Sequence[Output] | None] | None: ...

    def stage(self, key: str, target: Any, fmt: str, data: bytes, token: str) -> Staged: ...

    def commit(
        self, key: str, staged: Sequence[Staged], configuration: Any
    ) -> Sequence[Output] | Awaitable[Sequence[Output]]: ...

    def abort(self, key: str, token: str, staged: Sequence[Staged]) -> Awaitable[None] | None: ...


def _staged(
    key: str, target: Any, fmt: str, data: bytes, token: str, location: str, keep: bool
) -> Staged:
    return Staged(
        key=key,
        target=str(target.name),
        width=int(target.pixel_width),
        height=int(target.pixel_height),
        format=fmt,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        token=token,
        location=location,
        data=data if keep else None,
    )


class DirectorySink:
    """Write ``<root>/<key>/<target>.<ext>`` atomically; ``manifest.json`` marks a key complete.

    ``fsync=True`` flushes every file and directory to disk before it counts as written (slower;
    for storage that must survive a power cut).
    """

    stage_in_worker = True
    MANIFEST = "manifest.json"

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"DirectorySink({str(self.root)!r})"

    def directory(self, key: str) -> Path:
        return self.root / _check_name(key, "key")

    def path(self, key: str, target: str, fmt: str) -> Path:
        return self.directory(key) / f"{_check_name(target, 'target')}.{extension_for(fmt)}"

    def _write(self, path: Path, data: bytes) -> None:
        with open(path, "wb") as fh:
            fh.write(data)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())

    def _sync_dir(self, path: Path) -> None:
        if self.fsync:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def stage(self, key: str, target: Any, fmt: str, data: bytes, token: str) -> Staged:
        final = self.path(key, str(target.name), fmt)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.{_check_name(token, 'token')}.tmp")
        self._write(temp, data)
        return _staged(key, target, fmt, data, token, str(temp), keep=False)

    def lookup(self, key: str) -> list[Output] | None:
        manifest = self.directory(key) / self.MANIFEST
        try:
            with open(manifest, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError):
            return None  # unreadable or half-written by another tool: render again
        try:
            outputs = [Output(**entry) for entry in doc["outputs"]]
        except (KeyError, TypeError):
            return None
        if not all(os.path.isfile(o.location) for o in outputs):
            return None
        return outputs

    def commit(self, key: str, staged: Sequence[Staged], configuration: Any) -> list[Output]:
        directory = self.directory(key)
        directory.mkdir(parents=True, exist_ok=True)
        outputs: list[Output] = []
        for item in staged:
            final = self.path(key, item.target, item.format)
            if item.data is not None:
                temp = final.with_name(f".{final.name}.{item.token}.tmp")
                self._write(temp, item.data)
                os.replace(temp, final)
            else:
                os.replace(item.location, final)
            outputs.append(
                Output(
                    key=key,
                    target=item.target,
                    width=item.width,
                    height=item.height,
                    format=item.format,
                    size=item.size,
                    sha256=item.sha256,
                    location=str(final),
                )
            )
        doc = {
            "key": key,
            "configuration": configuration,
            "outputs": [o.to_dict() for o in outputs],
        }
        token = staged[0].token if staged else "commit"
        temp = directory / f".{self.MANIFEST}.{token}.tmp"
        self._write(temp, json.dumps(doc, indent=1, sort_keys=True).encode())
        os.replace(temp, directory / self.MANIFEST)
        self._sync_dir(directory)
        return outputs

    def abort(self, key: str, token: str, staged: Sequence[Staged]) -> None:
        directory = self.directory(key)
        suffix = f".{_check_name(token, 'token')}.tmp"
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return
        for name in names:
            if name.startswith(".") and name.endswith(suffix):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / name)
        with contextlib.suppress(OSError):
            directory.rmdir()  # only if the run left it empty


class MemorySink:
    """Keep outputs in memory: ``files[(key, target)]`` holds the bytes (stages in-process)."""

    stage_in_worker = False

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.manifests: dict[str, list[Output]] = {}
        self.configurations: dict[str, Any] = {}

    def stage(self, key: str, target: Any, fmt: str, data: bytes, token: str) -> Staged:
        return _staged(key, target, fmt, data, token, f"memory:{key}/{target.name}", keep=True)

    def lookup(self, key: str) -> list[Output] | None:
        return self.manifests.get(key)

    def commit(self, key: str, staged: Sequence[Staged], configuration: Any) -> list[Output]:
        outputs = []
        for item in staged:
            assert item.data is not None
            self.files[(key, item.target)] = item.data
            outputs.append(
                Output(
                    key=key,
                    target=item.target,
                    width=item.width,
                    height=item.height,
                    format=item.format,
                    size=item.size,
                    sha256=item.sha256,
                    location=item.location,
                )
            )
        self.manifests[key] = outputs
        self.configurations[key] = configuration
        return outputs

    def abort(self, key: str, token: str, staged: Sequence[Staged]) -> None:
        return None

    def data(self, key: str, target: str) -> bytes:
        return self.files[(key, target)]
