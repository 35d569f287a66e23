"""Golden images of text blocks (tests/golden/text/*.png).

Regenerate all of them with one command::

    FASTSHARE_REGEN_GOLDEN=1 pytest tests/test_text_golden.py

On a mismatch the test writes ``<case>.expected.png``, ``<case>.actual.png`` and ``<case>.diff.png``
to ``tests/golden/_failures/text/`` and every failing case is reported (one test per case).

Tolerance: glyph coverage comes from FreeType and positions from HarfBuzz, whose versions can
move a few edge pixels, so a case passes when at most 0.5 % of the pixels differ by more than 24
(of 255) and the mean absolute difference is below 0.6. Everything else in the pipeline is ours
and deterministic; the same versions give identical images.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastshare.text import FontRegistry, Shadow, TextStyle, draw_text, layout_text, rasterize

GOLDEN = Path(__file__).parent / "golden" / "text"
FAILURES = Path(__file__).parent / "golden" / "_failures" / "text"
REGEN = os.environ.get("FASTSHARE_REGEN_GOLDEN") == "1"

REGISTRY = FontRegistry()


def _mask_card(text: str, style: TextStyle, width: int, height: int | None) -> np.ndarray:
    layout = layout_text(REGISTRY, text, style, width, height)
    canvas_h = int(height if height is not None else layout.height + 20)
    canvas = np.zeros((canvas_h + 20, width + 20), dtype=np.uint8)
    r = rasterize(layout, 10.25, 10, clip=(0, 0, canvas.shape[1], canvas.shape[0]))
    if r.mask.size:
        canvas[r.y : r.y + r.mask.shape[0], r.x : r.x + r.mask.shape[1]] = r.mask
    return 255 - canvas  # black text on white: easier to look at


def case_title_fit() -> np.ndarray:
    style = TextStyle(weight=700, size_range=(24, 72), max_lines=3, wrap="balance")
    return _mask_card(
        "The surprisingly long history of kerning tables, GPOS and you -> why 10:45 matters",
        style,
        520,
        170,
    )


def case_multilingual() -> np.ndarray:
    lines = [
        "Café naïve Zoë — “quotes” Tiếng Việt",
        "Ελληνικά Καλημέρα · Кириллица булок",
        "مؤتمر PyCon 2025 في دبي: 120 متحدث!",
        "ועידת Python 2025 (יום א׳) — 12 הרצאות",
        "हिन्दी: क्षत्रिय श्रीमान् द्वार कि",
        "ภาษาไทย: สวัสดีครับ ยินดีต้อนรับ",
    ]
    return _mask_card("\n".join(lines), TextStyle(size=26, align="start"), 520, None)


def case_rtl_ellipsis() -> np.ndarray:
    text = "ועידת פייתון השנתית בתל אביב עם הרבה מאוד הרצאות מעניינות על מהירות"
    style = TextStyle(size=32, weight=700, max_lines=2, align="start")
    return _mask_card(text, style, 420, None)


def case_card_frame() -> np.ndarray:
    from fastshare import paint
    from fastshare.gradients import LinearGradient, parse_stops

    frame = np.zeros((315, 600, 3), dtype=np.uint8)
    paint.fill_rect(
        frame, (0, 0, 600, 315), LinearGradient(135, parse_stops(["#0f172a", "#1e3a8a"], "bg"))
    )
    title = layout_text(
        REGISTRY,
        "Fast share cards with real text: مرحبا, שלום, नमस्ते",
        TextStyle(weight=700, size_range=(20, 56), max_lines=3, wrap="balance", valign="middle"),
        520,
        170,
    )
    draw_text(frame, title, 40, 50, "#ffffff", shadow=Shadow("rgba(0,0,0,0.5)", 0, 3, 6))
    badge = layout_text(REGISTRY, "fastshare · 2025", TextStyle(size=20, weight=400))
    fill = LinearGradient(0, parse_stops(["#f59e0b", "#ef4444"], "fill"))
    draw_text(frame, badge, 40, 250, fill)
    return frame


CASES: dict[str, Callable[[], np.ndarray]] = {
    "title_fit": case_title_fit,
    "multilingual": case_multilingual,
    "rtl_ellipsis": case_rtl_ellipsis,
    "card_frame": case_card_frame,
}


def _diff_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    if d.ndim == 3:
        d = d.max(axis=2)
    return np.clip(d * 4, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    actual = CASES[name]()
    path = GOLDEN / f"{name}.png"
    if REGEN or not path.exists():
        if not REGEN:
            pytest.fail(
                f"missing golden image {path}; run FASTSHARE_REGEN_GOLDEN=1 pytest {__file__}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(actual).save(path, optimize=True)
        return
    expected = np.asarray(Image.open(path))
    ok = expected.shape == actual.shape
    if ok:
        d = np.abs(expected.astype(np.int16) - actual.astype(np.int16))
        ok = float((d > 24).mean()) <= 0.005 and float(d.mean()) < 0.6
    if not ok:
        FAILURES.mkdir(parents=True, exist_ok=True)
        Image.fromarray(expected).save(FAILURES / f"{name}.expected.png")
        Image.fromarray(actual).save(FAILURES / f"{name}.actual.png")
        if expected.shape == actual.shape:
            Image.fromarray(_diff_image(expected, actual)).save(FAILURES / f"{name}.diff.png")
        pytest.fail(
            f"text golden {name!r} differs (shapes {expected.shape} vs {actual.shape}); "
            f"see {FAILURES}"
        )
