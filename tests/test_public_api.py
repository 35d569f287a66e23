"""The public API: every name in ``fastshare.__all__`` resolves, and the function names are not
shadowed by submodules of the same name once those are imported."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import fastshare


def test_every_public_name_resolves() -> None:
    for name in fastshare.__all__:
        assert getattr(fastshare, name) is not None, name


def test_functions_are_not_shadowed_by_submodules() -> None:
    for info in pkgutil.iter_modules(fastshare.__path__):
        if not info.name.startswith("__"):  # __main__ runs the CLI
            importlib.import_module(f"fastshare.{info.name}")
    for name in ("render", "render_image", "plan", "encode", "encode_to", "backfill", "measure"):
        value = getattr(fastshare, name)
        assert not isinstance(value, types.ModuleType), f"fastshare.{name} is a module"
        assert callable(value), name


def test_functions_win_even_when_submodules_are_imported_first() -> None:
    names = [
        i.name for i in pkgutil.iter_modules(fastshare.__path__) if not i.name.startswith("__")
    ]
    code = (
        "import importlib, types\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module('fastshare.' + name)\n"
        "import fastshare\n"
        "for name in ('render', 'render_image', 'plan', 'encode', 'encode_to', 'backfill'):\n"
        "    value = getattr(fastshare, name)\n"
        "    assert not isinstance(value, types.ModuleType), name\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_import_fastshare_is_light() -> None:
    code = "import sys, fastshare; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
