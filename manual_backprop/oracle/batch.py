"""Grade many submissions: find them, slice a shard, run isolated children in parallel. NumPy only.

    paths = shard(find_submissions(["submissions/"]), "2/8")
    check = CachedCheck(numerical_grads, "finite differences", finite_difference_tolerance)
    results = grade_files(paths, lambda proxies: grade(proxies["backward"], check=check),
                          function="backward", limits=Limits(timeout=60), jobs=2)

Each submission runs in its own child (``isolation.Child``); the grading,
the reference and the verdict stay in this process. ``CachedCheck`` computes
the reference once per distinct net and batch, so a class of hundreds pays
for autograd (or finite differences) once per case. One ``Submission`` per
path, in the order given, whatever the order the children finish in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import containment
from .comparison import compare_gradients, validate_inputs
from .isolation import DEFAULT_LIMITS, Child, Limits
from .proxies import StudentCodeError, tail
from .tolerances import FINITE_DIFFERENCE, Tolerance, tolerance_for

SUFFIXES = (".py", ".ipynb")


class UsageError(ValueError):
    """A mistake in the command line, seen before any student code runs (exit status 2)."""


@dataclass
class Submission:
    """One graded file: its CaseResults, or the one-line error that stopped it, and its output's tail."""

    path: str
    results: list = field(default_factory=list)
    error: Optional[str] = None
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(r.passed for r in self.results)


def find_submissions(arguments) -> list:
    """The submission files named by ``arguments`` (files, or folders meaning every ``*.py`` and
    ``*.ipynb`` directly inside, dotfiles left out), duplicates dropped; UsageError when one
    is missing or not Python."""
    found = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith("."))
            if not inside:
                raise UsageError(f"no .py or .ipynb files in the folder {argument}")
            found += inside
        elif not path.exists():
            raise UsageError(f"no such file: {argument}")
        elif path.suffix not in SUFFIXES or not path.is_file():
            raise UsageError(f"{argument} is not a Python file or notebook (.py or .ipynb)")
        else:
            found.append(path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def shard(paths: list, spec: Optional[str]) -> list:
    """The K-th of N contiguous slices (``spec`` "K/N", 1 ≤ K ≤ N) of the sorted ``paths``."""
    if spec is None:
        return list(paths)
    match = re.fullmatch(r"(\d+)/(\d+)", spec.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard must be K/N with 1 ≤ K ≤ N, e.g. 3/8; got {spec!r}")
    k, n = int(match[1]), int(match[2])
    ordered = sorted(paths, key=lambda p: str(p))
    start, stop = (k - 1) * len(ordered) // n, k * len(ordered) // n
    return ordered[start:stop]


def grade_file(path, grade_proxies: Callable, function: str = "backward",
               limits: Limits = DEFAULT_LIMITS, running: Optional[set] = None, *,
               forbid=(), user: Optional[str] = None) -> Submission:
    """Run ``path`` in a child and ``grade_proxies({name: proxy})`` on the functions it defines.

    running: a set the child is in while it runs, for ``grade_files`` to stop them all.
    forbid, user: as for ``grade_files``.
    """
    submission = Submission(str(path))
    child = None
    running = set() if running is None else running
    try:
        child = Child.spawn(path, function, limits, forbid=forbid, user=user)
        running.add(child)
        loaded = child.loaded()
        if function not in loaded["defines"]:
            raise StudentCodeError(f"defines no function {function!r}; its functions: "
                                   f"{loaded['functions']}; choose one with --function")
        proxies = {name: child.proxy(name) for name in loaded["defines"]}
        proxies[function] = child.proxy(function, "backward")
        results = grade_proxies(proxies)
        child.finish()  # a child that misbehaved after its last call fails: an error, and no cases
        submission.results = results
    except StudentCodeError as err:
        submission.error = str(err)
    except Exception as err:  # the grader's own failure on this file: report it, go on with the rest
        submission.error = f"the grader failed on this submission: {type(err).__name__}: {err}"
        submission.output = tail(traceback.format_exc())
    finally:
        if child is not None:
            running.discard(child)
            child.kill()
            submission.output = submission.output or child.output()
            child.close()
    return submission


def grade_files(paths, grade_proxies: Callable, function: str = "backward",
                limits: Limits = DEFAULT_LIMITS, jobs: int = 1, *, forbid=(),
                user: Optional[str] = None) -> list:
    """``grade_file`` on every path, ``jobs`` children at a time; results in the order of ``paths``.

    forbid: module names (a list, or one comma-separated string) the students' code may not
    import, besides the grader's packages, which are always refused. user: the user to run
    the students' code as (this process must be root). UsageError for either, before any
    student code runs.

    On an interruption (Ctrl-C), every running child is killed at once (they run in sessions
    of their own, out of the terminal's reach) and nothing more is started. Every process a
    submission started has been killed by the time this returns.
    """
    check_containment(forbid, user)
    running: set[Child] = set()

    def one(path):
        return grade_file(path, grade_proxies, function, limits, running, forbid=forbid, user=user)

    if jobs <= 1 or len(paths) <= 1:
        return [one(p) for p in paths]
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        return list(pool.map(one, paths))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for child in list(running):
            child.kill()
        raise
    finally:
        pool.shutdown()


def check_containment(forbid=(), user: Optional[str] = None) -> None:
    """UsageError unless ``forbid`` names modules and ``user`` can be switched to (see ``grade_files``)."""
    for option, check, value in (("--forbid", containment.forbidden_names, forbid),
                                 ("--user", containment.student_user, user)):
        try:
            check(value)
        except (ValueError, TypeError) as err:
            raise UsageError(f"{option}: {err}") from None


class CachedCheck:
    """``check(net, I, Y, grads) -> GradientReport`` with the reference computed once per net and batch.

    reference: ``reference(net, I, Y) -> dict`` of the right gradients (autograd's,
    or finite differences). name: how the report names it. tolerance:
    ``tolerance(net) -> Tolerance``. The same report as the uncached check;
    safe to call from several threads. keep_arrays: each failing report keeps the
    candidate and reference arrays of its wrong parameters (``GradientReport.arrays``),
    for ``grade --plot`` to draw them.
    """

    def __init__(self, reference: Callable, name: str, tolerance: Callable, keep_arrays: bool = False):
        self.reference, self.name, self.tolerance = reference, name, tolerance
        self.keep_arrays = keep_arrays
        self.cache: dict[str, dict] = {}  # fingerprint -> the reference gradients
        self.lock, self.computed = threading.Lock(), 0

    def __call__(self, net, I, Y, grads):
        I, Y, grads = validate_inputs(net, I, Y, grads)
        key = fingerprint(net, I, Y)
        with self.lock:
            if key not in self.cache:
                self.cache[key] = self.reference(net, I, Y)
                self.computed += 1
            reference = self.cache[key]
        report = compare_gradients(net, I, Y, grads, dict(reference), self.name, self.tolerance(net))
        if self.keep_arrays and not report.passed:
            kept = {k: (grads.get(k), reference[k]) for k, p in report.params.items() if not p.passed}
            report = dataclasses.replace(report, arrays=kept)
        return report


def fingerprint(net, I, Y) -> str:
    """A digest of everything the reference depends on: the net's configuration, weights and data."""
    digest = hashlib.sha256(repr((list(net.sizes), net.activation, net.output_activation,
                                  net.loss_name, str(net.dtype))).encode())
    for name, value in list(net.params.items()) + [("I", I), ("Y", Y)]:
        digest.update(f"{name}{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def finite_difference_tolerance(net) -> Tolerance:
    """``check_gradients_fd``'s tolerance: the looser of the finite-difference one and the dtype's."""
    own = tolerance_for(net.dtype)
    return Tolerance(max(FINITE_DIFFERENCE.rtol, own.rtol), max(FINITE_DIFFERENCE.atol, own.atol))
