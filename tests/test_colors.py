"""CSS colour parsing (fastshare.colors): every accepted form, and typed errors for bad input."""

from __future__ import annotations

import colorsys
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastshare._named_colors import NAMED_COLORS
from fastshare.colors import Color, parse_color
from fastshare.errors import ClientError, ColorError

GOOD = [
    ("#f80", Color(0xFF, 0x88, 0x00)),
    ("#F80", Color(0xFF, 0x88, 0x00)),
    ("#f808", Color(0xFF, 0x88, 0x00, 0x88)),
    ("#203A43", Color(0x20, 0x3A, 0x43)),
    ("#203a4380", Color(0x20, 0x3A, 0x43, 0x80)),
    ("  #203a43\n", Color(0x20, 0x3A, 0x43)),
    ("rgb(255, 0, 0)", Color(255, 0, 0)),
    ("RGB(255,0,0)", Color(255, 0, 0)),
    ("rgb(255 128 0)", Color(255, 128, 0)),
    ("rgb(100%, 50%, 0%)", Color(255, 128, 0)),
    ("rgb(0.5, 2.5, 254.5)", Color(1, 3, 255)),  # halves round up, as in browsers
    ("rgba(1, 2, 3, 0.5)", Color(1, 2, 3, 128)),
    ("rgba(1, 2, 3, 50%)", Color(1, 2, 3, 128)),
    ("rgb(1, 2, 3, .25)", Color(1, 2, 3, 64)),
    ("rgb(1 2 3 / 0.2)", Color(1, 2, 3, 51)),
    ("rgba(1 2 3 / 100%)", Color(1, 2, 3, 255)),
    ("rgb(1e2, 0, 0)", Color(100, 0, 0)),
    ("hsl(0, 100%, 50%)", Color(255, 0, 0)),
    ("hsl(120 100% 25%)", Color(0, 128, 0)),
    ("hsl(240deg, 100%, 50%)", Color(0, 0, 255)),
    ("hsl(0.5turn 100% 50%)", Color(0, 255, 255)),
    ("hsl(200grad 100% 50%)", Color(0, 255, 255)),
    (f"hsl({math.pi}rad 100% 50%)", Color(0, 255, 255)),
    ("hsl(-120, 100%, 50%)", Color(0, 0, 255)),
    ("hsl(480, 100%, 50%)", Color(0, 255, 0)),
    ("hsla(0, 0%, 100%, 0.5)", Color(255, 255, 255, 128)),
    ("hsl(0 0% 0% / 25%)", Color(0, 0, 0, 64)),
    ("red", Color(255, 0, 0)),
    ("RebeccaPurple", Color(0x66, 0x33, 0x99)),
    (" lightgoldenrodyellow ", Color(0xFA, 0xFA, 0xD2)),
    ("grey", Color(128, 128, 128)),
    ("transparent", Color(0, 0, 0, 0)),
    ("TRANSPARENT", Color(0, 0, 0, 0)),
    ((1, 2, 3), Color(1, 2, 3)),
    ([1, 2, 3, 4], Color(1, 2, 3, 4)),
    ((np.uint8(9), np.int64(8), 7), Color(9, 8, 7)),
    (Color(1, 2, 3, 4), Color(1, 2, 3, 4)),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[repr(g[0]) for g in GOOD])
def test_accepted_forms(text: Any, expected: Color) -> None:
    got = parse_color(text, "fill")
    assert got == expected
    assert all(type(c) is int for c in got)


def test_all_148_named_colours_and_their_aliases() -> None:
    assert len(NAMED_COLORS) == 148
    for name, value in NAMED_COLORS.items():
        assert parse_color(name) == Color(value >> 16, (value >> 8) & 255, value & 255)
    assert parse_color("gray") == parse_color("grey")
    assert parse_color("aqua") == parse_color("cyan") == Color(0, 255, 255)
    assert parse_color("fuchsia") == parse_color("magenta")
    assert parse_color("darkslategray") == parse_color("darkslategrey")


@given(st.integers(0, 359), st.integers(0, 100), st.integers(0, 100))
def test_hsl_agrees_with_colorsys(h: int, s: int, light: int) -> None:
    r, g, b = colorsys.hls_to_rgb(h / 360, light / 100, s / 100)
    got = parse_color(f"hsl({h}, {s}%, {light}%)")
    assert max(abs(got.r - r * 255), abs(got.g - g * 255), abs(got.b - b * 255)) <= 0.5 + 1e-9


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_hex_round_trips(r: int, g: int, b: int, a: int) -> None:
    c = Color(r, g, b, a)
    assert parse_color(c.hex()) == c
    assert parse_color(f"rgba({r}, {g}, {b}, {a / 255})") == c
    assert parse_color(f"rgb({r} {g} {b} / {a / 255 * 100}%)") == c
    assert Color(r, g, b).hex() == f"#{r:02x}{g:02x}{b:02x}" and Color(r, g, b).opaque


BAD = [
    "#12345",
    "rgb(300,0,0)",
    "blue-ish",
    "",
    "#",
    "#ggg",
    "#1234567",
    "# fff",
    "rgb(1,2)",
    "rgb(1,2,3,4,5)",
    "rgb(1,2,3,)",
    "rgb(1 2 3 0.5)",  # the space form needs '/' before alpha
    "rgb(1 2 3 /)",
    "rgb(1 2 / 0.5)",
    "rgb(1, 2 3)",
    "rgb(100%, 0, 0)",  # mixed percentages and numbers
    "rgb(-1, 0, 0)",
    "rgb(0, 0, 256)",
    "rgb(0, 0, 101%)",
    "rgb(1, 2, 3, 1.5)",
    "rgba(1, 2, 3, 150%)",
    "rgba(1, 2, 3, 2deg)",
    "rgb(1e999, 0, 0)",
    "rgb(nan, 0, 0)",
    "rgb(1px, 0, 0)",
    "hsl(0, 100, 50)",  # saturation and lightness need %
    "hsl(0, 120%, 50%)",
    "hsl(10px, 50%, 50%)",
    "hsl(0 50% 50% 0.5)",
    "rgb 1 2 3",
    "rgb(1,2,3",
    "currentcolor",
    "red blue",
    (1, 2),
    (1, 2, 3, 4, 5),
    (1, 2, 300),
    (1, 2, -1),
    (1.0, 2, 3),
    (True, 2, 3),
    ("1", "2", "3"),
    b"#fff",
    None,
    12,
    3.5,
    {"r": 1},
]


@pytest.mark.parametrize("value", BAD, ids=[repr(b) for b in BAD])
def test_bad_input_raises_a_colour_error_naming_field_and_value(value: Any) -> None:
    with pytest.raises(ColorError) as info:
        parse_color(value, "layers[2].fill")
    err = info.value
    assert isinstance(err, ClientError) and isinstance(err, ValueError)
    assert err.field == "layers[2].fill"
    assert err.value == value or (err.value is value)
    text = str(err)
    assert text.startswith("layers[2].fill: ")
    if value is not None:
        assert repr(value)[:40] in text
    assert err.to_dict()["code"] == "bad_color"


def test_the_three_issue_examples_name_the_parameter() -> None:
    for value in ("#12345", "rgb(300,0,0)", "blue-ish"):
        with pytest.raises(
            ColorError,
            match=r"^title\.color: .*" + repr(value).replace("(", r"\(").replace(")", r"\)"),
        ):
            parse_color(value, "title.color")


def test_default_field_name() -> None:
    with pytest.raises(ColorError) as info:
        parse_color("nope")
    assert info.value.field == "color"
