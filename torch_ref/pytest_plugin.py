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
reference="finite_differences")``.
"""

from __future__ import annotations

import pytest

from manual_backprop.oracle import check_gradients_fd
from manual_backprop.oracle.cases import DEFAULT_CASES, grade, summary


def _reference(name: str):
    """The checker for ``reference``; torch is imported only when autograd is asked for."""
    if name == "autograd":
        from .autograd import check_gradients  # imports torch: only when a test uses the fixture
        return check_gradients
    if name == "finite_differences":
        return check_gradients_fd
    raise ValueError(f"reference must be one of ['autograd', 'finite_differences']; got {name!r}")


class BackpropOracle:
    """Call it with a student's backward: passes silently, or fails the test with the tables."""

    cases = DEFAULT_CASES

    def results(self, backward, *, cases=None, activation="sigmoid", output_activation="identity",
                loss="half_sse", reference="autograd"):
        """The CaseResults (case, report) without failing, for tests that want to look closer."""
        check = _reference(reference)
        return grade(backward, self.cases if cases is None else cases, activation,
                     output_activation, loss, check)

    def __call__(self, backward, **config):
        """Check ``backward`` on every case; pytest.fail with the failing tables when any is wrong."""
        results = self.results(backward, **config)
        if not all(r.report.passed for r in results):
            pytest.fail(summary(results, failures_only=True), pytrace=False)
        return results


@pytest.fixture
def backprop_oracle() -> BackpropOracle:
    """Checks a student's ``backward(params, I, Y) -> grads`` against autograd; see the module doc."""
    return BackpropOracle()
