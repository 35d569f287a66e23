"""``plan(template, target)``: every layer's box in pixels, resolved once per (template, target).

Placement is CSS absolute positioning in logical px (× the target's scale) or % of the target:
two of ``left``/``right``/``width`` fix the horizontal extent, two of ``top``/``bottom``/``height``
the vertical one. A text layer with a single horizontal offset spans to the opposite edge; with a
single vertical offset it takes its height from its laid-out lines (CSS auto height): ``top`` only
grows down, ``bottom`` only grows up so the last line sits that far above the bottom edge. A layer
``below`` (``above``) another is placed ``top`` (``bottom``) px under (over) that layer's *measured*
box, which is only known per item, so its vertical position is left to :mod:`fastshare.layout`.

Plans are immutable and cached by (template hash, target); they hold no item data.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from fastshare._schema import Length
from fastshare.targets import Target
from fastshare.template import Background, ImageLayer, Layer, Template, TextLayer

__all__ = ["PlannedLayer", "TargetPlan", "plan"]

VerticalMode = Literal["fixed", "down", "up", "below", "above"]


@dataclass(frozen=True)
class PlannedLayer:
    """One layer resolved for one target. Coordinates are frame pixels (floats)."""

    layer: Layer
    x0: float
    x1: float
    #: ``fixed``: the box is [y0, y1]; ``down``: starts at y0, grows down (auto height, y1 is the
    #: frame's bottom edge as the space available); ``up``: ends at y1, grows up (y0 = 0 is the
    #: space available); ``below``/``above``: placed against the ``anchor`` layer's measured box
    #: with ``gap`` px between, its height is ``height`` (or auto for text when None)
    mode: VerticalMode
    y0: float
    y1: float
    anchor: str | None = None
    gap: float = 0.0
    height: float | None = None
    scale: float = 1.0
    #: True when the layer's pixels do not depend on item data (painted into the base frame)
    static: bool = False

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class TargetPlan:
    """A template resolved for one target: background, planned layers and the static prefix."""

    template: Template
    target: Target
    background: Background
    layers: tuple[PlannedLayer, ...]
    #: how many leading layers are static and painted once into the target's base frame
    static_prefix: int
    #: a stable hash of everything in the plan that changes pixels
    key: str

    @property
    def width(self) -> int:
        return self.target.pixel_width

    @property
    def height(self) -> int:
        return self.target.pixel_height


def plan(template: Template, target: Target) -> TargetPlan:
    """Resolve ``template`` for ``target`` (cached per template hash and target)."""
    return _plan_cached(template.config_hash(), target, _TemplateRef(template))


class _TemplateRef:
    """Carries the template into the lru_cache without making it part of the key."""

    __slots__ = ("template",)

    def __init__(self, template: Template) -> None:
        self.template = template

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _TemplateRef)


@functools.lru_cache(maxsize=256)
def _plan_cached(template_key: str, target: Target, ref: _TemplateRef) -> TargetPlan:
    template = ref.template
    layers, background = template.layers_for(target)
    planned = tuple(_plan_layer(layer, target) for layer in layers)
    static_prefix = 0
    if background.image is None or background.image.src is None or background.image.src.is_static:
        for item in planned:
            if not item.static:
                break
            static_prefix += 1
    key = hashlib.sha256(
        json.dumps({"template": template_key, "target": list(target)}, sort_keys=True).encode()
    ).hexdigest()
    return TargetPlan(template, target, background, planned, static_prefix, key)


def _px(length: Length | None, extent: float, scale: float) -> float | None:
    return None if length is None else length.resolve(extent, scale)


def _plan_layer(layer: Layer, target: Target) -> PlannedLayer:
    scale = target.scale
    width, height = float(target.pixel_width), float(target.pixel_height)
    p = layer.placement

    left, right, w = (
        _px(p.left, width, scale),
        _px(p.right, width, scale),
        _px(p.width, width, scale),
    )
    if left is not None and w is not None:
        x0, x1 = left, left + w
    elif right is not None and w is not None:
        x0, x1 = width - right - w, width - right
    elif left is not None and right is not None:
        x0, x1 = left, width - right
    elif left is not None:  # text only (validated): span to the right edge
        x0, x1 = left, width
    else:
        assert right is not None
        x0, x1 = 0.0, width - right
    x1 = max(x0, x1)

    top, bottom, h = (
        _px(p.top, height, scale),
        _px(p.bottom, height, scale),
        _px(p.height, height, scale),
    )
    static = _is_static(layer)
    if p.below is not None or p.above is not None:
        anchor = p.below if p.below is not None else p.above
        gap = (top if p.below is not None else bottom) or 0.0
        mode: VerticalMode = "below" if p.below is not None else "above"
        return PlannedLayer(layer, x0, x1, mode, 0.0, height, anchor, gap, h, scale, False)
    if top is not None and h is not None:
        y0, y1, mode = top, top + h, "fixed"
    elif bottom is not None and h is not None:
        y0, y1, mode = height - bottom - h, height - bottom, "fixed"
    elif top is not None and bottom is not None:
        y0, y1, mode = top, height - bottom, "fixed"
    elif top is not None:  # text only (validated): auto height, the space down to the edge
        y0, y1, mode = top, max(top, height), "down"
    else:  # text only: auto height growing up from the bottom offset
        assert bottom is not None
        y1 = height - bottom
        y0, mode = min(0.0, y1), "up"
    return PlannedLayer(layer, x0, x1, mode, y0, y1, None, 0.0, h, scale, static)


def _is_static(layer: Layer) -> bool:
    if layer.when:
        return False
    if isinstance(layer, TextLayer):
        return layer.text.is_static
    if isinstance(layer, ImageLayer):
        return layer.src is None or layer.src.is_static
    return True
