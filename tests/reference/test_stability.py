"""Numerical stability: pre-activations and logits up to ±1e4 in float32 and float64.

No overflow, no NaN, no warning (the suite runs with warnings as errors, and
these tests also turn NumPy's overflow, invalid and divide flags into
exceptions), and the values and gradients still match torch. The subgradients
at exactly 0 match torch's: relu 0, leaky_relu 0.01, elu 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.autograd_check import check_against_autograd
from helpers.common import DTYPES, assert_close, random_batch
from manual_backprop import ACTIVATIONS, LOSSES, MLP
from manual_backprop.oracle.tolerances import tolerance_for
from torch_ref.model import TORCH_ACTIVATIONS, TORCH_DTYPES, TORCH_LOSSES

# Around every place a naive formula breaks: exp overflow (float32 past 88.7,
# float64 past 709.8), softplus's threshold 20, saturation, and exactly 0.
EXTREMES = np.array([-1e4, -1e3, -710.0, -100.0, -88.8, -30.0, -20.5, -20.0, -17.0, -1.0,
                     -1e-30, 0.0, 1e-30, 1.0, 17.0, 20.0, 20.5, 30.0, 88.8, 100.0, 710.0,
                     1e3, 1e4])

ACT_CASES = [pytest.param(name, dtype, id=f"{name}-{dt_id}")
             for name in ACTIVATIONS for dt_id, dtype in DTYPES.items()]


def torch_activation_and_grad(name, Z, dA):
    """torch's f(Z) and dA ⊙ f'(Z) for the same arrays."""
    z = torch.from_numpy(Z).requires_grad_()
    a = TORCH_ACTIVATIONS[name]()(z)
    a.backward(torch.from_numpy(dA))
    return a.detach().numpy(), z.grad.numpy()


# Their derivatives are computed from the output by cancellation (1 − A, 1 − A²),
# in torch as here: near saturation only their absolute error is small.
CANCELLING = {"sigmoid", "tanh"}


@pytest.mark.parametrize("name,dtype", ACT_CASES)
def test_activation_at_extremes_is_finite_and_matches_torch(name, dtype):
    """Entry by entry, relative to each entry: |ΔA| ≤ rtol |A| and |ΔdZ| ≤ rtol |dZ|.

    Only differences below the smallest normal number are let through. For
    sigmoid and tanh the backward bound is rtol |dA| instead: their f' ≤ 1 is
    computed with an absolute error of about one ulp, by NumPy and torch alike.
    """
    act = ACTIVATIONS[name]
    Z = EXTREMES.astype(dtype)  # (23,)
    dA = np.linspace(-2.0, 3.0, Z.size).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        A = act.forward(Z)
        dZ = act.backward(dA, Z, A)
    assert A.dtype == dtype and dZ.dtype == dtype, f"{name}: {A.dtype}, {dZ.dtype}"
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(dZ)), f"{name}: non-finite at {Z}"
    A_ref, dZ_ref = torch_activation_and_grad(name, Z, dA)
    rtol, tiny = tolerance_for(dtype).rtol, np.finfo(dtype).tiny
    dZ_scale = np.abs(dA) if name in CANCELLING else np.abs(dZ_ref)
    for what, got, ref, scale in (("A", A, A_ref, np.abs(A_ref)), ("dZ", dZ, dZ_ref, dZ_scale)):
        err = np.abs(got.astype(np.float64) - ref)
        bad = err > rtol * scale + tiny
        assert not bad.any(), f"{name} {what}: error {err[bad]} at Z = {Z[bad]}"


@pytest.mark.parametrize("name,slope", [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)])
def test_subgradient_at_exactly_zero_matches_torch(name, slope, dtype):
    Z = np.zeros(3, dtype=dtype)
    dA = np.array([1.0, -2.0, 0.5], dtype=dtype)
    dZ = ACTIVATIONS[name].backward(dA, Z, ACTIVATIONS[name].forward(Z))
    _, dZ_ref = torch_activation_and_grad(name, Z, dA)
    assert np.array_equal(dZ, dZ_ref), f"{name}'(0): {dZ / dA}, torch {dZ_ref / dA}"
    assert np.allclose(dZ, slope * dA, rtol=0, atol=0), f"{name}'(0) = {dZ / dA}, expected {slope}"


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu"])
def test_zero_pre_activations_in_a_net_match_autograd(activation, dtype):
    """A zero input column and zero hidden biases make that column's H exactly 0;
    its subgradient then enters db_H, so a wrong choice at 0 would show there."""
    sizes = [3, 5, 2]
    net = MLP(sizes, activation=activation, dtype=dtype, seed=1)
    net.params["b_H"][:] = 0
    I, Y = random_batch(sizes, 4, seed=2)
    I[:, 1] = 0.0
    assert np.all(net.params["W_H"] @ I[:, 1:2].astype(dtype) + net.params["b_H"] == 0)
    check_against_autograd(net, I, Y)


LOSS_CASES = [pytest.param(loss, dtype, id=f"{loss}-{dt_id}")
              for loss in LOSSES for dt_id, dtype in DTYPES.items()]


@pytest.mark.parametrize("loss,dtype", LOSS_CASES)
def test_loss_at_huge_outputs_is_finite_and_matches_torch(loss, dtype):
    """Outputs (or logits) of ±1e4: the loss and dL/dO match torch's loss and autograd."""
    rng = np.random.default_rng(0)
    O = (1e4 * rng.choice([-1.0, 1.0, 0.5, 0.0], size=(4, 6))).astype(dtype)  # (D_O, N)
    O[:, 0] = [1e4, 1e4, -1e4, 9999.0]  # ties and near-ties between huge logits
    if LOSSES[loss].targets == "class_index":
        Y = np.array([0, 1, 2, 3, 2, 0])
        Y_t = torch.from_numpy(Y)
    else:
        Y = rng.standard_normal((4, 6)).astype(dtype)
        Y_t = torch.from_numpy(np.ascontiguousarray(Y.T))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        L = LOSSES[loss].forward(O, Y)
        dO = LOSSES[loss].backward(O, Y)
    assert np.isfinite(L) and np.all(np.isfinite(dO)) and dO.dtype == dtype
    o = torch.from_numpy(np.ascontiguousarray(O.T)).requires_grad_()  # (N, D_O), torch's layout
    assert o.dtype == TORCH_DTYPES[np.dtype(dtype)]
    L_ref = TORCH_LOSSES[loss]()(o, Y_t)
    L_ref.backward()
    tol = tolerance_for(dtype)
    assert_close(L, L_ref.item(), f"{loss} L", tol)
    assert_close(dO, o.grad.numpy().T, f"{loss} dL/dO", tol)


HUGE_CASES = [pytest.param(act, out, loss, dtype, scale, id=f"{act}-{out}-{loss}-{dt_id}-x{scale:g}")
              for act in ACTIVATIONS
              for out, loss in (("identity", "softmax_cross_entropy"), ("sigmoid", "mse"),
                                ("softplus", "half_sse"), ("tanh", "mse"))
              for dt_id, dtype in DTYPES.items()
              for scale in (1e2, 1e4)]


def huge_case(activation, output_activation, loss, dtype, scale):
    """(net, I, Y): a depth-2 net fed inputs of ±scale."""
    sizes = [6, 8, 5, 4]
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=3)
    return (net, *random_batch(sizes, 16, loss=loss, seed=4, scale=scale))


@pytest.mark.parametrize("activation,output_activation,loss,dtype,scale", HUGE_CASES)
def test_huge_inputs_through_a_net_match_autograd(activation, output_activation, loss, dtype, scale):
    """Inputs of ±scale drive the first pre-activations to about ±scale, saturating units.

    Compared with the rounding-error scales of ``error_scales``: there the
    table's plain check does not apply (see that module for why).
    """
    net, I, Y = huge_case(activation, output_activation, loss, dtype, scale)
    H1 = net.params["W_H1"] @ I.astype(dtype) + net.params["b_H1"]  # (8, 16)
    assert np.abs(H1).max() > scale / 2, "the inputs do not reach the scale under test"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_against_autograd(net, I, Y, rounding_scaled=True)
