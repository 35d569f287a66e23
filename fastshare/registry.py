"""The image registry: an embedded SQLite record of every output fastshare wrote.

Modelled on an image service's records (``shared/reference/003``): each item has one *original*
record (``version`` NULL) and each target rendered for it is a *version* record whose
``original_id`` links back to it; ``correlation_id`` groups records into a gallery. One version
record describes one output file: item id, target (the version name), template name and
configuration hash, the output key (:mod:`fastshare.identity`), the file's content hash, path,
width, height, format, size in bytes, ``created_at`` and a metadata JSON object.

Durability: the database runs in WAL mode with explicit transactions; the backfill commits a
version record only after its file is in place, so a record always describes a complete file.
``kill -9`` at any moment leaves a consistent database (SQLite's journal rolls back an
unfinished transaction on the next open). ``synchronous=NORMAL`` survives a killed process;
``fsync=True`` selects ``synchronous=FULL`` for power-loss durability too.

Schema: versioned with ``PRAGMA user_version`` and a list of migrations applied in order, each
in its own transaction; a database created by a newer fastshare is refused, never modified.
Besides ``images`` the schema keeps ``runs`` (one row per backfill run, with its summary) and
``inflight`` (outputs a running backfill has handed to a worker but not yet recorded: their
temporary files are swept when a killed run is resumed).

:class:`RegistrySink` plugs the registry into the generator pipeline (:mod:`fastshare.sinks`): it
wraps a sink and records each output once the wrapped sink has committed it.

Identifiers are deterministic UUIDs (``uuid5``): an original's from its item id, a version's from
its path, so a resumed run and a clean run produce the same rows.

Thread safety: one :class:`Registry` object may be shared by threads (calls serialise on a
lock). Separate processes open their own; SQLite's locking coordinates them (writers wait up to
``timeout`` seconds). Use one writer per database at a time for best throughput.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastshare.errors import DataError, ValueRangeError

__all__ = [
    "SCHEMA_VERSION",
    "ImageRecord",
    "Registry",
    "RegistryError",
    "RegistrySink",
    "utc_now",
]

_NAMESPACE = uuid.UUID("8a5f2f0e-5b1c-4c53-9c6c-6d1b0c7e2a11")

#: the schema version this fastshare writes
SCHEMA_VERSION = 1

_MIGRATIONS: tuple[str, ...] = (
    # 0 → 1: images (originals and versions), runs, inflight
    """
    CREATE TABLE images (
        id             TEXT PRIMARY KEY,
        item_id        TEXT NOT NULL,
        version        TEXT,
        original_id    TEXT REFERENCES images(id) ON DELETE CASCADE,
        correlation_id TEXT,
        template       TEXT,
        config_hash    TEXT,
        output_key     TEXT,
        content_hash   TEXT,
        path           TEXT,
        width          INTEGER,
        height         INTEGER,
        format         TEXT,
        bytes          INTEGER,
        created_at     TEXT NOT NULL,
        metadata       TEXT NOT NULL DEFAULT '{}',
        run_id         TEXT,
        CHECK ((version IS NULL) = (original_id IS NULL))
    );
    CREATE UNIQUE INDEX images_original ON images(item_id) WHERE version IS NULL;
    CREATE UNIQUE INDEX images_path ON images(path) WHERE path IS NOT NULL;
    CREATE INDEX images_item ON images(item_id, version, output_key);
    CREATE INDEX images_versions ON images(original_id, version);
    CREATE INDEX images_gallery ON images(correlation_id, created_at)
        WHERE correlation_id IS NOT NULL;
    CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        status      TEXT NOT NULL,
        template    TEXT,
        config_hash TEXT,
        input       TEXT,
        out         TEXT,
        targets     TEXT,
        format      TEXT,
        summary     TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE inflight (
        path       TEXT PRIMARY KEY,
        run_id     TEXT NOT NULL,
        started_at TEXT NOT NULL
    );
    """,
)

_COLUMNS = (
    "id",
    "item_id",
    "version",
    "original_id",
    "correlation_id",
    "template",
    "config_hash",
    "output_key",
    "content_hash",
    "path",
    "width",
    "height",
    "format",
    "bytes",
    "created_at",
    "metadata",
    "run_id",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM images"


class RegistryError(DataError):
    """The registry file cannot be used: unreadable, not a registry, or from a newer fastshare."""

    code = "bad_registry"


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds (``2025-01-31T12:00:00.123Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One registry row: an item's original record (``version`` None) or one output."""

    id: str
    item_id: str
    version: str | None
    original_id: str | None
    correlation_id: str | None
    template: str | None
    config_hash: str | None
    output_key: str | None
    content_hash: str | None
    path: str | None
    width: int | None
    height: int | None
    format: str | None
    bytes: int | None
    created_at: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def is_original(self) -> bool:
        return self.version is None

    @property
    def target(self) -> str | None:
        """The target name (the version name); None for an original record."""
        return self.version

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metadata"] = dict(self.metadata)
        return out


def _row(values: Sequence[Any]) -> ImageRecord:
    data = dict(zip(_COLUMNS, values, strict=True))
    try:
        data["metadata"] = json.loads(data["metadata"] or "{}")
    except ValueError:
        data["metadata"] = {"$unreadable": data["metadata"]}
    return ImageRecord(**data)


def original_id_for(item_id: str) -> str:
    """The id of an item's original record (a UUID derived from the item id)."""
    return str(uuid.uuid5(_NAMESPACE, "original\x00" + item_id))


def version_id_for(path: str) -> str:
    """The id of the version record of the output at ``path`` (a UUID derived from the path)."""
    return str(uuid.uuid5(_NAMESPACE, "output\x00" + path))


def _dumps(value: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(value or {}), sort_keys=True, separators=(",", ":"), default=str)


class Registry:
    """An SQLite image registry (see the module docstring).

    ``Registry(path)`` creates the file (and its directory) when missing and migrates an older
    schema. ``readonly=True`` opens an existing file without creating or migrating anything.
    ``":memory:"`` gives a private in-memory registry (tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        timeout: float = 30.0,
        readonly: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._depth = 0
        memory = self.path == ":memory:"
        try:
            if readonly:
                if not memory and not os.path.isfile(self.path):
                    raise RegistryError("no registry file", field="db", value=self.path)
                uri = f"file:{Path(self.path).resolve()}?mode=ro"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
                )
            else:
                if not memory:
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=timeout, isolation_level=None, check_same_thread=False
                )
        except sqlite3.Error as exc:
            msg = f"cannot open the registry: {exc}"
            raise RegistryError(msg, field="db", value=self.path) from None
        except OSError as exc:
            msg = f"cannot create the registry: {exc.strerror or exc}"
            raise RegistryError(msg, field="db", value=self.path) from None
        self._conn = conn
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if not memory and str(mode).lower() != "wal":
                    msg = f"the registry could not switch to WAL mode (got {mode!r})"
                    raise RegistryError(msg, field="db", value=self.path)
                conn.execute(f"PRAGMA synchronous = {'FULL' if fsync else 'NORMAL'}")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            msg = f"not a usable fastshare registry: {exc}"
            raise RegistryError(msg, field="db", value=self.path) from None
        except BaseException:
            conn.close()
            raise

    # ------------------------------------------------------------------ lifecycle

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            msg = (
                f"the registry has schema version {version}, newer than this fastshare's "
                f"{SCHEMA_VERSION}; upgrade fastshare to use it"
            )
            raise RegistryError(msg, field="db", value=self.path)
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            msg = f"the registry has schema version {version}; open it read-write to migrate"
            raise RegistryError(msg, field="db", value=self.path)
        while version < SCHEMA_VERSION:
            script = _MIGRATIONS[version]
            statements = [s.strip() for s in script.split(";") if s.strip()]
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                current = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
                if current == version:  # another process may have migrated meanwhile
                    for statement in statements:
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {version + 1}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    if not self.readonly and self._depth == 0:
                        self._conn.execute("PRAGMA optimize")
                self._conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.path!r})"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Registry]:
        """Group writes into one transaction (committed at the end, rolled back on error).

        Nested uses join the outer transaction. Writes outside a transaction commit one by one.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        with self._lock:
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        """Run one SQL statement and return its rows (ad-hoc queries; see docs/backfill.md)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ writes

    def upsert_original(
        self,
        item_id: str,
        *,
        correlation_id: str | None = None,
        content_hash: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        created_at: str | None = None,
    ) -> str:
        """Create or update an item's original record; returns its id."""
        rid = original_id_for(item_id)
        with self._lock:
            self._conn.execute(
                """
                INSERT INTO images (id, item_id, version, original_id, correlation_id,
                                    content_hash, created_at, metadata, run_id)
                VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    correlation_id = excluded.correlation_id,
                    content_hash = excluded.content_hash,
                    metadata = excluded.metadata,
                    run_id = excluded.run_id
                """,
                (
                    rid,
                    item_id,
                    correlation_id,
                    content_hash,
                    created_at or utc_now(),
                    _dumps(metadata),
                    run_id,
                ),
            )
        return rid

    def record_output(
        self,
        *,
        item_id: str,
        target: str,
        path: str,
        width: int,
        height: int,
        format: str,
        bytes: int,
        content_hash: str,
        output_key: str | None = None,
        template: str | None = None,
        config_hash: str | None = None,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        created_at: str | None = None,
    ) -> str:
        """Record one output file (call only once the file is in place); returns its id.

        The item's original record is created when missing. A record for the same ``path``
        is replaced: one file, one record.
        """
        if not target:
            raise ValueRangeError("a version needs a target name", field="target", value=target)
        vid = version_id_for(path)
        original = original_id_for(item_id)
        now = created_at or utc_now()
        with self._lock:
            self._conn.execute(
                """
                INSERT INTO images (id, item_id, version, original_id, correlation_id,
                                    created_at, metadata, run_id)
                VALUES (?, ?, NULL, NULL, ?, ?, '{}', ?)
                ON CONFLICT(id) DO NOTHING
                """,
                (original, item_id, correlation_id, now, run_id),
            )
            self._conn.execute(
                """
                INSERT INTO images (id, item_id, version, original_id, correlation_id, template,
                    config_hash, output_key, content_hash, path, width, height, format, bytes,
                    created_at, metadata, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    item_id = excluded.item_id, version = excluded.version,
                    original_id = excluded.original_id, correlation_id = excluded.correlation_id,
                    template = excluded.template, config_hash = excluded.config_hash,
                    output_key = excluded.output_key, content_hash = excluded.content_hash,
                    width = excluded.width, height = excluded.height, format = excluded.format,
                    bytes = excluded.bytes, created_at = excluded.created_at,
                    metadata = excluded.metadata, run_id = excluded.run_id
                """,
                (
                    vid,
                    item_id,
                    target,
                    original,
                    correlation_id,
                    template,
                    config_hash,
                    output_key,
                    content_hash,
                    path,
                    int(width),
                    int(height),
                    format,
                    int(bytes),
                    now,
                    _dumps(metadata),
                    run_id,
                ),
            )
        return vid

    def delete(self, record_id: str) -> bool:
        """Delete a record (an original takes its versions with it). True if it existed."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM images WHERE id = ?", (record_id,))
            return cur.rowcount > 0

    # ------------------------------------------------------------------ queries

    def get(self, record_id: str) -> ImageRecord | None:
        with self._lock:
            row = self._conn.execute(f"{_SELECT} WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else _row(row)

    def original(self, item_id: str) -> ImageRecord | None:
        """The item's original record, or None."""
        return self.get(original_id_for(item_id))

    def item_records(self, item_id: str) -> list[ImageRecord]:
        """The item's original record (first, when present) and its versions, in one query."""
        with self._lock:
            rows = self._conn.execute(
                f"{_SELECT} WHERE item_id = ? ORDER BY version IS NOT NULL, version, path",
                (item_id,),
            ).fetchall()
        return [_row(r) for r in rows]

    def versions(self, original: str) -> list[ImageRecord]:
        """The versions of an original, by the original's record id or its item id."""
        with self._lock:
            rows = self._conn.execute(
                f"{_SELECT} WHERE original_id IN (?, ?) ORDER BY version, created_at DESC",
                (original, original_id_for(original)),
            ).fetchall()
        return [_row(r) for r in rows]

    def find(self, item_id: str, target: str, output_key: str) -> ImageRecord | None:
        """The dedup lookup: the newest output of ``item_id`` at ``target`` with this key."""
        with self._lock:
            row = self._conn.execute(
                f"{_SELECT} WHERE item_id = ? AND version = ? AND output_key = ? "
                "ORDER BY created_at DESC LIMIT 1",
                (item_id, target, output_key),
            ).fetchone()
        return None if row is None else _row(row)

    def gallery(self, correlation_id: str, *, limit: int | None = None) -> list[ImageRecord]:
        """The most recent version of each (item, target) in a gallery, newest first."""
        sql = f"""
            SELECT {", ".join(_COLUMNS)} FROM (
                SELECT *, ROW_NUMBER() OVER (
                    PARTITION BY item_id, version ORDER BY created_at DESC, id
                ) AS rank
                FROM images WHERE correlation_id = ? AND version IS NOT NULL
            ) WHERE rank = 1 ORDER BY created_at DESC, item_id, version
        """
        params: list[Any] = [correlation_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_row(r) for r in rows]

    def outputs(
        self, *, template: str | None = None, target: str | None = None
    ) -> Iterator[ImageRecord]:
        """Every version record (optionally of one template or target), streamed by path."""
        sql = f"{_SELECT} WHERE version IS NOT NULL"
        params: list[Any] = []
        if template is not None:
            sql += " AND template = ?"
            params.append(template)
        if target is not None:
            sql += " AND version = ?"
            params.append(target)
        sql += " ORDER BY path"
        with self._lock:
            cursor = self._conn.execute(sql, params)
            rows = cursor.fetchmany(1024)
        # fetch outside the lock in pages so other threads can interleave
        while rows:
            for r in rows:
                yield _row(r)
            with self._lock:
                rows = cursor.fetchmany(1024)

    def stats(self) -> dict[str, Any]:
        """Counts and sizes: originals, outputs, bytes, per target, per format, per template."""
        with self._lock:
            originals = self._conn.execute(
                "SELECT COUNT(*) FROM images WHERE version IS NULL"
            ).fetchone()[0]
            total = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(created_at), MAX(created_at) "
                "FROM images WHERE version IS NOT NULL"
            ).fetchone()
            groups: dict[str, dict[str, dict[str, int]]] = {}
            for column, name in (
                ("version", "targets"),
                ("format", "formats"),
                ("template", "templates"),
            ):
                rows = self._conn.execute(
                    f"SELECT {column}, COUNT(*), COALESCE(SUM(bytes), 0) FROM images "
                    f"WHERE version IS NOT NULL GROUP BY {column} ORDER BY {column}"
                ).fetchall()
                groups[name] = {str(k): {"outputs": n, "bytes": b} for k, n, b in rows}
            galleries = self._conn.execute(
                "SELECT COUNT(DISTINCT correlation_id) FROM images WHERE correlation_id IS NOT NULL"
            ).fetchone()[0]
            inflight = self._conn.execute("SELECT COUNT(*) FROM inflight").fetchone()[0]
            runs = self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        return {
            "originals": int(originals),
            "outputs": int(total[0]),
            "bytes": int(total[1]),
            "first_created": total[2],
            "last_created": total[3],
            "galleries": int(galleries),
            "runs": int(runs),
            "inflight": int(inflight),
            "schema_version": SCHEMA_VERSION,
            **groups,
        }

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        run_id: str,
        *,
        template: str | None = None,
        config_hash: str | None = None,
        input: str | None = None,
        out: str | None = None,
        targets: Iterable[str] = (),
        format: str | None = None,
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO runs (id, started_at, status, template, config_hash, input, out, "
                "targets, format) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    utc_now(),
                    template,
                    config_hash,
                    input,
                    out,
                    ",".join(targets),
                    format,
                ),
            )

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (utc_now(), status, _dumps(summary), run_id),
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent runs, newest first (a run killed with -9 stays ``running``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, started_at, finished_at, status, template, config_hash, input, out, "
                "targets, format, summary FROM runs ORDER BY started_at DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        keys = (
            "id",
            "started_at",
            "finished_at",
            "status",
            "template",
            "config_hash",
            "input",
            "out",
            "targets",
            "format",
            "summary",
        )
        out = []
        for row in rows:
            data = dict(zip(keys, row, strict=True))
            data["summary"] = json.loads(data["summary"] or "{}")
            out.append(data)
        return out

    # ------------------------------------------------------------------ in-flight journal

    def add_inflight(self, paths: Iterable[str], run_id: str) -> None:
        """Note outputs about to be written (their temporary files are swept after a kill)."""
        now = utc_now()
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO inflight (path, run_id, started_at) VALUES (?, ?, ?)",
                [(p, run_id, now) for p in paths],
            )

    def remove_inflight(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._conn.executemany("DELETE FROM inflight WHERE path = ?", [(p,) for p in paths])

    def inflight(self, run_id: str | None = None) -> list[tuple[str, str]]:
        """(path, run id) of outputs handed to workers and not recorded since."""
        with self._lock:
            if run_id is None:
                rows = self._conn.execute("SELECT path, run_id FROM inflight ORDER BY path")
            else:
                rows = self._conn.execute(
                    "SELECT path, run_id FROM inflight WHERE run_id = ? ORDER BY path", (run_id,)
                )
            return [(str(p), str(r)) for p, r in rows.fetchall()]


class RegistrySink:
    """A pipeline sink that records what another sink commits (``run_pipeline(..., sink)``).

    Staging, lookup and abort go to ``inner`` (a :class:`~fastshare.sinks.DirectorySink`, say);
    ``commit`` lets ``inner`` move the files into place first, then records one version row per
    output in one transaction: item id ``item_id`` (default: the run's key), version = the
    target, path = the output's location, with its size, hash, width, height and format, and
    ``output_key`` = the run's key. The registry stays in the orchestrator: pickled for a
    worker, this sink carries only ``inner``.
    """

    def __init__(
        self,
        inner: Any,
        registry: Registry,
        *,
        item_id: str | None = None,
        template: str | None = None,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.inner = inner
        self.registry: Registry | None = registry
        self.item_id = item_id
        self.template = template
        self.correlation_id = correlation_id
        self.metadata = dict(metadata or {})

    @property
    def stage_in_worker(self) -> bool:
        return bool(self.inner.stage_in_worker)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["registry"] = None  # a connection never travels to a worker
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def lookup(self, key: str) -> Any:
        return self.inner.lookup(key)

    def stage(self, key: str, target: Any, fmt: str, data: bytes, token: str) -> Any:
        return self.inner.stage(key, target, fmt, data, token)

    def abort(self, key: str, token: str, staged: Sequence[Any]) -> Any:
        return self.inner.abort(key, token, staged)

    async def commit(self, key: str, staged: Sequence[Any], configuration: Any) -> Any:
        import inspect

        outputs = self.inner.commit(key, staged, configuration)
        if inspect.isawaitable(outputs):
            outputs = await outputs
        if self.registry is None:
            msg = "this RegistrySink was unpickled without its registry; commit in the orchestrator"
            raise RegistryError(msg, field="registry")
        item_id = self.item_id or key
        with self.registry.transaction():
            for output in outputs:
                self.registry.record_output(
                    item_id=item_id,
                    target=output.target,
                    path=output.location,
                    width=output.width,
                    height=output.height,
                    format=output.format,
                    bytes=output.size,
                    content_hash=output.sha256,
                    output_key=key,
                    template=self.template,
                    correlation_id=self.correlation_id,
                    metadata=self.metadata,
                )
        return outputs
