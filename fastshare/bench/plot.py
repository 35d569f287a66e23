"""``fastshare bench --plot OUT.png``: the stage breakdown of a card, fastshare beside the baseline.

One horizontal stacked bar per (target, format, implementation): plan, layout, paint, encode and
write, in milliseconds (the medians of the report). matplotlib is an optional extra
(``pip install 'fastshare[plot]'``); it is imported only here, with the non-interactive Agg
backend, and its absence is a :class:`~fastshare.errors.ClientError` saying how to install it.
Not thread safe (matplotlib's pyplot state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastshare.bench.report import Report, result_id
from fastshare.errors import ClientError

__all__ = ["PLOT_STAGES", "plot_stages", "require_matplotlib"]

#: the stages on a card's default path, in order (``fromarray`` is on neither default path)
PLOT_STAGES = ("plan", "layout", "paint", "encode", "write")
_COLORS = ("#94a3b8", "#38bdf8", "#0ea5e9", "#f59e0b", "#a3a3a3")
_LABELS = {"fastshare": "fastshare", "pillow": "Pillow + numpy"}


def require_matplotlib(path: str | os.PathLike[str] | None = None) -> Any:
    """``matplotlib.pyplot`` with the Agg backend, or ClientError when matplotlib is missing."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        msg = (
            "drawing the plot needs matplotlib, an optional extra: "
            "pip install 'fastshare[plot]' (or pip install matplotlib)"
        )
        raise ClientError(msg, field="--plot", value=None if path is None else str(path)) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_stages(report: Report, path: str | os.PathLike[str]) -> Path:
    """Draw the stage breakdown of ``report`` into ``path`` (PNG, SVG or PDF by its extension)."""
    plt = require_matplotlib(path)
    by_id = {r.id: r for r in report.results}
    bars: list[tuple[str, list[float]]] = []
    for target in report.config.get("targets", []):
        for fmt in report.config.get("formats", []):
            for impl in ("fastshare", "pillow"):
                values = []
                for stage in PLOT_STAGES:
                    fmt_key = fmt if stage in ("encode", "write") else None
                    result = by_id.get(result_id("stage", impl, stage, target, fmt_key))
                    values.append(0.0 if result is None else result.value)
                if any(values):
                    bars.append((f"{_LABELS[impl]}\n{fmt} {target}", values))
    if not bars:
        msg = "the report has no per-stage results to plot"
        raise ClientError(msg, field="report", value=report.suite)
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(bars) + 1.6), layout="constrained")
    labels = [label for label, _ in bars]
    left = [0.0] * len(bars)
    for index, stage in enumerate(PLOT_STAGES):
        widths = [values[index] for _, values in bars]
        ax.barh(labels, widths, left=left, color=_COLORS[index], label=stage)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {total:.1f} ms", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per card (median)")
    cpu = report.machine.get("cpu_model", "")
    ax.set_title(f"card A, stage by stage — {cpu}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, ncols=len(PLOT_STAGES))
    ax.set_xlim(0, max(left) * 1.15)
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
