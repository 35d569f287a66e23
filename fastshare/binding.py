"""Data binding: ``{field}`` placeholders in template strings, filled from item data.

Syntax (one clear form, documented in ``docs/templates.md``):

* ``{title}`` — the item's ``title``; nested values with dots: ``{author.name}``.
* ``{title|Untitled}`` — a default used when the field is missing, ``None`` or an empty string.
* ``{price:.2f}`` / ``{count:,}`` — a Python format spec for non-string values (numbers, dates).
  Without a spec, ``True``/``False``/numbers/lists are formatted as text (``3.0`` → ``3``).
* ``{{`` and ``}}`` — literal braces.

A placeholder without a default whose field is missing raises :class:`~fastshare.errors.DataError`
naming the field and the layer that needs it. Compiled patterns are immutable and hashable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastshare.errors import DataError, TemplateError

__all__ = ["Pattern", "Placeholder", "compile_pattern", "field_present", "lookup"]

_FIELD = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*"
_PLACEHOLDER = re.compile(rf"\{{({_FIELD})(?::([^|}}]*))?(?:\|([^}}]*))?\}}")
_MISSING = object()


@dataclass(frozen=True)
class Placeholder:
    """One ``{name:spec|default}`` occurrence."""

    name: str
    spec: str = ""
    default: str | None = None


@dataclass(frozen=True)
class Pattern:
    """A compiled template string: literal text and placeholders, in order."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names this pattern reads, in order of first use."""
        seen: dict[str, None] = {}
        for part in self.parts:
            if isinstance(part, Placeholder):
                seen.setdefault(part.name, None)
        return tuple(seen)

    @property
    def is_static(self) -> bool:
        return not any(isinstance(part, Placeholder) for part in self.parts)

    def render(self, item: Mapping[str, Any], field: str = "text") -> str:
        """Fill the placeholders from ``item``; ``field`` names the template field for errors."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(item, part.name)
            if value is _MISSING or value is None or value == "":
                if part.default is None:
                    msg = f"item data has no value for {part.name!r}, needed by {field}"
                    raise DataError(msg, field=part.name)
                out.append(part.default)
                continue
            out.append(format_value(value, part.spec, part.name))
        return "".join(out)


def compile_pattern(source: str, field: str = "text") -> Pattern:
    """Compile ``source``; unbalanced braces are a :class:`TemplateError` naming ``field``."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch in "{}" and source[i : i + 2] in ("{{", "}}"):
            literal.append(ch)
            i += 2
            continue
        if ch == "}":
            msg = "unmatched '}' (write '}}' for a literal brace)"
            raise TemplateError(msg, field=field, value=source)
        if ch == "{":
            match = _PLACEHOLDER.match(source, i)
            if match is None:
                msg = "bad placeholder: use {field}, {field|default} or {field:spec}"
                raise TemplateError(msg, field=field, value=source)
            if literal:
                parts.append("".join(literal))
                literal = []
            name, spec, default = match.groups()
            parts.append(Placeholder(name, spec or "", default))
            i = match.end()
            continue
        literal.append(ch)
        i += 1
    if literal:
        parts.append("".join(literal))
    return Pattern(source, tuple(parts))


def lookup(item: Mapping[str, Any], name: str) -> Any:
    """``item[name]``, following dots into nested mappings; a sentinel when absent."""
    if name in item:
        return item[name]
    value: Any = item
    for key in name.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def field_present(item: Mapping[str, Any], name: str) -> bool:
    """True when the field exists and is not ``None``, an empty string or an empty list."""
    value = lookup(item, name)
    return not (value is _MISSING or value is None or value == "" or value == [])


def format_value(value: Any, spec: str, name: str) -> str:
    """Format one item value as text, with an optional Python format spec."""
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError) as exc:
            msg = f"cannot format with spec {spec!r}: {exc}"
            raise DataError(msg, field=name, value=value) from None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = "numbers in text must be finite"
            raise DataError(msg, field=name, value=value)
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v, "", name) for v in value)
    if isinstance(value, Mapping):
        msg = "a table cannot be shown as text; name one of its fields with a dot"
        raise DataError(msg, field=name, value=value)
    return str(value)
