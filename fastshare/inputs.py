"""Streaming item readers for backfills: JSON Lines, CSV, a directory of JSON files, iterables.

Every reader yields :class:`InputRecord` objects one at a time and keeps at most one record in
memory (plus the file buffer), so a 10-million-line input costs the same memory as a 10-line one.
A bad record never stops the stream: it is yielded with ``error`` set (a
:class:`~fastshare.errors.DataError` or :class:`~fastshare.errors.LimitError` naming the line and
what is wrong) and the reader carries on with the next one.

Formats (:func:`detect_format`):

* ``jsonl`` — one JSON object per line (``.jsonl``, ``.ndjson``, ``-`` for standard input); blank
  lines are skipped; ``.gz`` is decompressed. A ``.json`` file is read the same way when it
  starts with ``{``; when it starts with ``[`` it is one JSON array of objects, which is parsed
  whole (not streamed: at most :data:`MAX_ARRAY_BYTES`; use JSON Lines for large inputs).
* ``csv`` — a header row, then one item per row; every value is a string (an empty cell is a
  missing value, so ``{field|default}`` applies). UTF-8, with or without a byte-order mark.
* ``dir`` — every ``*.json`` file directly inside a directory, one object per file, in directory
  order (not sorted: sorting would hold every name in memory). The item id falls back to the file
  name without ``.json`` when the object has no id field.

Item ids come from ``id_field`` (default ``id``; dotted names reach into nested objects), must be
a non-empty string or an integer, and are returned as strings. A record larger than
``max_record_bytes`` (16 MiB by default) is skipped with a LimitError before it is parsed.

Thread safety: a reader is a generator; use each from one thread.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from fastshare.errors import DataError, FastshareError, LimitError

__all__ = [
    "MAX_RECORD_BYTES",
    "InputFormat",
    "InputRecord",
    "aiter_mappings",
    "count_records",
    "detect_format",
    "iter_mappings",
    "read_items",
]

#: the largest single record (line, row or file) a reader accepts, in bytes
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: the largest ``.json`` file holding an array of items (read whole, not streamed)
MAX_ARRAY_BYTES = 256 * 1024 * 1024

InputFormat = Literal["jsonl", "csv", "dir"]

_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_CSV_SUFFIXES = (".csv", ".csv.gz")
_COUNT_CHUNK = 1 << 22


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One input record: where it came from, its id and data, or why it is unusable."""

    #: 1-based ordinal of the record in the input (blank lines are not records)
    position: int
    #: a human-readable location: ``items.jsonl:12``, ``rows.csv:7`` or a file path
    source: str
    item_id: str | None
    item: dict[str, Any] | None
    error: FastshareError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- helpers


def detect_format(source: str | os.PathLike[str]) -> InputFormat:
    """``jsonl``, ``csv`` or ``dir`` from the path (``-`` is JSON Lines on standard input)."""
    name = os.fspath(source)
    if name == "-":
        return "jsonl"
    path = Path(name)
    if path.is_dir():
        return "dir"
    lower = path.name.lower()
    if lower.endswith(_CSV_SUFFIXES):
        return "csv"
    if lower.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(".tsv"):
        msg = "tab-separated input is not supported; use CSV or JSON Lines"
        raise DataError(msg, field="input", value=name)
    msg = "cannot tell the input format from the name; use .jsonl, .csv or a directory"
    raise DataError(msg, field="input", value=name)


def _item_id(
    item: Mapping[str, Any], id_field: str, fallback: str | None = None
) -> tuple[str | None, str | None]:
    """(id, problem): the id as a string (``fallback`` when the field is absent), or why not."""
    from fastshare.binding import _MISSING, lookup

    value = lookup(item, id_field)
    if value is _MISSING or value is None:
        if fallback is not None:
            return fallback, None
        return None, f"has no {id_field!r} field (the item id; choose another with --id-field)"
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, f"the id field {id_field!r} must be a string or an integer"
    text = str(value)
    if not text.strip():
        return None, f"the id field {id_field!r} is empty"
    return text, None


def _record(
    position: int, source: str, item: Any, id_field: str, fallback_id: str | None = None
) -> InputRecord:
    if not isinstance(item, dict):
        kind = type(item).__name__ if not isinstance(item, list) else "array"
        msg = f"{source}: an item must be a JSON object, not {kind}"
        return InputRecord(position, source, None, None, DataError(msg, field="item"))
    item_id, problem = _item_id(item, id_field, fallback_id)
    if item_id is None:
        error = DataError(f"{source}: the item {problem}", field=id_field)
        return InputRecord(position, source, None, item, error)
    return InputRecord(position, source, item_id, item, None)


def _open_binary(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _open_input(source: str | os.PathLike[str]) -> tuple[BinaryIO, str, bool]:
    """(binary stream, display name, close it?)."""
    name = os.fspath(source)
    if name == "-":
        return sys.stdin.buffer, "<stdin>", False
    path = Path(name)
    try:
        return _open_binary(path), path.name, True
    except OSError as exc:
        msg = f"cannot read the input: {exc.strerror or exc}"
        raise DataError(msg, field="input", value=name) from None


# --------------------------------------------------------------------------- readers


def _read_line(fh: BinaryIO, limit: int) -> tuple[bytes, bool]:
    """(line, too_long). A line over ``limit`` bytes is consumed and reported, not returned."""
    line = fh.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line, False
    while True:  # skip the rest of an oversized line without holding it
        rest = fh.readline(_COUNT_CHUNK)
        if not rest or rest.endswith(b"\n"):
            return b"", True


def _jsonl(source: str | os.PathLike[str], id_field: str, max_bytes: int) -> Iterator[InputRecord]:
    fh, name, close = _open_input(source)
    try:
        line_no = 0
        position = 0
        while True:
            raw, too_long = _read_line(fh, max_bytes)
            if not raw and not too_long:
                return
            line_no += 1
            where = f"{name}:{line_no}"
            if too_long:
                position += 1
                msg = f"{where}: the line is longer than {max_bytes:,} bytes"
                yield InputRecord(position, where, None, None, LimitError(msg, field="input"))
                continue
            if not raw.strip():
                continue
            position += 1
            try:
                item = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                msg = f"{where}: not valid JSON ({exc})"
                shown = raw[:60].decode("utf-8", "replace").rstrip()
                yield InputRecord(position, where, None, None, DataError(msg, value=shown))
                continue
            yield _record(position, where, item, id_field)
    finally:
        if close:
            fh.close()


def _starts_with_array(fh: BinaryIO) -> bool:
    """True when a seekable binary file's first non-blank byte is ``[`` (position restored)."""
    start = fh.tell()
    head = fh.read(4096)
    fh.seek(start)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] == b"["


def _json_array(
    source: str | os.PathLike[str], id_field: str, max_bytes: int
) -> Iterator[InputRecord]:
    """Parse a JSON array file now (so a broken file fails before any work), yield lazily."""
    name = Path(source).name
    size = os.path.getsize(source)
    if size > MAX_ARRAY_BYTES:
        msg = (
            f"a JSON array file is read whole and may be at most {MAX_ARRAY_BYTES:,} bytes "
            f"(this one is {size:,}); write one object per line (JSON Lines) to stream it"
        )
        raise LimitError(msg, field="input", value=os.fspath(source))
    with _open_binary(Path(source)) as fh:
        raw = fh.read()
    try:
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{name}: not valid JSON ({exc})", field="input", value=name) from None
    del raw
    return (
        _record(position, f"{name}[{position - 1}]", item, id_field)
        for position, item in enumerate(items, 1)
    )


def _csv(source: str | os.PathLike[str], id_field: str, max_bytes: int) -> Iterator[InputRecord]:
    if csv.field_size_limit() < max_bytes:
        csv.field_size_limit(max_bytes)
    fh, name, close = _open_input(source)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="", errors="strict")
    try:
        reader = csv.reader(text, strict=False)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            msg = f"{name}: cannot read the CSV header ({exc})"
            raise DataError(msg, field="input", value=name) from None
        header = [h.strip() for h in header]
        if not any(header):
            msg = f"{name}: the first row must name the columns"
            raise DataError(msg, field="input", value=name)
        position = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                position += 1
                where = f"{name}:{reader.line_num}"
                error: FastshareError
                if "field larger than field limit" in str(exc):
                    msg = f"{where}: a cell is longer than {max_bytes:,} bytes"
                    error = LimitError(msg, field="input")
                else:
                    error = DataError(f"{where}: not valid CSV ({exc})", field="input")
                yield InputRecord(position, where, None, None, error)
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            position += 1
            where = f"{name}:{reader.line_num}"
            if max(map(len, row)) > max_bytes:  # csv's own limit is process-wide: check here
                msg = f"{where}: a cell is longer than {max_bytes:,} bytes"
                yield InputRecord(position, where, None, None, LimitError(msg, field="input"))
                continue
            if len(row) != len(header):
                msg = f"{where}: the row has {len(row)} cells, the header has {len(header)}"
                yield InputRecord(position, where, None, None, DataError(msg, field="input"))
                continue
            item = {key: value for key, value in zip(header, row, strict=True) if key}
            yield _record(position, where, item, id_field)
    finally:
        text.detach()
        if close:
            fh.close()


def _directory(path: Path, id_field: str, max_bytes: int) -> Iterator[InputRecord]:
    position = 0
    try:
        entries = os.scandir(path)
    except OSError as exc:
        msg = f"cannot list the input directory: {exc.strerror or exc}"
        raise DataError(msg, field="input", value=str(path)) from None
    with entries:
        for entry in entries:
            lower = entry.name.lower()
            if entry.name.startswith(".") or not lower.endswith(".json"):
                continue
            try:
                if not entry.is_file():
                    continue
                size = entry.stat().st_size
            except OSError:
                continue
            position += 1
            where = entry.path
            stem = entry.name[: -len(".json")]
            if size > max_bytes:
                msg = f"{where}: the file is larger than {max_bytes:,} bytes"
                yield InputRecord(position, where, None, None, LimitError(msg, field="input"))
                continue
            try:
                with open(entry.path, "rb") as fh:
                    raw = fh.read(max_bytes + 1)
                item = json.loads(raw)
            except OSError as exc:
                msg = f"{where}: cannot read the file ({exc.strerror or exc})"
                yield InputRecord(position, where, None, None, DataError(msg, field="input"))
                continue
            except (ValueError, UnicodeDecodeError) as exc:
                msg = f"{where}: not valid JSON ({exc})"
                yield InputRecord(position, where, None, None, DataError(msg, field="input"))
                continue
            yield _record(position, where, item, id_field, fallback_id=stem)


def iter_mappings(items: Iterable[Any], id_field: str = "id") -> Iterator[InputRecord]:
    """Records from an iterable of mappings (the Python API's ``items``)."""
    for position, item in enumerate(items, 1):
        where = f"items[{position - 1}]"
        if isinstance(item, Mapping) and not isinstance(item, dict):
            item = dict(item)
        yield _record(position, where, item, id_field)


def read_items(
    source: str | os.PathLike[str],
    *,
    id_field: str = "id",
    format: InputFormat | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[InputRecord]:
    """Stream the records of a JSON Lines file, a CSV file or a directory of JSON files.

    ``format`` overrides :func:`detect_format`. The input itself must exist and be readable
    (a :class:`~fastshare.errors.DataError` otherwise, raised before the first record); every
    problem inside it is a record with ``error`` set.
    """
    fmt = format or detect_format(source)
    name = os.fspath(source)
    if fmt != "jsonl" or name != "-":
        path = Path(name)
        if fmt == "dir" and not path.is_dir():
            raise DataError("not a directory", field="input", value=name)
        if fmt != "dir" and not path.is_file():
            raise DataError("no such input file", field="input", value=name)
    if fmt == "jsonl":
        if name != "-" and name.lower().endswith((".json", ".json.gz")):
            with _open_binary(Path(name)) as fh:
                if _starts_with_array(fh):
                    return _json_array(source, id_field, max_record_bytes)
        return _jsonl(source, id_field, max_record_bytes)
    if fmt == "csv":
        return _csv(source, id_field, max_record_bytes)
    if fmt == "dir":
        return _directory(Path(name), id_field, max_record_bytes)
    raise DataError("unknown input format; use jsonl, csv or dir", field="format", value=fmt)


def count_records(source: str | os.PathLike[str], format: InputFormat | None = None) -> int | None:
    """A fast estimate of the number of records (for progress and ETA), or None if unknown.

    Counts line breaks in binary chunks (quoted multi-line CSV cells and blank lines make it an
    over-estimate); directories count their ``*.json`` entries. Compressed files and standard
    input are not counted.
    """
    name = os.fspath(source)
    if name == "-" or name.lower().endswith(".gz"):
        return None
    if name.lower().endswith(".json") and os.path.isfile(name):
        with open(name, "rb") as fh:
            if _starts_with_array(fh):
                return None  # one array: lines say nothing about the number of items
    try:
        fmt = format or detect_format(source)
        if fmt == "dir":
            with os.scandir(name) as entries:
                return sum(
                    1
                    for e in entries
                    if e.name.lower().endswith(".json")
                    and not e.name.startswith(".")
                    and e.is_file()
                )
        lines = 0
        last = b"\n"
        with open(name, "rb") as fh:
            while chunk := fh.read(_COUNT_CHUNK):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":
            lines += 1
        return max(0, lines - 1) if fmt == "csv" else lines
    except (OSError, DataError):
        return None


async def aiter_mappings(items: AsyncIterable[Any], id_field: str = "id") -> Any:
    """Records from an async iterable of mappings (an async generator of records)."""
    position = 0
    async for item in items:
        position += 1
        where = f"items[{position - 1}]"
        if isinstance(item, Mapping) and not isinstance(item, dict):
            item = dict(item)
        yield _record(position, where, item, id_field)
