"""The full matrix: hidden activation × output activation × loss × dtype × depth, against autograd.

Every hidden activation is paired with every output activation for the two
regression losses. ``softmax_cross_entropy`` takes logits, so its output
activation is always ``identity`` (torch's ``CrossEntropyLoss`` applies the
softmax itself). Depth is the number of hidden layers, 1 (the seed) to 4.
Each case checks output → loss → each gradient, the output layer's first, with
the table's tolerance; inputs are of unit scale, so no unit is saturated and
the plain normwise check applies.
"""

from __future__ import annotations

import itertools

import pytest

from helpers.autograd_check import check_against_autograd
from helpers.common import DTYPES, random_batch
from manual_backprop import ACTIVATIONS, LOSSES, MLP

D_I, D_O, N = 5, 3, 6
HIDDEN_WIDTHS = (7, 4, 6, 2)  # non-square, one narrower than the output; the first `depth` are used
DEPTHS = (1, 2, 3, 4)


def output_activations(loss: str) -> list[str]:
    """The output activations that make sense for a loss: logits only for cross-entropy."""
    return ["identity"] if LOSSES[loss].targets == "class_index" else list(ACTIVATIONS)


MATRIX = [
    pytest.param(act, out, loss, dtype, depth, id=f"{act}-{out}-{loss}-{dt_id}-depth{depth}")
    for loss in LOSSES
    for act, out in itertools.product(ACTIVATIONS, output_activations(loss))
    for dt_id, dtype in DTYPES.items()
    for depth in DEPTHS
]


def matrix_case(activation, output_activation, loss, dtype, depth):
    """(net, I, Y) of one cell of the matrix."""
    sizes = [D_I, *HIDDEN_WIDTHS[:depth], D_O]
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=depth)
    return (net, *random_batch(sizes, N, loss=loss, seed=100 + depth))


@pytest.mark.parametrize("activation,output_activation,loss,dtype,depth", MATRIX)
def test_matrix_matches_autograd(activation, output_activation, loss, dtype, depth):
    check_against_autograd(*matrix_case(activation, output_activation, loss, dtype, depth))


def test_matrix_covers_every_name():
    """The matrix is built from the registries, so a new activation or loss joins it by itself."""
    ids = [p.id for p in MATRIX]
    assert len(ids) == len(set(ids))
    for name in ACTIVATIONS:
        assert any(i.startswith(name + "-") for i in ids), name
        assert any(f"-{name}-" in i for i in ids), name
    for loss in LOSSES:
        assert any(f"-{loss}-" in i for i in ids), loss
