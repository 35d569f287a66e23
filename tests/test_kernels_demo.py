"""The ``fastshare demo`` showcase writes decodable images of the right size, deterministically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastshare.demo import HEIGHT, WIDTH, render_showcase, run_demo
from fastshare.errors import EncodeError


def test_showcase_writes_pngs(tmp_path: Path) -> None:
    paths = render_showcase(tmp_path / "out")
    assert [p.name for p in paths] == [
        "gradients.png",
        "shapes.png",
        "shadows-and-masks.png",
        "dither.png",
    ]
    first = []
    for path in paths:
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (WIDTH, HEIGHT) and im.mode == "RGB"
            first.append(np.asarray(im))
            assert len(np.unique(first[-1].reshape(-1, 3), axis=0)) > 50  # not blank
    again = render_showcase(tmp_path / "again")
    for path, before in zip(again, first, strict=True):
        with Image.open(path) as im:
            assert np.array_equal(np.asarray(im), before)


def test_run_demo_formats_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = run_demo(tmp_path, fmt="jpeg", quiet=True)
    assert all(p.suffix == ".jpg" and p.stat().st_size > 0 for p in paths)
    assert capsys.readouterr().out == ""
    with pytest.raises(EncodeError) as info:
        run_demo(tmp_path, fmt="bmp-ish")
    assert info.value.field == "format"
