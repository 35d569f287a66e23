"""Helpers for the backfill tests: a tiny template, inputs, the CLI as a subprocess, snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastshare.registry import Registry
from fastshare.stores import DirectoryStore

#: a cheap template: gradient, a rectangle and one line of text, rendered at three small sizes
TINY_TEMPLATE = """\
name = "tiny"
targets = ["120x63", "64x64", "63x112"]

[background]
type = "linear-gradient"
angle = 135
stops = ["#0F2027", "#2C5364"]

[[layers]]
id = "bar"
type = "rect"
left = 4
right = 4
bottom = 4
height = 6
fill = "#38BDF8"

[[layers]]
id = "title"
type = "text"
text = "{title}"
left = 4
right = 4
top = 4
font = "Inter"
weight = 700
size = 11
max_lines = 2
overflow = "ellipsis"
color = "#FFFFFF"
"""

TINY_TARGETS = ("120x63", "64x64", "63x112")


def write_tiny_template(folder: Path) -> Path:
    path = folder / "tiny.toml"
    path.write_text(TINY_TEMPLATE, encoding="utf-8")
    return path


def tiny_items(n: int, prefix: str = "item") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i:05d}", "title": f"Card number {i}"} for i in range(n)]


def card_items(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"post-{i}",
            "title": f"Post {i}: rendering share cards at scale",
            "category": ["News", "Engineering", "Design"][i % 3],
            "site": "fastshare.dev",
            "read_time": f"{i % 9 + 1} min read",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, items: list[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write((item if isinstance(item, str) else json.dumps(item)) + "\n")
    return path


def cli_command() -> list[str]:
    """``python -m fastshare backfill`` once the lead wired it into cli.py, else the module's
    own entry point (same handler, same exit codes)."""
    try:
        from fastshare.cli import build_parser

        parser = build_parser()
        choices = next(
            a.choices for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"
        )
        if choices is not None and "backfill" in choices:
            return [sys.executable, "-m", "fastshare", "backfill"]
    except Exception:
        pass
    return [sys.executable, "-m", "fastshare._cli_backfill"]


def run_cli(
    args: list[str], *, timeout: float = 240.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.run(
        [*cli_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )


def files_under(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``root`` except the state directory."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".fastshare" or not path.is_file():
            continue
        out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def temp_files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.tmp"))


def registry_rows(db: Path, root: Path) -> list[tuple[Any, ...]]:
    """Every images row without timestamps and run ids, paths relative to ``root``, sorted."""
    with Registry(db, readonly=True) as reg:
        rows = reg.execute(
            "SELECT id, item_id, version, original_id, correlation_id, template, config_hash, "
            "output_key, content_hash, path, width, height, format, bytes, metadata "
            "FROM images ORDER BY item_id, version, path"
        )
    out = []
    for row in rows:
        values = list(row)
        if values[9] is not None:
            values[9] = str(Path(values[9]).relative_to(root))
            values[0] = None  # a version's id derives from its absolute path
        out.append(tuple(values))
    return out


class CrashingStore(DirectoryStore):
    """A directory store whose worker dies (``os._exit``) when asked to write ``crash_on``."""

    def __init__(self, root: Path, crash_on: str) -> None:
        super().__init__(root)
        self.crash_on = crash_on

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "crash_on": self.crash_on}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.crash_on = state["crash_on"]

    def write(self, location: str, data: bytes, token: str) -> None:
        if f"{os.sep}{self.crash_on}{os.sep}" in location:
            os._exit(3)
        super().write(location, data, token)
