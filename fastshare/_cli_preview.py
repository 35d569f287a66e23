"""``fastshare preview``: the template playground, a subcommand of the main CLI.

:func:`register` adds ``preview`` to the main CLI's subparsers (``fastshare/cli.py`` calls it).
The web stack is imported only when the command runs, so ``--help`` works without the ``serve``
extra. Standalone: ``python -m fastshare._cli_preview preview card.toml``.

Exit codes: 0 after a clean stop (Ctrl-C), 2 for bad usage: a missing template file, unreadable
``--data``, a non-loopback ``--host`` without ``--token-env``, an address that cannot be bound,
or a missing ``serve`` extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastshare.errors import DataError, ValueRangeError

__all__ = ["main", "register"]

EXIT_OK = 0
EXIT_USAGE = 2
#: the shortest token accepted (the service's own rule for tokens)
MIN_TOKEN_BYTES = 16


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def register(subparsers: Any) -> None:
    """Add the ``preview`` subcommand to an argparse subparsers object."""
    preview = subparsers.add_parser(
        "preview",
        help="edit a template and see it at every target size in the browser",
        formatter_class=_formatter,
        description=(
            "Serve a playground page for one template: the template rendered at each of its\n"
            "targets, a form with one field per placeholder, target and format pickers and a\n"
            "layer-box outline toggle. Edits re-render at once; saving the template file\n"
            "re-renders too. Prints the page's URL and opens nothing. See docs/preview.md."
        ),
        epilog=(
            "examples:\n"
            "  fastshare preview card.toml\n"
            "  fastshare preview card.toml --data item.json --port 8001\n"
            "  fastshare preview card-a                      # a bundled example\n"
            "  PREVIEW_TOKEN=... fastshare preview card.toml --host 0.0.0.0 "
            "--token-env PREVIEW_TOKEN\n"
            "\nneeds the serve extra: pip install 'fastshare[serve]'"
        ),
    )
    preview.add_argument(
        "template", help="template file (.toml or .json) or a bundled example name"
    )
    preview.add_argument(
        "--data",
        metavar="FILE",
        type=Path,
        default=None,
        help="JSON file with the item the form starts from (an object, or JSON Lines: the "
        "first line)",
    )
    preview.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); anything but 127.0.0.1, ::1 or "
        "localhost needs --token-env",
    )
    preview.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any)")
    preview.add_argument(
        "--workers", type=int, default=None, help="render workers (default: CPUs, at most 4)"
    )
    preview.add_argument(
        "--token-env",
        metavar="NAME",
        action="append",
        default=[],
        help="environment variable holding a token every request must carry (open the page "
        "once with ?token=...); required to listen on a non-loopback address",
    )
    preview.add_argument(
        "--assets", type=Path, action="append", default=[], help="extra asset directory"
    )
    preview.add_argument("--log-level", default="info", help="debug, info, warning, error")
    preview.add_argument("--access-log", action="store_true", help="log every request")
    preview.set_defaults(func=cmd_preview)


def template_path(name: str) -> Path:
    """The template file ``name``, or the bundled example of that name; ``ValueRangeError``."""
    path = Path(name)
    if path.is_file():
        return path
    from fastshare.examples import example_path

    found = example_path(name)
    if found is not None and not path.exists():
        return found
    msg = "no such template file (and no bundled example of that name)"
    raise ValueRangeError(msg, field="template", value=name)


def load_data(path: Path | None) -> dict[str, Any]:
    """The sample item in ``path``: a JSON object, or the first line of a JSON Lines file."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read the data file: {getattr(exc, 'strerror', None) or exc}"
        raise DataError(msg, field="--data", value=str(path)) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        first = next((line for line in text.splitlines() if line.strip()), "")
        try:
            doc = json.loads(first)
        except json.JSONDecodeError:
            msg = f"not valid JSON: {exc}"
            raise DataError(msg, field="--data", value=str(path)) from None
    if not isinstance(doc, dict):
        msg = "the data file must hold a JSON object (or JSON Lines of objects)"
        raise DataError(msg, field="--data", value=str(path))
    return doc


def build_config(args: argparse.Namespace) -> Any:
    """The base :class:`~fastshare.service.ServiceConfig` for ``preview``'s arguments."""
    from fastshare.preview.app import default_workers
    from fastshare.service.config import ServiceConfig, secret_from_env

    tokens = tuple(secret_from_env(name, "--token-env") for name in args.token_env)
    for name, token in zip(args.token_env, tokens, strict=True):
        if len(token) < MIN_TOKEN_BYTES:
            msg = f"the token in ${name} is too short: use at least {MIN_TOKEN_BYTES} random bytes"
            raise ValueRangeError(msg, field="--token-env", value=name)
    return ServiceConfig(
        workers=args.workers if args.workers is not None else default_workers(),
        tokens=tokens,
        asset_dirs=tuple(args.assets),
    )


def cmd_preview(args: argparse.Namespace) -> int:
    """Run ``fastshare preview``: check everything, print the URL, serve until Ctrl-C."""
    from fastshare.preview.app import check_host
    from fastshare.service.app import MissingExtraError, require_extra

    try:
        require_extra("starlette")
        require_extra("uvicorn")
    except MissingExtraError as exc:
        message = str(exc).replace("fastshare serve", "fastshare preview")
        print(f"fastshare: {message}", file=sys.stderr)
        return EXIT_USAGE
    path = template_path(args.template)
    data = load_data(args.data)
    config = build_config(args)
    try:
        check_host(args.host, config.tokens)
    except ValueRangeError as exc:
        print(
            f"fastshare preview: refusing to listen on {args.host}: {exc.reason}", file=sys.stderr
        )
        return EXIT_USAGE
    level = getattr(logging, str(args.log_level).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s:     %(name)s: %(message)s")

    def announce(url: str) -> None:
        print(f"fastshare preview: {path} at {url}", flush=True)
        if config.tokens:
            names = ", ".join(f"${name}" for name in args.token_env)
            print(
                f"fastshare preview: open it once as {url}?token=<the value of {names}>",
                flush=True,
            )
        print("fastshare preview: press Ctrl-C to stop", flush=True)

    from fastshare.preview.app import run_preview

    try:
        run_preview(
            path,
            data=data,
            config=config,
            host=args.host,
            port=args.port,
            log_level=str(args.log_level).lower(),
            access_log=args.access_log,
            announce=announce,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f"{args.host}:{args.port}"
        print(f"fastshare preview: cannot listen on {where}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fastshare._cli_preview``: the ``fastshare`` command line, same exit codes."""
    from fastshare.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
