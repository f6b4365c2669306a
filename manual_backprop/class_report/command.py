"""``manual-backprop report``: a class's results as a terminal table, an HTML page and a CSV.

    manual-backprop report RESULTS... [--html FILE] [--csv FILE] [--plots DIR] [--format text|none]
                           [--title TEXT]

RESULTS: ``grade --format json`` files (whole or shards), autograder
``results.json`` files, or folders searched recursively for ``results.json``.

Exit status: 0 when every input was read; 1 when some input was damaged (not
JSON, a missing field, a submission met twice): the report of everything
else is still written, and each damaged input is named on stderr and at the
top of the page, so that one bad file loses nothing else in the class; 2 for
a usage error (no such file or folder, no input at all, a bad option), with
nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .inputs import read_class
from .page import page
from .tally import meanings, tally
from .terminal import csv_text, text


def _prog() -> str:
    return sys.argv[0] if sys.argv[0].startswith("manual-backprop") else "manual-backprop report"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description="What a class got wrong: counts of each "
                                     "diagnosis code, the common mistakes, each net's pass rate.")
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="grade --format json files (shards too), results.json files, or folders of them")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the page here")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write one row per submission here")
    parser.add_argument("--plots", type=Path, metavar="DIR",
                        help="the folder of grade --plot: link each submission's pictures from the page")
    parser.add_argument("--format", choices=["text", "none"], default="text",
                        help="what to print on stdout (default text; none: only the files)")
    parser.add_argument("--title", default="Class report", help="the page's title")
    return parser


def _usage_error(args) -> Optional[str]:
    for name in args.results:
        if not Path(name).exists():
            return f"no such file or folder: {name}"
    for option in ("html", "csv"):
        target = getattr(args, option)
        if target is not None and not target.resolve().parent.is_dir():
            return f"--{option}: no such folder: {target.parent}"
    if args.plots is not None and not args.plots.is_dir():
        return f"--plots: no such folder: {args.plots}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problem = _usage_error(args)
    if problem:
        print(f"{_prog()}: error: {problem}", file=sys.stderr)
        return 2
    graded, errors = read_class(args.results)
    problems = [str(e) for e in errors]
    for p in problems:
        print(f"{_prog()}: damaged input: {p}", file=sys.stderr)
    t = tally(graded)
    table = meanings()
    if args.format == "text":
        sys.stdout.write(text(t, table, problems))
    if args.csv is not None:
        args.csv.write_text(csv_text(t), encoding="utf-8", newline="")
    if args.html is not None:
        args.html.write_text(page(t, table, problems, args.title, args.plots, args.html.resolve().parent),
                             encoding="utf-8")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
