"""Regenerate the example assets (a procedural landscape "photo" and a logo) deterministically.

Run from the repository root: ``python docs/scripts/make_example_assets.py``. The outputs are
committed under ``fastshare/examples/assets/``; they are made here, not downloaded, so their
licence is the project's own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[2] / "fastshare" / "examples" / "assets"


def ridge(rng: np.random.Generator, width: int, base: float, rough: float) -> np.ndarray:
    """A 1-D fractal ridge line (midpoint displacement), values in pixels from the top."""
    n = 1
    line = np.array([base, base + rng.normal(0, rough)])
    amp = rough
    while n < width:
        mids = (line[:-1] + line[1:]) / 2 + rng.normal(0, amp, len(line) - 1)
        out = np.empty(len(line) + len(mids))
        out[0::2], out[1::2] = line, mids
        line, n, amp = out, len(out), amp * 0.55
    return np.interp(np.linspace(0, len(line) - 1, width), np.arange(len(line)), line)


def landscape(width: int = 1800, height: int = 1200, seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    top, horizon = np.array([38, 64, 120.0]), np.array([250, 190, 150.0])
    sky = top + (horizon - top) * y**1.6
    img = np.broadcast_to(sky, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width]
    dist2 = (xx - width * 0.68) ** 2 + (yy - height * 0.42) ** 2
    sun = np.exp(-dist2 / (2 * (height * 0.09) ** 2))
    img += sun[..., None] * np.array([255, 200, 140.0]) * 0.55
    layers = [
        (0.48, 90, np.array([120, 110, 140.0])),
        (0.58, 70, np.array([80, 78, 105.0])),
        (0.70, 60, np.array([45, 50, 70.0])),
        (0.84, 40, np.array([22, 30, 40.0])),
    ]
    for base, rough, color in layers:
        line = ridge(rng, width, base * height, rough)
        mask = (yy >= line[None, :]).astype(np.float64)
        depth = np.clip((yy - line[None, :]) / (height * 0.4), 0, 1)[..., None]
        shade = color * (1.0 - 0.35 * depth)
        img = img * (1 - mask[..., None]) + shade * mask[..., None]
    img += rng.normal(0, 2.0, img.shape)  # film grain, so it compresses like a photo
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(0.6))


def logo(size: int = 512) -> Image.Image:
    scale = 4
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 5, fill=(15, 23, 42, 255))
    pad = s // 5
    bolt = [
        (s * 0.56, pad), (s * 0.28, s * 0.56), (s * 0.48, s * 0.56),
        (s * 0.42, s - pad), (s * 0.72, s * 0.42), (s * 0.52, s * 0.42), (s * 0.60, pad),
    ]  # fmt: skip
    draw.polygon(bolt, fill=(56, 189, 248, 255))
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    landscape().save(OUT / "mountains.jpg", quality=86, optimize=True)
    logo().save(OUT / "logo.png", optimize=True)
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
