"""Backfill building blocks without a pool: safe names, the directory store, the output key."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from fastshare import identity
from fastshare.errors import DataError, EncodeError, LimitError, ValueRangeError
from fastshare.examples import example_path
from fastshare.identity import KeyBuilder, file_digest, font_digest, output_key
from fastshare.stores import DEFAULT_PATTERN, DirectoryStore, OutputStore, safe_component
from fastshare.targets import parse_target
from fastshare.template import load_template

CARD = {"title": "Hello", "category": "News", "site": "fastshare.dev", "read_time": "1 min"}

# --------------------------------------------------------------------------- safe names


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("post-1", "post-1"),
        ("a_b.c@d+e=f", "a_b.c@d+e=f"),
        ("../etc/passwd", "%2E.%2Fetc%2Fpasswd"),
        ("..", "%2E%2E"),
        (".hidden", "%2Ehidden"),
        ("a/b\\c", "a%2Fb%5Cc"),
        ("100%", "100%25"),
        ("with space", "with%20space"),
        ("CON", "%43ON"),
        ("nul.txt", "%6Eul.txt"),
        ("com1", "%63om1"),
        ("console", "console"),
        ("trailing.", "trailing%2E"),
        ("é", "%C3%A9"),
        ("x\x00y", "x%00y"),
    ],
)
def test_safe_component(value: str, expected: str) -> None:
    name = safe_component(value)
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert unquote(name) == value  # reversible: two ids never share a file


def test_safe_component_limits() -> None:
    with pytest.raises(DataError, match="empty"):
        safe_component("")
    with pytest.raises(LimitError, match="too long"):
        safe_component("x" * 201)
    with pytest.raises(LimitError):
        safe_component("é" * 40)  # 240 bytes once encoded
    assert safe_component("x" * 200) == "x" * 200


# --------------------------------------------------------------------------- the store


def test_directory_store_locations(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    assert isinstance(store, OutputStore)
    og, story2x = parse_target("og"), parse_target("story@2x")
    assert store.location("p1", og, "png") == str(tmp_path / "p1" / "og.png")
    assert store.location("a/b", og, "jpeg") == str(tmp_path / "a%2Fb" / "og.jpg")
    assert store.location("p1", story2x, "webp") == str(tmp_path / "p1" / "story@2x.webp")
    flat = DirectoryStore(tmp_path, "{shard}/{template}-{item_id}-{target}-{width}x{height}.{ext}")
    path = flat.location("p1", og, "png", template="card a")
    assert path.startswith(str(tmp_path) + os.sep)
    rel = Path(path).relative_to(tmp_path)
    assert len(rel.parts[0]) == 2 and rel.parts[1] == "card%20a-p1-og-1200x630.png"
    with pytest.raises(LimitError):
        store.location("x" * 300, og, "png")


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "/abs/{item_id}/{target}.{ext}",
        "{item_id}.{ext}",  # no {target}
        "{target}.{ext}",  # no {item_id}
        "../{item_id}/{target}.{ext}",
        "{item_id}/./{target}.{ext}",
        ".state/{item_id}/{target}.{ext}",
        "{item_id}//{target}.{ext}",
        "{item_id}/{target}.{nope}",
        "{item_id}/{target!r}.{ext}",
        "{item_id/{target}.{ext}",
        "C:{item_id}/{target}.{ext}",
        "{item_id}\\{target}.{ext}",
    ],
)
def test_bad_patterns_are_refused(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValueRangeError):
        DirectoryStore(tmp_path, pattern)


def test_store_writes_atomically_and_sweeps(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path, DEFAULT_PATTERN)
    copy = pickle.loads(pickle.dumps(store))  # stores travel to workers
    location = copy.location("item", parse_target("og"), "png")
    copy.write(location, b"first", "tok")
    assert Path(location).read_bytes() == b"first" and store.size(location) == 5
    store.write(location, b"second!", "tok")
    assert Path(location).read_bytes() == b"second!"
    assert sorted(os.listdir(tmp_path / "item")) == ["og.png"]  # no temporary file left
    # a killed writer's leftovers: swept, other files untouched
    (tmp_path / "item" / ".og.png.dead.123.tmp").write_bytes(b"partial")
    (tmp_path / "item" / ".story.png.dead.123.tmp").write_bytes(b"other")
    assert store.sweep(location) == 1
    assert sorted(os.listdir(tmp_path / "item")) == [".story.png.dead.123.tmp", "og.png"]
    # a directory that only held a killed writer's temp file goes too
    lonely = store.location("lonely", parse_target("og"), "png")
    os.makedirs(os.path.dirname(lonely))
    Path(lonely).with_name(".og.png.x.1.tmp").write_bytes(b"")
    assert store.sweep(lonely) == 1 and not os.path.exists(os.path.dirname(lonely))
    assert store.size(lonely) is None and store.sweep(lonely) == 0


def test_store_write_failure_leaves_nothing(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    location = store.location("item", parse_target("og"), "png")
    os.makedirs(location)  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        store.write(location, b"data", "tok")
    assert sorted(os.listdir(tmp_path / "item")) == ["og.png"]
    assert os.listdir(location) == []


# --------------------------------------------------------------------------- the output key


@pytest.fixture(scope="module")
def card_a():  # type: ignore[no-untyped-def]
    path = example_path("card-a")
    assert path is not None
    return load_template(path)


def test_key_changes_with_what_changes_the_bytes(card_a) -> None:  # type: ignore[no-untyped-def]
    og, story = parse_target("og"), parse_target("story")
    base = output_key(card_a, CARD, og)
    assert base == output_key(card_a, dict(CARD), og)  # deterministic
    assert len(base) == 64 and int(base, 16) >= 0
    assert output_key(card_a, {**CARD, "title": "Hello!"}, og) != base  # edited title
    assert output_key(card_a, CARD, story) != base  # another target
    assert output_key(card_a, CARD, parse_target("og@2x")) != base  # scale
    assert output_key(card_a, CARD, og, format="jpeg") != base  # encoder format
    assert output_key(card_a, CARD, og, format="jpg") == output_key(card_a, CARD, og, format="jpeg")
    assert output_key(card_a, CARD, og, encode_options={"level": "fast"}) != base
    # options equal to the defaults are the same encoder settings, hence the same key
    jpeg = output_key(card_a, CARD, og, format="jpeg")
    assert output_key(card_a, CARD, og, format="jpeg", encode_options={"quality": 85}) == jpeg
    with pytest.raises(EncodeError):
        output_key(card_a, CARD, og, encode_options={"no_such_option": 1})
    missing = {k: v for k, v in CARD.items() if k != "site"}
    assert output_key(card_a, missing, og) != output_key(card_a, {**CARD, "site": ""}, og)
    # an edited template re-renders
    source = dict(card_a.source)
    source["layers"] = [dict(layer) for layer in source["layers"]]
    source["layers"][0]["fill"] = "#FF0000"
    edited = load_template(source, base_dir=card_a.base_dir)
    assert output_key(edited, CARD, og) != base


def test_key_ignores_fields_the_template_does_not_read(card_a) -> None:  # type: ignore[no-untyped-def]
    og = parse_target("og")
    base = output_key(card_a, CARD, og)
    assert output_key(card_a, {**CARD, "author": "Someone", "id": "other-id"}, og) == base
    assert output_key(card_a, {**CARD, "extra": {"nested": [1, 2]}}, og) == base


def test_key_follows_the_render_version(card_a, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    og = parse_target("og")
    base = output_key(card_a, CARD, og)
    monkeypatch.setattr(identity, "RENDER_VERSION", identity.RENDER_VERSION + 1)
    assert output_key(card_a, CARD, og) != base


def test_key_follows_font_files(tmp_path: Path, card_a) -> None:  # type: ignore[no-untyped-def]
    from fastshare.text import bundled_font_dir

    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(bundled_font_dir() / "Inter-Regular.otf", fonts / "Extra.otf")
    source = {**dict(card_a.source), "fonts": [str(fonts)]}
    with_fonts = load_template(source, base_dir=card_a.base_dir)
    og = parse_target("og")
    before = output_key(with_fonts, CARD, og)
    assert before != output_key(card_a, CARD, og)  # an extra font file is part of the key
    assert font_digest([fonts]) == font_digest([fonts])
    data = (fonts / "Extra.otf").read_bytes()
    (fonts / "Extra.otf").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    os.utime(fonts / "Extra.otf", ns=(1, 1))  # a different mtime, as an edit would give
    assert output_key(with_fonts, CARD, og) != before


def test_key_follows_image_assets(tmp_path: Path) -> None:
    photo = example_path("photo")
    assert photo is not None
    folder = tmp_path / "tpl"
    shutil.copytree(photo.parent / "assets", folder / "assets")
    shutil.copy(photo, folder / "photo.toml")
    template = load_template(folder / "photo.toml")
    og = parse_target("og")
    item = {"title": "Peaks", "image": "mountains.jpg"}
    before = output_key(template, item, og)
    assert output_key(template, {**item, "image": "logo.png"}, og) != before
    image = folder / "assets" / "mountains.jpg"
    image.write_bytes(image.read_bytes() + b"\x00")  # same name, new bytes
    assert output_key(template, item, og) != before
    # an image that does not resolve still gives a key (the render reports the failure)
    assert output_key(template, {**item, "image": "missing.jpg"}, og) != before


def test_file_digest_cache_sees_replaced_files(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    first = file_digest(path)
    path.write_bytes(b"two!")
    assert file_digest(path) != first


def test_key_builder_reuses_the_item_part(card_a) -> None:  # type: ignore[no-untyped-def]
    builder = KeyBuilder(card_a, "png")
    data = builder.data_part(CARD)
    for name in ("og", "square", "story"):
        target = parse_target(name)
        assert builder.key(CARD, target, data) == output_key(card_a, CARD, target)
    assert builder.encoder["format"] == "png" and builder.fonts == font_digest()


def test_an_override_edit_changes_only_that_targets_keys(tmp_path: Path) -> None:
    photo = example_path("photo")
    assert photo is not None
    folder = tmp_path / "tpl"
    shutil.copytree(photo.parent / "assets", folder / "assets")
    source = photo.read_text(encoding="utf-8")
    item = {"title": "Peaks", "author": "A. Climber"}

    def keys(text: str) -> dict[str, str]:
        (folder / "photo.toml").write_text(text, encoding="utf-8")
        template = load_template(folder / "photo.toml")
        return {t: output_key(template, item, parse_target(t)) for t in ("og", "square", "story")}

    before = keys(source)
    story_only = keys(source.replace("bottom = 200\nsize = 36", "bottom = 210\nsize = 36"))
    assert story_only["story"] != before["story"]
    assert story_only["og"] == before["og"] and story_only["square"] == before["square"]
    shared = keys(source.replace('color = "#E2E8F0"', 'color = "#E2E8F1"'))
    assert all(shared[t] != before[t] for t in before)
    # a comment or a reordered table changes no pixel, hence no key
    assert keys("# a new comment\n" + source) == before
