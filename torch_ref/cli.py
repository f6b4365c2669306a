"""The ``manual-backprop`` command: the main job and the tools, from an installed wheel.

    manual-backprop compare [options]      # the main job: the twins trained side by side
    manual-backprop grade solution.py      # check a student's backward against autograd
    manual-backprop explain --sizes 4 16 2 # the equations with the shape of every factor
    manual-backprop bench [options]        # the speed of one training step
    manual-backprop assignment new DIR     # a course's starter, tests, solution and Gradescope autograder
    manual-backprop report class.json --html class.html  # what a class got wrong
    manual-backprop --version

Each subcommand takes the options of the module it runs (``manual-backprop
compare --help``). This module needs only NumPy: torch is imported by the
subcommand that needs it, so ``--version``, ``explain`` and ``grade
--reference finite_differences`` work in a core install; a subcommand that
needs a missing extra stops with exit status 2 and the command that installs it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from manual_backprop import __version__

from ._extras import MissingExtraError

# name: (module whose main(argv) runs it, one line of help)
COMMANDS = {
    "compare": ("torch_ref.compare.main", "train the manual net and its torch twin side by side (the main job)"),
    "grade": ("torch_ref.grade", "check a student's backward(params, I, Y) -> grads against autograd"),
    "explain": ("manual_backprop.explain", "print a net's forward and backward with the shape of every factor"),
    "bench": ("torch_ref.bench", "time one training step against torch and against its matrix products"),
    "assignment": ("torch_ref.course.assignment", "make a backprop assignment and its Gradescope autograder; check it"),
    "report": ("manual_backprop.class_report.command", "what a class got wrong: counts, a page and a CSV from graded results"),
}
PROG = "manual-backprop"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="A hand-written NumPy MLP, its torch twin, and the gradient oracle.",
        epilog=f"'{PROG} COMMAND --help' shows a command's options.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names; its exit status. A reader that goes away before the output is
    written (``manual-backprop explain | head``) ends it with status 1, without a traceback: as
    Python's documentation advises, the rest of the output goes to the null device."""
    try:
        try:
            return _command(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _command(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # the commands, on stderr: a usage error
        _parser().print_help(sys.stderr)
        return 2
    if argv[0] not in COMMANDS:
        _parser().parse_args(argv)  # --version, --help, or a usage error: exits
        return 2  # not reached: every argv that is not a command makes argparse exit
    name, rest = argv[0], argv[1:]
    program = sys.argv[0]
    sys.argv[0] = f"{PROG} {name}"  # the name argparse shows in the command's usage and errors
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(rest))
    except MissingExtraError as err:
        print(f"{PROG} {name}: {err}", file=sys.stderr)
        return 2
    finally:
        sys.argv[0] = program


if __name__ == "__main__":
    sys.exit(main())
