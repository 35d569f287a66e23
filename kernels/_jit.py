"""The one jit vocabulary of fastshare's kernels.

Every kernel is compiled with ``nogil=True`` (callers run them from several threads and from
pre-warmed worker processes), ``cache=True`` (a worker loads compiled code from the on-disk cache
instead of compiling again) and fastmath without ``nnan``/``ninf`` (kernels rely on NaN and inf
behaving as IEEE says when they clamp).

Tunables are always kernel arguments, never module globals: numba freezes globals at compile time.
This module never changes numba's global configuration (thread count and the like): that is the
worker bootstrap's job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

__all__ = ["FASTMATH", "kernel"]

F = TypeVar("F", bound=Callable[..., Any])

#: fastmath flags: everything except the assumptions that NaN and inf never occur.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def kernel(fn: F) -> F:
    """Compile ``fn`` as a fastshare kernel: nopython, nogil, cached, fastmath without nnan/ninf."""
    return numba.njit(nogil=True, cache=True, fastmath=set(FASTMATH))(fn)  # type: ignore[return-value]
