"""The public API: every name in ``fastshare.__all__`` resolves, and the function names are not
shadowed by submodules of the same name once those are imported."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import fastshare

#: optional extras some modules need (fastshare[dask], [serve], [plot], [intl], [fonts])
OPTIONAL = ("dask", "distributed", "starlette", "uvicorn", "matplotlib", "icu", "fontconfig")


def _import_all() -> None:
    """Import every fastshare submodule except ``__main__`` (it runs the CLI); a module that
    needs an optional extra that is not installed is skipped."""
    for info in pkgutil.iter_modules(fastshare.__path__):
        if info.name.startswith("__"):
            continue
        try:
            importlib.import_module(f"fastshare.{info.name}")
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in OPTIONAL:
                raise


def test_every_public_name_resolves() -> None:
    for name in fastshare.__all__:
        assert getattr(fastshare, name) is not None, name


def test_functions_are_not_shadowed_by_submodules() -> None:
    _import_all()
    for name in ("render", "render_image", "plan", "encode", "encode_to", "backfill", "measure"):
        value = getattr(fastshare, name)
        assert not isinstance(value, types.ModuleType), f"fastshare.{name} is a module"
        assert callable(value), name


def test_functions_win_even_when_submodules_are_imported_first() -> None:
    code = (
        "import types, test_public_api\n"
        "test_public_api._import_all()\n"
        "import fastshare\n"
        "for name in ('render', 'render_image', 'plan', 'encode', 'encode_to', 'backfill'):\n"
        "    value = getattr(fastshare, name)\n"
        "    assert not isinstance(value, types.ModuleType), name\n"
        "print('ok')\n"
    )
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_import_fastshare_is_light() -> None:
    code = "import sys, fastshare; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
