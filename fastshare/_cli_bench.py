"""The ``fastshare bench`` subcommand: :func:`register` adds it to the CLI's subparsers.

Exit codes follow the CLI's: 0 done, 1 a comparison found regressions and
``--fail-on-regression`` was given, 2 bad usage (unknown suite, unreadable report, matplotlib
missing for ``--plot``). Progress goes to stderr (``--quiet`` silences it); the table to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["cmd_bench", "register"]

_EPILOG = """\
examples:
  fastshare bench                                  # quick suite (~30 s), table on stdout
  fastshare bench --suite full --json bench.json   # full suite (a few minutes), saved as JSON
  fastshare bench --workers 4 --plot stages.png    # pool on 1..4 workers; stage breakdown plot
  fastshare bench --compare old.json               # run, then compare with an earlier run
  fastshare bench --compare old.json new.json      # compare two saved runs, no run

what is measured: per card (plan, layout, paint, fromarray, encode, write, to pixels, end to end,
per format), fastshare and the Pillow + numpy baseline in the same run; images/s through the
render pool on 1..N workers; pool warm-up and worker respawn; a fresh process to its first PNG.
Values are medians of rounds after a warm-up; ± is half the spread of the rounds, and --compare
flags a change only outside both runs' bands. See docs/performance.md.
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to ``subparsers`` (from ``parser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="benchmark fastshare against the Pillow baseline on this machine",
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
            prog, max_help_position=32
        ),
        description=(
            "Benchmark card A stage by stage, end to end, on 1..N workers and from a cold "
            "start, against a Pillow + numpy baseline run in the same process."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--suite", choices=("quick", "full"), default="quick", help="quick (default) or full"
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="measure the pool on 1..N workers (default: usable CPUs; 0 skips the pool)",
    )
    parser.add_argument(
        "--targets",
        default=None,
        metavar="T,...",
        help="targets to measure per card (default: og; full adds story)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="OUT", help="write the report as JSON ('-': stdout)"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        type=Path,
        metavar=("OLD.json", "NEW.json"),
        help="compare a new run with an earlier report; given two reports, compare them (no run)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when --compare finds a result worse beyond the noise band",
    )
    parser.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="draw the stage breakdown (needs matplotlib)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=cmd_bench)
    return parser


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"must be an integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 0:
        msg = f"must be >= 0, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``fastshare bench`` for parsed ``args``; returns the exit code."""
    from fastshare.bench.report import compare, format_comparison, format_table, load_report
    from fastshare.errors import ClientError

    compare_paths: list[Path] = list(args.compare or [])
    if len(compare_paths) > 2:
        msg = "give one report (compare a new run with it) or two (compare them)"
        raise ClientError(msg, field="--compare", value=[str(p) for p in compare_paths])
    if len(compare_paths) == 2 and args.json is not None:
        msg = "--json saves a new run; with two --compare reports nothing runs"
        raise ClientError(msg, field="--json", value=str(args.json))
    if args.plot is not None:
        from fastshare.bench.plot import require_matplotlib

        require_matplotlib(args.plot)  # fail before a long run, not after
    old = load_report(compare_paths[0]) if compare_paths else None

    if len(compare_paths) == 2:
        assert old is not None
        new = load_report(compare_paths[1])
    else:
        from fastshare.bench.suite import run_suite

        targets = None
        if args.targets:
            targets = [t.strip() for t in args.targets.split(",") if t.strip()]

        def progress(message: str) -> None:
            print(f"bench: {message}", file=sys.stderr, flush=True)

        new = run_suite(
            args.suite,
            workers=args.workers,
            targets=targets,
            progress=None if args.quiet else progress,
        )
        if args.json is not None and str(args.json) == "-":
            print(new.to_json())
        else:
            print(format_table(new))
            if args.json is not None:
                new.save(args.json)
                print(f"\nreport written to {args.json}")
    if args.plot is not None:
        from fastshare.bench.plot import plot_stages

        plot_stages(new, args.plot)
        print(
            f"plot written to {args.plot}", file=sys.stderr if str(args.json) == "-" else sys.stdout
        )
    if old is None:
        return 0
    changes = compare(old, new)
    out = sys.stderr if args.json is not None and str(args.json) == "-" else sys.stdout
    print("\n" + format_comparison(old, new, changes), file=out)
    worse = any(c.verdict == "worse" for c in changes)
    return 1 if worse and args.fail_on_regression else 0
