"""What many test modules share: the dtypes and shapes they run over, seeded data, snapshots, one place comparing arrays.

Tolerances are not defined here but in ``manual_backprop.oracle.tolerances`` (one
table per dtype, with the reasons), so that the tests and the gradient checker
use the same numbers.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from manual_backprop import MLP
from manual_backprop.oracle.cases import random_batch  # noqa: F401  (seeded test data for every test module)
from manual_backprop.oracle.tolerances import Tolerance, is_close, max_errors, tolerance_for

HAS_TORCH = importlib.util.find_spec("torch") is not None

DTYPES = {"f64": np.float64, "f32": np.float32}

# (id, sizes, N): the seed's net, N = 1, widths of 1, non-square layers, depth 1 to 3.
SHAPES = [
    ("seed-4-16-2-N32", [4, 16, 2], 32),
    ("N1", [3, 5, 2], 1),
    ("width1-1-1-1", [1, 1, 1], 4),
    ("hidden1-6-1-3", [6, 1, 3], 7),
    ("nonsquare-7-3-5", [7, 3, 5], 9),
    ("depth1-5-3", [5, 3], 6),
    ("depth2-4-6-3-2", [4, 6, 3, 2], 5),
    ("depth3-3-8-5-4-2", [3, 8, 5, 4, 2], 10),
]


def snapshot(net_or_params) -> dict[str, np.ndarray]:
    """Copies of every parameter (of a net, or of a params dict), to compare against after a call."""
    return {k: v.copy() for k, v in getattr(net_or_params, "params", net_or_params).items()}


def assert_close(actual, expected, what: str, tol: Tolerance) -> None:
    """Fail with the name of the compared quantity and its max errors when not close."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    abs_err, rel_err = max_errors(actual, expected)
    assert is_close(actual, expected, tol), (
        f"{what}: max abs error {abs_err:.3e}, max rel error {rel_err:.3e} "
        f"(tolerance rtol={tol.rtol:g}, atol={tol.atol:g})")


def assert_grads_close(grads, expected, dtype, source: str) -> None:
    """Compare two gradient dicts key by key, in the net's order (the output layer's first)."""
    assert list(grads) == list(expected), f"gradient keys {list(grads)}, expected {list(expected)}"
    tol = tolerance_for(dtype)
    for key in reversed(list(expected)):
        assert_close(grads[key], expected[key], f"dL/d{key} vs {source}", tol)


SHAPE_CASES = [pytest.param(sizes, N, id=case_id) for case_id, sizes, N in SHAPES]


def trained(sizes, N, dtype, **config):
    """A net one SGD step away from its init, so the saved values are not just a replay of the seed."""
    net = MLP(sizes, dtype=dtype, **{"seed": 3, **config})
    I, Y = random_batch(sizes, N, loss=net.loss_name, seed=4)
    net.train_step(I, Y, 0.1)
    return net
