"""FontRegistry: bundled fonts, lookup, variable fonts, collections, WOFF, pickling, bad files."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from fastshare.errors import FontError, LimitError, ValueRangeError
from fastshare.text import (
    BUNDLED_FALLBACK_FAMILIES,
    FontRecipe,
    FontRegistry,
    TextStyle,
    bundled_font_dir,
    layout_text,
    load_font,
)
from fastshare.text import fonts as fonts_mod

sys.path.insert(0, str(Path(__file__).parent))
from reference.text_fonts import build_variable_font

CJK_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.fixture(scope="module")
def registry() -> FontRegistry:
    return FontRegistry()


def test_bundled_fonts_are_found_with_licence(registry: FontRegistry) -> None:
    folder = bundled_font_dir()
    assert (folder / "OFL.txt").is_file()
    assert (folder / "FONTS.md").is_file()
    names = registry.families()
    for family in ("Inter", *BUNDLED_FALLBACK_FAMILIES):
        assert family in names
    total = sum(p.stat().st_size for p in folder.iterdir() if p.suffix in (".otf", ".ttf"))
    assert 1_000_000 <= total <= 2_100_000
    listed = (folder / "FONTS.md").read_text()
    for p in folder.iterdir():
        if p.suffix in (".otf", ".ttf"):
            assert p.name in listed


def test_weight_and_style_matching(registry: FontRegistry) -> None:
    assert registry.find("Inter", 400).weight == 400
    assert registry.find("inter", 700).weight == 700  # case-insensitive family
    # CSS matching: 600 prefers heavier (700), 300 prefers lighter then heavier (400)
    assert registry.find("Inter", 600).weight == 700
    assert registry.find("Inter", 300).weight == 400
    assert registry.find("Inter", 900).weight == 700
    # no italic face bundled: the upright face is used
    assert registry.find("Inter", 400, italic=True).weight == 400
    with pytest.raises(ValueRangeError):
        registry.find("Inter", 0)


def test_unknown_family_lists_known_ones(registry: FontRegistry) -> None:
    with pytest.raises(FontError) as info:
        registry.find("Helvetica Neue Imaginary")
    message = str(info.value)
    assert "Helvetica Neue Imaginary" in message
    assert "Inter" in message and "Noto Sans Arabic" in message
    with pytest.raises(FontError):
        layout_text(registry, "x", TextStyle(fonts=("Nope",)))


def test_variable_font_weight_axis(tmp_path: Path) -> None:
    path = build_variable_font(tmp_path / "var.ttf")
    reg = FontRegistry([path], bundled=False)
    assert reg.families() == ["Test Var"]
    regular = reg.find("Test Var", 400)
    black = reg.find("Test Var", 900)
    assert dict(black.recipe.variations)["wght"] == 900
    assert dict(reg.find("Test Var", 1000).recipe.variations)["wght"] == 900  # clamped
    w400 = layout_text(reg, "A", TextStyle(fonts=("Test Var",), weight=400, size=100)).width
    w900 = layout_text(reg, "A", TextStyle(fonts=("Test Var",), weight=900, size=100)).width
    assert w400 == pytest.approx(20.0)
    assert w900 == pytest.approx(60.0)  # advance 200 + 400 units at 100 px / 1000 upem
    assert regular is not black
    with pytest.raises(FontError):
        reg.find("Test Var", 400, variations={"wdth": 80})


def test_variable_font_pins_opsz_and_rasterises_at_weight(tmp_path: Path) -> None:
    from fastshare.text import rasterize

    path = build_variable_font(tmp_path / "var.ttf")
    reg = FontRegistry([path], bundled=False)
    thin = rasterize(layout_text(reg, "A", TextStyle(fonts=("Test Var",), weight=400, size=100)))
    bold = rasterize(layout_text(reg, "A", TextStyle(fonts=("Test Var",), weight=900, size=100)))
    # the stem is 10 px at wght 400 and 50 px at wght 900 (FreeType follows the variation)
    assert int((thin.mask > 128).sum(axis=1).max()) == 10
    assert int((bold.mask > 128).sum(axis=1).max()) == 50


@pytest.mark.skipif(not CJK_TTC.exists(), reason="fonts-noto-cjk is not installed")
def test_collection_face_index() -> None:
    reg = FontRegistry([CJK_TTC], bundled=False)
    names = reg.families()
    for region in ("JP", "KR", "SC", "TC"):
        assert f"Noto Sans CJK {region}" in names
    sc = reg.find("Noto Sans CJK SC")
    jp = reg.find("Noto Sans CJK JP")
    assert sc.recipe.path == jp.recipe.path and sc.recipe.index != jp.recipe.index


@pytest.mark.parametrize("flavor", ["woff", "woff2"])
def test_woff_fonts_are_decompressed_once(tmp_path: Path, flavor: str) -> None:
    src = bundled_font_dir() / "Inter-Regular.otf"
    font = TTFont(src)
    font.flavor = flavor
    target = tmp_path / f"InterCopy.{flavor}"
    font.save(target)
    reg = FontRegistry([target], bundled=False)
    style = TextStyle(fonts=("Inter",), size=50)
    plain = layout_text(FontRegistry(), "Hamburgefonstiv 0123", style)
    packed = layout_text(reg, "Hamburgefonstiv 0123", style)
    assert packed.width == pytest.approx(plain.width)
    assert packed.glyphs.gid.tolist() == plain.glyphs.gid.tolist()
    assert fonts_mod._font_bytes(str(target)) is fonts_mod._font_bytes(str(target))


def test_fonts_and_registry_pickle_as_recipes(registry: FontRegistry) -> None:
    font = registry.find("Inter", 700)
    data = pickle.dumps(font)
    assert len(data) < 1000  # a recipe, not the font bytes
    again = pickle.loads(data)
    assert again.recipe == font.recipe
    assert again is font  # same process: the font cache returns the loaded font
    reg2 = pickle.loads(pickle.dumps(registry))
    assert reg2.families() == registry.families()
    assert load_font(FontRecipe(font.recipe.path)).family == "Inter"


def test_corrupt_truncated_and_missing_files(tmp_path: Path) -> None:
    truncated = tmp_path / "trunc.otf"
    truncated.write_bytes((bundled_font_dir() / "Inter-Bold.otf").read_bytes()[:5000])
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font" * 100)
    empty = tmp_path / "empty.ttf"
    empty.write_bytes(b"")
    bad_woff2 = tmp_path / "bad.woff2"
    bad_woff2.write_bytes(b"wOF2" + b"\0" * 200)
    for path in (truncated, junk, empty, bad_woff2):
        with pytest.raises(FontError) as info:
            reg = FontRegistry([path], bundled=False)
            reg.find(reg.families()[0])
        assert str(path) in str(info.value)
    with pytest.raises(FontError):
        FontRegistry([tmp_path / "nope.ttf"])
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(FontError):
        FontRegistry([tmp_path / "emptydir"])


def test_font_byte_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts_mod, "MAX_FONT_BYTES", 1000)
    with pytest.raises(LimitError):
        FontRegistry([bundled_font_dir() / "NotoSansHebrew-Regular.ttf"], bundled=False)


def test_directory_of_fonts(tmp_path: Path) -> None:
    build_variable_font(tmp_path / "a.ttf")
    reg = FontRegistry([tmp_path])
    assert "Test Var" in reg.families() and "Inter" in reg.families()


def test_system_fonts_scan_without_fontconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fontconfig", None)  # import fails -> directory scan
    files, how = fonts_mod._system_font_files()
    assert how == "scan"
    if not files:
        pytest.skip("no system fonts on this machine")
    assert all(Path(f).suffix.lower() in fonts_mod.FONT_SUFFIXES for f in files)


@pytest.mark.skipif(not CJK_TTC.exists(), reason="fonts-noto-cjk is not installed")
def test_system_fallback_finds_cjk_by_language() -> None:
    reg = FontRegistry(system=True)
    ja = layout_text(reg, "東京 PyCon", TextStyle(language="ja"))
    zh = layout_text(reg, "东京 PyCon", TextStyle(language="zh-Hans"))
    assert ja.missing == 0 and zh.missing == 0
    assert any(f.family == "Noto Sans CJK JP" for f in ja.fonts)
    assert any(f.family == "Noto Sans CJK SC" for f in zh.fonts)
    assert reg.system_source in ("fontconfig", "scan")
    # explicit fallbacks work without system discovery
    reg2 = FontRegistry([CJK_TTC], fallbacks=("Noto Sans CJK KR",))
    assert layout_text(reg2, "서울 PyCon", TextStyle()).missing == 0
