"""Validation helpers for the template schema: a problem collector and typed field readers.

Template validation never stops at the first problem: every reader records what is wrong in a
:class:`Checker` (with the field path, e.g. ``layers[2].size``, and the bad value) and returns a
safe fallback, and :meth:`Checker.raise_if_any` raises one :class:`TemplateError` listing them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fastshare.colors import Color, parse_color
from fastshare.errors import ClientError, Problem, TemplateError

__all__ = ["Checker", "Length"]

T = TypeVar("T")


class Length:
    """A length in logical px, or a percentage of the target's width or height."""

    __slots__ = ("percent", "value")

    def __init__(self, value: float, percent: bool = False) -> None:
        self.value = float(value)
        self.percent = percent

    def resolve(self, extent: float, scale: float) -> float:
        """Pixels: ``value% × extent`` for a percentage, else ``value × scale``."""
        return self.value * extent / 100.0 if self.percent else self.value * scale

    def to_json(self) -> float | str:
        if self.percent:
            return f"{self.value:g}%"
        return int(self.value) if self.value.is_integer() else self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Length) and (self.value, self.percent) == (
            other.value,
            other.percent,
        )

    def __hash__(self) -> int:
        return hash((self.value, self.percent))

    def __repr__(self) -> str:
        return f"Length({self.to_json()!r})"


class Checker:
    """Collects every problem of a template; readers return fallbacks so checking continues."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, message: str, value: Any = None) -> None:
        self.problems.append(Problem(field, message, value))

    def raise_if_any(self, what: str = "invalid template") -> None:
        if self.problems:
            first = self.problems[0]
            raise TemplateError(
                what if len(self.problems) > 1 else first.message,
                field=first.field,
                value=first.value,
                problems=self.problems,
            )

    # ---------------------------------------------------------------- structure

    def table(self, data: Any, field: str) -> dict[str, Any]:
        if isinstance(data, Mapping):
            return dict(data)
        self.add(field, "expected a table (mapping)", data)
        return {}

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], field: str) -> None:
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.add(_join(field, key), f"unknown key; allowed keys are: {known}", key)

    # ---------------------------------------------------------------- scalars

    def string(
        self, data: Mapping[str, Any], key: str, field: str, default: str | None = None
    ) -> str | None:
        value = data.get(key, default)
        if value is None or isinstance(value, str):
            return value
        self.add(_join(field, key), "expected a string", value)
        return default

    def choice(
        self, data: Mapping[str, Any], key: str, field: str, options: Sequence[str], default: str
    ) -> str:
        value = data.get(key, default)
        if isinstance(value, str) and value in options:
            return value
        self.add(_join(field, key), f"expected one of {', '.join(options)}", value)
        return default

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        field: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
    ) -> float | None:
        value = data.get(key, default)
        if value is None:
            return None
        return self.number_value(
            value,
            _join(field, key),
            default,
            minimum=minimum,
            maximum=maximum,
            exclusive_minimum=exclusive_minimum,
        )

    def number_value(
        self,
        value: Any,
        field: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(field, "expected a number", value)
            return default
        number = float(value)
        if not math.isfinite(number):
            self.add(field, "expected a finite number", value)
            return default
        if minimum is not None and (number < minimum or (exclusive_minimum and number == minimum)):
            bound = f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}"
            self.add(field, f"must be {bound}", value)
            return default
        if maximum is not None and number > maximum:
            self.add(field, f"must be <= {maximum:g}", value)
            return default
        return number

    def integer(
        self,
        data: Mapping[str, Any],
        key: str,
        field: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(_join(field, key), "expected an integer", value)
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f">= {minimum}"
            high = "" if maximum is None else f"<= {maximum}"
            self.add(
                _join(field, key), f"must be {' and '.join(p for p in (low, high) if p)}", value
            )
            return default
        return value

    def boolean(self, data: Mapping[str, Any], key: str, field: str, default: bool) -> bool:
        value = data.get(key, default)
        if isinstance(value, bool):
            return value
        self.add(_join(field, key), "expected true or false", value)
        return default

    def color(self, value: Any, field: str) -> Color | None:
        try:
            return parse_color(value, field)
        except ClientError as exc:
            self.add(field, exc.reason, value)
            return None

    def length(self, data: Mapping[str, Any], key: str, field: str) -> Length | None:
        """A px number, ``"48px"`` or ``"10%"``; negative offsets are allowed, sizes are not."""
        value = data.get(key)
        if value is None:
            return None
        where = _join(field, key)
        if isinstance(value, bool):
            self.add(where, "expected a length (px number or 'N%')", value)
            return None
        if isinstance(value, int | float):
            if not math.isfinite(float(value)):
                self.add(where, "expected a finite length", value)
                return None
            return Length(value)
        if isinstance(value, str):
            text = value.strip()
            percent = text.endswith("%")
            number = text[:-1] if percent else text.removesuffix("px")
            try:
                parsed = float(number)
            except ValueError:
                self.add(where, "expected a length such as 48, '48px' or '10%'", value)
                return None
            if not math.isfinite(parsed):
                self.add(where, "expected a finite length", value)
                return None
            return Length(parsed, percent)
        self.add(where, "expected a length (px number or 'N%')", value)
        return None

    def guarded(self, field: str, value: Any, fn: Callable[[], T]) -> T | None:
        """Run a parser that raises ClientError; record its message instead of raising."""
        try:
            return fn()
        except ClientError as exc:
            self.add(exc.field or field, exc.reason, value if exc.value is None else exc.value)
            return None


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
