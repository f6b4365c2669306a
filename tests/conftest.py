"""Shared fixtures and helpers: shapes, seeded data (the oracle's random_batch), snapshots, one place comparing arrays.

Tolerances are not defined here but in ``manual_backprop.oracle.tolerances`` (one
table per dtype, with the reasons), so that the tests and the gradient checker
use the same numbers.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from manual_backprop.oracle.cases import random_batch  # noqa: F401  (seeded test data for every test module)
from manual_backprop.oracle.tolerances import Tolerance, is_close, max_errors, tolerance_for
from torch_ref._extras import install_hint

# Without torch (a core install: NumPy only) these modules are not collected, nor the tests
# marked needs_torch in the others, and the report's header says so; all else is NumPy only and runs.
HAS_TORCH = importlib.util.find_spec("torch") is not None
NEED_TORCH = [
    "test_bench.py", "test_compare.py", "test_determinism.py", "test_lockstep.py", "test_matrix.py",
    "test_oracle_diagnosis.py", "test_oracle_library.py", "test_oracle_report.py",
    "test_properties.py", "test_stability.py", "test_state_dict.py", "test_twins.py",
    "test_fuzz.py", "test_oracle_compound.py", "test_oracle_parts.py",
]
collect_ignore = [] if HAS_TORCH else NEED_TORCH

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


def pytest_configure(config):
    """One torch thread per test process: the matrices here are tiny, and under xdist
    several processes each spinning a thread pool on a busy machine ran the suite 5× slower."""
    if HAS_TORCH:
        import torch

        torch.set_num_threads(1)


def pytest_report_header(config):
    if not HAS_TORCH:
        return (f"torch is not installed: the NumPy-only tests run; not collected (they need torch): "
                f"{', '.join(NEED_TORCH)}, and the tests marked needs_torch (deselected). "
                f"To run them: {install_hint('torch')}")
    return None


def pytest_collection_modifyitems(config, items):
    if HAS_TORCH:
        return
    need_torch = [item for item in items if item.get_closest_marker("needs_torch")]
    if need_torch:
        items[:] = [item for item in items if not item.get_closest_marker("needs_torch")]
        config.hook.pytest_deselected(items=need_torch)


@pytest.fixture(params=list(DTYPES.values()), ids=list(DTYPES))
def dtype(request):
    return request.param
