"""The ``fastshare`` command line.

Exit codes: 0 all done, 1 some items failed, 2 bad usage or a bad template/input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastshare.errors import ClientError, FastshareError, TemplateError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastshare",
        description="Render social-share images from one template, for many sizes and items.",
        formatter_class=_formatter,
        epilog=(
            "examples:\n"
            "  fastshare demo --out cards/\n"
            '  fastshare render card.toml --data \'{"title": "Hi"}\' --target og --out og.png\n'
            "  fastshare validate card.toml\n"
            "  fastshare backfill card.toml posts.jsonl --out cards/ --targets og,square,story\n"
            "  fastshare bench --suite quick\n"
            "  fastshare serve --templates templates/ --workers 2\n"
            "  fastshare preview card.toml --data item.json\n"
            "  fastshare targets\n"
        ),
    )
    from fastshare import __version__

    parser.add_argument("--version", action="version", version=f"fastshare {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="render the bundled example templates at every preset target",
        formatter_class=_formatter,
        description="Render every bundled example template for its sample items at every preset.",
        epilog="example:\n  fastshare demo --out cards/",
    )
    demo.add_argument("--out", required=True, type=Path, help="output directory")
    demo.add_argument("--format", default="png", help="png (default), jpeg or webp")
    demo.add_argument("--quiet", action="store_true", help="no per-file lines")
    demo.set_defaults(func=_cmd_demo)

    render = sub.add_parser(
        "render",
        help="render one card",
        formatter_class=_formatter,
        description="Render one item with a template for one or more targets.",
        epilog=(
            "examples:\n"
            '  fastshare render card.toml --data \'{"title": "Hi"}\' --out og.png\n'
            "  fastshare render card.toml --data-file item.json --target og,story --out cards/\n"
            "  fastshare render card.toml --data-file item.json --format jpeg --out card.jpg"
        ),
    )
    render.add_argument("template", help="template file (.toml or .json) or a bundled example name")
    data = render.add_mutually_exclusive_group()
    data.add_argument("--data", help="item data as a JSON object")
    data.add_argument("--data-file", type=Path, help="item data from a JSON file")
    render.add_argument("--target", default="og", help="target(s), comma-separated (default og)")
    render.add_argument("--format", default=None, help="png, jpeg or webp (default: from --out)")
    render.add_argument("--out", required=True, type=Path, help="output file, or a directory")
    render.add_argument("--assets", action="append", default=[], type=Path, help="asset directory")
    render.add_argument("--json", action="store_true", help="print a JSON summary")
    render.set_defaults(func=_cmd_render)

    validate = sub.add_parser(
        "validate",
        help="check a template and report every problem",
        formatter_class=_formatter,
        epilog="example:\n  fastshare validate card.toml",
    )
    validate.add_argument("template", help="template file (.toml or .json)")
    validate.add_argument("--json", action="store_true", help="print problems as JSON")
    validate.set_defaults(func=_cmd_validate)

    targets = sub.add_parser(
        "targets",
        help="list the preset targets",
        formatter_class=_formatter,
        epilog="example:\n  fastshare targets --json",
    )
    targets.add_argument("--json", action="store_true", help="print JSON")
    targets.set_defaults(func=_cmd_targets)

    from fastshare import _cli_backfill, _cli_bench, _cli_preview, _cli_serve

    _cli_backfill.register(sub)
    _cli_bench.register(sub)
    _cli_serve.register(sub)
    _cli_preview.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except TemplateError as exc:
        print(f"fastshare: template error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as exc:
        print(f"fastshare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FastshareError as exc:
        print(f"fastshare: {exc}", file=sys.stderr)
        return EXIT_FAILURES
    except KeyboardInterrupt:
        print("fastshare: interrupted", file=sys.stderr)
        return 130
    return code


# --------------------------------------------------------------------------- commands


def _cmd_targets(args: argparse.Namespace) -> int:
    from fastshare.targets import DEFAULT_TARGETS, TARGETS

    if args.json:
        rows = [{"name": t.name, "width": t.width, "height": t.height} for t in TARGETS.values()]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for target in TARGETS.values():
        default = "  (default)" if target.name in DEFAULT_TARGETS else ""
        print(f"{target.name:<10} {target.width:>5} × {target.height:<5}{default}")
    print("\ncustom sizes: WxH (e.g. 1600x900); scale: og@2x renders 2400×1260")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from fastshare.template import load_template

    try:
        template = load_template(_template_path(args.template))
    except TemplateError as exc:
        if args.json:
            problems = [
                {"field": p.field, "message": p.message, "value": repr(p.value)}
                for p in exc.problems
            ]
            print(json.dumps({"ok": False, "problems": problems}, indent=2))
        else:
            print(f"{args.template}: {len(exc.problems)} problem(s)", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    summary = {
        "ok": True,
        "name": template.name,
        "layers": len(template.layers),
        "targets": list(template.targets),
        "fields": list(template.fields),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{args.template}: ok — {template.name!r}, {len(template.layers)} layers, "
            f"targets {', '.join(template.targets)}; fields: {', '.join(template.fields) or 'none'}"
        )
    return EXIT_OK


def _template_path(name: str) -> Path:
    """A path as given, or a bundled example by name (``card-a``)."""
    path = Path(name)
    if path.exists():
        return path
    from fastshare.examples import example_path

    found = example_path(name)
    return found if found is not None else path


def _load_item(args: argparse.Namespace) -> dict[str, Any]:
    from fastshare.errors import DataError

    text: str | None = args.data
    if args.data_file is not None:
        try:
            text = args.data_file.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"cannot read data file: {exc.strerror or exc}"
            raise DataError(msg, field="--data-file", value=str(args.data_file)) from None
    if text is None:
        return {}
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON: {exc}"
        raise DataError(msg, field="--data", value=text[:80]) from None
    if not isinstance(item, dict):
        msg = "item data must be a JSON object"
        raise DataError(msg, field="--data", value=text[:80])
    return item


def _cmd_render(args: argparse.Namespace) -> int:
    from fastshare.encoders import encode, format_from_path
    from fastshare.renderer import Renderer
    from fastshare.sinks import extension_for
    from fastshare.stores import write_atomic
    from fastshare.targets import parse_targets
    from fastshare.template import load_template

    template = load_template(_template_path(args.template), asset_dirs=args.assets)
    item = _load_item(args)
    targets = parse_targets(args.target, "--target")
    out: Path = args.out
    fmt = args.format or (format_from_path(out) if out.suffix else "png")
    many = len(targets) > 1 or out.is_dir() or not out.suffix
    renderer = Renderer()
    summary = []
    for target in targets:
        started = time.perf_counter()
        frame = renderer.render(template, item, target)
        path = out / f"{target.name}.{extension_for(fmt)}" if many else out
        path.parent.mkdir(parents=True, exist_ok=True)
        size = write_atomic(path, encode(frame, fmt))
        ms = (time.perf_counter() - started) * 1000
        row = {"target": target.name, "path": str(path), "bytes": size, "ms": round(ms, 2)}
        summary.append(row)
        if not args.json:
            w, h = target.size
            print(f"{path}  {w}×{h}  {size / 1024:.1f} KB  {ms:.1f} ms")
    if args.json:
        print(json.dumps(summary, indent=2))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from fastshare.demo import run_demo

    started = time.perf_counter()
    written = run_demo(args.out, fmt=args.format, quiet=args.quiet)
    seconds = time.perf_counter() - started
    print(f"wrote {len(written)} images to {args.out} in {seconds:.1f} s")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
