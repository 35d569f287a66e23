"""The template model: parsing and validating TOML / JSON / Python templates.

A template is plain data (the same schema in TOML, JSON or a Python dict): a ``background`` and an
ordered list of ``layers`` (``rect``, ``ellipse``, ``text``, ``image``), optional ``targets`` and
per-target ``overrides`` by layer id. :func:`load_template` validates everything at once and raises
one :class:`~fastshare.errors.TemplateError` listing every problem with its path
(``layers[2].size``) and value.

A loaded :class:`Template` is immutable and picklable (it keeps its normalised source, not parsed
fonts or images); ``Template.source`` round-trips through JSON. The full reference of keys is in
``docs/templates.md``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastshare._schema import Checker, Length
from fastshare.binding import Pattern, compile_pattern
from fastshare.colors import Color
from fastshare.errors import LimitError, TemplateError
from fastshare.gradients import Gradient, parse_fill
from fastshare.targets import DEFAULT_TARGETS, Target, parse_target

__all__ = [
    "Background",
    "Fill",
    "ImageLayer",
    "Layer",
    "Placement",
    "RectLayer",
    "Shadow",
    "Template",
    "TextLayer",
    "load_template",
]

#: the most layers a template may have
MAX_LAYERS = 64
#: the largest template file read, in bytes
MAX_TEMPLATE_BYTES = 1_000_000
#: the longest literal text a text layer may hold (item text is capped by the text engine)
MAX_TEXT_CHARS = 10_000

Fill = Color | Gradient

_BLACK = Color(0, 0, 0)
_WHITE = Color(255, 255, 255)
FitMode = Literal["cover", "contain", "fill"]


@dataclass(frozen=True)
class Placement:
    """CSS-absolute placement: offsets from the target's edges and sizes, px or %."""

    left: Length | None = None
    right: Length | None = None
    top: Length | None = None
    bottom: Length | None = None
    width: Length | None = None
    height: Length | None = None
    #: place this layer under (``below``) or over (``above``) another layer's measured box; then
    #: ``top`` (or ``bottom``) is the gap from that box instead of from the target's edge
    below: str | None = None
    above: str | None = None


@dataclass(frozen=True)
class Shadow:
    """A drop shadow: colour (with alpha), blur radius and offset, in logical px."""

    color: Color
    blur: float = 0.0
    dx: float = 0.0
    dy: float = 0.0


@dataclass(frozen=True)
class _LayerBase:
    id: str
    index: int
    placement: Placement
    opacity: float
    when: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"layers[{self.index}]"


@dataclass(frozen=True)
class RectLayer(_LayerBase):
    """A rectangle (per-corner radii) or an ellipse, filled and/or stroked."""

    shape: Literal["rect", "ellipse"] = "rect"
    fill: Fill | None = None
    radii: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    stroke: Color | None = None
    stroke_width: float = 0.0
    shadow: Shadow | None = None


@dataclass(frozen=True)
class TextLayer(_LayerBase):
    """Text bound from item data, shaped, wrapped and fitted into its box."""

    text: Pattern = field(default_factory=lambda: compile_pattern(""))
    fonts: tuple[str, ...] = ("Inter",)
    weight: int = 400
    style: Literal["normal", "italic"] = "normal"
    size: float = 32.0
    #: auto-fit range (min, max) in logical px, or None for a fixed size
    fit: tuple[float, float] | None = None
    fill: Fill = _BLACK
    max_lines: int | None = None
    wrap: Literal["greedy", "balance", "none"] = "greedy"
    overflow: Literal["ellipsis", "clip"] = "ellipsis"
    align: Literal["left", "center", "right", "start", "end"] = "start"
    valign: Literal["top", "middle", "bottom"] = "top"
    line_height: float = 1.2
    letter_spacing: float = 0.0
    shadow: Shadow | None = None
    missing_glyphs: Literal["notdef", "skip", "error"] = "notdef"
    features: tuple[tuple[str, bool | int], ...] = ()
    language: str | None = None
    direction: Literal["auto", "ltr", "rtl"] = "auto"


@dataclass(frozen=True)
class ImageLayer(_LayerBase):
    """A raster image from an allowed asset directory (or bytes), fitted into its box."""

    src: Pattern | None = None
    data: bytes | None = None
    fit: FitMode = "cover"
    focal: tuple[float, float] = (0.5, 0.5)
    radii: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


Layer = RectLayer | TextLayer | ImageLayer


@dataclass(frozen=True)
class Background:
    """A solid colour, a gradient or an image covering the whole target."""

    color: Color | None = _WHITE
    gradient: Gradient | None = None
    image: ImageLayer | None = None


@dataclass(frozen=True)
class Template:
    """A validated template. Build with :func:`load_template`."""

    name: str
    background: Background
    layers: tuple[Layer, ...]
    targets: tuple[str, ...]
    #: per-target layer lists with overrides applied, by target name
    overridden: Mapping[str, tuple[tuple[Layer, ...], Background]]
    #: directories image files may come from (absolute)
    asset_dirs: tuple[Path, ...]
    #: extra font files and directories the template asks for (absolute)
    font_paths: tuple[Path, ...]
    #: the normalised source: JSON-serialisable, loads back to an equal template
    source: Mapping[str, Any]
    base_dir: Path | None = None

    def layers_for(self, target: Target) -> tuple[tuple[Layer, ...], Background]:
        """The layers and background for ``target``, with its overrides applied."""
        return self.overridden.get(target.name, (self.layers, self.background))

    def all_layers(self) -> Iterator[Layer]:
        """Every layer of every target variant (base and overrides), background images included."""
        for layers, background in [(self.layers, self.background), *self.overridden.values()]:
            yield from layers
            if background.image is not None:
                yield background.image

    @property
    def fields(self) -> tuple[str, ...]:
        """Every item field the template reads (placeholders and ``when``), in order."""
        seen: dict[str, None] = {}
        for layer in self.all_layers():
            for name in _layer_fields(layer):
                seen.setdefault(name, None)
        return tuple(seen)

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Fields an item must have: placeholders without a default in layers without ``when``."""
        seen: dict[str, None] = {}
        for layer in self.all_layers():
            if layer.when:
                continue
            pattern = layer.text if isinstance(layer, TextLayer) else None
            if isinstance(layer, ImageLayer):
                pattern = layer.src
            for part in pattern.parts if pattern is not None else ():
                if not isinstance(part, str) and part.default is None:
                    seen.setdefault(part.name, None)
        return tuple(seen)

    def config_hash(self) -> str:
        """A stable hash of the template's normalised source (and its base directory)."""
        return self._config_hash

    @functools.cached_property
    def _config_hash(self) -> str:
        blob = json.dumps(
            {"source": _jsonable(self.source), "base": str(self.base_dir or "")},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(_jsonable(self.source), indent=2, ensure_ascii=False)


def _layer_fields(layer: Layer) -> list[str]:
    names = list(layer.when)
    if isinstance(layer, TextLayer):
        names += layer.text.fields
    elif isinstance(layer, ImageLayer) and layer.src is not None:
        names += layer.src.fields
    return names


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": hashlib.sha256(value).hexdigest(), "length": len(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# ======================================================================= loading


def load_template(
    source: str | Path | Mapping[str, Any] | Template,
    *,
    asset_dirs: Sequence[str | Path] = (),
    base_dir: str | Path | None = None,
) -> Template:
    """Load and validate a template from a ``.toml``/``.json`` path, a dict, or a Template.

    ``asset_dirs`` adds directories image files may come from (relative ones resolve against the
    template's directory). Every problem is reported at once in one ``TemplateError``.
    """
    if isinstance(source, Template):
        if not asset_dirs:
            return source
        return parse_template(dict(source.source), base_dir=source.base_dir, asset_dirs=asset_dirs)
    if isinstance(source, Mapping):
        base = Path(base_dir).resolve() if base_dir is not None else None
        return parse_template(source, base_dir=base, asset_dirs=asset_dirs)
    path = Path(source)
    raw = _read_file(path)
    return parse_template(
        raw, base_dir=path.resolve().parent, asset_dirs=asset_dirs, default_name=path.stem
    )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        msg = f"cannot read template file: {exc.strerror or exc}"
        raise TemplateError(msg, field="template", value=str(path)) from None
    if size > MAX_TEMPLATE_BYTES:
        msg = f"template file is {size:,} bytes, above the {MAX_TEMPLATE_BYTES:,} byte limit"
        raise LimitError(msg, field="template", value=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read template file: {exc}"
        raise TemplateError(msg, field="template", value=str(path)) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            msg = "template files must end in .toml or .json"
            raise TemplateError(msg, field="template", value=str(path))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        msg = f"cannot parse {suffix[1:].upper()}: {exc}"
        raise TemplateError(msg, field="template", value=str(path)) from None
    if not isinstance(data, dict):
        msg = "a template must be a table/object at the top level"
        raise TemplateError(msg, field="template", value=str(path))
    return data


_TOP_KEYS = {"name", "background", "layers", "targets", "overrides", "assets", "fonts", "version"}
_PLACEMENT_KEYS = {"left", "right", "top", "bottom", "width", "height", "below", "above"}
_COMMON_KEYS = {"id", "type", "opacity", "when", *_PLACEMENT_KEYS}
_RECT_KEYS = {*_COMMON_KEYS, "fill", "color", "radius", "stroke", "stroke_width", "shadow"}
_TEXT_KEYS = {
    *_COMMON_KEYS,
    "text", "font", "fonts", "weight", "style", "size", "fit", "color", "fill", "max_lines",
    "wrap", "overflow", "align", "valign", "line_height", "letter_spacing", "shadow",
    "missing_glyphs", "features", "language", "direction",
}  # fmt: skip
_IMAGE_KEYS = {*_COMMON_KEYS, "src", "data", "fit", "focal", "radius"}
_LAYER_KEYS = {"rect": _RECT_KEYS, "ellipse": _RECT_KEYS, "text": _TEXT_KEYS, "image": _IMAGE_KEYS}
_BG_TYPES = ("solid", "linear-gradient", "radial-gradient", "conic-gradient", "image")


def parse_template(
    raw: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    asset_dirs: Sequence[str | Path] = (),
    default_name: str = "template",
) -> Template:
    """Validate a template given as plain data; see :func:`load_template`."""
    check = Checker()
    data = copy.deepcopy(dict(raw)) if isinstance(raw, Mapping) else {}
    if not isinstance(raw, Mapping):
        check.add("template", "a template must be a table/object", raw)
        check.raise_if_any()
    check.unknown_keys(data, _TOP_KEYS, "")
    name = check.string(data, "name", "", default_name) or default_name

    background = _parse_background(check, data.get("background", {"color": "#ffffff"}))
    raw_layers = data.get("layers", [])
    if not isinstance(raw_layers, list):
        check.add("layers", "expected an array of layer tables", raw_layers)
        raw_layers = []
    if len(raw_layers) > MAX_LAYERS:
        check.add("layers", f"at most {MAX_LAYERS} layers are allowed", len(raw_layers))
        raw_layers = raw_layers[:MAX_LAYERS]
    layers = _parse_layers(check, raw_layers, "layers")

    targets = _parse_target_names(check, data.get("targets"))
    overridden: dict[str, tuple[tuple[Layer, ...], Background]] = {}
    raw_overrides = check.table(data.get("overrides", {}), "overrides")
    ids = [layer.get("id") if isinstance(layer, Mapping) else None for layer in raw_layers]
    for target_name, changes in raw_overrides.items():
        where = f"overrides.{target_name}"
        check.guarded(where, target_name, functools.partial(parse_target, target_name, where))
        overridden[target_name] = _parse_override(
            check, raw_layers, ids, data.get("background"), changes, where
        )

    assets = _resolve_dirs(check, data.get("assets", []), "assets", base_dir)
    assets += tuple(_resolve_dirs(check, list(asset_dirs), "asset_dirs", base_dir))
    font_paths = _resolve_dirs(check, data.get("fonts", []), "fonts", base_dir, must_be_dir=False)
    check.raise_if_any()
    assert background is not None
    return Template(
        name=name,
        background=background,
        layers=tuple(layers),
        targets=targets,
        overridden=overridden,
        asset_dirs=assets,
        font_paths=font_paths,
        source=data,
        base_dir=base_dir,
    )


def _parse_target_names(check: Checker, value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_TARGETS
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        check.add("targets", "expected a non-empty list of target names", value)
        return DEFAULT_TARGETS
    names: list[str] = []
    for i, item in enumerate(value):
        where = f"targets[{i}]"
        target = check.guarded(where, item, functools.partial(parse_target, item, where))
        if target is not None:
            names.append(target.spec())
    return tuple(dict.fromkeys(names))


def _resolve_dirs(
    check: Checker, value: Any, where: str, base_dir: Path | None, must_be_dir: bool = True
) -> tuple[Path, ...]:
    if isinstance(value, str | Path):
        value = [value]
    if not isinstance(value, list):
        check.add(where, "expected a list of paths", value)
        return ()
    out: list[Path] = []
    for i, item in enumerate(value):
        if not isinstance(item, str | Path):
            check.add(f"{where}[{i}]", "expected a path", item)
            continue
        path = Path(item)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path = path.resolve()
        if must_be_dir and not path.is_dir():
            check.add(f"{where}[{i}]", "directory does not exist", str(item))
            continue
        if not must_be_dir and not path.exists():
            check.add(f"{where}[{i}]", "font file or directory does not exist", str(item))
            continue
        out.append(path)
    return tuple(out)


def _parse_override(
    check: Checker,
    raw_layers: list[Any],
    ids: list[Any],
    raw_background: Any,
    changes: Any,
    where: str,
) -> tuple[tuple[Layer, ...], Background]:
    table = check.table(changes, where)
    merged = [copy.deepcopy(layer) for layer in raw_layers]
    background_raw = copy.deepcopy(raw_background) if raw_background is not None else None
    for layer_id, patch in table.items():
        patch_table = check.table(patch, f"{where}.{layer_id}")
        if layer_id == "background":
            base = background_raw if isinstance(background_raw, Mapping) else {}
            background_raw = {**base, **patch_table}
            continue
        if layer_id not in ids:
            known = ", ".join(str(i) for i in ids if i is not None) or "none"
            check.add(f"{where}.{layer_id}", f"no layer has this id (layer ids: {known})", layer_id)
            continue
        index = ids.index(layer_id)
        if isinstance(merged[index], Mapping):
            merged[index] = {**merged[index], **patch_table}
    layers = _parse_layers(check, merged, "layers", override_path=where)
    background = _parse_background(check, background_raw if background_raw is not None else {})
    return tuple(layers), background or Background()


def _parse_background(check: Checker, value: Any) -> Background | None:
    if isinstance(value, str):
        color = check.color(value, "background")
        return Background(color=color)
    table = check.table(value, "background")
    kind = table.get("type")
    if kind is None:
        kind = "image" if "src" in table or "data" in table else "solid"
        if "stops" in table:
            kind = "linear-gradient"
    if kind not in _BG_TYPES:
        check.add("background.type", f"expected one of {', '.join(_BG_TYPES)}", kind)
        return None
    if kind == "solid":
        check.unknown_keys(table, {"type", "color"}, "background")
        color = check.color(table.get("color", "#ffffff"), "background.color")
        return Background(color=color)
    if kind == "image":
        layer_raw = {k: v for k, v in table.items() if k != "type"}
        check.unknown_keys(layer_raw, {"src", "data", "fit", "focal", "color"}, "background")
        under = check.color(layer_raw.pop("color", "#000000"), "background.color")
        layer_raw.update(id="background", type="image", left=0, top=0, right=0, bottom=0)
        image = _parse_layer(check, layer_raw, 0, "background")
        if not isinstance(image, ImageLayer):
            return None
        return Background(color=under, image=image)
    gradient = check.guarded("background", table, lambda: parse_gradient(table, "background"))
    return Background(color=None, gradient=gradient) if gradient is not None else None


def parse_gradient(value: Mapping[str, Any], field: str) -> Gradient:
    """A gradient table; ``type`` is ``linear-gradient``/``radial-gradient``/``conic-gradient``
    (or the short ``linear``/``radial``/``conic``). Raises a ClientError naming the field."""
    table = dict(value)
    kind = table.get("type", "linear")
    if isinstance(kind, str):
        table["type"] = kind.removesuffix("-gradient")
    fill = parse_fill(table, field)
    if isinstance(fill, Color):  # pragma: no cover - parse_fill returns gradients for tables
        msg = "expected a gradient table"
        raise TemplateError(msg, field=field, value=value)
    return fill


def _parse_layers(
    check: Checker, raw_layers: list[Any], where: str, override_path: str | None = None
) -> list[Layer]:
    layers: list[Layer] = []
    seen_ids: set[str] = set()
    sub = Checker() if override_path else check
    for i, raw in enumerate(raw_layers):
        layer = _parse_layer(sub, raw, i, f"{where}[{i}]")
        if layer is None:
            continue
        if layer.id in seen_ids:
            sub.add(f"{where}[{i}].id", "duplicate layer id", layer.id)
        seen_ids.add(layer.id)
        layers.append(layer)
    # anchors must name an earlier layer
    order = {layer.id: n for n, layer in enumerate(layers)}
    for n, layer in enumerate(layers):
        for key in ("below", "above"):
            ref = getattr(layer.placement, key)
            if ref is None:
                continue
            if ref not in order or order[ref] >= n:
                msg = "must name the id of an earlier layer"
                sub.add(f"{layer.path}.{key}", msg, ref)
    if override_path:
        for problem in sub.problems:
            check.add(f"{override_path} → {problem.field}", problem.message, problem.value)
    return layers


def _parse_layer(check: Checker, raw: Any, index: int, where: str) -> Layer | None:
    table = check.table(raw, where)
    if not table:
        return None
    kind = table.get("type")
    if kind not in _LAYER_KEYS:
        check.add(f"{where}.type", f"expected one of {', '.join(_LAYER_KEYS)}", kind)
        return None
    check.unknown_keys(table, _LAYER_KEYS[kind], where)
    layer_id = table.get("id", f"layer{index}")
    if not isinstance(layer_id, str) or not layer_id:
        check.add(f"{where}.id", "expected a non-empty string", layer_id)
        layer_id = f"layer{index}"
    placement = _parse_placement(check, table, where, kind)
    opacity = check.number(table, "opacity", where, 1.0, minimum=0.0, maximum=1.0) or 0.0
    when = _parse_when(check, table.get("when"), f"{where}.when")
    common = {
        "id": layer_id,
        "index": index,
        "placement": placement,
        "opacity": opacity,
        "when": when,
    }
    if kind in ("rect", "ellipse"):
        return _parse_rect(check, table, where, kind, common)
    if kind == "text":
        return _parse_text(check, table, where, common)
    return _parse_image(check, table, where, common)


def _parse_when(check: Checker, value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        check.add(where, "expected a field name or a list of field names", value)
        return ()
    return tuple(value)


def _parse_placement(check: Checker, table: Mapping[str, Any], where: str, kind: str) -> Placement:
    lengths = {
        key: check.length(table, key, where)
        for key in ("left", "right", "top", "bottom", "width", "height")
    }
    for key in ("width", "height"):
        size = lengths[key]
        if size is not None and size.value < 0:
            check.add(f"{where}.{key}", "sizes cannot be negative", table.get(key))
    below = check.string(table, "below", where)
    above = check.string(table, "above", where)
    if below and above:
        check.add(f"{where}.above", "use either below or above, not both", above)
    placement = Placement(below=below, above=above, **lengths)
    horizontal = [k for k in ("left", "right", "width") if lengths[k] is not None]
    vertical = [k for k in ("top", "bottom", "height") if lengths[k] is not None]
    if len(horizontal) == 3:
        check.add(
            f"{where}.width",
            "over-constrained: give only two of left, right and width",
            table.get("width"),
        )
    if len(vertical) == 3:
        check.add(
            f"{where}.height",
            "over-constrained: give only two of top, bottom and height",
            table.get("height"),
        )
    if lengths["left"] is None and lengths["right"] is None:
        check.add(
            where, "no horizontal offset: give left or right (plus width or the other offset)"
        )
    anchored = bool(below or above)
    if lengths["top"] is None and lengths["bottom"] is None and not anchored:
        check.add(where, "no vertical offset: give top or bottom (or below/above another layer)")
    if below and lengths["bottom"] is not None and lengths["height"] is not None:
        check.add(
            f"{where}.bottom",
            "a layer placed below another takes top (the gap) and height",
            table.get("bottom"),
        )
    if kind != "text":
        if len(horizontal) == 1 and lengths["width"] is None:
            check.add(where, f"a {kind} needs a width or both left and right")
        if (
            len(vertical) == 1
            and lengths["height"] is None
            and not (anchored and lengths["height"])
        ):
            check.add(where, f"a {kind} needs a height or both top and bottom")
        if anchored and lengths["height"] is None:
            check.add(f"{where}.height", f"a {kind} placed below/above another needs a height")
    return placement


def _parse_radii(check: Checker, value: Any, where: str) -> tuple[float, float, float, float]:
    if value is None:
        return (0.0, 0.0, 0.0, 0.0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        r = check.number_value(value, where, 0.0, minimum=0.0) or 0.0
        return (r, r, r, r)
    if isinstance(value, list) and len(value) == 4:
        radii = [
            check.number_value(v, f"{where}[{i}]", 0.0, minimum=0.0) or 0.0
            for i, v in enumerate(value)
        ]
        return (radii[0], radii[1], radii[2], radii[3])
    check.add(
        where,
        "expected a radius in px or 4 radii [top-left, top-right, bottom-right, bottom-left]",
        value,
    )
    return (0.0, 0.0, 0.0, 0.0)


def _parse_fill(check: Checker, value: Any, where: str) -> Fill | None:
    if isinstance(value, Mapping):
        return check.guarded(where, value, lambda: parse_gradient(value, where))
    return check.color(value, where)


def _parse_shadow(check: Checker, value: Any, where: str) -> Shadow | None:
    if value is None:
        return None
    table = check.table(value, where)
    check.unknown_keys(table, {"color", "blur", "dx", "dy", "x", "y"}, where)
    color = check.color(table.get("color", "rgba(0,0,0,0.5)"), f"{where}.color")
    blur = check.number(table, "blur", where, 0.0, minimum=0.0, maximum=500.0) or 0.0
    dx = check.number(table, "dx", where, table.get("x", 0.0)) or 0.0
    dy = check.number(table, "dy", where, table.get("y", 0.0)) or 0.0
    return Shadow(color, blur, dx, dy) if color is not None else None


def _parse_rect(
    check: Checker, table: Mapping[str, Any], where: str, kind: str, common: dict[str, Any]
) -> RectLayer:
    fill_raw = table.get("fill", table.get("color"))
    if "fill" in table and "color" in table:
        check.add(f"{where}.color", "give fill or color, not both", table.get("color"))
    fill = _parse_fill(check, fill_raw, f"{where}.fill") if fill_raw is not None else None
    stroke_raw = table.get("stroke")
    stroke: Color | None = None
    stroke_width = (
        check.number(table, "stroke_width", where, 0.0, minimum=0.0, maximum=1000.0) or 0.0
    )
    if isinstance(stroke_raw, Mapping):
        check.unknown_keys(stroke_raw, {"color", "width"}, f"{where}.stroke")
        stroke = check.color(stroke_raw.get("color", "#000000"), f"{where}.stroke.color")
        stroke_width = (
            check.number(stroke_raw, "width", f"{where}.stroke", 1.0, minimum=0.0, maximum=1000.0)
            or 0.0
        )
    elif stroke_raw is not None:
        stroke = check.color(stroke_raw, f"{where}.stroke")
        if "stroke_width" not in table:
            stroke_width = 1.0
    if fill_raw is None and stroke_raw is None:  # (an invalid one is already reported)
        check.add(where, f"a {kind} needs a fill or a stroke")
    radii = _parse_radii(check, table.get("radius"), f"{where}.radius")
    if kind == "ellipse" and "radius" in table:
        check.add(f"{where}.radius", "an ellipse has no corner radius", table.get("radius"))
    return RectLayer(
        **common,
        shape="ellipse" if kind == "ellipse" else "rect",
        fill=fill,
        radii=radii,
        stroke=stroke,
        stroke_width=stroke_width,
        shadow=_parse_shadow(check, table.get("shadow"), f"{where}.shadow"),
    )


def _parse_fit_range(check: Checker, value: Any, where: str) -> tuple[float, float]:
    """An auto-fit range ``[min, max]`` of font sizes in px."""
    if not isinstance(value, list) or len(value) != 2:
        check.add(where, "a fit range is [min, max] font sizes", value)
        return (16.0, 32.0)

    def size(item: Any, field: str, default: float) -> float:
        number = check.number_value(
            item, field, default, minimum=0.0, maximum=2000.0, exclusive_minimum=True
        )
        return number or default

    low = size(value[0], f"{where}[0]", 16.0)
    high = size(value[1], f"{where}[1]", low)
    if low > high:
        check.add(where, "fit range minimum is above its maximum", value)
    return (low, high)


def _parse_text(
    check: Checker, table: Mapping[str, Any], where: str, common: dict[str, Any]
) -> TextLayer:
    text_raw = table.get("text")
    pattern = compile_pattern("")
    if not isinstance(text_raw, str):
        check.add(
            f"{where}.text", "a text layer needs text (a string, may hold {placeholders})", text_raw
        )
    elif len(text_raw) > MAX_TEXT_CHARS:
        check.add(
            f"{where}.text", f"text is longer than {MAX_TEXT_CHARS} characters", len(text_raw)
        )
    else:
        pattern = (
            check.guarded(
                f"{where}.text", text_raw, lambda: compile_pattern(text_raw, f"{where}.text")
            )
            or pattern
        )
    fonts_raw = table.get("fonts", table.get("font", "Inter"))
    if isinstance(fonts_raw, str):
        fonts_raw = [fonts_raw]
    fonts: tuple[str, ...] = ("Inter",)
    if (
        not isinstance(fonts_raw, list)
        or not fonts_raw
        or not all(isinstance(f, str) and f for f in fonts_raw)
    ):
        check.add(f"{where}.font", "expected a font family or a list of families", fonts_raw)
    else:
        fonts = tuple(fonts_raw)
    weight = check.integer(table, "weight", where, 400, minimum=1, maximum=1000) or 400
    size_raw = table.get("size", 32)
    size = 32.0
    fit: tuple[float, float] | None = None
    if isinstance(size_raw, list):
        fit = _parse_fit_range(check, size_raw, f"{where}.size")
        size = fit[1]
    else:
        size = (
            check.number_value(
                size_raw, f"{where}.size", 32.0, minimum=0.0, maximum=2000.0, exclusive_minimum=True
            )
            or 32.0
        )
    if "fit" in table:
        fit = _parse_fit_range(check, table["fit"], f"{where}.fit")
    fill_raw = table.get("fill", table.get("color", "#000000"))
    if "fill" in table and "color" in table:
        check.add(f"{where}.color", "give fill or color, not both", table.get("color"))
    fill = _parse_fill(
        check, fill_raw, f"{where}.{'fill' if 'fill' in table else 'color'}"
    ) or Color(0, 0, 0)
    features_raw = table.get("features", {})
    features: list[tuple[str, bool | int]] = []
    if isinstance(features_raw, list):
        features_raw = {name: True for name in features_raw if isinstance(name, str)}
    if not isinstance(features_raw, Mapping):
        check.add(
            f"{where}.features",
            "expected a table of OpenType features, e.g. { ss01 = true }",
            features_raw,
        )
    else:
        for tag, on in features_raw.items():
            if not (isinstance(tag, str) and len(tag) == 4 and tag.isascii()):
                check.add(f"{where}.features", "feature tags are 4 ASCII characters", tag)
            elif not isinstance(on, bool | int):
                check.add(f"{where}.features.{tag}", "expected true, false or an integer", on)
            else:
                features.append((tag, on))
    max_lines = check.integer(table, "max_lines", where, None, minimum=1, maximum=100)
    return TextLayer(
        **common,
        text=pattern,
        fonts=fonts,
        weight=weight,
        style=check.choice(table, "style", where, ("normal", "italic"), "normal"),  # type: ignore[arg-type]
        size=size,
        fit=fit,
        fill=fill,
        max_lines=max_lines,
        wrap=check.choice(table, "wrap", where, ("greedy", "balance", "none"), "greedy"),  # type: ignore[arg-type]
        overflow=check.choice(table, "overflow", where, ("ellipsis", "clip"), "ellipsis"),  # type: ignore[arg-type]
        align=check.choice(
            table, "align", where, ("left", "center", "right", "start", "end"), "start"
        ),  # type: ignore[arg-type]
        valign=check.choice(table, "valign", where, ("top", "middle", "bottom"), "top"),  # type: ignore[arg-type]
        line_height=check.number(table, "line_height", where, 1.2, minimum=0.5, maximum=5.0) or 1.2,
        letter_spacing=check.number(
            table, "letter_spacing", where, 0.0, minimum=-100.0, maximum=1000.0
        )
        or 0.0,
        shadow=_parse_shadow(check, table.get("shadow"), f"{where}.shadow"),
        missing_glyphs=check.choice(
            table, "missing_glyphs", where, ("notdef", "skip", "error"), "notdef"
        ),  # type: ignore[arg-type]
        features=tuple(features),
        language=check.string(table, "language", where),
        direction=check.choice(table, "direction", where, ("auto", "ltr", "rtl"), "auto"),  # type: ignore[arg-type]
    )


def _parse_image(
    check: Checker, table: Mapping[str, Any], where: str, common: dict[str, Any]
) -> ImageLayer:
    src_raw = table.get("src")
    data = table.get("data")
    src: Pattern | None = None
    if data is not None and not isinstance(data, bytes | bytearray):
        check.add(f"{where}.data", "image data must be bytes (from Python)", type(data).__name__)
        data = None
    if src_raw is None and data is None:
        check.add(
            f"{where}.src", "an image needs src (a file in an asset directory) or data (bytes)"
        )
    elif src_raw is not None and data is not None:
        check.add(f"{where}.data", "give src or data, not both")
    elif isinstance(src_raw, str):
        lowered = src_raw.strip().lower()
        if "://" in lowered or lowered.startswith("data:"):
            check.add(
                f"{where}.src",
                "images come from asset directories; URLs are never fetched",
                src_raw,
            )
        else:
            src = check.guarded(
                f"{where}.src", src_raw, lambda: compile_pattern(src_raw, f"{where}.src")
            )
    elif src_raw is not None:
        check.add(f"{where}.src", "expected a file name", src_raw)
    focal_raw = table.get("focal", [0.5, 0.5])
    focal = (0.5, 0.5)
    if isinstance(focal_raw, list) and len(focal_raw) == 2:
        fx = check.number_value(focal_raw[0], f"{where}.focal[0]", 0.5, minimum=0.0, maximum=1.0)
        fy = check.number_value(focal_raw[1], f"{where}.focal[1]", 0.5, minimum=0.0, maximum=1.0)
        focal = (fx if fx is not None else 0.5, fy if fy is not None else 0.5)
    else:
        check.add(f"{where}.focal", "expected [x, y] fractions of the image, 0-1", focal_raw)
    return ImageLayer(
        **common,
        src=src,
        data=bytes(data) if data is not None else None,
        fit=check.choice(table, "fit", where, ("cover", "contain", "fill"), "cover"),  # type: ignore[arg-type]
        focal=focal,
        radii=_parse_radii(check, table.get("radius"), f"{where}.radius"),
    )
