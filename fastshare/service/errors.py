"""The service's errors: subclasses of fastshare's hierarchy, each with its HTTP meaning.

Client errors (4xx, the message names the field): :class:`SignatureError` (403),
:class:`AuthError` (401/403), :class:`NotFound` / :class:`UnknownTemplate` (404),
:class:`NoCache` (409), :class:`BodyTooLarge` (413); every other
:class:`~fastshare.errors.ClientError` is a 400. Server errors (5xx, fixed public message):
:class:`Overloaded` and :class:`NotReady` (503 with ``Retry-After``), :class:`RenderTimedOut`
(504), :class:`TemplateUnavailable` and any other :class:`~fastshare.errors.ServerError` (500).
"""

from __future__ import annotations

from fastshare.errors import ClientError, LimitError, ServerError

__all__ = [
    "AuthError",
    "BodyTooLarge",
    "NoCache",
    "NotFound",
    "NotReady",
    "Overloaded",
    "RenderTimedOut",
    "SignatureError",
    "TemplateUnavailable",
    "UnknownTemplate",
]


class SignatureError(ClientError):
    """A GET render URL without a valid signature (403).

    ``code``: ``missing_signature``, ``bad_signature`` or ``expired_signature``.
    """

    code = "bad_signature"

    def __init__(self, message: str, *, code: str = "bad_signature", field: str = "sig") -> None:
        super().__init__(message, field=field)
        self.code = code


class AuthError(ClientError):
    """Missing or wrong credentials for a POST endpoint (401, or 403 when POST is disabled)."""

    code = "unauthorized"

    def __init__(self, message: str, *, status: int = 401, code: str = "unauthorized") -> None:
        super().__init__(message, field="authorization")
        self.status = status
        self.code = code


class NotFound(ClientError):
    """Something the request names does not exist (404)."""

    code = "not_found"


class UnknownTemplate(NotFound):
    """No template of that name in the configured directory (404)."""

    code = "unknown_template"


class NoCache(ClientError):
    """Background warming asked of a server without a disk cache (409)."""

    code = "no_cache"


class BodyTooLarge(LimitError):
    """A request body above the configured size (413)."""

    code = "body_too_large"


class Overloaded(ServerError):
    """Too many requests waiting: 503 with ``Retry-After``."""

    code = "overloaded"


class NotReady(ServerError):
    """The workers are not warm yet, or the server is stopping: 503 with ``Retry-After``."""

    code = "not_ready"


class RenderTimedOut(ServerError):
    """A render ran past the render timeout; its worker was replaced (504)."""

    code = "timeout"


class TemplateUnavailable(ServerError):
    """The template file exists but does not load (500; details in the server log)."""

    code = "template_unavailable"
