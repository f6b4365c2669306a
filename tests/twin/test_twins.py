"""The manual net and its torch twin agree: output, loss, every gradient, one SGD step.

Checked in that order, for every shape in SHAPES and both dtypes.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.common import SHAPES, assert_close, assert_grads_close, random_batch
from manual_backprop import MLP
from manual_backprop.oracle.tolerances import tolerance_for
from torch_ref import TorchMLP, run_autograd
from torch_ref.compare.lockstep import lockstep

CASES = [pytest.param(sizes, N, id=case_id) for case_id, sizes, N in SHAPES]


@pytest.mark.parametrize("sizes,N", CASES)
def test_output_loss_and_grads_match_autograd(sizes, N, dtype):
    net = MLP(sizes, dtype=dtype, seed=7)
    I, Y = random_batch(sizes, N, seed=11)
    O = net.forward(I)
    L = net.loss(O, Y)
    grads = net.backward(Y)
    ref = run_autograd(net, I, Y)
    tol = tolerance_for(dtype)
    assert O.dtype == dtype and O.shape == (sizes[-1], N)
    assert_close(O, ref.output, "output O", tol)
    assert_close(L, ref.loss, "loss L", tol)
    for key, p in net.params.items():
        assert grads[key].shape == p.shape and grads[key].dtype == p.dtype, key
    assert_grads_close(grads, ref.grads, dtype, "autograd")


@pytest.mark.parametrize("sizes,N", CASES)
def test_one_sgd_step_matches_torch_optim(sizes, N, dtype):
    """One step of the lockstep loop: sgd_step beside torch.optim.SGD, weights then within the gradient tolerance."""
    net = MLP(sizes, dtype=dtype, seed=3)
    I, Y = random_batch(sizes, N, seed=5)
    result = lockstep(net, [(0, I, Y)], lr=0.1)
    assert result.passed, result.table()
    for key in reversed(list(net.params)):
        d = result.final_weights[key]
        assert d.passed, f"{key} after one SGD step: max rel error {d.max_rel_err:.3e}"


def test_seed_equations_by_hand():
    """The seed's equations written out directly for one hidden sigmoid layer, against the class."""
    net = MLP([3, 4, 2], seed=1)
    I, Y = random_batch([3, 4, 2], 5, seed=2)
    p = net.params
    H = p["W_H"] @ I + p["b_H"]
    H_hat = 1 / (1 + np.exp(-H))
    O = p["W_O"] @ H_hat + p["b_O"]
    dO = O - Y
    dH_hat = p["W_O"].T @ dO
    dH = dH_hat * H_hat * (1 - H_hat)
    expected = {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
                "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}
    assert_close(net.forward(I), O, "output O", tolerance_for(np.float64))
    assert_grads_close(net.backward(Y), expected, np.float64, "the seed's equations")


def test_weights_round_trip_bit_exactly(dtype):
    net = MLP([5, 7, 3, 2], dtype=dtype, seed=9)
    back = TorchMLP.from_manual(net).to_params()
    assert list(back) == list(net.params)
    for key, p in net.params.items():
        assert back[key].dtype == p.dtype and back[key].shape == p.shape
        assert np.array_equal(back[key], p), key


def test_init_matches_torch_linear_bounds():
    """Uniform in ±1/√fan_in, like torch.nn.Linear; float32 is the float64 draw rounded."""
    net64 = MLP([50, 200, 10], seed=0)
    net32 = MLP([50, 200, 10], dtype=np.float32, seed=0)
    for key, p in net64.params.items():
        fan_in = 50 if key.endswith("_H") else 200
        bound = 1 / np.sqrt(fan_in)
        assert np.all(np.abs(p) <= bound) and np.max(np.abs(p)) > 0.9 * bound, key
        assert np.array_equal(net32.params[key], p.astype(np.float32)), key
