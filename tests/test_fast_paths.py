"""The in-place, fewer-temporaries code of the hot path gives the numbers of the plain formulas.

The plain formulas are written out here independently, the way the seed states them.
"""

from __future__ import annotations

import numpy as np
import pytest

from manual_backprop import MLP
from manual_backprop.activations import sigmoid_backward, sigmoid_forward, tanh_backward

from conftest import DTYPES, random_batch, snapshot

EXTREMES = [1e4, -1e4, 0.0, -0.0, 88.0, -88.0, 745.0, -745.0, 20.0, -20.0, np.inf, -np.inf]


def pre_activations(dtype):
    rng = np.random.default_rng(3)
    Z = (rng.standard_normal((40, 30)) * 30).astype(dtype)
    Z[0, :len(EXTREMES)] = EXTREMES
    return Z


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_sigmoid_forward_bit_equal_to_the_two_branch_formula(dtype):
    Z = pre_activations(dtype)
    e = np.exp(-np.abs(Z))
    plain = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))  # 1/(1+e^−z) for z ≥ 0, e^z/(1+e^z) for z < 0
    A = sigmoid_forward(Z)
    assert A.dtype == dtype, f"sigmoid of {np.dtype(dtype).name} came out {A.dtype}"
    assert np.array_equal(A, plain.astype(dtype)), (
        f"max difference {np.max(np.abs(A - plain)):.3e}")
    assert np.all((A >= 0) & (A <= 1))


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("which", ["sigmoid", "tanh"])
def test_activation_backward_matches_the_seed_formula(dtype, which):
    Z = pre_activations(dtype)
    A = sigmoid_forward(Z) if which == "sigmoid" else np.tanh(Z)
    dA = np.random.default_rng(4).standard_normal(Z.shape).astype(dtype)
    if which == "sigmoid":
        plain, dZ = dA * A * (1 - A), sigmoid_backward(dA, Z, A)  # seed: dL/dĤ ⊙ Ĥ ⊙ (1 − Ĥ)
    else:
        plain, dZ = dA * (1 - A * A), tanh_backward(dA, Z, A)
    assert dZ.dtype == dtype and dZ.shape == Z.shape
    ulp = np.finfo(dtype).eps
    err = np.max(np.abs(dZ - plain) / np.maximum(np.abs(plain), np.finfo(dtype).tiny))
    assert err <= 4 * ulp, f"{which} backward: max relative difference {err:.3e}"
    assert dA is not dZ and not np.shares_memory(dZ, dA), "backward must not overwrite its input"


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("loss", ["half_sse", "mse", "softmax_cross_entropy"])
def test_train_step_equals_forward_backward_sgd_step(dtype, loss):
    """train_step seeds backprop with lr · dL/dO; the step must equal sgd_step's up to rounding."""
    sizes, lr = [5, 7, 4, 3], 0.037
    fast, plain = MLP(sizes, loss=loss, dtype=dtype, seed=1), MLP(sizes, loss=loss, dtype=dtype, seed=1)
    eps = np.finfo(dtype).eps
    for step in range(4):
        plain.params = snapshot(fast)  # both step from the same weights
        I, Y = random_batch(sizes, 9, loss=loss, seed=step)
        L_fast = fast.train_step(I, Y, lr)
        O = plain.forward(I)
        L_plain = plain.loss(O, Y)
        grads = plain.backward(Y)
        before = snapshot(plain)
        plain.sgd_step(grads, lr)
        assert L_fast == L_plain, f"step {step}: loss {L_fast} vs {L_plain}"
        for key in plain.params:
            # rounding: half an ulp of the weight, plus a few ulps of the update lr · g
            bound = eps * (np.max(np.abs(before[key])) + 8 * lr * np.max(np.abs(grads[key])))
            diff = np.max(np.abs(fast.params[key] - plain.params[key]))
            assert diff <= bound, f"step {step}: {key} off by {diff:.3e} (bound {bound:.3e})"
            assert not np.array_equal(fast.params[key], before[key]), f"step {step}: {key} did not move"
