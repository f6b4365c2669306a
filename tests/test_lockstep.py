"""Lockstep training: 100 SGD steps of the manual net and its torch twin on the same mini-batches.

The manual net steps with ``net.train_step``; the twin with ``torch.optim.SGD``
and autograd. After every step all parameters must agree within
``manual_backprop.oracle.tolerances.LOCKSTEP`` (float64: the gradient tolerance
itself; float32: a drift allowance, with its reason written there).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from manual_backprop import LOSSES, MLP
from manual_backprop.oracle.tolerances import LOCKSTEP, max_errors
from torch_ref import TorchMLP

from conftest import DTYPES, assert_close

STEPS, DATASET, BATCH = 100, 256, 16
DRIFT: list[tuple[str, float]] = []  # (dtype name, largest relative drift over the run): for scripts/measure_errors.py

# (id, sizes, activation, output_activation, loss, lr): the seed's net and one per activation.
CONFIGS = [
    ("seed-sigmoid-half_sse", [4, 16, 2], "sigmoid", "identity", "half_sse", 0.05),
    ("relu-mse", [6, 32, 16, 3], "relu", "identity", "mse", 0.2),
    ("tanh-cross_entropy", [5, 24, 12, 4], "tanh", "identity", "softmax_cross_entropy", 0.5),
    ("leaky_relu-sigmoid_out-mse", [3, 20, 20, 20, 2], "leaky_relu", "sigmoid", "mse", 1.0),
    ("elu-softplus_out-half_sse", [4, 12, 12, 1], "elu", "softplus", "half_sse", 0.02),
    ("softplus-tanh_out-half_sse", [4, 10, 3], "softplus", "tanh", "half_sse", 0.05),
]
CASES = [pytest.param(*config[1:], dtype, id=f"{config[0]}-{dt_id}")
         for config in CONFIGS for dt_id, dtype in DTYPES.items()]


def make_dataset(sizes, loss, seed):
    """A learnable task: inputs (D_I, 256); targets a smooth function of them, or its argmax class."""
    rng = np.random.default_rng(seed)
    I = rng.standard_normal((sizes[0], DATASET))
    T = np.tanh(rng.standard_normal((sizes[-1], sizes[0])) @ I)  # (D_O, 256)
    Y = T.argmax(axis=0) if LOSSES[loss].targets == "class_index" else T
    return I, Y, rng


def mini_batches(rng):
    """Indices of STEPS mini-batches of BATCH: a fresh shuffle of the data set each epoch."""
    batches = []
    while len(batches) < STEPS:
        order = rng.permutation(DATASET)
        batches += [order[i:i + BATCH] for i in range(0, DATASET, BATCH)]
    return batches[:STEPS]


@pytest.mark.parametrize("sizes,activation,output_activation,loss,lr,dtype", CASES)
def test_sgd_in_lockstep_with_torch(sizes, activation, output_activation, loss, lr, dtype):
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=0)
    model = TorchMLP.from_manual(net)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    I, Y, rng = make_dataset(sizes, loss, seed=1)
    tol = LOCKSTEP[np.dtype(dtype)]
    start = {k: v.copy() for k, v in net.params.items()}
    losses, drift = [], 0.0

    for step, idx in enumerate(mini_batches(rng), start=1):
        I_b, Y_b = I[:, idx], Y[..., idx]  # (D_I, 16) and (D_O, 16) or (16,)
        losses.append(net.train_step(I_b, Y_b, lr))

        opt.zero_grad()
        X = torch.from_numpy(np.ascontiguousarray(I_b.T.astype(dtype)))  # (16, D_I)
        model.loss_fn(model(X), model.targets(Y_b)).backward()
        opt.step()

        expected = model.to_params()
        for key in reversed(list(net.params)):
            assert_close(net.params[key], expected[key], f"{key} after step {step}", tol)
            drift = max(drift, max_errors(net.params[key], expected[key])[1])
        if step == 1:
            moved = min(max_errors(net.params[k], start[k])[1] for k in start)
            assert moved > 10 * tol.rtol, (
                f"one step moves some parameter by only {moved:.2e} of its size: "
                f"the tolerance {tol.rtol:g} could not tell a wrong gradient from a right one")

    DRIFT.append((np.dtype(dtype).name, drift))
    assert np.mean(losses[-10:]) < np.mean(losses[:10]), f"did not learn: {losses[:3]} … {losses[-3:]}"
