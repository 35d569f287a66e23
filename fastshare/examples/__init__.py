"""The example templates shipped with fastshare, their sample items and assets.

``card-a`` is the reference card of the benchmarks. Every example renders with the bundled fonts
and the assets beside it (``assets/``), so ``fastshare demo`` works on a fresh install.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLES", "example_path", "sample_items"]

_HERE = Path(__file__).resolve().parent

#: example names, in the order the demo renders them
EXAMPLES: tuple[str, ...] = ("card-a", "photo", "rtl", "logo", "autofit-badge")


def example_path(name: str) -> Path | None:
    """The path of the bundled example ``name`` (with or without ``.toml``), or None."""
    stem = name.removesuffix(".toml")
    path = _HERE / f"{stem}.toml"
    return path if stem in EXAMPLES and path.is_file() else None


def sample_items() -> list[dict[str, Any]]:
    """The sample items the demo renders (``items.jsonl``)."""
    lines = (_HERE / "items.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
