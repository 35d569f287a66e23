"""The benchmarked work: card A's items, the per-card calls of both implementations, pool tasks.

* :func:`bench_items` — the items both implementations render: the bundled sample items whose
  fields are plain ASCII (the baseline draws with Inter alone, no script fallback), plus one long
  title that hits the title's 3-line ellipsis.
* :func:`card_task` — one card rendered and encoded in a pool worker, returning the bytes (the
  default pool path). Module-level and picklable, so any pool can run it by reference; the
  renderer, template and baseline are created once per process.
* :func:`cold_start_code` — the Python source a fresh interpreter runs to render card A to a PNG
  file, for the cold-start measurement.
* :func:`write_file` — the ``write`` stage: bytes to a file beside the destination, then an atomic
  rename (what the directory sink does).

Thread safety: :func:`card_task` keeps per-process state behind a lock; the rest is stateless.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from fastshare.errors import ValueRangeError
from fastshare.stores import write_atomic

__all__ = [
    "CARD",
    "FIELDS",
    "IMPLEMENTATIONS",
    "LONG_TITLE_ITEM",
    "bench_items",
    "card_task",
    "cold_start_code",
    "warm_worker",
    "write_file",
]

#: the benchmarked template (a bundled example)
CARD = "card-a"
#: the item fields card A reads
FIELDS = ("title", "category", "site", "read_time")
#: implementation names, as they appear in reports
IMPLEMENTATIONS = ("fastshare", "pillow")

LONG_TITLE_ITEM: dict[str, str] = {
    "title": (
        "Why a backfill of a million share cards is one command, a single card is a function "
        "call, and the service renders everything else on demand"
    ),
    "category": "Performance",
    "site": "fastshare.dev",
    "read_time": "12 min read",
}


def bench_items() -> list[dict[str, str]]:
    """Card A's benchmark items: ASCII sample items with every field, then a long title."""
    from fastshare.examples import sample_items

    items = []
    for item in sample_items():
        values = [item.get(name) for name in FIELDS]
        if all(isinstance(v, str) and v and v.isascii() for v in values):
            items.append({name: str(item[name]) for name in FIELDS})
    items.append(dict(LONG_TITLE_ITEM))
    return items


def card_template_path() -> Path:
    from fastshare.examples import example_path

    path = example_path(CARD)
    if path is None:  # pragma: no cover - the package always ships it
        msg = f"the bundled example {CARD!r} is missing"
        raise FileNotFoundError(msg)
    return path


# --------------------------------------------------------------------------- pool task

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _state() -> dict[str, Any]:
    with _LOCK:
        if not _STATE:
            from fastshare.bench.baseline import PillowCard
            from fastshare.renderer import Renderer

            renderer = Renderer()
            _STATE.update(
                renderer=renderer,
                template=renderer.template(card_template_path()),
                baseline=PillowCard(),
                items=bench_items(),
            )
        return _STATE


def card_task(index: int, impl: str = "fastshare", fmt: str = "png", target: str = "og") -> bytes:
    """Render item ``index`` (cycling) of :func:`bench_items` with ``impl`` and encode it."""
    from fastshare.bench._codec import encode

    state = _state()
    item = state["items"][index % len(state["items"])]
    if impl == "fastshare":
        frame = state["renderer"].render(state["template"], item, target)
        return encode(frame, fmt)
    if impl == "pillow":
        data: bytes = state["baseline"].render_bytes(item, target, fmt)
        return data
    msg = f"must be one of {IMPLEMENTATIONS}"
    raise ValueRangeError(msg, field="impl", value=impl)


def warm_worker(
    impls: tuple[str, ...] = ("fastshare",), formats: tuple[str, ...] = ("png",), target: str = "og"
) -> None:
    """Pool initializer: load the card and render it once per (impl, format) in the template."""
    for impl in impls:
        for fmt in formats:
            card_task(0, impl, fmt, target)


# --------------------------------------------------------------------------- cold start


def cold_start_code(impl: str, out: str | os.PathLike[str], fmt: str = "png") -> str:
    """Source for ``python -c``: render card A's first bench item with ``impl`` into ``out``.

    The fastshare process imports only what a user's script would (the renderer and the
    encoders); the baseline's imports only Pillow, numpy and :mod:`fastshare.bench.baseline`
    (its font folder is passed in, so fastshare's text engine is not imported).
    """
    item = bench_items()[0]
    if impl == "fastshare":
        from fastshare.bench._codec import ENCODER_MODULE

        return (
            "from fastshare.renderer import render\n"
            f"from {ENCODER_MODULE} import encode\n"
            f"frame = render({str(card_template_path())!r}, {item!r}, 'og')\n"
            f"open({os.fspath(out)!r}, 'wb').write(encode(frame, {fmt!r}))\n"
        )
    if impl == "pillow":
        from fastshare.text import bundled_font_dir

        return (
            "from fastshare.bench.baseline import PillowCard\n"
            f"card = PillowCard(font_dir={str(bundled_font_dir())!r})\n"
            f"data = card.render_bytes({item!r}, 'og', {fmt!r})\n"
            f"open({os.fspath(out)!r}, 'wb').write(data)\n"
        )
    msg = f"must be one of {IMPLEMENTATIONS}"
    raise ValueRangeError(msg, field="impl", value=impl)


# --------------------------------------------------------------------------- write stage


def write_file(path: Path, data: bytes) -> int:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    This is :func:`fastshare.stores.write_atomic`, the directory store's own write.
    """
    return write_atomic(path, data)
