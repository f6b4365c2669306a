"""A torch-free second oracle: the manual gradients against central finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.common import SHAPES, assert_close, random_batch, snapshot
from manual_backprop import MLP
from manual_backprop.oracle.finite_differences import numerical_grads
from manual_backprop.oracle.tolerances import FINITE_DIFFERENCE

SMALL = [pytest.param(sizes, N, id=case_id) for case_id, sizes, N in SHAPES
         if sum(a * b for a, b in zip(sizes, sizes[1:])) <= 64]


@pytest.mark.parametrize("sizes,N", SMALL)
@pytest.mark.parametrize("loss", ["half_sse", "mse", "softmax_cross_entropy"])
def test_grads_match_finite_differences(sizes, N, loss):
    net = MLP(sizes, loss=loss, seed=4)
    I, Y = random_batch(sizes, N, loss=loss, seed=8)
    before = snapshot(net)
    net.forward(I)
    grads = net.backward(Y)
    fd = numerical_grads(net, I, Y)
    for key in reversed(list(net.params)):
        assert_close(grads[key], fd[key], f"dL/d{key} vs finite differences", FINITE_DIFFERENCE)
    for key, p in net.params.items():
        assert np.array_equal(p, before[key]), f"numerical_grads changed {key}"
