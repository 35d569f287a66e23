"""SYNTHETIC stand-ins for fastshare's example cards, for encoder tests and benchmarks.

These are not fastshare renders: a 3-stop 135° CSS-style linear gradient computed with numpy, a
rounded badge and antialiased text drawn with Pillow's ImageDraw in a TrueType font (DejaVu, found
through ``fc-list`` or the usual Debian path). They have the statistics that matter to an encoder
(smooth diagonal gradient, flat areas, antialiased text edges), which is all the encoder benchmarks
need until the real template cards exist. ``synthetic_cards()`` is the one entry point; the
benchmarks call it through a single function so switching to real cards is a one-line change.

Without a TrueType font the cards are built without text (``have_font()`` tells which).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZES = {"og": (1200, 630), "story": (1080, 1920)}

#: gradient palettes: "vivid" (indigo → purple → pink, wide value range: the harder case for PNG)
#: and "dark" (slate blues, few distinct values: wide flat bands)
PALETTES = {
    "vivid": ((0.0, (0x63, 0x66, 0xF1)), (0.5, (0xA8, 0x55, 0xF7)), (1.0, (0xEC, 0x48, 0x99))),
    "dark": ((0.0, (0x0F, 0x20, 0x27)), (0.5, (0x20, 0x3A, 0x43)), (1.0, (0x2C, 0x53, 0x64))),
}
_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@functools.cache
def font_path(bold: bool = True) -> str | None:
    """A TrueType font file for the cards' text, or None when the machine has none."""
    for candidate in _CANDIDATES if bold else _CANDIDATES[::-1]:
        if Path(candidate).is_file():
            return candidate
    if shutil.which("fc-list"):
        style = "style=Bold" if bold else "style=Book"
        out = subprocess.run(
            ["fc-list", f":{style}", "file"], capture_output=True, text=True, check=False
        ).stdout
        files = sorted(line.split(":")[0] for line in out.splitlines() if line.endswith(".ttf:"))
        files += sorted(line.split(":")[0] for line in out.splitlines() if ".ttf" in line)
        if files:
            return files[0]
    return None


def have_font() -> bool:
    return font_path() is not None


def gradient(
    width: int,
    height: int,
    angle_deg: float = 135.0,
    dither: bool = False,
    palette: str = "vivid",
) -> np.ndarray:
    """A 3-stop CSS-style linear gradient, H×W×3 uint8 (optionally ±1 LSB white-noise dither)."""
    stops = PALETTES[palette]
    theta = np.deg2rad(angle_deg)
    sin, cos = np.sin(theta), np.cos(theta)
    length = abs(width * sin) + abs(height * cos)
    x = np.arange(width, dtype=np.float64) + 0.5 - width / 2
    y = np.arange(height, dtype=np.float64) + 0.5 - height / 2
    t = (x[None, :] * sin - y[:, None] * cos) / length + 0.5
    t = np.clip(t, 0.0, 1.0)
    positions = np.array([p for p, _ in stops])
    out = np.empty((height, width, 3), np.float64)
    for ch in range(3):
        out[..., ch] = np.interp(t, positions, [c[ch] for _, c in stops])
    if dither:
        rng = np.random.default_rng(7)
        out += rng.uniform(-1.0, 1.0, size=out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def card(target: str = "og", dither: bool = False, palette: str = "vivid") -> np.ndarray:
    """A synthetic share card for ``target`` ("og" 1200×630 or "story" 1080×1920), H×W×3 uint8."""
    width, height = SIZES[target]
    frame = gradient(width, height, dither=dither, palette=palette)
    im = Image.fromarray(frame)
    draw = ImageDraw.Draw(im)
    s = width / 1200
    pad = round(64 * s)
    story = height > width
    top = round(height * 0.30) if story else pad
    # rounded badge with a label
    badge = (pad, top, pad + round(220 * s), top + round(48 * s))
    draw.rounded_rectangle(badge, radius=round(24 * s), fill=(0xF5, 0x9E, 0x0B))
    bold, regular = font_path(True), font_path(False)
    if bold is not None and regular is not None:
        f_badge = ImageFont.truetype(bold, round(22 * s))
        f_title = ImageFont.truetype(bold, round((88 if story else 60) * s))
        f_sub = ImageFont.truetype(regular, round((40 if story else 28) * s))
        f_foot = ImageFont.truetype(regular, round(22 * s))
        label_at = (badge[0] + round(24 * s), badge[1] + round(11 * s))
        draw.text(label_at, "ENGINEERING", font=f_badge, fill=(0x1F, 0x29, 0x37))
        y = badge[3] + round(40 * s)
        lines = (
            ["Rendering a million", "share cards before", "lunch, on two cores"]
            if story
            else ["Rendering a million share cards", "before lunch, on two cores"]
        )
        for line in lines:
            draw.text((pad, y), line, font=f_title, fill=(255, 255, 255))
            y += round((104 if story else 76) * s)
        y += round(24 * s)
        sub = (
            ["Numba kernels, HarfBuzz text", "and a PNG writer that is not"]
            if story
            else ["Numba kernels, HarfBuzz text and a PNG writer that is not"]
        )
        sub.append("the bottleneck any more.")
        for line in sub:
            draw.text((pad, y), line, font=f_sub, fill=(0xED, 0xE9, 0xFE))
            y += round((54 if story else 40) * s)
        draw.text(
            (pad, height - pad - round(22 * s)),
            "fastshare.dev  ·  12 min read",
            font=f_foot,
            fill=(0xE0, 0xE7, 0xFF),
        )
    # an avatar-like circle, bottom right
    r = round(40 * s)
    cx, cy = width - pad - r, height - pad - r
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(0xE2, 0xE8, 0xF0))
    return np.asarray(im).copy()


def synthetic_cards(dither: bool = False, palette: str = "vivid") -> dict[str, np.ndarray]:
    """{"og": 1200×630 card, "story": 1080×1920 card}: SYNTHETIC stand-ins for the example cards."""
    return {name: card(name, dither=dither, palette=palette) for name in SIZES}
