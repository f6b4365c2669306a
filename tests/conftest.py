"""pytest's hooks and fixtures for the whole suite; the helpers the test modules import are in ``helpers/``.

Without torch (a core install: NumPy only) the folders and modules that build on autograd
or torch tensors are not collected, nor the tests marked needs_torch elsewhere.
"""

from __future__ import annotations

import pytest

from helpers.common import DTYPES, HAS_TORCH
from torch_ref._extras import install_hint

# Without torch (a core install: NumPy only) these modules are not collected, nor the tests
# marked needs_torch in the others, and the report's header says so; all else is NumPy only and runs.
NEED_TORCH = [
    "twin/test_bench.py", "twin/test_compare.py", "reference/test_determinism.py", "twin/test_lockstep.py",
    "reference/test_matrix.py", "oracle/test_diagnosis.py", "oracle/test_check_gradients.py", "oracle/test_report.py",
    "reference/test_properties.py", "reference/test_stability.py", "twin/test_state_dict.py", "twin/test_twins.py",
    "errors/test_fuzz.py", "oracle/test_diagnosis_compound.py", "oracle/test_diagnosis_seed_parts.py",
    "oracle/test_diagnosis_wrong_quantity.py",
]
collect_ignore = [] if HAS_TORCH else NEED_TORCH

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
