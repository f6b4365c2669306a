"""Lockstep training: 100 SGD steps of the manual net and its torch twin on the same mini-batches.

Runs the project's one lockstep loop (``torch_ref.compare.lockstep``) with the
manual net stepping by ``net.train_step`` and the twin by ``torch.optim.SGD``.
At every step the loss and the gradients must agree within the dtype's
tolerance, and after every step all parameters within
``manual_backprop.oracle.tolerances.LOCKSTEP`` (float64: the gradient
tolerance itself; float32: a drift allowance, with its reason written there).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from helpers.common import DTYPES
from manual_backprop import LOSSES, MLP
from manual_backprop.oracle.tolerances import LOCKSTEP
from torch_ref.compare.datasets import generated, minibatches
from torch_ref.compare.lockstep import LockstepResult, lockstep

STEPS, DATASET, BATCH = 100, 256, 16

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


def run_lockstep(sizes, activation, output_activation, loss, lr, dtype) -> LockstepResult:
    """STEPS steps of train_step beside torch.optim.SGD on mini-batches of a learnable generated task."""
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=0)
    X, Y = generated(sizes[0], sizes[-1], LOSSES[loss].class_index, n=DATASET, seed=1)
    batches = itertools.islice(minibatches(X, Y, BATCH, epochs=STEPS, seed=1), STEPS)
    return lockstep(net, batches, lr, update="train_step")


@pytest.mark.parametrize("sizes,activation,output_activation,loss,lr,dtype", CASES)
def test_sgd_in_lockstep_with_torch(sizes, activation, output_activation, loss, lr, dtype):
    result = run_lockstep(sizes, activation, output_activation, loss, lr, dtype)
    assert len(result.records) == STEPS
    for record in result.records:
        bad = {k: f"{d.max_rel_err:.2e}" for k, d in {**record.diffs, **record.weights}.items() if not d.passed}
        assert not bad, f"step {record.step}: beyond tolerance {bad}"
    tol = LOCKSTEP[np.dtype(dtype)]
    moved = result.records[0].moved
    assert moved > 10 * tol.rtol, (
        f"one step moves some parameter by only {moved:.2e} of its size: "
        f"the tolerance {tol.rtol:g} could not tell a wrong gradient from a right one")
    losses = [r.loss_manual for r in result.records]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]), f"did not learn: {losses[:3]} … {losses[-3:]}"
