"""Output targets: named presets (``og``, ``square``, ``story``, ...), custom ``WxH`` and scale.

A :class:`Target` has a *logical* size (the size templates are written against: ``left = 48`` means
48 logical px) and a ``scale`` factor; the frame it renders is ``pixel_width × pixel_height``
= the logical size × scale, rounded. Scale multiplies every px length of a template (offsets,
sizes, radii, blurs, font sizes); ``%`` lengths are fractions of the target and need no scaling.

Targets are immutable, hashable and picklable. The pixel count is capped (:data:`MAX_PIXELS`,
16 MP by default) before anything is allocated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from fastshare.errors import LimitError, ValueRangeError

__all__ = [
    "DEFAULT_TARGETS",
    "MAX_PIXELS",
    "TARGETS",
    "Target",
    "parse_target",
    "parse_targets",
]

#: the largest frame fastshare allocates, in pixels (width × height after scale)
MAX_PIXELS = 16_000_000
_MAX_SIDE = 16_384
_MAX_SCALE = 8.0


class Target(NamedTuple):
    """An output size: ``name``, logical ``width`` × ``height`` and a ``scale`` factor."""

    name: str
    width: int
    height: int
    scale: float = 1.0

    @property
    def pixel_width(self) -> int:
        return max(1, round(self.width * self.scale))

    @property
    def pixel_height(self) -> int:
        return max(1, round(self.height * self.scale))

    @property
    def size(self) -> tuple[int, int]:
        """The frame size in pixels, ``(width, height)``."""
        return self.pixel_width, self.pixel_height

    @property
    def shape(self) -> tuple[int, int, int]:
        """The numpy shape of this target's frame, ``(height, width, 3)``."""
        return self.pixel_height, self.pixel_width, 3

    def scaled(self, scale: float) -> Target:
        """The same target at another scale factor (``og`` at 2 renders 2400×1260)."""
        return make_target(self.name, self.width, self.height, scale)

    def spec(self) -> str:
        """A string :func:`parse_target` turns back into this target."""
        preset = TARGETS.get(self.name)
        same = preset is not None and (preset.width, preset.height) == (self.width, self.height)
        base = self.name if same else f"{self.width}x{self.height}"
        return base if self.scale == 1.0 else f"{base}@{self.scale:g}x"

    def __str__(self) -> str:
        text = f"{self.name} {self.width}×{self.height}"
        return text if self.scale == 1.0 else f"{text} @{self.scale:g}x"


def make_target(
    name: str, width: int, height: int, scale: float = 1.0, field: str = "target"
) -> Target:
    """Build a target, checking sizes, scale and the pixel cap before anything is allocated."""
    for label, side in (("width", width), ("height", height)):
        if isinstance(side, bool) or not isinstance(side, int):
            msg = f"target {label} must be an integer number of pixels"
            raise ValueRangeError(msg, field=f"{field}.{label}", value=side)
        if not 1 <= side <= _MAX_SIDE:
            msg = f"target {label} must be between 1 and {_MAX_SIDE} px"
            raise ValueRangeError(msg, field=f"{field}.{label}", value=side)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        msg = "scale must be a finite number"
        raise ValueRangeError(msg, field=f"{field}.scale", value=scale)
    if not 0 < scale <= _MAX_SCALE:
        msg = f"scale must be in (0, {_MAX_SCALE:g}]"
        raise ValueRangeError(msg, field=f"{field}.scale", value=scale)
    target = Target(name, width, height, float(scale))
    pixels = target.pixel_width * target.pixel_height
    if pixels > MAX_PIXELS:
        msg = (
            f"{target.pixel_width}×{target.pixel_height} = {pixels:,} pixels is above the "
            f"cap of {MAX_PIXELS:,}"
        )
        raise LimitError(msg, field=field, value=f"{width}x{height}@{scale:g}x")
    return target


def _presets(table: Iterable[tuple[str, int, int]]) -> dict[str, Target]:
    return {name: Target(name, w, h) for name, w, h in table}


#: the named presets, in the order ``fastshare targets`` lists them
TARGETS: Mapping[str, Target] = _presets(
    [
        ("og", 1200, 630),
        ("x", 1200, 675),
        ("linkedin", 1200, 627),
        ("facebook", 1200, 630),
        ("square", 1080, 1080),
        ("story", 1080, 1920),
        ("pinterest", 1000, 1500),
        ("github", 1280, 640),
        ("whatsapp", 800, 800),
    ]
)

#: the targets of a template that does not list its own
DEFAULT_TARGETS: tuple[str, ...] = ("og", "x", "square", "story")

_CUSTOM = re.compile(r"(\d+)\s*[x×]\s*(\d+)")
_SCALE = re.compile(r"(.*?)\s*@\s*(\d+(?:\.\d+)?)x?")


def parse_target(value: Any, field: str = "target") -> Target:
    """Turn ``"og"``, ``"1200x630"``, ``"og@2x"``, ``"800x800@1.5x"`` or a Target into a Target."""
    if isinstance(value, Target):
        return make_target(value.name, value.width, value.height, value.scale, field)
    if not isinstance(value, str):
        msg = "a target is a preset name or WxH"
        raise ValueRangeError(msg, field=field, value=value)
    text = value.strip().lower()
    scale = 1.0
    scaled = _SCALE.fullmatch(text)
    if scaled:
        text, scale = scaled.group(1), float(scaled.group(2))
    preset = TARGETS.get(text)
    if preset is not None:
        return make_target(preset.name, preset.width, preset.height, scale, field)
    custom = _CUSTOM.fullmatch(text)
    if custom is None:
        known = ", ".join(TARGETS)
        msg = f"unknown target; use one of {known} or a custom size like 1200x630"
        raise ValueRangeError(msg, field=field, value=value)
    width, height = int(custom.group(1)), int(custom.group(2))
    return make_target(f"{width}x{height}", width, height, scale, field)


def parse_targets(value: Any, field: str = "targets") -> tuple[Target, ...]:
    """A comma-separated string or a sequence of target specs → targets (duplicates dropped)."""
    items: list[Any]
    if isinstance(value, str):
        items = [part for part in (p.strip() for p in value.split(",")) if part]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        msg = "targets must be a list of target names or a comma-separated string"
        raise ValueRangeError(msg, field=field, value=value)
    if not items:
        msg = "at least one target is needed"
        raise ValueRangeError(msg, field=field, value=value)
    out: dict[Target, None] = {}
    for i, item in enumerate(items):
        out[parse_target(item, f"{field}[{i}]")] = None
    return tuple(out)
