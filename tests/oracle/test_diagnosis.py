"""The oracle names every mistake in the catalogue on exactly the parameters it breaks.

A student's backward (tests/helpers/students.py, written from the seed independently of
manual_backprop) with one mistake at a time, on square, non-square and deeper
nets, N = 1, 3, 8, against autograd; a subset against finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.common import DTYPES, random_batch, snapshot
from helpers.students import MISTAKES, expected, student_backward
from manual_backprop import MLP
from manual_backprop.oracle import check_gradients_fd
from torch_ref import check_gradients

NETS = {"square-4-4-4": [4, 4, 4], "nonsquare-3-5-2": [3, 5, 2], "deep-3-6-4-2": [3, 6, 4, 2]}


def _cases(nets, Ns, dtypes=("f64",)):
    for mistake, (activation, loss) in MISTAKES.items():
        for net_id, sizes in nets.items():
            if mistake == "dX_W_not_transposed" and sizes[-1] != sizes[-2]:
                continue  # a non-square W_O makes the student's own product fail
            if mistake == "W_out_uses_preact" and len(sizes) < 3:
                continue
            for N in Ns:
                for dt in dtypes:
                    yield pytest.param(mistake, activation, loss, sizes, N, dt,
                                       id=f"{mistake}-{net_id}-N{N}-{dt}")


def _run(check, mistake, activation, loss, sizes, N, dtype):
    net = MLP(sizes, activation=activation, loss=loss, dtype=dtype, seed=3)
    I, Y = random_batch(sizes, N, loss=loss, seed=5)
    params = snapshot(net)
    grads = student_backward(params, I.astype(dtype), Y if loss == "softmax_cross_entropy"
                             else Y.astype(dtype), mistake, activation, loss)
    return net, check(net, I, Y, grads)


def _assert_report(report, want):
    got = {k: p.diagnosis for k, p in report.params.items() if not p.passed}
    assert got == want, f"diagnoses {got}, expected {want}\n{report}"
    assert report.passed == (not want)
    for key, p in report.params.items():
        assert (p.diagnosis is None) == p.passed, key
        if not p.passed:
            assert p.fix.startswith(f"{key}: {p.diagnosis}: "), p.fix




@pytest.mark.parametrize("mistake,activation,loss,sizes,N,dt",
                         list(_cases(NETS, [1, 3, 8])) + list(_cases({"nonsquare-3-5-2": [3, 5, 2]}, [8], ["f32"])))
def test_autograd_oracle_names_the_mistake(mistake, activation, loss, sizes, N, dt):
    net, report = _run(check_gradients, mistake, activation, loss, sizes, N, DTYPES[dt])
    _assert_report(report, expected(mistake, net.layer_names, N))


@pytest.mark.parametrize("mistake,activation,loss,sizes,N,dt",
                         list(_cases({"nonsquare-3-5-2": [3, 5, 2], "deep-3-6-4-2": [3, 6, 4, 2]}, [3])))
def test_finite_difference_oracle_names_the_mistake(mistake, activation, loss, sizes, N, dt):
    net, report = _run(check_gradients_fd, mistake, activation, loss, sizes, N, DTYPES[dt])
    assert report.reference == "finite differences"
    _assert_report(report, expected(mistake, net.layer_names, N))


@pytest.mark.parametrize("sizes", list(NETS.values()), ids=list(NETS))
@pytest.mark.parametrize("N", [1, 2, 3, 8])
@pytest.mark.parametrize("activation,loss", [("sigmoid", "half_sse"), ("tanh", "mse"),
                                             ("sigmoid", "softmax_cross_entropy")])
def test_right_gradients_pass(sizes, N, activation, loss):
    net, report = _run(check_gradients, None, activation, loss, sizes, N, np.float64)
    _assert_report(report, {})
    assert "PASSED" in str(report)


@pytest.mark.parametrize("N", [3, 8])
def test_mistakes_that_are_invisible_at_N1_show_at_larger_N(N):
    """Sanity for the N = 1 rows above: the same mistakes are caught once there is a batch."""
    for mistake in ("mean_over_batch", "b_out_mean", "b_in_not_summed"):
        net, report = _run(check_gradients, mistake, "sigmoid", "half_sse", [3, 5, 2], N, np.float64)
        assert not report.passed, mistake


def test_N2_reports_the_constant_and_says_it_may_be_the_batch():
    """With N = 2, a mean for a sum (1/N) is indistinguishable from a doubled ½ (1/2)."""
    net, report = _run(check_gradients, "mean_over_batch", "sigmoid", "half_sse", [3, 5, 2], 2, np.float64)
    for key, p in report.params.items():
        assert p.diagnosis == "scaled_by_1/2", key
        assert "scaled_by_1/N" in p.detail and "scaled_by_1/N" in p.fix, p.fix
