"""``fastshare serve`` and ``fastshare sign``: subcommands for the HTTP render service.

:func:`register` adds both to the main CLI's subparsers (``fastshare/cli.py`` calls it). The web
stack is imported only when ``serve`` runs, so ``fastshare sign`` and ``--help`` work without the
``serve`` extra. Standalone: ``python -m fastshare._cli_serve serve --port 8000``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "register"]

EXIT_OK = 0
EXIT_USAGE = 2
DEFAULT_SECRET_ENV = "FASTSHARE_SECRET"


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def register(subparsers: Any) -> None:
    """Add the ``serve`` and ``sign`` subcommands to an argparse subparsers object."""
    serve = subparsers.add_parser(
        "serve",
        help="run the HTTP render service",
        formatter_class=_formatter,
        description=(
            "Serve cards over HTTP: one server process whose render pool has N warm workers.\n"
            "GET /v1/render/{template}/{target}.{png|jpg|webp}?title=..., POST /v1/render,\n"
            "GET /v1/templates, /v1/targets, /healthz, /readyz, /metrics. See docs/service.md."
        ),
        epilog=(
            "examples:\n"
            "  fastshare serve                                   # bundled examples, port 8000\n"
            "  fastshare serve --templates cards/ --workers 2 --cache-dir /var/cache/fastshare\n"
            "  FASTSHARE_SECRET=... fastshare serve --secret-env FASTSHARE_SECRET\n"
            "  curl 'http://127.0.0.1:8000/v1/render/card-a/og.png?title=Hi&category=News"
            "&site=example.com&read_time=2+min' -o og.png\n"
            "\nneeds the serve extra: pip install 'fastshare[serve]'"
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=None, help="render workers (default: CPUs)")
    serve.add_argument(
        "--templates", type=Path, default=None, help="template directory (default: the examples)"
    )
    serve.add_argument(
        "--secret-env",
        metavar="NAME",
        action="append",
        default=[],
        help="environment variable holding the URL signing secret; repeat to accept old "
        "secrets during rotation (the first one signs). Without it URLs are not signed.",
    )
    serve.add_argument(
        "--token-env",
        metavar="NAME",
        action="append",
        default=[],
        help="environment variable holding a bearer token for POST endpoints (repeatable)",
    )
    serve.add_argument("--cache-dir", type=Path, default=None, help="on-disk render cache")
    serve.add_argument(
        "--cache-max-mb", type=int, default=1024, help="disk cache budget in MB (default 1024)"
    )
    serve.add_argument(
        "--queue-size", type=int, default=64, help="requests that may wait for a worker (64)"
    )
    serve.add_argument(
        "--render-timeout", type=float, default=10.0, help="seconds per render before 504 (10)"
    )
    serve.add_argument(
        "--queue-timeout", type=float, default=5.0, help="seconds waiting for a worker (5)"
    )
    serve.add_argument(
        "--max-pixels", type=int, default=None, help="largest frame in pixels (8388608)"
    )
    serve.add_argument(
        "--presets-only", action="store_true", help="refuse custom WxH sizes and scales"
    )
    serve.add_argument("--assets", type=Path, action="append", default=[], help="asset directory")
    serve.add_argument("--cache-control", default=None, help="Cache-Control for signed GET answers")
    serve.add_argument(
        "--cache-control-unsigned", default=None, help="Cache-Control for unsigned GET answers"
    )
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    serve.add_argument("--no-access-log", action="store_true", help="no per-request log lines")
    serve.set_defaults(func=cmd_serve)

    sign = subparsers.add_parser(
        "sign",
        help="print a signed render URL",
        formatter_class=_formatter,
        description="Sign a render URL with the secret a server uses (--secret-env on serve).",
        epilog=(
            "examples:\n"
            "  FASTSHARE_SECRET=... fastshare sign "
            "'https://cards.example.com/v1/render/card-a/og.png?title=Hi'\n"
            "  fastshare sign '/v1/render/card-a/og.png?title=Hi' --expires-in 3600"
        ),
    )
    sign.add_argument("url", help="the URL (absolute, or a path with its query)")
    sign.add_argument(
        "--secret-env",
        metavar="NAME",
        default=DEFAULT_SECRET_ENV,
        help=f"environment variable holding the secret (default {DEFAULT_SECRET_ENV})",
    )
    expiry = sign.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", type=float, default=None, help="valid for N seconds")
    expiry.add_argument("--expires-at", type=int, default=None, help="valid until Unix time T")
    sign.set_defaults(func=cmd_sign)


def cmd_sign(args: argparse.Namespace) -> int:
    from fastshare.service.config import secret_from_env
    from fastshare.service.signing import sign_url

    secret = secret_from_env(args.secret_env)
    print(sign_url(args.url, secret, expires_at=args.expires_at, expires_in=args.expires_in))
    return EXIT_OK


def build_config(args: argparse.Namespace) -> Any:
    """The :class:`~fastshare.service.ServiceConfig` for ``serve``'s arguments."""
    from fastshare.service.config import ServiceConfig, default_templates_dir, secret_from_env

    options: dict[str, Any] = {
        "templates_dir": args.templates if args.templates is not None else default_templates_dir(),
        "workers": args.workers,
        "queue_size": args.queue_size,
        "render_timeout": args.render_timeout,
        "queue_timeout": args.queue_timeout,
        "secrets": tuple(secret_from_env(name) for name in args.secret_env),
        "tokens": tuple(secret_from_env(name, "--token-env") for name in args.token_env),
        "cache_dir": args.cache_dir,
        "cache_max_bytes": args.cache_max_mb * 1024 * 1024,
        "allow_custom_sizes": not args.presets_only,
        "asset_dirs": tuple(args.assets),
    }
    if args.max_pixels is not None:
        options["max_pixels"] = args.max_pixels
    if args.cache_control is not None:
        options["cache_control_signed"] = args.cache_control
    if args.cache_control_unsigned is not None:
        options["cache_control_unsigned"] = args.cache_control_unsigned
    return ServiceConfig(**options).checked()


def cmd_serve(args: argparse.Namespace) -> int:
    from fastshare.service.app import MissingExtraError, require_extra, run

    try:
        require_extra("starlette")
        require_extra("uvicorn")
    except MissingExtraError as exc:
        print(f"fastshare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    config = build_config(args)
    level = getattr(logging, str(args.log_level).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s:     %(name)s: %(message)s")
    if not config.secrets:
        logging.getLogger("fastshare.service").warning(
            "URL signing is off (no --secret-env): anyone who can reach %s:%d can render",
            args.host,
            args.port,
        )
    run(
        config,
        host=args.host,
        port=args.port,
        log_level=str(args.log_level).lower(),
        access_log=not args.no_access_log,
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fastshare._cli_serve``: the ``fastshare`` command line, same exit codes."""
    from fastshare.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
