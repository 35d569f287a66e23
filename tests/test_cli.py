"""The core commands: render, validate, targets and demo (exit codes, files, no temp files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastshare.cli import main
from fastshare.renderer import render

ITEM = {"title": "From the command line", "category": "CLI", "site": "x.dev", "read_time": "1 min"}


def test_render_writes_every_target_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cards"
    code = main(
        [
            "render",
            "card-a",
            "--data",
            json.dumps(ITEM),
            "--target",
            "og,story",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["target"] for r in rows] == ["og", "story"]
    assert sorted(p.name for p in out.iterdir()) == ["og.png", "story.png"]  # no temporary files
    decoded = np.asarray(Image.open(out / "og.png").convert("RGB"))
    assert np.array_equal(decoded, render(_card_a(), ITEM, "og"))
    assert rows[0]["bytes"] == (out / "og.png").stat().st_size


def _card_a() -> Path:
    from fastshare.examples import example_path

    path = example_path("card-a")
    assert path is not None
    return path


def test_render_single_file_in_the_format_of_its_suffix(tmp_path: Path) -> None:
    out = tmp_path / "card.jpg"
    assert main(["render", str(_card_a()), "--data", json.dumps(ITEM), "--out", str(out)]) == 0
    assert Image.open(out).format == "JPEG"


def test_render_missing_field_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["render", "card-a", "--data", '{"title": "x"}', "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert "category" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_validate_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[layers]]\ntype = "rect"\nfill = "blue-ish"\nleft = 0\ntop = 0\nwidth = 5\nheight = 5\n'
        '[[layers]]\ntype = "text"\ntext = "x"\nleft = 0\ntop = 0\nsize = "big"\n',
        encoding="utf-8",
    )
    assert main(["validate", str(bad), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert [p["field"] for p in report["problems"]] == ["layers[0].fill", "layers[1].size"]
    assert main(["validate", str(_card_a())]) == 0


def test_targets_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name": "og", "width": 1200, "height": 630} in rows


@pytest.mark.slow
def test_demo_renders_the_examples_at_every_preset(tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 0
    story = tmp_path / "card-a" / "fast-cards" / "story.png"
    assert Image.open(story).size == (1080, 1920)
    assert not list(tmp_path.rglob("*.tmp"))
    assert len(list((tmp_path / "photo" / "fast-cards").iterdir())) == 9
