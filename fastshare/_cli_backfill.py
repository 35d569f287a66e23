"""``fastshare backfill``: the command-line face of :func:`fastshare.backfill`.

``register(subparsers)`` adds the subcommand to the CLI's argparse subparsers; the handler
returns the exit code: 0 all done, 1 some outputs failed (the summary lists them and names the
failures file), 2 bad usage or a bad template/input (raised as client errors for ``cli.main``),
130 interrupted (Ctrl-C or SIGTERM; the message says how to resume).

Signals: the first SIGINT/SIGTERM stops reading the input and lets in-flight renders finish and
be recorded; a second one cancels them (their temporary files are removed). Either way the
command prints how to resume: rerunning it skips everything already done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastshare.errors import ValueRangeError

__all__ = ["register", "run_backfill_command"]

_EPILOG = """\
examples:
  fastshare backfill card.toml posts.jsonl --out cards/
  fastshare backfill card-a posts.csv --out cards/ --targets og,square,story --format jpeg
  fastshare backfill card.toml posts/ --out cards/ --workers 4 --quiet
  fastshare backfill card.toml posts.jsonl --out cards/ --dry-run --list
  fastshare backfill card.toml posts.jsonl --out cards/ --retry-failed
  fastshare backfill card.toml posts.jsonl --out cards/ --pattern '{shard}/{item_id}-{target}.{ext}'
  fastshare backfill card.toml posts.jsonl --out /mnt/cards/ --engine dask --scheduler tcp://sched:8786
  fastshare backfill card.toml posts.jsonl --out cards/ --engine dask --local 2

INPUT is JSON Lines (.jsonl, '-' for stdin), CSV (header row) or a directory of .json files,
streamed. Outputs already rendered with the same template, data, fonts and encoder settings
are skipped, so rerunning a command resumes it. The registry (SQLite) defaults to
DIR/.fastshare/registry.sqlite and failures go to DIR/.fastshare/failures.jsonl.

--engine dask runs chunks of --batch-size items (default up to 200) on Dask distributed (needs
pip install 'fastshare[dask]'); --out must be on storage every worker sees at the same path.

exit codes: 0 all done, 1 some outputs failed, 2 bad usage/template/input, 130 interrupted.
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``backfill`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "backfill",
        help="render every item of an input for every target, resumably, with a registry",
        formatter_class=_formatter,
        description=(
            "Render every item of INPUT with TEMPLATE for every target into DIR and record each\n"
            "output in an SQLite registry. Safe to interrupt and to rerun: done work is skipped."
        ),
        epilog=_EPILOG,
    )
    p.add_argument("template", help="template file (.toml or .json) or a bundled example name")
    p.add_argument("input", help="items: .jsonl, .csv, a directory of .json files, or '-'")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument(
        "--targets", metavar="LIST", help="targets, comma-separated (default: the template's)"
    )
    p.add_argument("--format", default="png", metavar="FMT", help="png (default), jpeg or webp")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="encoder option, repeatable (e.g. quality=85)",
    )
    p.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: the CPU count)"
    )
    p.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="registry file (default DIR/.fastshare/registry.sqlite)",
    )
    p.add_argument(
        "--id-field",
        default="id",
        metavar="FIELD",
        help="the item field holding its id (default id)",
    )
    p.add_argument(
        "--input-format", choices=("jsonl", "csv", "dir"), help="override format detection"
    )
    p.add_argument("--limit", type=int, metavar="N", help="process at most N items")
    p.add_argument(
        "--retry-failed", action="store_true", help="rerun only the failures of the last run"
    )
    p.add_argument(
        "--failures", type=Path, metavar="PATH", help="failures file (default DIR/.fastshare/...)"
    )
    p.add_argument("--dry-run", action="store_true", help="count what would be rendered/skipped")
    p.add_argument(
        "--list", action="store_true", help="print each output: render|skip ID TARGET PATH"
    )
    p.add_argument("--force", action="store_true", help="re-render outputs that are already done")
    p.add_argument(
        "--pattern",
        default="{item_id}/{target}.{ext}",
        metavar="PATTERN",
        help="output path pattern under DIR (default {item_id}/{target}.{ext}); placeholders: "
        "item_id target ext format template shard width height",
    )
    p.add_argument(
        "--gallery",
        metavar="ID",
        help="correlation id for the registry, e.g. 'blog' or '{section}'",
    )
    p.add_argument(
        "--metadata",
        default="",
        metavar="FIELDS",
        help="item fields to copy into the registry, comma-separated",
    )
    p.add_argument(
        "--assets",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="asset directory (repeatable)",
    )
    p.add_argument(
        "--batch-size", type=int, metavar="N", help="items per worker task (default: automatic)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="seconds one output may take before it fails",
    )
    p.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: this machine's worker pool (default); dask: a Dask cluster",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="with --engine dask: the scheduler's address, e.g. tcp://10.0.0.5:8786",
    )
    p.add_argument(
        "--local",
        type=int,
        metavar="N",
        help="with --engine dask: start a LocalCluster of N worker processes",
    )
    p.add_argument("--fsync", action="store_true", help="flush files and registry to disk")
    p.add_argument("--quiet", action="store_true", help="no progress bar: a log line every 10 s")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_backfill_command)
    return p


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueRangeError("expected KEY=VALUE", field="--option", value=text)
    value: Any
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def _resume_command(argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    cleaned = [a for a in args if a not in ("--force", "--dry-run", "--list")]
    return shlex.join(["fastshare", *cleaned])


def _silence_stdout() -> None:
    """Point stdout at /dev/null (its reader went away) so later writes and exit are quiet."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def run_backfill_command(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    """The ``backfill`` handler: run, print the summary, return the exit code."""
    from fastshare.backfiller import backfill_async, default_paths

    options = dict(_parse_option(o) for o in args.option)
    if args.limit is not None and args.limit < 0:
        raise ValueRangeError("must be >= 0", field="--limit", value=args.limit)
    if args.workers is not None and args.workers < 1:
        raise ValueRangeError("must be >= 1", field="--workers", value=args.workers)
    if args.engine == "local" and (args.scheduler is not None or args.local is not None):
        name = "--scheduler" if args.scheduler is not None else "--local"
        msg = "needs --engine dask"
        raise ValueRangeError(msg, field=name, value=args.scheduler or args.local)
    if args.engine == "dask" and (args.scheduler is None) == (args.local is None):
        msg = "dask needs --scheduler ADDR or --local N (one of them)"
        raise ValueRangeError(msg, field="--engine", value="dask")
    if args.local is not None and args.local < 1:
        raise ValueRangeError("must be >= 1", field="--local", value=args.local)
    if args.retry_failed:
        _, default_failures = default_paths(args.out, args.db)
        failures = str(args.failures) if args.failures else default_failures
        if not Path(failures).is_file():
            print(f"nothing to retry: no failures file at {failures}", file=sys.stderr)
            return 0
    progress: Any
    if args.json or args.list:
        progress = "log" if args.quiet else None
    elif args.quiet or not sys.stderr.isatty():
        progress = "log"
    else:
        progress = "bar"

    stop = asyncio.Event()
    reader_gone = False

    def listing(action: str, item_id: str, target: str, path: str) -> None:
        nonlocal reader_gone
        if reader_gone:
            return
        try:
            print(f"{action}\t{item_id}\t{target}\t{path}", flush=False)
        except BrokenPipeError:  # `--list | head`: the reader is gone
            reader_gone = True
            _silence_stdout()
            if args.dry_run:
                stop.set()  # a dry run has nothing else to show

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = 0

        def on_signal(signum: int) -> None:
            nonlocal signals
            signals += 1
            name = signal.Signals(signum).name
            if signals == 1:
                print(
                    f"\nfastshare: {name}: finishing the renders in flight "
                    "(send it again to cancel them)…",
                    file=sys.stderr,
                    flush=True,
                )
                stop.set()
            elif task is not None:
                print(f"\nfastshare: {name}: cancelling…", file=sys.stderr, flush=True)
                task.cancel()

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, int(sig))
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            return await backfill_async(
                args.template,
                args.input if args.input != "-" else "-",
                out=args.out,
                targets=args.targets,
                format=args.format,
                encode_options=options,
                workers=args.workers,
                db=args.db,
                id_field=args.id_field,
                input_format=args.input_format,
                limit=args.limit,
                retry_failed=args.retry_failed,
                dry_run=args.dry_run,
                force=args.force,
                pattern=args.pattern,
                failures=args.failures,
                gallery=args.gallery,
                metadata_fields=[f.strip() for f in args.metadata.split(",") if f.strip()],
                asset_dirs=args.assets,
                batch_size=args.batch_size,
                timeout=args.timeout,
                fsync=args.fsync,
                engine=args.engine,
                scheduler=args.scheduler,
                local=args.local,
                progress=progress,
                listing=listing if args.list else None,
                stop=stop,
            )
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    try:
        summary = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(
            "fastshare: backfill cancelled (what was written is recorded). To resume, rerun:\n"
            f"  {_resume_command(argv)}",
            file=sys.stderr,
        )
        return 130
    if reader_gone and args.dry_run:
        return 0  # the listing was cut short on purpose (`| head`)
    try:
        sys.stdout.flush()
        if args.json:
            print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        else:
            stream = sys.stdout if summary.ok or summary.failed else sys.stderr
            print(summary.format_text(), file=stream, flush=True)
    except BrokenPipeError:
        _silence_stdout()
    if summary.interrupted:
        print(
            f"fastshare: interrupted after {summary.rendered:,} rendered; "
            "to resume (done outputs are skipped), rerun:\n"
            f"  {_resume_command(argv)}",
            file=sys.stderr,
        )
    return int(summary.exit_code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``backfill`` alone (``python -m fastshare._cli_backfill ...``), as ``cli.main`` would."""
    from fastshare.errors import ClientError, FastshareError, TemplateError

    parser = argparse.ArgumentParser(prog="fastshare", formatter_class=_formatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    args = parser.parse_args(["backfill", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run_backfill_command(args, ["backfill", *(sys.argv[1:] if argv is None else argv)])
    except TemplateError as exc:
        print(f"fastshare: template error: {exc}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"fastshare: {exc}", file=sys.stderr)
        return 2
    except FastshareError as exc:
        print(f"fastshare: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
