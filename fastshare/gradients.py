"""Gradient descriptions (CSS semantics) and their preparation for the kernels.

A gradient is an immutable, hashable value: :class:`LinearGradient`, :class:`RadialGradient` or
:class:`ConicGradient`, each with a tuple of :class:`Stop` (a :class:`~fastshare.colors.Color`
and a position in [0, 1]). Constructors validate and raise
:class:`~fastshare.errors.ValueRangeError` naming the field and the value; :func:`parse_stops` and
:func:`parse_fill` accept loose template input (``"#203A43 50%"``, ``["#hex", 0.5]``, dicts) and
prefix the field path of any error.

Semantics (CSS Images 3/4):

* **linear**: ``angle`` in degrees, 0 = towards the top, clockwise (90 = to the right, 180 = to
  the bottom, the CSS default). The gradient line runs through the box centre and is
  ``|W·sin a| + |H·cos a|`` long, so the corners get exactly the first and last stop colours.
  Any finite angle is accepted (negative angles too, as in CSS); NaN and infinities are errors.
* **radial**: centre ``(cx, cy)`` as fractions of the box; radii ``rx``/``ry`` in pixels or
  ``None`` for CSS ``farthest-corner``; ``shape`` ``"circle"`` (one radius) or ``"ellipse"``
  (the CSS default; farthest-corner keeps the closest-side aspect ratio).
* **conic**: centre as for radial; ``start_angle`` in degrees, clockwise from the top.
* **stops**: positions must be in [0, 1] and non-decreasing (equal positions make a hard edge);
  missing positions in :func:`parse_stops` are filled in as CSS does. One stop paints a solid
  colour. Interpolation is in premultiplied sRGB (``"srgb"``, the CSS default) or premultiplied
  Oklab (``"oklab"``); Oklab results are gamut-clipped to sRGB.
* **dither**: ordered (Bayer 8×8) dithering of the final rounding; off by default because it
  multiplies PNG sizes (see ``docs/kernels.md``).

Preparation for the kernels (:func:`stop_table`) turns stops into piecewise-linear premultiplied
sRGB ramps; Oklab segments are subdivided until the ramp is within 0.4 LSB of the exact curve.
Tables are cached (LRU) and shared read-only between threads.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from fastshare.colors import Color, parse_color
from fastshare.errors import ColorError, FastshareError, ValueRangeError

__all__ = [
    "ConicGradient",
    "Fill",
    "Gradient",
    "Interpolation",
    "LinearGradient",
    "RadialGradient",
    "Stop",
    "StopTable",
    "linear_to_oklab",
    "linear_to_srgb",
    "oklab_to_linear",
    "parse_fill",
    "parse_stops",
    "srgb_to_linear",
    "stop_table",
]

Interpolation: TypeAlias = Literal["srgb", "oklab"]
_INTERPOLATIONS = ("srgb", "oklab")
_SHAPES = ("circle", "ellipse")

#: bins of the segment lookup table the per-pixel gradient kernels use
SEG_BINS = 1024
#: Oklab ramps are subdivided until within this many LSB of the exact curve
OKLAB_TOLERANCE = 0.4
_MAX_BISECTIONS = 12


def _finite(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = "must be a number"
        raise ValueRangeError(msg, field=field, value=value)
    number = float(value)
    if not math.isfinite(number):
        msg = "must be a finite number"
        raise ValueRangeError(msg, field=field, value=value)
    return number


@dataclass(frozen=True)
class Stop:
    """A colour stop: ``color`` at ``position`` (0–1 along the gradient)."""

    color: Color
    position: float

    def __post_init__(self) -> None:
        if not isinstance(self.color, Color):
            msg = "a stop colour must be a Color (use parse_stops for strings)"
            raise ColorError(msg, field="color", value=self.color)
        position = _finite(self.position, "position")
        if not 0.0 <= position <= 1.0:
            msg = "stop positions must be within [0, 1]"
            raise ValueRangeError(msg, field="position", value=self.position)
        object.__setattr__(self, "position", position)


def _check_stops(stops: Any) -> tuple[Stop, ...]:
    if isinstance(stops, str | bytes) or not isinstance(stops, Sequence):
        msg = "stops must be a sequence of Stop"
        raise ValueRangeError(msg, field="stops", value=stops)
    result = tuple(stops)
    if not result:
        msg = "a gradient needs at least one stop"
        raise ValueRangeError(msg, field="stops", value=stops)
    previous = 0.0
    for i, stop in enumerate(result):
        if not isinstance(stop, Stop):
            msg = "stops must be Stop instances (use parse_stops for loose input)"
            raise ValueRangeError(msg, field=f"stops[{i}]", value=stop)
        if stop.position < previous:
            msg = f"stop positions must not decrease (previous stop is at {previous:g})"
            raise ValueRangeError(msg, field=f"stops[{i}].position", value=stop.position)
        previous = stop.position
    return result


def _check_common(obj: Any) -> None:
    object.__setattr__(obj, "stops", _check_stops(obj.stops))
    if obj.interpolation not in _INTERPOLATIONS:
        msg = "interpolation must be 'srgb' or 'oklab'"
        raise ValueRangeError(msg, field="interpolation", value=obj.interpolation)
    if not isinstance(obj.dither, bool):
        msg = "dither must be true or false"
        raise ValueRangeError(msg, field="dither", value=obj.dither)


def _check_centre(obj: Any) -> None:
    object.__setattr__(obj, "cx", _finite(obj.cx, "cx"))
    object.__setattr__(obj, "cy", _finite(obj.cy, "cy"))


@dataclass(frozen=True)
class LinearGradient:
    """CSS ``linear-gradient(<angle>deg, stops...)``."""

    angle: float
    stops: tuple[Stop, ...]
    interpolation: Interpolation = "srgb"
    dither: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "angle", _finite(self.angle, "angle"))
        _check_common(self)


@dataclass(frozen=True)
class RadialGradient:
    """CSS ``radial-gradient(<shape> <size> at cx cy, stops...)``; ``rx``/``ry`` in px.

    ``None`` radii mean CSS ``farthest-corner``.
    """

    stops: tuple[Stop, ...]
    cx: float = 0.5
    cy: float = 0.5
    rx: float | None = None
    ry: float | None = None
    shape: Literal["circle", "ellipse"] = "ellipse"
    interpolation: Interpolation = "srgb"
    dither: bool = False

    def __post_init__(self) -> None:
        _check_common(self)
        _check_centre(self)
        if self.shape not in _SHAPES:
            msg = "shape must be 'circle' or 'ellipse'"
            raise ValueRangeError(msg, field="shape", value=self.shape)
        for name in ("rx", "ry"):
            value = getattr(self, name)
            if value is None:
                continue
            number = _finite(value, name)
            if number < 0.0:
                msg = "radii must not be negative"
                raise ValueRangeError(msg, field=name, value=value)
            object.__setattr__(self, name, number)
        if self.rx is None and self.ry is not None:
            msg = "ry needs rx (give rx alone for a circle, or both for an ellipse)"
            raise ValueRangeError(msg, field="ry", value=self.ry)
        if self.shape == "circle" and self.ry is not None and self.ry != self.rx:
            msg = "a circle has one radius: give rx only"
            raise ValueRangeError(msg, field="ry", value=self.ry)


@dataclass(frozen=True)
class ConicGradient:
    """CSS ``conic-gradient(from <start_angle>deg at cx cy, stops...)``."""

    stops: tuple[Stop, ...]
    cx: float = 0.5
    cy: float = 0.5
    start_angle: float = 0.0
    interpolation: Interpolation = "srgb"
    dither: bool = False

    def __post_init__(self) -> None:
        _check_common(self)
        _check_centre(self)
        object.__setattr__(self, "start_angle", _finite(self.start_angle, "start_angle"))


Gradient: TypeAlias = LinearGradient | RadialGradient | ConicGradient
Fill: TypeAlias = Color | Gradient

# --------------------------------------------------------------------------- loose input

_PERCENT_SUFFIX = re.compile(r"^(.*\S)\s+([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)%$", re.IGNORECASE)


def _position(value: Any, field: str) -> float:
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            msg = "a stop position is a number 0-1 or a percentage such as '50%'"
            raise ValueRangeError(msg, field=field, value=value)
        try:
            number = float(text[:-1]) / 100.0
        except ValueError:
            msg = "a stop position is a number 0-1 or a percentage such as '50%'"
            raise ValueRangeError(msg, field=field, value=value) from None
    else:
        number = _finite(value, field)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        msg = "stop positions must be within [0, 1] (0%-100%)"
        raise ValueRangeError(msg, field=field, value=value)
    return number


def _one_stop(entry: Any, field: str) -> tuple[Color, float | None]:
    if isinstance(entry, Stop):
        return entry.color, entry.position
    if isinstance(entry, Color):
        return entry, None
    if isinstance(entry, str):
        match = _PERCENT_SUFFIX.match(entry.strip())
        if match is not None:
            try:
                color = parse_color(match.group(1), field)
            except ColorError:
                pass  # the suffix belonged to the colour after all
            else:
                return color, _position(match.group(2) + "%", f"{field}.position")
        return parse_color(entry, field), None
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"color", "position"}
        if unknown or "color" not in entry:
            msg = "a stop mapping has 'color' and optionally 'position'"
            raise ValueRangeError(msg, field=field, value=entry)
        color = parse_color(entry["color"], f"{field}.color")
        raw = entry.get("position")
        return color, None if raw is None else _position(raw, f"{field}.position")
    if isinstance(entry, Sequence) and len(entry) == 2 and not isinstance(entry[0], int):
        color = parse_color(entry[0], f"{field}.color")
        return color, None if entry[1] is None else _position(entry[1], f"{field}.position")
    if isinstance(entry, Sequence) and len(entry) in (3, 4):
        return parse_color(entry, field), None
    msg = "a stop is a colour, 'colour 50%', [colour, position] or {color, position}"
    raise ValueRangeError(msg, field=field, value=entry)


def parse_stops(value: Any, field: str = "stops") -> tuple[Stop, ...]:
    """Parse loose stop input into validated :class:`Stop` objects.

    Accepts a sequence whose entries are a colour (``"#0f2027"``, ``[15, 32, 39]``), a colour with
    a percentage (``"#203A43 50%"``), ``[colour, position]`` (position 0–1 or ``"50%"``), a
    ``{"color": ..., "position": ...}`` mapping, or a :class:`Stop`. Missing positions are
    filled in as CSS does: the first defaults to 0, the last to 1, and runs in between are spread
    evenly. Positions outside [0, 1] or decreasing raise :class:`ValueRangeError` naming
    ``field[i].position``.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = "stops must be a list"
        raise ValueRangeError(msg, field=field, value=value)
    if not value:
        msg = "a gradient needs at least one stop"
        raise ValueRangeError(msg, field=field, value=value)
    parsed = [_one_stop(entry, f"{field}[{i}]") for i, entry in enumerate(value)]
    positions: list[float | None] = [p for _, p in parsed]
    if positions[0] is None:
        positions[0] = 0.0
    if positions[-1] is None:
        positions[-1] = 1.0 if len(positions) > 1 else 0.0
    previous = 0.0
    for i, p in enumerate(positions):
        if p is None:
            continue
        if p < previous:
            msg = f"stop positions must not decrease (previous stop is at {previous:g})"
            raise ValueRangeError(msg, field=f"{field}[{i}].position", value=p)
        previous = p
    i = 0
    while i < len(positions):
        if positions[i] is None:
            j = i
            while positions[j] is None:
                j += 1
            start = positions[i - 1]
            end = positions[j]
            assert start is not None and end is not None
            for k in range(i, j):
                positions[k] = start + (end - start) * (k - i + 1) / (j - i + 1)
            i = j
        i += 1
    return tuple(Stop(color, float(p)) for (color, _), p in zip(parsed, positions, strict=True))  # type: ignore[arg-type]


_GRADIENT_KEYS: dict[str, tuple[str, ...]] = {
    "linear": ("angle", "interpolation", "dither"),
    "radial": ("cx", "cy", "rx", "ry", "shape", "interpolation", "dither"),
    "conic": ("cx", "cy", "start_angle", "interpolation", "dither"),
}


def _prefixed(err: FastshareError, field: str) -> FastshareError:
    inner = err.field
    path = (
        field if not inner else (f"{field}{inner}" if inner.startswith("[") else f"{field}.{inner}")
    )
    return type(err)(err.reason, field=path, value=err.value)


def parse_fill(value: Any, field: str = "fill") -> Fill:
    """Parse a fill: a colour (any form ``parse_color`` takes), a gradient object, or a mapping
    ``{"type": "linear"|"radial"|"conic", "stops": [...], ...}`` with the gradient's fields
    (``angle`` defaults to 180, CSS's "to bottom"). Errors name ``field.<subfield>``.
    """
    if isinstance(value, Color | LinearGradient | RadialGradient | ConicGradient):
        return value
    if not isinstance(value, Mapping):
        return parse_color(value, field)
    kind = value.get("type")
    if kind not in _GRADIENT_KEYS:
        msg = "a gradient needs 'type': 'linear', 'radial' or 'conic'"
        raise ValueRangeError(msg, field=f"{field}.type", value=kind)
    allowed = {"type", "stops", *_GRADIENT_KEYS[kind]}
    for key in value:
        if key not in allowed:
            msg = f"unknown key for a {kind} gradient (allowed: {', '.join(sorted(allowed))})"
            raise ValueRangeError(msg, field=f"{field}.{key}", value=value[key])
    if "stops" not in value:
        msg = "a gradient needs 'stops'"
        raise ValueRangeError(msg, field=f"{field}.stops", value=None)
    stops = parse_stops(value["stops"], f"{field}.stops")
    kwargs = {k: value[k] for k in _GRADIENT_KEYS[kind] if k in value}
    try:
        if kind == "linear":
            return LinearGradient(kwargs.pop("angle", 180.0), stops, **kwargs)
        if kind == "radial":
            return RadialGradient(stops, **kwargs)
        return ConicGradient(stops, **kwargs)
    except FastshareError as err:
        raise _prefixed(err, field) from err


# --------------------------------------------------------------------------- colour spaces


def srgb_to_linear(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """sRGB-encoded 0–1 → linear light 0–1 (IEC 61966-2-1 piecewise curve)."""
    x = np.asarray(v, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Linear light 0–1 → sRGB-encoded 0–1 (negative inputs clamp to 0)."""
    x = np.maximum(np.asarray(v, np.float64), 0.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1.0 / 2.4) - 0.055)


_LMS_FROM_LINEAR = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OKLAB_FROM_LMS = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_LMS_FROM_OKLAB = np.linalg.inv(_OKLAB_FROM_LMS)
_LINEAR_FROM_LMS = np.linalg.inv(_LMS_FROM_LINEAR)


def linear_to_oklab(rgb: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Linear sRGB (…, 3) → Oklab (…, 3)."""
    lms = np.asarray(rgb, np.float64) @ _LMS_FROM_LINEAR.T
    return np.asarray(np.cbrt(lms) @ _OKLAB_FROM_LMS.T, np.float64)


def oklab_to_linear(lab: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Oklab (…, 3) → linear sRGB (…, 3), not clipped."""
    lms = (np.asarray(lab, np.float64) @ _LMS_FROM_OKLAB.T) ** 3
    return np.asarray(lms @ _LINEAR_FROM_LMS.T, np.float64)


# --------------------------------------------------------------------------- stop tables


class StopTable(NamedTuple):
    """Stops prepared for the kernels (read-only by convention; shared through a cache)."""

    pos: npt.NDArray[np.float32]  # (K,) non-decreasing
    col: npt.NDArray[np.float32]  # (K, 4) premultiplied sRGB, 0-255
    seg: npt.NDArray[np.int32]  # (SEG_BINS,) last stop index k ≤ K-2 with pos[k] ≤ bin start
    opaque: bool  # every stop has alpha 255


def _premultiplied_srgb(color: Color) -> tuple[float, float, float, float]:
    a = color.a / 255.0
    return (color.r * a, color.g * a, color.b * a, float(color.a))


def _oklab_curve(c0: Color, c1: Color, u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Exact premultiplied-Oklab interpolation between two colours → premultiplied sRGB 0-255."""
    ends = np.array([[c0.r, c0.g, c0.b], [c1.r, c1.g, c1.b]], np.float64) / 255.0
    lab = linear_to_oklab(srgb_to_linear(ends))
    a0 = c0.a / 255.0
    a1 = c1.a / 255.0
    alpha = a0 + (a1 - a0) * u
    mixed = lab[0] * a0 + (lab[1] * a1 - lab[0] * a0) * u[:, None]
    safe = np.where(alpha > 0.0, alpha, 1.0)
    straight = mixed / safe[:, None]
    rgb = np.clip(linear_to_srgb(np.clip(oklab_to_linear(straight), 0.0, 1.0)), 0.0, 1.0)
    out = np.empty((u.shape[0], 4))
    out[:, :3] = rgb * 255.0 * alpha[:, None]
    out[:, 3] = alpha * 255.0
    return out


def _oklab_pieces(c0: Color, c1: Color) -> npt.NDArray[np.float64]:
    """Parameters ``u`` in [0, 1] that split the Oklab curve into chords within tolerance.

    Adaptive bisection: only pieces whose chord strays more than ``OKLAB_TOLERANCE`` (probed at 7
    interior points) are split, down to 1/4096 of the segment; the curve is steep where a channel
    approaches 0 or leaves the sRGB gamut and nearly straight elsewhere.
    """
    done: list[float] = [0.0, 1.0]
    pending = np.array([[0.0, 1.0]])
    fractions = np.arange(1, 8) / 8.0
    for _ in range(_MAX_BISECTIONS):
        lo = pending[:, 0:1]
        hi = pending[:, 1:2]
        probe_u = (lo + (hi - lo) * fractions[None, :]).ravel()
        ends = _oklab_curve(c0, c1, pending.ravel()).reshape(-1, 2, 4)
        probe = _oklab_curve(c0, c1, probe_u).reshape(-1, 7, 4)
        chord = ends[:, :1] + (ends[:, 1:] - ends[:, :1]) * fractions[None, :, None]
        # measured on the straight colour (premultiplied error / alpha), which linear-light
        # blending sees; alpha below 1/64 weighs no more than 1/64
        weight = 255.0 / np.maximum(probe[..., 3:], 255.0 / 64.0)
        err = np.abs(chord - probe)
        err[..., :3] *= weight
        bad = err.max(axis=(1, 2)) > OKLAB_TOLERANCE
        if not bad.any():
            break
        split = pending[bad]
        mid = 0.5 * (split[:, 0] + split[:, 1])
        done.extend(mid.tolist())
        pending = np.concatenate([np.stack([split[:, 0], mid], 1), np.stack([mid, split[:, 1]], 1)])
    return np.unique(np.array(done))


@functools.lru_cache(maxsize=512)
def stop_table(stops: tuple[Stop, ...], interpolation: Interpolation = "srgb") -> StopTable:
    """Piecewise-linear premultiplied sRGB ramp of ``stops`` for the kernels (cached)."""
    positions: list[float] = []
    colours: list[tuple[float, ...]] = []
    if interpolation == "oklab" and len(stops) > 1:
        positions.append(stops[0].position)
        colours.append(_premultiplied_srgb(stops[0].color))
        for s0, s1 in itertools.pairwise(stops):
            if s1.position == s0.position or s0.color == s1.color:
                positions.append(s1.position)
                colours.append(_premultiplied_srgb(s1.color))
                continue
            u = _oklab_pieces(s0.color, s1.color)[1:]
            curve = _oklab_curve(s0.color, s1.color, u)
            curve[-1] = _premultiplied_srgb(s1.color)  # the stop itself, exactly
            positions.extend(s0.position + (s1.position - s0.position) * u)
            colours.extend(tuple(row) for row in curve)
    else:
        for stop in stops:
            positions.append(stop.position)
            colours.append(_premultiplied_srgb(stop.color))
    pos = np.array(positions, np.float32)
    pos = np.maximum.accumulate(pos)  # float32 rounding must not make positions decrease
    col = np.array(colours, np.float32).reshape(-1, 4)
    k = pos.shape[0]
    starts = (np.arange(SEG_BINS) / SEG_BINS).astype(np.float32)
    below = np.searchsorted(pos, starts, side="right").astype(np.int64) - 1
    seg = np.clip(below, 0, max(k - 2, 0)).astype(np.int32)
    opaque = all(stop.color.a == 255 for stop in stops)
    for array in (pos, col, seg):
        array.setflags(write=False)  # cached and shared between threads
    return StopTable(pos, col, seg, opaque)
