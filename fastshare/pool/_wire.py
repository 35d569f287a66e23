"""Wire format between the orchestrator, the template process and the workers.

A message is an 8-byte big-endian length followed by a pickle (protocol 5). The outer tuple of
every message holds only builtins (str, int, float, bytes, tuples, dicts), so it always unpickles;
task payloads and results travel as nested ``bytes`` and are unpickled separately, so a result
that fails to unpickle fails its own task and nothing else.

Exceptions never cross the boundary as objects (an exception that pickles may still fail to
unpickle, cpython#79492): a worker flattens them to a dict of strings with
:func:`flatten_exception`, and the orchestrator rebuilds a fastshare error with
:func:`rebuild_error`.

Thread safety: pure functions; the blocking helpers are used by exactly one thread per socket.
"""

from __future__ import annotations

import pickle
import socket
import struct
import traceback
from typing import Any

from fastshare import errors

__all__ = [
    "HEADER",
    "MAX_MESSAGE",
    "ErrorInfo",
    "flatten_exception",
    "pack",
    "rebuild_error",
    "recv_message",
    "send_message",
]

#: length prefix of every message
HEADER = struct.Struct("!Q")
#: messages above this size are refused (a corrupt length must not allocate the machine away)
MAX_MESSAGE = 1 << 34

ErrorInfo = dict[str, Any]

# message kinds (short strings: they are pickled with every message)
HELLO = "hello"
TASK = "task"
OK = "ok"
FRAME = "frame"
ERR = "err"
EXIT = "exit"
FORK = "fork"
FORKED = "forked"
EXITED = "exited"
READY = "ready"
FAILED = "failed"
CONFIG = "config"


def pack(message: Any) -> bytes:
    """Serialise ``message`` with its length prefix."""
    body = pickle.dumps(message, protocol=5)
    return HEADER.pack(len(body)) + body


def send_message(sock: socket.socket, message: Any) -> None:
    """Send one message on a blocking socket."""
    body = pickle.dumps(message, protocol=5)
    sock.sendmsg([HEADER.pack(len(body)), body])


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            return None
        got += n
    return bytes(buf)


def recv_message(sock: socket.socket) -> Any | None:
    """Receive one message from a blocking socket; ``None`` at end of file."""
    head = _recv_exact(sock, HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head)
    if size > MAX_MESSAGE:
        msg = f"message of {size} bytes exceeds the {MAX_MESSAGE}-byte limit"
        raise OSError(msg)
    body = _recv_exact(sock, size)
    if body is None:
        return None
    return pickle.loads(body)


def _qualified(cls: type) -> str:
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in ("builtins", "") else f"{module}.{name}"


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except BaseException:
        return f"<unprintable {type(value).__name__}>"


def flatten_exception(exc: BaseException) -> ErrorInfo:
    """Describe ``exc`` with strings only: type name, message, traceback text, class names."""
    cls = type(exc)
    try:
        tb = "".join(traceback.format_exception(cls, exc, exc.__traceback__))
    except BaseException:
        tb = f"{_qualified(cls)}: {_safe_str(exc)}\n(traceback unavailable)\n"
    info: ErrorInfo = {
        "type_name": _qualified(cls),
        "message": _safe_str(exc),
        "traceback": tb,
        "mro": tuple(_qualified(c) for c in cls.__mro__),
    }
    if isinstance(exc, errors.FastshareError):
        info["reason"] = _safe_str(exc.reason)
        info["field"] = exc.field if isinstance(exc.field, str) else None
        info["value"] = None if exc.value is None else _safe_str(repr(exc.value))
    return info


def _client_error_class(type_name: str) -> type[errors.ClientError] | None:
    module, _, name = type_name.rpartition(".")
    if module != "fastshare.errors":
        return None
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.ClientError):
        return cls
    return None


def rebuild_error(info: ErrorInfo, attempt: int, where: str = "task") -> Exception:
    """Turn a flattened worker exception into the error the caller sees.

    fastshare client errors (bad data, bad font, ...) come back as their own class, so callers can
    still tell a 4xx from a 5xx; everything else becomes :class:`fastshare.errors.RenderError`.
    Both carry ``type_name``, ``traceback_text`` and ``attempt``.
    """
    type_name = str(info.get("type_name", "Exception"))
    message = str(info.get("message", ""))
    tb = str(info.get("traceback", ""))
    cls = _client_error_class(type_name)
    exc: Exception
    if cls is not None:
        exc = Exception.__new__(cls)
        Exception.__init__(exc, message)
        client = exc
        assert isinstance(client, errors.ClientError)
        client.field = info.get("field")
        client.value = info.get("value")
        client.reason = str(info.get("reason", message))
        if isinstance(client, errors.MissingGlyphError):
            client.chars = ()
        if isinstance(client, errors.TemplateError):
            client.problems = (errors.Problem(client.field or "", client.reason, client.value),)
    else:
        text = (
            f"{where} raised {type_name}: {message}" if message else f"{where} raised {type_name}"
        )
        exc = errors.RenderError(text, type_name=type_name, traceback_text=tb, attempt=attempt)
    for name, value in (
        ("type_name", type_name),
        ("traceback_text", tb),
        ("attempt", attempt),
        ("remote_mro", tuple(info.get("mro", ()))),
    ):
        setattr(exc, name, value)
    return exc
