"""Golden-image comparison: expected PNGs stored as data, one-command regeneration, diff artefacts.

Regenerate every golden image with::

    FASTSHARE_REGEN_GOLDEN=1 python -m pytest tests -k golden

A failing comparison writes ``expected``, ``actual`` and an amplified ``diff`` PNG to
``tests/golden/_failures/<group>/`` and reports the numbers. Tolerance: our own kernels are
exact, but glyph coverage can move by a few levels between FreeType/HarfBuzz releases, so a case
passes when the mean absolute difference is at most ``max_mean`` (default 0.25 levels) and at most
``max_bad`` (default 0.2 %) of pixels differ by more than ``bad_level`` (default 24 levels).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
FAILURES_DIR = GOLDEN_DIR / "_failures"


def regenerating() -> bool:
    return os.environ.get("FASTSHARE_REGEN_GOLDEN") == "1"


def check_golden(
    group: str,
    name: str,
    actual: np.ndarray,
    *,
    max_mean: float = 0.25,
    max_bad: float = 0.002,
    bad_level: int = 24,
) -> str | None:
    """Compare ``actual`` (H×W×3 uint8) with ``golden/<group>/<name>.png``.

    Returns None when it matches (or was regenerated), else a message; artefacts are written.
    """
    path = GOLDEN_DIR / group / f"{name}.png"
    if regenerating():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(actual).save(path, optimize=True)
        return None
    if not path.exists():
        return f"no golden image {path}; regenerate with FASTSHARE_REGEN_GOLDEN=1"
    expected = np.asarray(Image.open(path).convert("RGB"))
    if expected.shape != actual.shape:
        message = f"{name}: shape {actual.shape} != expected {expected.shape}"
        _write_failure(group, name, expected, actual)
        return message
    diff = np.abs(expected.astype(np.int16) - actual.astype(np.int16))
    mean = float(diff.mean())
    bad = float((diff.max(axis=2) > bad_level).mean())
    if mean <= max_mean and bad <= max_bad:
        return None
    where = _write_failure(group, name, expected, actual)
    return (
        f"{name}: mean |diff| {mean:.3f} (max {max_mean}), {bad * 100:.3f}% pixels over "
        f"{bad_level} levels (max {max_bad * 100:.2f}%); see {where}"
    )


def _write_failure(group: str, name: str, expected: np.ndarray, actual: np.ndarray) -> Path:
    out = FAILURES_DIR / group
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(expected).save(out / f"{name}-expected.png")
    Image.fromarray(actual).save(out / f"{name}-actual.png")
    if expected.shape == actual.shape:
        diff = np.abs(expected.astype(np.int16) - actual.astype(np.int16)).max(axis=2)
        amplified = np.clip(diff * 8, 0, 255).astype(np.uint8)
        Image.fromarray(amplified).save(out / f"{name}-diff.png")
    return out
