"""Signed render URLs: HMAC-SHA256 over the canonical path and query.

A signed URL carries ``sig`` (the signature) and optionally ``exp`` (expiry, Unix seconds, itself
covered by the signature)::

    /v1/render/card-a/og.png?title=Hello&exp=1767225600&sig=Gq3…

**Canonical form** (what is signed), built identically by the signer and the server::

    fastshare-v1 \\n <path> \\n <query>

* ``<path>``: the percent-*decoded* path (``/v1/render/card-a/og@2x.png``), re-encoded with
  :func:`urllib.parse.quote` (only ``/`` kept), so ``@`` and ``%40`` sign the same;
* ``<query>``: every query parameter except ``sig``, decoded (``+`` is a space), sorted by name
  then value, each re-encoded as ``quote(name)=quote(value)`` and joined with ``&``. Parameter
  order and percent-encoding variants therefore do not matter; adding, removing or changing any
  parameter (including ``exp`` and ``v``) breaks the signature.

The host, scheme and fragment are not signed (the URL keeps working behind a CDN or proxy). The
signature is the unpadded URL-safe base64 of the HMAC-SHA256 digest (43 characters). Verification
compares in constant time (:func:`hmac.compare_digest`) against every configured secret, so a
secret can be rotated by serving old and new ones for a while.

Pure Python, no web framework; thread safe (no state).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from fastshare.errors import ValueRangeError
from fastshare.service.errors import SignatureError

__all__ = [
    "EXPIRES_PARAM",
    "RESERVED_PARAMS",
    "SIGNATURE_PARAM",
    "VERSION_PARAM",
    "SignatureError",
    "canonical_request",
    "parse_query",
    "sign_params",
    "sign_url",
    "signature",
    "verify",
]

#: the query parameter holding the signature
SIGNATURE_PARAM = "sig"
#: the optional expiry, Unix seconds (signed)
EXPIRES_PARAM = "exp"
#: a free cache-busting version (signed, never item data)
VERSION_PARAM = "v"
#: query parameters that are never item data
RESERVED_PARAMS: tuple[str, ...] = (SIGNATURE_PARAM, EXPIRES_PARAM, VERSION_PARAM)

_PREFIX = b"fastshare-v1"
_SIG_CHARS = 43  # unpadded base64 of 32 bytes
_EXPIRES = re.compile(r"[0-9]{1,15}")


def parse_query(query: str | bytes) -> list[tuple[str, str]]:
    """Decode a query string into (name, value) pairs, blank values kept, ``+`` as space.

    Raises :class:`ValueRangeError` (field ``query``) for bytes that are not UTF-8.
    """
    text = query.decode("ascii", errors="strict") if isinstance(query, bytes) else query
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        msg = f"the query string is not valid percent-encoded UTF-8 ({exc.__class__.__name__})"
        raise ValueRangeError(msg, field="query") from None


def canonical_request(path: str, params: Iterable[tuple[str, str]]) -> bytes:
    """The bytes that are signed: prefix, re-encoded decoded path, sorted re-encoded query."""
    pairs = sorted((k, v) for k, v in params if k != SIGNATURE_PARAM)
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    return b"\n".join((_PREFIX, quote(path, safe="/").encode(), query.encode()))


def signature(secret: bytes, path: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature of (``path``, ``params``) under ``secret``: 43 URL-safe base64 characters."""
    digest = hmac.new(secret, canonical_request(path, params), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_params(
    secret: bytes,
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    expires: int | None = None,
) -> list[tuple[str, str]]:
    """``params`` (minus any old ``sig``/``exp``) plus ``exp`` when given and the new ``sig``."""
    out = [(k, v) for k, v in params if k not in (SIGNATURE_PARAM, EXPIRES_PARAM)]
    if expires is not None:
        out.append((EXPIRES_PARAM, str(int(expires))))
    out.append((SIGNATURE_PARAM, signature(secret, path, out)))
    return out


def sign_url(
    url: str,
    secret: bytes,
    *,
    expires_at: int | None = None,
    expires_in: float | None = None,
    now: float | None = None,
) -> str:
    """Sign a render URL (absolute, or a path with a query); returns the URL with ``sig``.

    ``expires_in`` seconds from ``now`` (default: the current time) or ``expires_at`` (Unix
    seconds) add a signed ``exp``. An existing ``sig``/``exp`` is replaced.
    """
    if expires_at is not None and expires_in is not None:
        msg = "give expires_at or expires_in, not both"
        raise ValueRangeError(msg, field="expires", value=(expires_at, expires_in))
    if expires_in is not None:
        if not expires_in > 0:
            raise ValueRangeError("must be positive", field="expires_in", value=expires_in)
        expires_at = int((time.time() if now is None else now) + expires_in)
    parts = urlsplit(url)
    if not parts.path.startswith("/"):
        msg = "the URL needs a path starting with / (for example /v1/render/card-a/og.png)"
        raise ValueRangeError(msg, field="url", value=url)
    path = unquote(parts.path)
    params = sign_params(secret, path, parse_query(parts.query), expires=expires_at)
    query = urlencode(params, quote_via=quote, safe="")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def verify(
    secrets: Sequence[bytes],
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    now: float | None = None,
) -> int | None:
    """Check the signature of a request; return its expiry (``None`` if it has none).

    ``path`` is the percent-decoded request path, ``params`` the decoded query pairs. Raises
    :class:`SignatureError` with code ``missing_signature``, ``bad_signature`` or
    ``expired_signature``.
    """
    given = [v for k, v in params if k == SIGNATURE_PARAM]
    if not given:
        raise SignatureError(
            "this server requires signed URLs: the 'sig' parameter is missing",
            code="missing_signature",
        )
    if len(given) > 1:
        raise SignatureError("'sig' is given more than once")
    sig = given[0].encode("utf-8", errors="replace")
    if len(sig) != _SIG_CHARS:
        raise SignatureError("the signature does not match this URL")
    ok = False
    for secret in secrets:
        expected = signature(secret, path, params).encode("ascii")
        ok |= hmac.compare_digest(expected, sig)  # no early exit: same time for every secret
    if not ok:
        raise SignatureError("the signature does not match this URL")
    expires_values = [v for k, v in params if k == EXPIRES_PARAM]
    if not expires_values:
        return None
    if len(expires_values) > 1 or not _EXPIRES.fullmatch(expires_values[0]):
        raise SignatureError("'exp' must be one integer (Unix seconds)", field=EXPIRES_PARAM)
    expires = int(expires_values[0])
    if (time.time() if now is None else now) > expires:
        raise SignatureError(
            "the signed URL has expired", code="expired_signature", field=EXPIRES_PARAM
        )
    return expires
