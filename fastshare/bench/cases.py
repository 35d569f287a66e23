"""Per-card benchmark cases: every stage of card A, fastshare and the baseline, inputs prepared.

:class:`CardCases` builds everything a timed call needs *before* timing: the loaded template, the
per-target plan, display lists, frames, PIL images and encoded bytes for every item of
:func:`~fastshare.bench.workloads.bench_items`. Each :class:`Case` then wraps one call
``call(i)`` that works on item ``i % len(items)``, so the timed region holds only the stage itself.
Both ``fastshare bench`` and ``benchmarks/bench_e2e.py`` (pytest-benchmark) time these calls.

Stages (``STAGES``): ``plan`` (the per-card plan lookup), ``layout`` (bind, shape, wrap, fit),
``paint`` (pixels from the display list), ``fromarray`` (``Image.fromarray`` of the frame: only on
the path of callers who ask for a PIL image; the baseline works in PIL and never needs it),
``encode`` (bytes, per format) and ``write`` (bytes to a file with an atomic rename, per format).
Plus ``pixels`` (plan + layout + paint as one call) and ``e2e`` (pixels + encode as one call).

The ``pillow-percard`` implementation is the baseline with its background gradient computed for
every card instead of cached: shown beside the pixels row, never used by a goal.

Not thread safe: one :class:`CardCases` per thread.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from fastshare.bench._codec import encode
from fastshare.bench.baseline import PillowCard
from fastshare.bench.report import STAGES, result_id
from fastshare.bench.workloads import bench_items, card_template_path, write_file
from fastshare.errors import ValueRangeError
from fastshare.targets import Target, parse_target

__all__ = ["FORMATS", "STAGES", "CardCases", "Case", "CaseKey"]

#: (group, impl, name, format) of a case
CaseKey = tuple[str, str, str, str | None]

#: formats benchmarked by default (fastshare's default settings; the baseline's PILLOW_OPTIONS)
FORMATS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class Case:
    """One timed call: ``call(i)`` runs the stage on item ``i`` (cycling)."""

    group: str
    impl: str
    name: str
    target: str
    format: str | None
    call: Callable[[int], object]
    bytes: int | None = None

    @property
    def id(self) -> str:
        return result_id(self.group, self.impl, self.name, self.target, self.format)


class CardCases:
    """Card A's cases at one target, for both implementations (see the module docstring).

    ``out_dir`` receives the files of the ``write`` stage (a temporary directory by default,
    removed by :meth:`close`).
    """

    def __init__(
        self,
        target: Target | str = "og",
        formats: Sequence[str] = ("png", "jpeg"),
        *,
        items: Sequence[dict[str, Any]] | None = None,
        out_dir: str | Path | None = None,
    ) -> None:
        from fastshare.renderer import Renderer

        self.target = parse_target(target) if isinstance(target, str) else target
        self.target_name = self.target.spec()
        self.formats = tuple(formats)
        self.items = list(items) if items is not None else bench_items()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if out_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fastshare-bench-")
            out_dir = self._tmp.name
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

        self.renderer = Renderer()
        self.template = self.renderer.template(card_template_path())
        self.baseline = PillowCard()
        self.baseline_percard = PillowCard(cache_background=False)

        tgt = self.target
        self.plan = self.renderer.plan(self.template, tgt)
        self.display_lists = [self.renderer.layout(self.plan, item) for item in self.items]
        self.frames = [self.renderer.paint(dl) for dl in self.display_lists]
        self.base_plan = self.baseline.plan(tgt)
        self.base_layouts = [self.baseline.layout(self.base_plan, item) for item in self.items]
        self.base_images = [self.baseline.paint(lay) for lay in self.base_layouts]
        self.encoded = {f: [encode(frame, f) for frame in self.frames] for f in self.formats}
        self.base_encoded = {
            f: [self.baseline.encode(im, f) for im in self.base_images] for f in self.formats
        }

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> CardCases:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ cases

    @staticmethod
    def case_keys(formats: Sequence[str], *, percard: bool = True) -> list[CaseKey]:
        """The (group, impl, name, format) of every case, in order, without building anything."""
        keys: list[CaseKey] = []
        for impl in ("fastshare", "pillow"):
            for stage in STAGES:
                if stage in ("encode", "write"):
                    keys += [("stage", impl, stage, fmt) for fmt in formats]
                elif not (impl == "pillow" and stage == "fromarray"):
                    keys.append(("stage", impl, stage, None))
        impls = ("fastshare", "pillow", "pillow-percard") if percard else ("fastshare", "pillow")
        keys += [("pixels", impl, "to_pixels", None) for impl in impls]
        for fmt in formats:
            keys += [("e2e", "fastshare", "end_to_end", fmt), ("e2e", "pillow", "end_to_end", fmt)]
        return keys

    def cases(self, *, percard: bool = True) -> list[Case]:
        """Every case: stages of both implementations, pixels, end to end per format."""
        return [self.case(*key) for key in self.case_keys(self.formats, percard=percard)]

    def case(self, group: str, impl: str, name: str, fmt: str | None = None) -> Case:
        """The case of a key from :meth:`case_keys`."""
        if group == "stage":
            return self.stage_case(impl, name, fmt)
        if group == "pixels":
            return self.pixels_case(impl)
        if group == "e2e" and fmt is not None:
            return self.e2e_case(impl, fmt)
        msg = "unknown case; expected a key from CardCases.case_keys()"
        raise ValueRangeError(msg, field="case", value=(group, impl, name, fmt))

    def stage_case(self, impl: str, stage: str, fmt: str | None = None) -> Case:
        """The ``stage`` of ``impl`` (``fastshare`` or ``pillow``); ``fmt`` for encode and write."""
        n = len(self.items)
        items, tgt = self.items, self.target
        call: Callable[[int], object]
        size: int | None = None
        if stage in ("encode", "write") and fmt not in self.formats:
            msg = f"the {stage} stage needs one of the formats {self.formats}"
            raise ValueRangeError(msg, field="format", value=fmt)
        if impl == "fastshare":
            r, template, plan = self.renderer, self.template, self.plan
            dls, frames = self.display_lists, self.frames
            if stage == "plan":
                call = lambda i: r.plan(template, tgt)  # noqa: E731
            elif stage == "layout":
                call = lambda i: r.layout(plan, items[i % n])  # noqa: E731
            elif stage == "paint":
                call = lambda i: r.paint(dls[i % n])  # noqa: E731
            elif stage == "fromarray":
                call = lambda i: Image.fromarray(frames[i % n])  # noqa: E731
            elif stage == "encode":
                assert fmt is not None
                call = lambda i: encode(frames[i % n], fmt)  # noqa: E731
                size = _mean_len(self.encoded[fmt])
            elif stage == "write":
                assert fmt is not None
                call = self._writer(self.encoded[fmt], f"fastshare.{fmt}")
            else:
                raise ValueRangeError(f"must be one of {STAGES}", field="stage", value=stage)
        elif impl == "pillow":
            b, bplan = self.baseline, self.base_plan
            layouts, images = self.base_layouts, self.base_images
            if stage == "plan":
                call = lambda i: b.plan(tgt)  # noqa: E731
            elif stage == "layout":
                call = lambda i: b.layout(bplan, items[i % n])  # noqa: E731
            elif stage == "paint":
                call = lambda i: b.paint(layouts[i % n])  # noqa: E731
            elif stage == "encode":
                assert fmt is not None
                call = lambda i: b.encode(images[i % n], fmt)  # noqa: E731
                size = _mean_len(self.base_encoded[fmt])
            elif stage == "write":
                assert fmt is not None
                call = self._writer(self.base_encoded[fmt], f"pillow.{fmt}")
            else:
                msg = f"must be one of {STAGES} except fromarray (the baseline works in PIL)"
                raise ValueRangeError(msg, field="stage", value=stage)
        else:
            raise ValueRangeError(_IMPL_MSG, field="impl", value=impl)
        return Case("stage", impl, stage, self.target_name, fmt, call, size)

    def _writer(self, blobs: list[bytes], name: str) -> Callable[[int], object]:
        path = self.out_dir / name
        n = len(blobs)
        return lambda i: write_file(path, blobs[i % n])

    def pixels_case(self, impl: str) -> Case:
        """Plan, layout and paint in one call (fastshare: ``Renderer.render``)."""
        items, n, tgt = self.items, len(self.items), self.target
        call: Callable[[int], object]
        if impl == "fastshare":
            r, template = self.renderer, self.template
            call = lambda i: r.render(template, items[i % n], tgt)  # noqa: E731
        elif impl == "pillow":
            b = self.baseline
            call = lambda i: b.render(items[i % n], tgt)  # noqa: E731
        elif impl == "pillow-percard":
            bp = self.baseline_percard
            call = lambda i: bp.render(items[i % n], tgt)  # noqa: E731
        else:
            raise ValueRangeError(_IMPL_MSG, field="impl", value=impl)
        return Case("pixels", impl, "to_pixels", self.target_name, None, call)

    def e2e_case(self, impl: str, fmt: str) -> Case:
        """Item to encoded bytes in one call."""
        items, n, tgt = self.items, len(self.items), self.target
        call: Callable[[int], object]
        if impl == "fastshare":
            r, template = self.renderer, self.template
            call = lambda i: encode(r.render(template, items[i % n], tgt), fmt)  # noqa: E731
            size = _mean_len(self.encoded[fmt]) if fmt in self.encoded else None
        elif impl == "pillow":
            b = self.baseline
            call = lambda i: b.render_bytes(items[i % n], tgt, fmt)  # noqa: E731
            size = _mean_len(self.base_encoded[fmt]) if fmt in self.base_encoded else None
        else:
            raise ValueRangeError(_IMPL_MSG, field="impl", value=impl)
        return Case("e2e", impl, "end_to_end", self.target_name, fmt, call, size)


_IMPL_MSG = "must be fastshare or pillow (pillow-percard for pixels)"


def _mean_len(blobs: Sequence[bytes]) -> int:
    return round(sum(len(b) for b in blobs) / len(blobs))
