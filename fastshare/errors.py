"""fastshare's one error hierarchy.

Two families, because callers treat them differently:

* :class:`ClientError` — the input was wrong (template, data, colour, size, font, encoder options).
  Retrying the same input fails the same way; the service answers 4xx; the CLI exits with 2 (bad
  template or usage) or records a per-item failure (bad data).
* :class:`ServerError` — the input may be fine but rendering failed (a worker crashed, a task timed
  out or was cancelled, a bug). Retrying may succeed; the service answers 5xx without internals.

Every error carries ``field`` (a dotted/indexed path such as ``layers[2].size``, or ``None``) and
``value`` (the offending value, or ``None``), and says both in its message. A template with several
problems raises one :class:`TemplateError` whose ``problems`` lists all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "CancelledError",
    "ClientError",
    "ColorError",
    "DataError",
    "EncodeError",
    "FastshareError",
    "FontError",
    "LimitError",
    "MissingGlyphError",
    "Problem",
    "RenderError",
    "ServerError",
    "ShareImageBounceError",
    "TaskTimeout",
    "TemplateError",
    "TextError",
    "ValueRangeError",
    "WorkerCrashed",
]

_MAX_VALUE_REPR = 80


def _short_repr(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        text = text[: _MAX_VALUE_REPR - 1] + "…"
    return text


class FastshareError(Exception):
    """Base class of every error fastshare raises on purpose."""

    #: short machine-readable code, used in JSON error bodies and failure files
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        self.field = field
        self.value = value
        self.reason = message
        super().__init__(self._format(message, field, value))

    @staticmethod
    def _format(message: str, field: str | None, value: Any) -> str:
        if field is None:
            return message
        if value is None:
            return f"{field}: {message}"
        return f"{field}: {message} (got {_short_repr(value)})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description: code, message, field and value (as text)."""
        return {
            "code": self.code,
            "message": str(self),
            "field": self.field,
            "value": None if self.value is None else _short_repr(self.value),
        }


# --------------------------------------------------------------------------- client errors


class ClientError(FastshareError, ValueError):
    """The caller's input is wrong; retrying the same input fails the same way."""

    code = "bad_input"


class ValueRangeError(ClientError):
    """A numeric parameter is negative, NaN, infinite or otherwise outside its allowed range."""

    code = "bad_value"


class ColorError(ClientError):
    """A colour string or tuple that is not a valid CSS colour."""

    code = "bad_color"


class LimitError(ClientError):
    """An input exceeds a documented limit (pixels, text length, layers, bytes)."""

    code = "limit_exceeded"


class DataError(ClientError):
    """The item data is unusable: a required field is missing or a value has the wrong type."""

    code = "bad_data"


class FontError(ClientError):
    """A font cannot be found, read or used."""

    code = "bad_font"


class TextError(ClientError):
    """Text that cannot be laid out as asked (empty where text is required, too long, ...)."""

    code = "bad_text"


class MissingGlyphError(TextError):
    """Characters that no font in the chain covers, under the ``error`` missing-glyph policy."""

    code = "missing_glyph"

    def __init__(
        self, message: str, *, field: str | None = None, chars: Sequence[str] = ()
    ) -> None:
        self.chars = tuple(chars)
        shown = " ".join(f"U+{ord(c):04X}" for c in self.chars[:10])
        super().__init__(f"{message}: {shown}" if shown else message, field=field)


class EncodeError(ClientError):
    """Unknown format, unknown or invalid encoder option, or an unusable frame."""

    code = "bad_encode"


class Problem:
    """One problem found while validating a template: where, what, and the bad value."""

    __slots__ = ("field", "message", "value")

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        self.field = field
        self.message = message
        self.value = value

    def __str__(self) -> str:
        return FastshareError._format(self.message, self.field, self.value)

    def __repr__(self) -> str:
        return f"Problem({self.field!r}, {self.message!r}, {self.value!r})"


class TemplateError(ClientError):
    """An invalid template. ``problems`` lists every problem found, not just the first."""

    code = "bad_template"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        self.problems = tuple(problems) or (Problem(field or "", message, value),)
        if len(self.problems) > 1:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{message} ({len(self.problems)} problems):\n{lines}"
            super().__init__(message)
            self.field, self.value = field, value
        else:
            super().__init__(message, field=field, value=value)


# --------------------------------------------------------------------------- server errors


class ServerError(FastshareError, RuntimeError):
    """Rendering failed for a reason that is not the caller's input."""

    code = "render_failed"


class RenderError(ServerError):
    """A render raised inside a worker. Carries the original type name, traceback and attempt."""

    code = "render_failed"

    def __init__(
        self,
        message: str,
        *,
        type_name: str = "",
        traceback_text: str = "",
        attempt: int = 1,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        self.type_name = type_name
        self.traceback_text = traceback_text
        self.attempt = attempt
        super().__init__(message, field=field, value=value)


class WorkerCrashed(ServerError):
    """The worker process running the task died (segfault, ``os._exit``, kill -9)."""

    code = "worker_crashed"


class TaskTimeout(ServerError, TimeoutError):
    """A task ran past its timeout; its worker was killed and replaced."""

    code = "timeout"


class CancelledError(ServerError):
    """A task was cancelled before it finished."""

    code = "cancelled"


class ShareImageBounceError(ServerError):
    """A pipeline run stopped on request; partial outputs were removed, the work can be requeued."""

    code = "bounced"
