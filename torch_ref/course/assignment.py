"""``manual-backprop assignment``: make a backprop assignment, and check its autograder before uploading it.

    manual-backprop assignment new DIR [--parts forward,loss,backward,sgd_step] [--format py|ipynb|both]
           [--activation A] [--loss L] [--points forward=2,backward=6] [--seed N]
           [--timeout S] [--memory MB] [--forbid M[,M]] [--user U] [--visibility public=visible,hidden=after_published]
    manual-backprop assignment check AUTOGRADER.zip SUBMISSION [--reuse | --venv DIR] [--root DIR]

``new`` writes the student's starter and public tests, the teacher's solution,
the Gradescope autograder and its zip (``torch_ref.course.create``). ``check``
runs the zip on one submission as Gradescope would (``torch_ref.course.dryrun``).
Exit status: 0 done (``check``: full marks), 1 (``check``: less than full
marks), 2 a usage error, 3 (``check``) the autograder itself failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .config import DEFAULT_POINTS, DEFAULT_USER, PARTS, VISIBILITIES, Config


def _prog() -> str:
    return "manual-backprop assignment"


def _pairs(text: str, what: str, convert) -> dict:
    """"a=1,b=2" as {"a": convert("1"), ...}; argparse's error on anything else."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{what} takes NAME=VALUE pairs separated by commas; got {item!r}")
        try:
            out[key.strip()] = convert(value.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: {key.strip()}={value.strip()!r} is not valid") from None
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description="Make a backprop assignment and its "
                                     "Gradescope autograder; check the autograder before uploading it.")
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = commands.add_parser("new", help="write the starter, the public tests, the solution and the autograder",
                              description="Write DIR/student, DIR/solution, DIR/autograder, DIR/autograder.zip "
                                          "and DIR/README.md.")
    new.add_argument("folder", metavar="DIR", type=Path, help="a new or empty folder")
    new.add_argument("--parts", default=",".join(PARTS),
                     help=f"the graded parts, comma-separated (default: {','.join(PARTS)})")
    new.add_argument("--format", choices=["py", "ipynb", "both"], default="both",
                     help="the starter as a .py file, a notebook, or both (default both)")
    new.add_argument("--activation", default="sigmoid", help="the hidden activation (default: the seed's sigmoid)")
    new.add_argument("--loss", default="half_sse", help="the loss (default: the seed's half_sse)")
    new.add_argument("--points", default="",
                     help="points per part as PART=POINTS pairs, e.g. forward=2,backward=6 (default: "
                          + ",".join(f"{p}={v:g}" for p, v in DEFAULT_POINTS.items()) + ")")
    new.add_argument("--seed", type=int, help="the hidden cases' seed (default: a random one), kept only "
                                              "in the autograder's config")
    new.add_argument("--timeout", type=float, default=60.0, help="seconds per submission (default 60)")
    new.add_argument("--memory", type=int, default=1024, help="MB per submission's process; 0: none (default 1024)")
    new.add_argument("--forbid", default="", help="modules a submission may not import, beyond manual_backprop "
                                                  "and torch_ref, e.g. torch,jax")
    new.add_argument("--user", default=DEFAULT_USER,
                     help=f"the unprivileged user student code runs as where the autograder runs as root "
                          f"(setup.sh creates it; default {DEFAULT_USER}); '' to run it as the grader's "
                          f"user, root on Gradescope, which can read the hidden seed")
    new.add_argument("--visibility", default="",
                     help=f"Gradescope visibility of the public and hidden cases' tests, e.g. "
                          f"public=visible,hidden=after_due_date; each one of {', '.join(VISIBILITIES)} "
                          f"(default public=visible,hidden=after_published)")
    chk = commands.add_parser("check", help="run AUTOGRADER.zip on SUBMISSION as Gradescope would",
                              description="Unpack the zip into a Gradescope-like folder, run setup.sh in a "
                                          "fresh virtual environment, then run_autograder on SUBMISSION; print "
                                          "the score, each test and the path of results.json.")
    chk.add_argument("zip", metavar="AUTOGRADER.zip", type=Path)
    chk.add_argument("submission", metavar="SUBMISSION", type=Path, help="a .py or .ipynb file, or a folder")
    venvs = chk.add_mutually_exclusive_group()
    venvs.add_argument("--reuse", action="store_true",
                       help="keep the virtual environment in the cache folder and use it again next time")
    venvs.add_argument("--venv", type=Path, help="use (and make, if missing) this virtual environment")
    chk.add_argument("--root", type=Path, help="the Gradescope-like folder (default: a new temporary one)")
    return parser


def _config(args) -> Config:
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    points = dict(DEFAULT_POINTS)
    points.update(_pairs(args.points, "--points", float))
    unknown = sorted(set(points) - set(PARTS))
    if unknown:
        raise ValueError(f"--points: unknown parts {unknown}; the parts are {list(PARTS)}")
    visibility = {"public": "visible", "hidden": "after_published"}
    visibility.update(_pairs(args.visibility, "--visibility", str))
    forbid = tuple(m.strip() for m in args.forbid.split(",") if m.strip())
    in_order = tuple(p for p in PARTS if p in parts) + tuple(p for p in parts if p not in PARTS)
    return Config(parts=in_order, points=points, seed=args.seed, activation=args.activation, loss=args.loss,
                  timeout=args.timeout, memory=args.memory, forbid=forbid, user=args.user, visibility=visibility)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.action == "new":
        from .create import new_assignment, remove_partial

        try:
            config = _config(args)
        except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
            parser.error(str(err))
        existed = args.folder.is_dir()
        if existed and any(args.folder.iterdir()):
            parser.error(f"DIR must be a new or empty folder; {args.folder} already holds files")
        formats = ("py", "ipynb") if args.format == "both" else (args.format,)
        try:
            made = new_assignment(args.folder, config, formats)
        except BaseException:
            remove_partial(args.folder, existed)
            raise
        print(f"wrote {args.folder}/: student/ (hand out), solution/ (keep), autograder/ and "
              f"autograder.zip (upload to Gradescope), README.md")
        print(f"hidden seed {made['config'].seed} (only in autograder/config.json); "
              f"total {config.max_score:g} points")
        print(f"check it: {_prog()} check {made['zip']} {made['solution'] / (config.file + '.py')}")
        return 0
    from .dryrun import CheckError, check

    venv = args.venv
    if args.reuse:
        from .dryrun import default_venv

        venv = default_venv()
    try:
        return check(args.zip, args.submission, root=args.root, venv=venv)
    except ValueError as err:
        parser.error(str(err))
    except CheckError as err:
        print(f"{_prog()} check: {err}", file=sys.stderr)
        return 3
    return 2  # not reached: parser.error exits


if __name__ == "__main__":
    sys.exit(main())
