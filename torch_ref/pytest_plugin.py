"""A pytest plugin for course test suites: the ``backprop_oracle`` fixture.

Installed with the project (a ``pytest11`` entry point), so a course's test
file needs no import and no conftest::

    from solution import backward          # backward(params, I, Y) -> grads

    def test_backward(backprop_oracle):
        backprop_oracle(backward)

This checks ``backward`` against autograd on several seeded nets
(``manual_backprop.oracle.cases.DEFAULT_CASES``: the seed's 4-16-2 net with N = 32,
non-square layers, N = 1 and N > 1) and fails with the per-parameter table of
every failing net, each mistake named. ``manual_backprop.oracle.cases`` documents
what ``backward`` receives. Keyword arguments choose another configuration:
``backprop_oracle(backward, activation="tanh", loss="mse", cases=[...],
seed=N, reference="finite_differences", timeout=60, memory=None, forbid="torch",
user="mbp-student")``.

``backward`` runs in a fork of the test process (``manual_backprop.oracle.isolation``),
so whatever it does (``pytest.skip``, ``pytest.exit``, ``sys.exit``,
``os._exit``, an endless loop, a crash) fails the test with what happened,
and the session goes on; what it printed is shown with the test's captured
output. Every process it starts is killed when the check ends, and leaving one
running fails the test. ``forbid`` names modules it may not import besides
the grader's packages (always refused), ``user`` a user to run it as (pytest
running as root); see ``manual_backprop.oracle.containment``. The student's
module was imported by the test file, in the test process: what it imported
then is checked (its globals may hold nothing of a forbidden module), what it
ran then is not contained. Where ``os.fork`` does not exist (Windows) it runs
in the test process itself: every exception still fails the test, but there is
no timeout, no containment and an ``os._exit`` ends the session.
"""

from __future__ import annotations

import os

import pytest

from manual_backprop.oracle import check_gradients_fd
from manual_backprop.oracle.batch import check_containment
from manual_backprop.oracle.cases import DEFAULT_CASES, grade, summary
from manual_backprop.oracle.containment import forbidden_in, forbidden_names
from manual_backprop.oracle.hidden import draw_cases
from manual_backprop.oracle.isolation import Child, Limits
from manual_backprop.oracle.proxies import InProcess, StudentCodeError


def _reference(name: str):
    """The checker for ``reference``; torch is imported only when autograd is asked for."""
    if name == "autograd":
        from .autograd import check_gradients  # imports torch: only when a test uses the fixture
        return check_gradients
    if name == "finite_differences":
        return check_gradients_fd
    raise ValueError(f"reference must be one of ['autograd', 'finite_differences']; got {name!r}")


def _isolated(functions: dict, timeout: float, memory, forbid=(), user=None):
    """A child process serving the student's ``functions`` (a fork), or the test process itself without fork.

    The functions' modules were imported by the test file, in this process: StudentCodeError when
    they hold anything of a forbidden module (``from manual_backprop import MLP``)."""
    held = forbidden_in(functions, forbidden_names(forbid))
    if held:
        raise StudentCodeError(f"uses what the grader forbids: {', '.join(held[:5])}")
    if hasattr(os, "fork"):
        return Child.fork(functions, Limits(timeout, memory), forbid=forbid, user=user)
    return InProcess(functions)


class BackpropOracle:
    """Call it with a student's backward: passes silently, or fails the test with the tables."""

    cases = DEFAULT_CASES

    def results(self, backward=None, *, forward=None, loss_fn=None, sgd_step=None, cases=None, seed=None,
                activation="sigmoid", output_activation="identity", loss="half_sse", reference="autograd",
                timeout=60.0, memory=None, forbid=(), user=None):
        """The CaseResults (case, report, parts) without failing, for tests that want to look closer.

        Grades whichever of ``backward(params, I, Y)``, ``forward(params, I)``,
        ``loss_fn(O, Y)`` and ``sgd_step(params, grads, lr)`` are given (``loss``
        names the net's loss, as everywhere else).

        ``seed``: grade on cases drawn from it (``manual_backprop.oracle.hidden``)
        instead of the public ones. ``timeout``: seconds ``backward`` may run in
        all; ``memory``: an address-space limit in MB for its process (which, a fork
        of this one, already maps all this process has loaded, torch included).
        ``forbid``: module names (a list, or ``"torch,jax"``) the student's code may not
        import, besides the grader's packages; ``user``: run it as this user (pytest as root).
        Raises StudentCodeError, one line, when ``backward`` raises, exits, is killed or times out,
        leaves processes running, or uses a forbidden module; UsageError (a ValueError) when
        ``forbid`` or ``user`` cannot be applied.
        """
        given = {"backward": backward, "forward": forward, "loss": loss_fn, "sgd_step": sgd_step}
        functions = {name: fn for name, fn in given.items() if fn is not None}
        if backward is not None and not callable(backward):
            raise TypeError(f"backward must be a function backward(params, I, Y) -> grads; "
                            f"got {type(backward).__name__}")
        if cases is not None and seed is not None:
            raise ValueError("give cases or seed, not both")
        if seed is not None:
            cases = draw_cases(seed)
        elif cases is None:
            cases = self.cases
        check_containment(forbid, user)
        with _isolated(functions, timeout, memory, forbid, user) as child:
            try:
                check = _reference(reference)  # after the fork: the child need not copy torch
                proxies = {name: child.proxy(name) for name in functions}
                results = grade(proxies.get("backward"), cases, activation, output_activation, loss, check,
                                forward=proxies.get("forward"), loss_fn=proxies.get("loss"),
                                sgd_step=proxies.get("sgd_step"))
                child.finish()
            finally:
                child.kill()
                output = child.output()
                if output:
                    print(f"what {' and '.join(functions)} printed (in its own process):\n{output}")
        return results

    def __call__(self, backward=None, **config):
        """Check the given parts on every case; pytest.fail with the failing tables when any is wrong."""
        try:
            results = self.results(backward, **config)
        except StudentCodeError as err:
            others = any(config.get(k) is not None for k in ("forward", "loss_fn", "sgd_step"))
            what = "the student's code" if others or backward is None else "backward"
            pytest.fail(f"{what} could not be graded: {err}", pytrace=False)
        if not all(r.passed for r in results):
            pytest.fail(summary(results, failures_only=True), pytrace=False)
        return results


@pytest.fixture
def backprop_oracle() -> BackpropOracle:
    """Checks a student's ``backward(params, I, Y) -> grads`` against autograd; see the module doc."""
    return BackpropOracle()
