"""CSS colour parsing.

Accepted forms (case-insensitive, surrounding whitespace ignored):

* ``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``
* ``rgb(r, g, b)``, ``rgba(r, g, b, a)`` and the space form ``rgb(r g b / a)``; channels are
  0–255 numbers or 0–100% percentages, alpha is 0–1 or 0–100%
* ``hsl(h, s%, l%)``, ``hsla(h, s%, l%, a)`` and ``hsl(h s% l% / a)``; hue in degrees (``deg``,
  ``turn``, ``rad`` and ``grad`` units accepted)
* the 148 CSS named colours and ``transparent``
* a sequence of 3 or 4 integers 0–255 (from Python or JSON)

Unlike browsers, out-of-range channels are an error, not clamped: ``rgb(300, 0, 0)`` in a
template is almost always a typo. Every error is a :class:`~fastshare.errors.ColorError` naming
the field and the value.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from fastshare._named_colors import NAMED_COLORS
from fastshare.errors import ColorError

__all__ = ["Color", "parse_color"]


class Color(NamedTuple):
    """An sRGB colour with straight (not premultiplied) alpha; every channel 0–255."""

    r: int
    g: int
    b: int
    a: int = 255

    @property
    def opaque(self) -> bool:
        return self.a == 255

    def hex(self) -> str:
        """``#rrggbb``, or ``#rrggbbaa`` when not opaque."""
        text = f"#{self.r:02x}{self.g:02x}{self.b:02x}"
        return text if self.a == 255 else f"{text}{self.a:02x}"


_HEX = re.compile(r"#([0-9a-f]{3,8})")
_FUNC = re.compile(r"(rgba?|hsla?)\((.*)\)", re.DOTALL)
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?"
_TOKEN = re.compile(rf"({_NUMBER})(%|deg|grad|rad|turn)?")


def parse_color(value: Any, field: str = "color") -> Color:
    """Parse a CSS colour string (or a 3/4-sequence of 0–255 ints) into a :class:`Color`.

    ``field`` names the parameter in error messages (``layers[2].fill``).
    """
    if isinstance(value, Color):
        return value
    if isinstance(value, str):
        return _parse_string(value, field)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return _parse_sequence(value, field)
    msg = "a colour must be a CSS colour string or 3 or 4 integers 0-255"
    raise ColorError(msg, field=field, value=value)


def _parse_sequence(value: Sequence[Any], field: str) -> Color:
    if len(value) not in (3, 4):
        msg = "a colour sequence needs 3 or 4 channels"
        raise ColorError(msg, field=field, value=value)
    channels: list[int] = []
    for channel in value:
        number = -1
        if isinstance(channel, numbers.Integral) and not isinstance(channel, bool):
            number = int(channel)
        if not 0 <= number <= 255:
            msg = "colour channels must be integers 0-255"
            raise ColorError(msg, field=field, value=value)
        channels.append(number)
    return Color(*channels)


def _parse_string(value: str, field: str) -> Color:
    text = value.strip().lower()
    if text == "transparent":
        return Color(0, 0, 0, 0)
    named = NAMED_COLORS.get(text)
    if named is not None:
        return Color((named >> 16) & 255, (named >> 8) & 255, named & 255)
    if text.startswith("#"):
        return _parse_hex(text, value, field)
    match = _FUNC.fullmatch(text)
    if match is None:
        msg = "not a CSS colour (expected #hex, rgb(), rgba(), hsl(), hsla() or a colour name)"
        raise ColorError(msg, field=field, value=value)
    name, body = match.groups()
    args = _split_args(body, value, field)
    if name.startswith("rgb"):
        return _parse_rgb(args, value, field)
    return _parse_hsl(args, value, field)


def _parse_hex(text: str, original: str, field: str) -> Color:
    match = _HEX.fullmatch(text)
    digits = match.group(1) if match else ""
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    if len(digits) not in (6, 8):
        msg = "hex colours need 3, 4, 6 or 8 hex digits"
        raise ColorError(msg, field=field, value=original)
    channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    return Color(*channels)


def _split_args(body: str, original: str, field: str) -> list[tuple[float, str]]:
    """Split ``a, b, c[, d]`` or ``a b c[ / d]`` into (number, unit) pairs; the alpha is 4th."""
    body = body.strip()
    if "," in body:
        parts = [p.strip() for p in body.split(",")]
    else:
        main, slash, alpha = body.partition("/")
        parts = main.split()
        if len(parts) != 3 or (slash and not alpha.strip()):
            parts = []  # the space form: exactly three channels, then optionally '/ alpha'
        elif slash:
            parts.append(alpha.strip())
    if len(parts) not in (3, 4):
        msg = "colour functions take 3 channels and an optional alpha"
        raise ColorError(msg, field=field, value=original)
    out: list[tuple[float, str]] = []
    for part in parts:
        match = _TOKEN.fullmatch(part)
        if match is None:
            msg = f"{part!r} is not a number or percentage"
            raise ColorError(msg, field=field, value=original)
        number = float(match.group(1))
        if not math.isfinite(number):
            msg = "colour channels must be finite"
            raise ColorError(msg, field=field, value=original)
        out.append((number, match.group(2) or ""))
    return out


def _round(number: float) -> int:
    """Round half up, as browsers do (Python's ``round`` would send 2.5 to 2)."""
    return math.floor(number + 0.5)


def _alpha(arg: tuple[float, str] | None, original: str, field: str) -> int:
    if arg is None:
        return 255
    number, unit = arg
    if unit == "%":
        number /= 100.0
    elif unit:
        msg = f"alpha cannot have the unit {unit!r}"
        raise ColorError(msg, field=field, value=original)
    if not 0.0 <= number <= 1.0:
        msg = "alpha must be between 0 and 1 (or 0% and 100%)"
        raise ColorError(msg, field=field, value=original)
    return _round(number * 255.0)


def _parse_rgb(args: list[tuple[float, str]], original: str, field: str) -> Color:
    channels: list[int] = []
    units = {unit for _, unit in args[:3]}
    if len(units) != 1 or not units <= {"", "%"}:
        msg = "rgb() channels must be all numbers 0-255 or all percentages"
        raise ColorError(msg, field=field, value=original)
    for number, unit in args[:3]:
        scaled = number * 255.0 / 100.0 if unit == "%" else number
        if not 0.0 <= scaled <= 255.0:
            msg = "rgb() channels must be within 0-255 (or 0%-100%)"
            raise ColorError(msg, field=field, value=original)
        channels.append(_round(scaled))
    alpha = _alpha(args[3] if len(args) == 4 else None, original, field)
    return Color(channels[0], channels[1], channels[2], alpha)


_HUE_UNITS = {"": 1.0, "deg": 1.0, "grad": 0.9, "rad": 180.0 / math.pi, "turn": 360.0}


def _parse_hsl(args: list[tuple[float, str]], original: str, field: str) -> Color:
    hue_number, hue_unit = args[0]
    if hue_unit not in _HUE_UNITS:
        msg = f"hsl() hue cannot have the unit {hue_unit!r}"
        raise ColorError(msg, field=field, value=original)
    hue = (hue_number * _HUE_UNITS[hue_unit]) % 360.0
    fractions: list[float] = []
    for number, unit in args[1:3]:
        if unit != "%":
            msg = "hsl() saturation and lightness must be percentages"
            raise ColorError(msg, field=field, value=original)
        if not 0.0 <= number <= 100.0:
            msg = "hsl() saturation and lightness must be within 0%-100%"
            raise ColorError(msg, field=field, value=original)
        fractions.append(number / 100.0)
    saturation, lightness = fractions
    alpha = _alpha(args[3] if len(args) == 4 else None, original, field)

    # CSS Color 4 §7.1 hsl-to-rgb
    def channel(n: float) -> int:
        k = (n + hue / 30.0) % 12.0
        a = saturation * min(lightness, 1.0 - lightness)
        return _round(255.0 * (lightness - a * max(-1.0, min(k - 3.0, 9.0 - k, 1.0))))

    return Color(channel(0), channel(8), channel(4), alpha)
