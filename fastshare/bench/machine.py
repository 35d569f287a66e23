"""Machine facts recorded with every benchmark run, and a probe of the other load on the machine.

:func:`machine_facts` returns a JSON-serialisable dict: CPU model, cores (all and usable by this
process), memory, OS, Python and the versions of the libraries that decide fastshare's speed
(numpy, numba, llvmlite, Pillow and its codecs, uharfbuzz, freetype-py, the deflate libraries,
simplejpeg). Versions come from package metadata, so nothing heavy is imported; a library that is
not installed is recorded as ``None``.

:class:`LoadProbe` reads ``/proc/stat`` to tell how busy the *rest* of the machine was while we
measured (all CPU time minus this process's), in cores: a benchmark taken while a neighbour kept
a core busy is slower, and the report says so. On systems without ``/proc/stat`` it records None.
Both are read-only and thread safe.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["LIBRARIES", "LoadProbe", "machine_facts"]

#: distributions whose versions are recorded (distribution name → key in the report)
LIBRARIES: dict[str, str] = {
    "fastshare": "fastshare",
    "numpy": "numpy",
    "numba": "numba",
    "llvmlite": "llvmlite",
    "Pillow": "pillow",
    "uharfbuzz": "uharfbuzz",
    "freetype-py": "freetype_py",
    "fonttools": "fonttools",
    "isal": "isal",
    "deflate": "deflate",
    "simplejpeg": "simplejpeg",
    "matplotlib": "matplotlib",
}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _pillow_codecs() -> dict[str, str | bool | None]:
    from PIL import features

    out: dict[str, str | bool | None] = {}
    for name in ("libjpeg_turbo", "zlib", "webp", "raqm", "freetype2"):
        try:
            out[name] = features.version(name)
        except ValueError:
            out[name] = None
    try:
        out["zlib_ng"] = bool(features.check_feature("zlib_ng"))
    except ValueError:
        out["zlib_ng"] = False
    return out


def machine_facts() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and library versions, as a JSON-serialisable dict."""
    load: list[float] | None
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": _usable_cpus(),
        "memory_bytes": _memory_bytes(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "versions": {key: _version(dist) for dist, key in LIBRARIES.items()},
        "pillow_codecs": _pillow_codecs(),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
        "loadavg_at_start": load,
    }


def _proc_stat_busy() -> tuple[float, float] | None:
    """(busy seconds of every CPU, seconds of wall clock) from ``/proc/stat``, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (sum(ticks) - idle) / hz, time.monotonic()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LoadProbe:
    """``with LoadProbe() as probe: ...``, then ``probe.other_cores``: the other load on the box.

    ``other_cores`` is the CPU time every process but this one used during the block, divided
    by the block's wall time (0.0 = idle machine, 1.0 = one core busy elsewhere); None when the
    system does not say. Child processes of this one count as "other".
    """

    def __init__(self) -> None:
        self.other_cores: float | None = None
        self._start: tuple[float, float] | None = None
        self._own = 0.0

    def __enter__(self) -> LoadProbe:
        self._start = _proc_stat_busy()
        self._own = _own_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        end = _proc_stat_busy()
        if self._start is None or end is None:
            return
        wall = end[1] - self._start[1]
        if wall <= 0:
            return
        other = (end[0] - self._start[0]) - (_own_cpu() - self._own)
        self.other_cores = round(max(0.0, other / wall), 2)
