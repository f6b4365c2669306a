"""The oracle's report, its input checks, and that checking never changes the net."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.common import random_batch, snapshot
from helpers.students import student_backward
from manual_backprop import MLP
from manual_backprop.oracle import check_gradients_fd
from manual_backprop.oracle.tolerances import tolerance_for
from torch_ref import check_gradients

ORACLES = {"autograd": check_gradients, "finite_differences": check_gradients_fd}


def _net_and_grads(sizes=(3, 5, 2), N=4, dtype=np.float64):
    net = MLP(list(sizes), dtype=dtype, seed=1)
    I, Y = random_batch(list(sizes), N, seed=2)
    net.forward(I)
    return net, I, Y, net.backward(Y)


def _snapshot(net):
    cache = net._cache
    return (snapshot(net), cache,
            [tuple(t.copy() for t in layer) for layer in cache])


def _assert_unchanged(net, snap):
    params, cache, cache_copy = snap
    for key, p in net.params.items():
        assert p.dtype == params[key].dtype and np.array_equal(p, params[key]), f"{key} changed"
    assert net._cache is cache, "the forward cache was replaced"
    for layer, before in zip(net._cache, cache_copy):
        for t, b in zip(layer, before):
            assert np.array_equal(t, b), "the forward cache was modified"


@pytest.mark.parametrize("oracle", list(ORACLES))
@pytest.mark.parametrize("mistake", [None, "deriv_at_output", "W_out_transposed", "forgot_half"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_checking_never_changes_the_net(oracle, mistake, dtype):
    net, I, Y, grads = _net_and_grads(dtype=dtype)
    if mistake:
        grads = student_backward(snapshot(net),
                                 I.astype(dtype), Y.astype(dtype), mistake)
    grads_before = {k: np.array(v, copy=True) for k, v in grads.items()}
    snap = _snapshot(net)
    own = net.backward(Y)
    report = ORACLES[oracle](net, I, Y, grads)
    assert report.passed == (mistake is None), str(report)
    _assert_unchanged(net, snap)
    for key, g in grads.items():
        assert np.array_equal(g, grads_before[key]), f"the candidate {key} was changed"
    # the net's own backward, from its cache, gives bit for bit what it gave before the check
    after = net.backward(Y)
    for key, g in own.items():
        assert np.array_equal(after[key], g), f"net.backward's {key} changed after the check"


@pytest.mark.parametrize("oracle", list(ORACLES))
def test_bad_input_raises_naming_the_argument_and_changes_nothing(oracle):
    net, I, Y, grads = _net_and_grads()
    snap = _snapshot(net)
    check = ORACLES[oracle]
    with pytest.raises(ValueError, match=r"I must have shape .*did you mean I\.T"):
        check(net, I.T, Y, grads)
    with pytest.raises(ValueError, match=r"Y must have the output.s shape .*did you mean Y\.T"):
        check(net, I, Y.T, grads)
    with pytest.raises(TypeError, match="grads must be a dict"):
        check(net, I, Y, list(grads.values()))
    with pytest.raises(TypeError, match="net must be a manual_backprop.MLP"):
        check(object(), I, Y, grads)
    _assert_unchanged(net, snap)


def test_class_index_targets_are_checked():
    net = MLP([3, 5, 4], loss="softmax_cross_entropy", seed=0)
    I, Y = random_batch([3, 5, 4], 6, loss="softmax_cross_entropy", seed=1)
    net.forward(I)
    assert check_gradients(net, I, Y, net.backward(Y)).passed
    with pytest.raises(ValueError, match=r"whole numbers in \[0, D_O\) = \[0, 4\); got label 7"):
        check_gradients(net, I, Y + 4, net.backward(Y))


def test_table_lists_every_parameter_output_first_with_errors_and_fix_lines():
    net, I, Y, grads = _net_and_grads(sizes=(4, 16, 2), N=32)
    bad = dict(grads, W_H=grads["W_H"].T, b_O=-grads["b_O"])
    report = check_gradients(net, I, Y, bad)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("gradient check against autograd") and "N = 32" in lines[0]
    rows = [ln.split()[0] for ln in lines[2:6]]
    assert rows == ["b_O", "W_O", "b_H", "W_H"], text
    assert "16×4 (got 4×16)" in text and "FAIL transposed" in text and "FAIL negated" in text
    assert "  b_O: negated: " in text
    assert "  W_H: transposed: got (dL/dW_H)ᵀ; dL/dW_H (16×4) = dL/dH (16×32) · Iᵀ (32×4)" in text
    assert lines[-1] == "FAILED: 2 of 4 wrong"
    p = report.params["b_O"]
    assert p.max_abs_err == pytest.approx(2 * np.abs(grads["b_O"]).max())
    assert p.max_rel_err == pytest.approx(2.0)
    assert np.isnan(report.params["W_H"].max_abs_err)
    assert [f.name for f in report.failures] == ["b_O", "W_H"]


def test_missing_unexpected_non_numeric_and_non_finite_candidates():
    net, I, Y, grads = _net_and_grads()
    bad = {k: v for k, v in grads.items() if k != "W_O"}
    bad["w_h"] = grads["W_H"]
    bad["b_H"] = np.full_like(grads["b_H"], np.nan)
    bad["W_H"] = "not an array"
    report = check_gradients(net, I, Y, bad)
    diag = {k: p.diagnosis for k, p in report.params.items()}
    assert diag == {"W_H": "wrong_shape", "b_H": "not_finite", "W_O": "missing", "b_O": None}
    assert report.unexpected == ("w_h",) and not report.passed
    assert "w_h" in str(report) and "unexpected key" in str(report)
    only_extra = dict(grads, extra=np.zeros(1))
    assert not check_gradients(net, I, Y, only_extra).passed


def test_flat_bias_and_reshaped_values_are_wrong_shape_with_the_reason():
    net, I, Y, grads = _net_and_grads()
    report = check_gradients(net, I, Y, dict(grads, b_O=grads["b_O"].ravel()))
    p = report.params["b_O"]
    assert p.diagnosis == "wrong_shape" and p.got_shape == (2,)
    assert "keepdims=True" in p.fix and "values are right" in p.fix


def test_torch_tensors_are_accepted_as_candidates():
    net, I, Y, grads = _net_and_grads()
    as_tensors = {k: torch.from_numpy(v).requires_grad_() for k, v in grads.items()}
    assert check_gradients(net, I, Y, as_tensors).passed


def test_float32_candidate_for_float64_net_is_judged_at_float32_rounding():
    """A right float32 gradient for a float64 net passes at float32's tolerance; a wrong one fails."""
    net, I, Y, grads = _net_and_grads(sizes=(4, 16, 2), N=32)
    as32 = {k: v.astype(np.float32) for k, v in grads.items()}
    assert not all(np.array_equal(as32[k], grads[k]) for k in grads)
    report = check_gradients(net, I, Y, as32)
    assert report.passed, str(report)
    assert report.tolerance == tolerance_for(np.float32)
    assert check_gradients(net, I, Y, grads).tolerance == tolerance_for(np.float64)
    wrong = dict(as32, W_O=2 * as32["W_O"])
    assert check_gradients(net, I, Y, wrong).params["W_O"].diagnosis == "scaled_by_2"
