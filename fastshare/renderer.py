"""Rendering a template: ``layout(plan, item)`` → :class:`DisplayList` → ``paint`` → frame.

* :func:`~fastshare.plan.plan` resolved every box once per (template, target).
* :meth:`Renderer.layout` binds item data, drops layers whose ``when`` fields are missing, shapes
  and fits text, resolves layers placed ``below``/``above`` others from their *measured* boxes,
  and decodes/fits images (cached). The result is a flat display list of draw ops.
* :meth:`Renderer.paint` runs the kernels. Layers that do not depend on item data (the background
  and the leading static layers) are painted once per target into a read-only **base frame**,
  copied per item.

Frames are H×W×3 ``uint8`` C-contiguous, owned by the caller once returned. A :class:`Renderer`
is thread safe: its caches are guarded, fonts are per thread inside the text engine, and kernels
release the GIL, so a web app may call :func:`render` from many threads.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from fastshare import paint as _paint
from fastshare.binding import field_present
from fastshare.colors import Color
from fastshare.errors import DataError, MissingGlyphError, TemplateError
from fastshare.gradients import RadialGradient
from fastshare.images import ImageCache, resolve_asset
from fastshare.planner import PlannedLayer, TargetPlan, plan
from fastshare.targets import Target, parse_target
from fastshare.template import (
    Fill,
    ImageLayer,
    RectLayer,
    Shadow,
    Template,
    TextLayer,
    load_template,
)
from fastshare.text import FontRegistry, TextLayout, TextStyle, draw_text, layout_text
from fastshare.text import Shadow as TextShadow

__all__ = [
    "DisplayList",
    "ImageOp",
    "RectOp",
    "RenderResult",
    "Renderer",
    "TemplateGenerator",
    "TextOp",
    "default_renderer",
    "render",
    "render_image",
]

MissingPolicy = Literal["notdef", "skip", "error"]
Box = tuple[float, float, float, float]


# ======================================================================= display list


@dataclass(frozen=True)
class RectOp:
    """A rectangle (rounded) or ellipse with fill, stroke, opacity and optional blurred shadow."""

    layer_id: str
    box: Box
    shape: Literal["rect", "ellipse"]
    fill: Fill | None
    radii: tuple[float, float, float, float]
    stroke: Color | None
    stroke_width: float
    opacity: float
    shadow: Shadow | None  # already scaled to pixels


@dataclass(frozen=True)
class ImageOp:
    """Premultiplied RGBA pixels blitted at an integer position."""

    layer_id: str
    pixels: np.ndarray
    x: int
    y: int
    opacity: float


@dataclass(frozen=True)
class TextOp:
    """A laid-out text block drawn with its box's top-left at (x, y)."""

    layer_id: str
    layout: TextLayout
    x: float
    y: float
    fill: Fill
    opacity: float
    shadow: TextShadow | None


Op = RectOp | ImageOp | TextOp


@dataclass(frozen=True)
class DisplayList:
    """Everything needed to paint one item at one target, in paint order.

    ``ops[:base_ops]`` are static (identical for every item) and live in the base frame.
    ``boxes`` maps each drawn layer id to its measured box in frame pixels.
    """

    plan: TargetPlan
    ops: tuple[Op, ...]
    base_ops: int
    background_static: bool
    boxes: Mapping[str, Box]
    dropped: tuple[str, ...]
    missing_glyphs: int
    missing_chars: tuple[str, ...]


@dataclass(frozen=True)
class RenderResult:
    """A rendered frame with what happened on the way."""

    frame: np.ndarray
    display_list: DisplayList
    timings: Mapping[str, float]

    @property
    def missing_glyphs(self) -> int:
        return self.display_list.missing_glyphs


# ======================================================================= renderer


class Renderer:
    """Renders templates; owns the font registry, image cache, loaded templates and base frames.

    ``blend`` is how text is composited: ``"linear"`` (linear light, default) or ``"srgb"``
    (naive, for pixel parity with browsers and Pillow).
    """

    def __init__(
        self,
        *,
        registry: FontRegistry | None = None,
        image_cache: ImageCache | None = None,
        blend: Literal["linear", "srgb"] = "linear",
        base_cache_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self._registry = registry
        self.images = image_cache if image_cache is not None else ImageCache()
        self.blend = blend
        self._lock = threading.Lock()
        self._templates: dict[tuple[str, int, int], Template] = {}
        self._bases: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._base_bytes = 0
        self._base_budget = base_cache_bytes
        self._fonts_added: set[Path] = set()

    # ------------------------------------------------------------------ resources

    @property
    def registry(self) -> FontRegistry:
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    self._registry = FontRegistry()
        return self._registry

    def template(self, source: str | Path | Mapping[str, Any] | Template) -> Template:
        """Load (and cache, by path and modification time) a template; add its fonts."""
        if isinstance(source, Template):
            template = source
        elif isinstance(source, str | Path):
            path = Path(source)
            try:
                stat = path.stat()
            except OSError as exc:
                msg = f"cannot read template file: {exc.strerror or exc}"
                raise TemplateError(msg, field="template", value=str(path)) from None
            key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
            with self._lock:
                cached = self._templates.get(key)
            if cached is None:
                cached = load_template(path)
                with self._lock:
                    self._templates[key] = cached
            template = cached
        else:
            template = load_template(source)
        for font_path in template.font_paths:
            if font_path not in self._fonts_added:
                self.registry.add(font_path)
                self._fonts_added.add(font_path)
        return template

    def plan(
        self, template: str | Path | Mapping[str, Any] | Template, target: Target | str
    ) -> TargetPlan:
        return plan(self.template(template), parse_target(target))

    # ------------------------------------------------------------------ layout

    def layout(
        self,
        target_plan: TargetPlan,
        item: Mapping[str, Any],
        *,
        missing_glyphs: MissingPolicy | None = None,
    ) -> DisplayList:
        """Bind ``item`` to the plan: text shaped and fitted, images fitted, anchors resolved."""
        if not isinstance(item, Mapping):
            msg = "item data must be a mapping of field names to values"
            raise DataError(msg, field="item", value=type(item).__name__)
        frame_h = float(target_plan.height)
        boxes: dict[str, Box] = {}
        ops: list[Op] = []
        dropped: list[str] = []
        missing = 0
        missing_chars: list[str] = []
        base_ops = 0
        counting_base = True
        for index, planned in enumerate(target_plan.layers):
            layer = planned.layer
            if index == target_plan.static_prefix:
                counting_base = False
            if layer.when and not all(field_present(item, name) for name in layer.when):
                dropped.append(layer.id)
                boxes[layer.id] = (planned.x0, planned.y0, planned.x1, planned.y0)
                continue
            op, box = self._layout_layer(target_plan, planned, item, boxes, frame_h, missing_glyphs)
            boxes[layer.id] = box
            if op is None:
                continue
            if isinstance(op, TextOp):
                missing += op.layout.missing
                missing_chars.extend(op.layout.missing_chars)
            ops.append(op)
            if counting_base:
                base_ops += 1
        background = target_plan.background
        background_static = (
            background.image is None
            or background.image.src is None
            or background.image.src.is_static
        )
        return DisplayList(
            target_plan,
            tuple(ops),
            base_ops if background_static else 0,
            background_static,
            boxes,
            tuple(dropped),
            missing,
            tuple(dict.fromkeys(missing_chars)),
        )

    def _vertical(
        self, planned: PlannedLayer, boxes: Mapping[str, Box], frame_h: float
    ) -> tuple[float, float, str]:
        """(y0, y1, mode) with anchors resolved; mode is fixed, down or up."""
        if planned.mode in ("fixed", "down", "up"):
            return planned.y0, planned.y1, planned.mode
        assert planned.anchor is not None
        anchor = boxes[planned.anchor]
        if planned.mode == "below":
            y0 = anchor[3] + planned.gap
            if planned.height is not None:
                return y0, y0 + planned.height, "fixed"
            return y0, max(y0, frame_h), "down"
        y1 = anchor[1] - planned.gap
        if planned.height is not None:
            return y1 - planned.height, y1, "fixed"
        return 0.0, max(0.0, y1), "up"

    def _layout_layer(
        self,
        target_plan: TargetPlan,
        planned: PlannedLayer,
        item: Mapping[str, Any],
        boxes: Mapping[str, Box],
        frame_h: float,
        missing_glyphs: MissingPolicy | None,
    ) -> tuple[Op | None, Box]:
        layer = planned.layer
        y0, y1, mode = self._vertical(planned, boxes, frame_h)
        x0, x1 = planned.x0, planned.x1
        scale = planned.scale
        if isinstance(layer, RectLayer):
            box = (x0, y0, x1, y1)
            op = RectOp(
                layer.id,
                box,
                layer.shape,
                _scaled_fill(layer.fill, scale),
                tuple(r * scale for r in layer.radii),  # type: ignore[arg-type]
                layer.stroke,
                layer.stroke_width * scale,
                layer.opacity,
                _scaled_shadow(layer.shadow, scale),
            )
            return op, box
        if isinstance(layer, ImageLayer):
            image_op = self._image_op(target_plan.template, layer, item, (x0, y0, x1, y1), scale)
            return image_op, (x0, y0, x1, y1)
        assert isinstance(layer, TextLayer)
        text = layer.text.render(item, f"{layer.path}.text")
        style = _text_style(
            layer, scale, "top" if mode != "fixed" else layer.valign, missing_glyphs
        )
        box_w = max(0.0, x1 - x0)
        box_h = max(0.0, y1 - y0)
        try:
            laid = layout_text(self.registry, text, style, box_w, box_h, field=f"{layer.path}.text")
        except MissingGlyphError as exc:
            raise MissingGlyphError(
                f"{layer.path}: no font covers these characters",
                field=f"{layer.path}.text",
                chars=exc.chars,
            ) from None
        top = y0 if mode != "up" else y1 - laid.height
        bx0, by0, bx1, by1 = laid.bounds()
        measured = (x0 + bx0, top + by0, x0 + bx1, top + by1)
        shadow = None
        if layer.shadow is not None:
            s = layer.shadow
            shadow = TextShadow(s.color, s.dx * scale, s.dy * scale, s.blur * scale)
        text_op = TextOp(
            layer.id,
            laid,
            x0,
            top,
            _scaled_fill(layer.fill, scale) or Color(0, 0, 0),
            layer.opacity,
            shadow,
        )
        return text_op, measured

    def _image_op(
        self,
        template: Template,
        layer: ImageLayer,
        item: Mapping[str, Any],
        box: Box,
        scale: float,
    ) -> ImageOp | None:
        x0, y0, x1, y1 = box
        ix0, iy0 = round(x0), round(y0)
        width, height = max(0, round(x1) - ix0), max(0, round(y1) - iy0)
        if width == 0 or height == 0:
            return None
        field = f"{layer.path}.src"
        source: Path | bytes
        if layer.data is not None:
            source = layer.data
        else:
            assert layer.src is not None
            name = layer.src.render(item, field)
            source = resolve_asset(name, template.asset_dirs, field)
        radii = tuple(r * scale for r in layer.radii)
        fitted = self.images.get(source, width, height, layer.fit, layer.focal, field, radii)  # type: ignore[arg-type]
        return ImageOp(layer.id, fitted.pixels, ix0 + fitted.dx, iy0 + fitted.dy, layer.opacity)

    # ------------------------------------------------------------------ paint

    def base_frame(self, display_list: DisplayList) -> np.ndarray:
        """The read-only frame with the background and the static layers painted (cached)."""
        target_plan = display_list.plan
        key = (target_plan.key, target_plan.template.config_hash(), str(display_list.base_ops))
        with self._lock:
            found = self._bases.get(key)
            if found is not None:
                self._bases.move_to_end(key)
                return found
        frame = np.empty(target_plan.target.shape, dtype=np.uint8)
        self._paint_background(frame, target_plan, {})
        for op in display_list.ops[: display_list.base_ops]:
            self._paint_op(frame, op)
        frame.setflags(write=False)
        with self._lock:
            if frame.nbytes <= self._base_budget:
                self._bases[key] = frame
                self._base_bytes += frame.nbytes
                while self._base_bytes > self._base_budget:
                    _, evicted = self._bases.popitem(last=False)
                    self._base_bytes -= evicted.nbytes
        return frame

    def paint(
        self,
        display_list: DisplayList,
        frame: np.ndarray | None = None,
        item: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """Paint ``display_list`` into ``frame`` (allocated when None) and return it."""
        target_plan = display_list.plan
        if frame is None:
            frame = np.empty(target_plan.target.shape, dtype=np.uint8)
        elif frame.shape != target_plan.target.shape or frame.dtype != np.uint8:
            msg = f"frame must be {target_plan.target.shape} uint8"
            raise DataError(msg, field="frame", value=f"{frame.dtype} {frame.shape}")
        if display_list.background_static:
            np.copyto(frame, self.base_frame(display_list))
            start = display_list.base_ops
        else:
            self._paint_background(frame, target_plan, item or {})
            start = 0
        for op in display_list.ops[start:]:
            self._paint_op(frame, op)
        return frame

    def _paint_background(
        self, frame: np.ndarray, target_plan: TargetPlan, item: Mapping[str, Any]
    ) -> None:
        background = target_plan.background
        h, w = frame.shape[0], frame.shape[1]
        box = (0.0, 0.0, float(w), float(h))
        if background.gradient is not None:
            gradient = _scaled_fill(background.gradient, target_plan.target.scale)
            assert gradient is not None
            _paint.fill_rect(frame, box, gradient)
            return
        color = background.color or Color(255, 255, 255)
        frame[...] = color[:3]
        if background.image is not None:
            op = self._image_op(
                target_plan.template, background.image, item, box, target_plan.target.scale
            )
            if op is not None:
                _paint.blit_rgba(frame, op.pixels, op.x, op.y, opacity=op.opacity)

    def _paint_op(self, frame: np.ndarray, op: Op) -> None:
        if isinstance(op, TextOp):
            draw_text(
                frame,
                op.layout,
                op.x,
                op.y,
                op.fill,
                opacity=op.opacity,
                blend=self.blend,
                shadow=op.shadow,
            )
        elif isinstance(op, RectOp):
            _paint_rect(frame, op)
        else:
            _paint.blit_rgba(frame, op.pixels, op.x, op.y, opacity=op.opacity)

    # ------------------------------------------------------------------ one call

    def render_result(
        self,
        template: str | Path | Mapping[str, Any] | Template,
        item: Mapping[str, Any] | None = None,
        target: Target | str = "og",
        *,
        missing_glyphs: MissingPolicy | None = None,
    ) -> RenderResult:
        started = time.perf_counter()
        target_plan = self.plan(template, target)
        planned = time.perf_counter()
        display_list = self.layout(target_plan, item or {}, missing_glyphs=missing_glyphs)
        laid = time.perf_counter()
        frame = self.paint(display_list, None, item or {})
        painted = time.perf_counter()
        timings = {"plan": planned - started, "layout": laid - planned, "paint": painted - laid}
        return RenderResult(frame, display_list, timings)

    def render(
        self,
        template: str | Path | Mapping[str, Any] | Template,
        item: Mapping[str, Any] | None = None,
        target: Target | str = "og",
        *,
        missing_glyphs: MissingPolicy | None = None,
    ) -> np.ndarray:
        """Render one item at one target: an H×W×3 uint8 array."""
        return self.render_result(template, item, target, missing_glyphs=missing_glyphs).frame


# ======================================================================= helpers


def _scaled_fill(fill: Fill | None, scale: float) -> Fill | None:
    if isinstance(fill, RadialGradient) and scale != 1.0 and fill.rx is not None:
        return dataclasses.replace(
            fill, rx=fill.rx * scale, ry=None if fill.ry is None else fill.ry * scale
        )
    return fill


def _scaled_shadow(shadow: Shadow | None, scale: float) -> Shadow | None:
    if shadow is None or scale == 1.0:
        return shadow
    return Shadow(shadow.color, shadow.blur * scale, shadow.dx * scale, shadow.dy * scale)


#: (id(layer), scale, valign, policy) → (layer, style); the layer is kept so its id stays valid
_STYLE_CACHE: dict[tuple[Any, ...], tuple[TextLayer, TextStyle]] = {}
_STYLE_LOCK = threading.Lock()


def _text_style(
    layer: TextLayer, scale: float, valign: str, missing: MissingPolicy | None
) -> TextStyle:
    key = (id(layer), scale, valign, missing)
    entry = _STYLE_CACHE.get(key)
    if entry is not None and entry[0] is layer:
        return entry[1]
    size = layer.size * scale
    size_range = None if layer.fit is None else (layer.fit[0] * scale, layer.fit[1] * scale)
    reference = size_range[1] if size_range else size
    style = TextStyle(
        fonts=layer.fonts,
        weight=layer.weight,
        italic=layer.style == "italic",
        size=size if size_range is None else size_range[1],
        size_range=size_range,
        line_height=layer.line_height,
        letter_spacing=layer.letter_spacing * scale / reference if reference else 0.0,
        max_lines=layer.max_lines,
        wrap=layer.wrap,
        overflow=layer.overflow,
        align=layer.align,
        valign=valign,  # type: ignore[arg-type]
        direction=layer.direction,
        features=dict(layer.features),
        language=layer.language,
        missing_glyphs=missing or layer.missing_glyphs,
    )
    with _STYLE_LOCK:
        if len(_STYLE_CACHE) > 4096:
            _STYLE_CACHE.clear()
        _STYLE_CACHE[key] = (layer, style)
    return style


def _paint_rect(frame: np.ndarray, op: RectOp) -> None:
    x0, y0, x1, y1 = op.box
    if x1 <= x0 or y1 <= y0:
        return
    if op.shadow is not None and op.shadow.color.a > 0:
        s = op.shadow
        w, h = max(1, round(x1 - x0)), max(1, round(y1 - y0))
        mask = (
            _paint.ellipse_mask(w, h)
            if op.shape == "ellipse"
            else _paint.rounded_rect_mask(w, h, op.radii)
        )
        pad = 0
        if s.blur > 0:
            pad = _paint.blur_padding(s.blur)
            mask = _paint.blur_mask(mask, s.blur)
        _paint.composite_mask(
            frame, mask, round(x0 + s.dx) - pad, round(y0 + s.dy) - pad, s.color,
            opacity=op.opacity, blend="srgb",
        )  # fmt: skip
    stroke = op.stroke if op.stroke_width > 0 else None
    if op.shape == "ellipse":
        _paint.draw_ellipse(
            frame, op.box, op.fill, stroke=stroke, stroke_width=op.stroke_width, opacity=op.opacity
        )
    elif stroke is None and not any(op.radii) and op.fill is not None:
        _paint.fill_rect(frame, op.box, op.fill, opacity=op.opacity)
    else:
        _paint.draw_rounded_rect(
            frame,
            op.box,
            op.fill,
            radii=op.radii,
            stroke=stroke,
            stroke_width=op.stroke_width,
            opacity=op.opacity,
        )


# ======================================================================= generator


class TemplateGenerator:
    """One template and one item as a :class:`~fastshare.pipeline.ShareImageGenerator`.

    ``run_pipeline(TemplateGenerator(template, item), targets, sink)`` renders the item at every
    target in the pool's workers. The object pickles as the template (its normalised source) and
    the item; each worker renders with its process-wide :func:`default_renderer`. The
    configuration (hashed for dedup) is the same identity the backfill and the service use: the
    template's configuration hash, the item fields it reads, the font files' hashes, the asset
    files the item's images resolve to, and the render version.
    """

    def __init__(
        self,
        template: str | Path | Mapping[str, Any] | Template,
        item: Mapping[str, Any],
        *,
        missing_glyphs: MissingPolicy | None = None,
    ) -> None:
        self.template = template if isinstance(template, Template) else load_template(template)
        self.item = dict(item)
        self.missing_glyphs = missing_glyphs

    def get_configuration(self) -> dict[str, Any]:
        from fastshare.identity import RENDER_VERSION, asset_digests, font_digest, item_fields

        assets: dict[str, Any] = {}
        for name in self.template.targets:
            target = parse_target(name)
            assets[target.name] = asset_digests(self.template, self.item, target)
        return {
            "template": self.template.config_hash(),
            "name": self.template.name,
            "data": item_fields(self.template, self.item),
            "fonts": font_digest(self.template.font_paths),
            "assets": assets,
            "render": RENDER_VERSION,
            "missing_glyphs": self.missing_glyphs,
        }

    def generate(
        self, width: int, height: int, exit_requested: Any = None, target: Target | None = None
    ) -> np.ndarray:
        if target is None:
            target = Target(f"{width}x{height}", width, height)
        return default_renderer().render(
            self.template, self.item, target, missing_glyphs=self.missing_glyphs
        )


# ======================================================================= module API

_DEFAULT: Renderer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_renderer() -> Renderer:
    """The process-wide renderer behind :func:`render` (created on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = Renderer()
    return _DEFAULT


def render(
    template: str | Path | Mapping[str, Any] | Template,
    item: Mapping[str, Any] | None = None,
    target: Target | str = "og",
    *,
    missing_glyphs: MissingPolicy | None = None,
) -> np.ndarray:
    """Render ``item`` with ``template`` at ``target``: an H×W×3 uint8 array.

    ``template`` is a path (.toml/.json), a dict or a loaded :class:`Template`; ``target`` a
    preset name (``og``, ``story``…), ``WxH``, ``og@2x`` or a :class:`Target`.
    ``missing_glyphs="error"`` overrides every layer's policy and raises
    :class:`~fastshare.errors.MissingGlyphError` naming uncovered characters.
    """
    return default_renderer().render(template, item, target, missing_glyphs=missing_glyphs)


def render_image(
    template: str | Path | Mapping[str, Any] | Template,
    item: Mapping[str, Any] | None = None,
    target: Target | str = "og",
    *,
    missing_glyphs: MissingPolicy | None = None,
) -> Image.Image:
    """:func:`render`, converted with ``Image.fromarray`` (an RGB PIL image)."""
    return Image.fromarray(render(template, item, target, missing_glyphs=missing_glyphs), "RGB")
