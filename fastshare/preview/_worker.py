"""What the render pool runs for the playground's box outlines: layout only, no paint.

:func:`layout_boxes` runs in a pool worker with the worker's warm renderer
(:func:`fastshare.service.worker.worker_renderer`): for each target it plans the template, lays
the item out and returns every layer's box in frame pixels as plain data (it pickles back to the
server). A layer placed at fixed offsets reports its planned box; a text layer with auto height
and a layer placed ``below``/``above`` another report the box measured for this item (only
known after layout). Text layers also report their measured text box.

Imported by the workers by name; imports nothing from the web stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastshare.errors import ClientError
from fastshare.service.worker import worker_renderer
from fastshare.targets import Target
from fastshare.template import ImageLayer, RectLayer, Template, TextLayer

__all__ = ["layout_boxes"]


def _kind(layer: Any) -> str:
    if isinstance(layer, RectLayer):
        return layer.shape
    if isinstance(layer, TextLayer):
        return "text"
    if isinstance(layer, ImageLayer):
        return "image"
    return type(layer).__name__.lower()


def _rounded(box: Sequence[float]) -> list[float]:
    return [round(float(v), 1) for v in box]


def layout_boxes(
    template: Template, item: Mapping[str, Any], targets: Sequence[Target]
) -> dict[str, Any]:
    """Per target spec: ``{"width", "height", "layers": [...]}`` or ``{"error": {...}}``."""
    renderer = worker_renderer()
    out: dict[str, Any] = {}
    for target in targets:
        spec = target.spec()
        try:
            target_plan = renderer.plan(template, target)
            display_list = renderer.layout(target_plan, item)
        except ClientError as exc:
            out[spec] = {"error": exc.to_dict()}
            continue
        dropped = set(display_list.dropped)
        layers = []
        for planned in target_plan.layers:
            layer = planned.layer
            measured = display_list.boxes.get(layer.id)
            box = planned.box if planned.mode == "fixed" or measured is None else measured
            if planned.mode != "fixed" and measured is not None and isinstance(layer, TextLayer):
                # auto height: the box spans the planned width and the measured lines
                box = (planned.x0, measured[1], planned.x1, measured[3])
            layers.append(
                {
                    "id": layer.id,
                    "type": _kind(layer),
                    "mode": planned.mode,
                    "box": _rounded(box),
                    "text_box": (
                        _rounded(measured)
                        if isinstance(layer, TextLayer) and measured is not None
                        else None
                    ),
                    "dropped": layer.id in dropped,
                }
            )
        out[spec] = {
            "width": target_plan.width,
            "height": target_plan.height,
            "layers": layers,
        }
    return out
