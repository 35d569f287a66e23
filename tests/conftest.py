"""Shared pytest configuration for fastshare's tests.

* Hypothesis: no per-example deadline (the first example of a kernel test pays numba's compile or
  cache load); with ``NUMBA_DISABLE_JIT=1`` (CI's pure-Python kernel pass, ~1000× slower) every
  property test runs 5 examples unless it sets ``max_examples`` itself.
* Fixtures ``no_jit`` (bool) and ``max_side`` (largest frame side a kernel test should use: 24
  without the JIT, 96 with it). Test modules that need these values at import time (Hypothesis
  strategies) read them from ``tests/_paint_strategies.py`` (``NO_JIT``, ``MAX_SIDE``) rather than
  importing this file: ``from conftest import ...`` picks up whichever conftest was loaded last.
* ``pytest --hypothesis-profile=thorough``: 1000 examples per property test, for a long soak.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
MAX_SIDE = 24 if NO_JIT else 96

settings.register_profile("fastshare", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fastshare-nojit",
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("fastshare-nojit" if NO_JIT else "fastshare")


@pytest.fixture(scope="session")
def no_jit() -> bool:
    """True when numba's JIT is disabled (CI's pure-Python kernel pass): keep frames tiny."""
    return NO_JIT


@pytest.fixture(scope="session")
def max_side() -> int:
    """Largest frame side a kernel test should use (24 px without the JIT)."""
    return MAX_SIDE
