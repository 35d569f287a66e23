"""Output stores: where a backfill writes each (item, target) image.

A store turns an item id and a target into a *location* and writes bytes there atomically. The
backfill's workers call :meth:`OutputStore.write` (the bytes never travel back to the
orchestrator); the orchestrator records the registry row only after ``write`` returned, so a
registry row always describes a complete file.

:class:`DirectoryStore` is the local implementation: a path pattern under a root directory
(default ``{item_id}/{target}.{ext}``), file names made safe (no traversal, no hidden or
reserved names), and atomic writes: a temporary ``.<name>.<token>.tmp`` file in the same
directory, then ``os.replace``. A run killed mid-write leaves only such temporary files, which
:meth:`DirectoryStore.sweep` removes on the next start.

The interface is small on purpose so that an object-storage store can be added later: ``write``
maps to one PUT (atomic by nature), ``size`` to a HEAD, ``sweep`` to aborting multipart uploads.

This differs from :mod:`fastshare.sinks` (the generator pipeline's two-phase sink keyed by a run
configuration): a backfill writes millions of independent outputs and the registry is its record
of completion, so each write completes on its own.

Stores are plain picklable objects (they are sent to worker processes). ``write`` is safe to call
from several processes at once for different locations; two writers of one location race only
to install complete files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import string
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fastshare.errors import DataError, LimitError, ValueRangeError
from fastshare.sinks import extension_for

__all__ = [
    "DEFAULT_PATTERN",
    "PLACEHOLDERS",
    "DirectoryStore",
    "OutputStore",
    "safe_component",
]

#: the default path pattern of a :class:`DirectoryStore`
DEFAULT_PATTERN = "{item_id}/{target}.{ext}"

#: placeholders a path pattern may use
PLACEHOLDERS = ("item_id", "target", "ext", "format", "template", "shard", "width", "height")

_SAFE_CHARS = frozenset(string.ascii_letters + string.digits + "._-@+=")
_ALREADY_SAFE = re.compile(r"[A-Za-z0-9_\-@+=][A-Za-z0-9._\-@+=]{0,199}")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
#: longest file-name component, in bytes: 255 (the usual file-system limit) minus room for the
#: temporary name's prefix, token, pid and suffix
_MAX_NAME_BYTES = 200


def safe_component(value: str, field: str = "item_id") -> str:
    """``value`` made safe as one file-name component, reversibly (percent-encoding).

    Letters, digits and ``. _ - @ + =`` are kept; every other character (``/``, ``\\``, spaces,
    ``%``, non-ASCII) becomes ``%XX`` per UTF-8 byte, so two different values never share a name
    and nothing can climb out of the directory. A leading ``.`` (hidden files, ``..``), a
    trailing ``.`` and Windows' reserved device names (``CON``, ``NUL``, ``COM1``...) are encoded
    too. Raises DataError for an empty value and LimitError past 200 bytes (room is left for the
    temporary file's name within the usual 255-byte limit).
    """
    if not isinstance(value, str) or value == "":
        raise DataError("cannot be empty in a file name", field=field, value=value)
    if _ALREADY_SAFE.fullmatch(value) and value[-1] != "." and not _RESERVED.match(value):
        return value  # the common case: nothing to encode
    out = []
    for ch in value:
        if ch in _SAFE_CHARS:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    if out[0] == ".":
        out[0] = "%2E"
    if out[-1] == ".":
        out[-1] = "%2E"
    name = "".join(out)
    if _RESERVED.match(name):
        name = f"%{ord(name[0]):02X}{name[1:]}"
    if len(name.encode()) > _MAX_NAME_BYTES:
        size = len(name.encode())
        msg = f"is too long for a file name ({size} bytes once made safe, max {_MAX_NAME_BYTES})"
        raise LimitError(msg, field=field, value=value)
    return name


@runtime_checkable
class OutputStore(Protocol):
    """Where a backfill writes its outputs (see the module docstring)."""

    def location(self, item_id: str, target: Any, fmt: str, *, template: str = "") -> str: ...

    def write(self, location: str, data: bytes, token: str) -> None: ...

    def size(self, location: str) -> int | None: ...

    def sweep(self, location: str) -> int: ...

    def describe(self) -> str: ...


def _check_pattern(pattern: str) -> list[str]:
    """The pattern's ``/``-separated parts, validated; raises ValueRangeError."""
    field = "pattern"
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueRangeError("the path pattern cannot be empty", field=field, value=pattern)
    if pattern.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", pattern) or "\\" in pattern:
        msg = "the path pattern must be relative and use '/' between directories"
        raise ValueRangeError(msg, field=field, value=pattern)
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        msg = f"bad path pattern ({exc}); write {{{{ and }}}} for literal braces"
        raise ValueRangeError(msg, field=field, value=pattern) from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            msg = f"unknown placeholder {{{name}}}; use {known}"
            raise ValueRangeError(msg, field=field, value=pattern)
        names.add(name)
    if "item_id" not in names or "target" not in names:
        msg = "the path pattern must contain {item_id} and {target} (one file per item and target)"
        raise ValueRangeError(msg, field=field, value=pattern)
    parts = pattern.split("/")
    for part in parts:
        if part in ("", ".", "..") or part.startswith("."):
            msg = "path pattern parts cannot be empty, '.', '..' or start with '.'"
            raise ValueRangeError(msg, field=field, value=pattern)
    return parts


def write_atomic(
    path: str | os.PathLike[str], data: bytes, *, temp: str | None = None, fsync: bool = False
) -> int:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename it
    over ``path``: readers see the old file or the whole new one, never a partial file. The
    temporary file is removed on any error. Returns the number of bytes written."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    if temp is None:
        temp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if fsync:
        fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return len(data)


class DirectoryStore:
    """Files under ``root`` named by ``pattern``; atomic writes; ``fsync`` for power-cut safety.

    Placeholders: ``{item_id}`` (made safe by :func:`safe_component`), ``{target}`` (the target
    name, ``og@2x`` for scaled ones), ``{ext}`` (``png``, ``jpg``...), ``{format}``,
    ``{template}`` (the template name), ``{shard}`` (two hex digits from the item id's hash, to
    spread millions of items over 256 directories), ``{width}`` and ``{height}`` (pixels).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        pattern: str = DEFAULT_PATTERN,
        *,
        fsync: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.pattern = pattern
        self.fsync = fsync
        self._parts = _check_pattern(pattern)
        self._constants: dict[tuple[Any, str, str], dict[str, str]] = {}
        self._wants_shard = "{shard}" in pattern
        self._root_text = str(self.root).rstrip("/") or ""

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.root)!r}, {self.pattern!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"root": str(self.root), "pattern": self.pattern, "fsync": self.fsync}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.root = Path(state["root"])
        self.pattern = state["pattern"]
        self.fsync = state["fsync"]
        self._parts = _check_pattern(self.pattern)
        self._constants = {}
        self._wants_shard = "{shard}" in self.pattern
        self._root_text = str(self.root).rstrip("/") or ""

    def describe(self) -> str:
        return f"{self.root}/{self.pattern}"

    def location(self, item_id: str, target: Any, fmt: str, *, template: str = "") -> str:
        """The absolute path of ``item_id`` at ``target`` (raises for an unusable item id)."""
        constants = self._constants.get((target, fmt, template))
        if constants is None:
            name = str(target.name) if target.scale == 1.0 else f"{target.name}@{target.scale:g}x"
            constants = {
                "target": safe_component(name, "target"),
                "ext": extension_for(fmt),
                "format": fmt.lower(),
                "template": safe_component(template or "template", "template"),
                "width": str(target.pixel_width),
                "height": str(target.pixel_height),
            }
            if len(self._constants) < 1024:
                self._constants[(target, fmt, template)] = constants
        values = dict(constants)
        values["item_id"] = safe_component(item_id, "item_id")
        if self._wants_shard:
            digest = hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()
            values["shard"] = digest[:2]
        parts = [part.format(**values) for part in self._parts]
        for part in parts:
            if len(part.encode()) > _MAX_NAME_BYTES:
                msg = f"makes a file name longer than {_MAX_NAME_BYTES} bytes"
                raise LimitError(msg, field="item_id", value=item_id)
        return (
            os.path.join(str(self.root), *parts)
            if os.sep != "/"
            else "/".join((self._root_text, *parts))
        )

    def _temp(self, path: str, token: str) -> str:
        directory, name = os.path.split(path)
        return os.path.join(directory, f".{name}.{token}.{os.getpid()}.tmp")

    def write(self, location: str, data: bytes, token: str) -> None:
        """Write ``data`` to ``location`` atomically (temporary file beside it, then rename)."""
        os.makedirs(os.path.dirname(location), exist_ok=True)
        write_atomic(location, data, temp=self._temp(location, token), fsync=self.fsync)

    def size(self, location: str) -> int | None:
        """The size of the file at ``location`` in bytes, or None when there is none."""
        try:
            st = os.stat(location)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return int(st.st_size)

    def sweep(self, location: str) -> int:
        """Remove temporary files a killed writer left for ``location``; returns how many."""
        directory, name = os.path.split(location)
        prefix = f".{name}."
        removed = 0
        try:
            entries = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        for entry in entries:
            if entry.startswith(prefix) and entry.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, entry))
                    removed += 1
        if directory != str(self.root) and (not entries or removed == len(entries)):
            with contextlib.suppress(OSError):
                os.rmdir(directory)  # a directory only the killed writer had created
        return removed
