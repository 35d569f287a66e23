"""Sinks: two-phase writes (stage, then commit or abort), dedup lookups, name checks."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest

from fastshare.errors import ValueRangeError
from fastshare.sinks import DirectorySink, MemorySink, Sink, extension_for
from fastshare.targets import Target

OG = Target("og", 1200, 630)
SQUARE = Target("square", 1080, 1080, 0.5)


def test_directory_sink_stage_commit_lookup(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    assert isinstance(sink, Sink)
    assert sink.lookup("k1") is None
    a = sink.stage("k1", OG, "png", b"png-bytes", "tok1")
    b = sink.stage("k1", SQUARE, "jpeg", b"jpeg-bytes", "tok1")
    # staged files are hidden temp files; nothing final exists and lookup sees nothing
    assert Path(a.location).exists() and Path(a.location).name.startswith(".")
    assert not (tmp_path / "k1" / "og.png").exists()
    assert sink.lookup("k1") is None
    assert (b.width, b.height, b.format) == (540, 540, "jpeg")
    assert a.sha256 == hashlib.sha256(b"png-bytes").hexdigest() and a.size == 9

    outputs = sink.commit("k1", [a, b], {"title": "hello"})
    assert [o.target for o in outputs] == ["og", "square"]
    assert (tmp_path / "k1" / "og.png").read_bytes() == b"png-bytes"
    assert (tmp_path / "k1" / "square.jpg").read_bytes() == b"jpeg-bytes"
    assert sorted(os.listdir(tmp_path / "k1")) == ["manifest.json", "og.png", "square.jpg"]
    manifest = json.loads((tmp_path / "k1" / "manifest.json").read_text())
    assert manifest["configuration"] == {"title": "hello"}
    assert sink.lookup("k1") == outputs

    # a manifest whose files are gone does not count as done
    os.unlink(tmp_path / "k1" / "og.png")
    assert sink.lookup("k1") is None


def test_directory_sink_abort_removes_only_the_run(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    kept = sink.stage("k", OG, "png", b"other run", "keep")
    sink.stage("k", OG, "png", b"this run", "drop")
    sink.stage("k", SQUARE, "png", b"this run", "drop")
    sink.abort("k", "drop", [])
    assert os.listdir(tmp_path / "k") == [Path(kept.location).name]
    sink.abort("k", "keep", [kept])
    assert not (tmp_path / "k").exists()  # an emptied key directory goes too
    sink.abort("never-staged", "tok", [])


def test_directory_sink_pickles_and_rejects_bad_names(tmp_path: Path) -> None:
    sink = pickle.loads(pickle.dumps(DirectorySink(tmp_path, fsync=True)))
    staged = sink.stage("k", OG, "webp", b"x", "t")
    assert sink.commit("k", [staged], None)[0].location.endswith("og.webp")
    for key in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(ValueRangeError):
            sink.stage(key, OG, "png", b"x", "t")
    with pytest.raises(ValueRangeError):
        sink.stage("k", Target("../og", 10, 10), "png", b"x", "t")


def test_directory_sink_ignores_a_corrupt_manifest(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "manifest.json").write_text("{not json")
    assert DirectorySink(tmp_path).lookup("k") is None


def test_memory_sink() -> None:
    sink = MemorySink()
    staged = sink.stage("k", OG, "png", b"abc", "t")
    assert staged.data == b"abc"
    assert sink.lookup("k") is None
    outputs = sink.commit("k", [staged], {"c": 1})
    assert sink.lookup("k") == outputs and sink.data("k", "og") == b"abc"


def test_extensions() -> None:
    assert [extension_for(f) for f in ("PNG", "jpeg", "jpg", "webp", "bmp")] == [
        "png",
        "jpg",
        "jpg",
        "webp",
        "bmp",
    ]
