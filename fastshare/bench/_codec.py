"""The one place the benchmark harness imports fastshare's encoders from.

:data:`ENCODER_MODULE` is the module's name, for the code the cold-start measurement runs in a
fresh interpreter.
"""

from __future__ import annotations

from fastshare.encoders import encode, encode_to

__all__ = ["ENCODER_MODULE", "encode", "encode_to"]

ENCODER_MODULE: str = encode.__module__
