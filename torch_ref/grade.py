"""Grade students' backprop from the command line, each submission isolated in a child process.

    python -m torch_ref.grade SUBMISSION... [--function backward] [--timeout S] [--memory MB]
           [--jobs N] [--format text|json|gradescope] [--output FILE] [--seed N] [--shard K/N]
           [--reference autograd|finite_differences] [--forbid MODULE[,MODULE]] [--user NAME] [--plot DIR]

A submission is a ``.py`` file or a notebook (``.ipynb``, its code cells), or
a folder meaning every such file directly inside it. Each runs in its own
child process (``manual_backprop.oracle.isolation``): the child only runs the
student's ``backward(params, I, Y) -> grads`` (what it receives is documented
in ``manual_backprop.oracle.cases``) and sends back arrays; this process builds
the nets, draws the data, computes the reference once per case, compares and
decides. The tables name each mistake with the seed equation that fixes it.

Exit status: 0 when every submission passes; 1 when any fails for any reason
(a wrong gradient, a missing function, raised, exited, killed, timed out, out
of memory); 2 for a usage error seen before any student code runs (no such
file, not a ``.py``/``.ipynb``, a bad option); 130 when interrupted. torch is imported only for
``--reference autograd`` (the default), so ``finite_differences`` works without it.

Containment (``manual_backprop.oracle.containment``): nothing a submission starts
outlives its grading (a submission that leaves processes running fails);
``--output`` is written once every child is gone, atomically; a submission may
not import the grader's packages, nor the modules ``--forbid`` names; with
``--user`` (the grader running as root) its code runs as that user.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Sequence

from manual_backprop.activations import get_activation
from manual_backprop.losses import get_loss
from manual_backprop.oracle.batch import (
    CachedCheck,
    UsageError,
    check_containment,
    find_submissions,
    finite_difference_tolerance,
    grade_files,
    shard,
)
from manual_backprop.oracle.cases import DEFAULT_CASES, grade
from manual_backprop.oracle.containment import adopt_orphans
from manual_backprop.oracle.finite_differences import numerical_grads
from manual_backprop.oracle.formats import as_gradescope, as_json, as_text
from manual_backprop.oracle.hidden import draw_cases
from manual_backprop.oracle.isolation import Limits
from manual_backprop.oracle.tolerances import tolerance_for

from ._extras import install_hint, missing_extra

DEFAULT_MEMORY_MB = 1024


def _prog() -> str:
    """The command's name as the user typed it: ``manual-backprop grade`` or ``python -m torch_ref.grade``."""
    return sys.argv[0] if sys.argv[0].startswith("manual-backprop") else "python -m torch_ref.grade"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(),
                                     description="Check students' backward(params, I, Y) -> grads, "
                                                 "each in its own child process.")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help=".py or .ipynb files, or folders of them")
    parser.add_argument("--function", default="backward", help="the function to grade (default: backward)")
    parser.add_argument("--timeout", type=_positive(float), default=60.0,
                        help="seconds each submission may run in total (default 60)")
    parser.add_argument("--memory", type=_positive(int, zero=True), default=DEFAULT_MEMORY_MB,
                        help=f"address-space limit of each child in MB; 0: none "
                             f"(default {DEFAULT_MEMORY_MB})")
    parser.add_argument("--jobs", type=_positive(int), default=1, help="children run in parallel (default 1)")
    parser.add_argument("--format", choices=["text", "json", "gradescope"], default="text")
    parser.add_argument("--output", type=Path, help="write the results to this file instead of stdout")
    parser.add_argument("--seed", type=_positive(int, zero=True),
                        help="grade on nets and data drawn from this seed instead of the public cases")
    parser.add_argument("--shard", metavar="K/N", help="grade only the K-th of N slices of the sorted batch")
    parser.add_argument("--reference", choices=["autograd", "finite_differences"], default="autograd")
    parser.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    parser.add_argument("--output-activation", default="identity")
    parser.add_argument("--loss", default="half_sse")
    parser.add_argument("--plot", type=Path, metavar="DIR",
                        help="draw each wrong gradient beside the right one and their difference, as "
                             "heatmaps in DIR (one folder per submission; needs matplotlib)")
    parser.add_argument("--forbid", metavar="MODULE[,MODULE]", default="",
                        help="modules submissions may not import, besides the grader's own "
                             "(manual_backprop, torch_ref), e.g. torch,jax,autograd")
    parser.add_argument("--user", metavar="NAME",
                        help="run the students' code as this user (the grader must run as root)")
    return parser


def _positive(kind, zero: bool = False):
    def parse(text: str):
        value = kind(text)
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'≥' if zero else '>'} 0; got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def reference_check(reference: str) -> CachedCheck:
    """The cached checker against ``reference`` ("autograd" or "finite_differences"); autograd's
    imports torch, in the background; UsageError where torch is missing. The course kit's
    autograder uses it too."""
    if reference == "finite_differences":
        return CachedCheck(numerical_grads, "finite differences", finite_difference_tolerance)
    if importlib.util.find_spec("torch") is None:
        raise UsageError(f"--reference autograd needs torch: {install_hint('torch')}; "
                         f"or grade with --reference finite_differences")
    threading.Thread(target=_import_autograd, daemon=True).start()  # while the first children start

    def autograd(net, I, Y):
        return _import_autograd().autograd_grads(net, I, Y)

    return CachedCheck(autograd, "autograd", lambda net: tolerance_for(net.dtype))


def _import_autograd():
    return importlib.import_module("torch_ref.autograd")


def _usage_checks(args) -> tuple:
    """(submission paths, cases, check) or UsageError; runs no student code."""
    try:
        get_activation(args.activation)
        get_activation(args.output_activation, "output_activation")
        get_loss(args.loss)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.output is not None and not args.output.resolve().parent.is_dir():
        raise UsageError(f"--output: no such folder: {args.output.parent}")
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise UsageError(missing_extra("--plot", "matplotlib", "plot"))
    check_containment(args.forbid, args.user)
    paths = shard(find_submissions(args.submissions), args.shard)
    cases = DEFAULT_CASES if args.seed is None else draw_cases(args.seed)
    return paths, cases, reference_check(args.reference)


def main(argv: Sequence[str] | None = None) -> int:
    """The command. It makes this process adopt the orphans of a killed supervisor (to kill them):
    run it in a process of its own; from Python, ``grade_files`` grades without that."""
    args = _parser().parse_args(argv)
    try:
        paths, cases, check = _usage_checks(args)
    except UsageError as err:
        print(f"{_prog()}: error: {err}", file=sys.stderr)
        return 2

    def grade_proxies(proxies):
        """proxies: one per graded function the file defines (forward, loss, backward, sgd_step),
        and the --function graded as backward."""
        return grade(proxies[args.function], cases, args.activation, args.output_activation,
                     args.loss, check, forward=proxies.get("forward"), loss_fn=proxies.get("loss"),
                     sgd_step=proxies.get("sgd_step"))

    check.keep_arrays = args.plot is not None  # the wrong gradients' arrays, for --plot only
    limits = Limits(args.timeout, args.memory or None)
    adopt_orphans()  # a submission that kills its supervisor leaves its processes to this one (Linux)
    try:
        submissions = grade_files(paths, grade_proxies, args.function, limits, args.jobs,
                                  forbid=args.forbid, user=args.user)
    except KeyboardInterrupt:
        print("interrupted: every running submission was stopped; no results", file=sys.stderr)
        return 130
    if args.plot is not None:  # the arrays were kept for this (check.keep_arrays above)
        from manual_backprop.class_report.heatmaps import draw_class
        draw_class(submissions, args.plot)
    if args.format == "text":
        text = as_text(submissions)
    else:
        doc = as_json(submissions) if args.format == "json" else as_gradescope(submissions, cases)
        text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomically(args.output, text)
    return 0 if all(s.passed for s in submissions) else 1


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder renamed over it, so the
    file holds either what was there or all of ``text`` (never a mix, never a half). The mode
    is the one a new file gets under the umask."""
    folder = Path(os.path.abspath(path)).parent  # not resolve(): a link at ``path`` is replaced, not followed
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, folder / path.name)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


if __name__ == "__main__":
    sys.exit(main())
