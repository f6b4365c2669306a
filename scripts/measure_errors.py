"""Measure the largest errors the test suite's cases meet, per dtype, next to the tolerance table.

    python scripts/measure_errors.py

Builds the cases of the matrix, the property tests (the same strategy and
settings; hypothesis draws its own examples for this script), the huge-input
stability cases and the lockstep runs, runs the same checks as pytest (which
fail loudly past the tolerances) and prints, per dtype, the largest error
relative to the largest reference entry (the table's plain scale), relative to
the rounding-error scale where a test uses it, and each's margin to rtol. These
figures are the evidence behind ``manual_backprop/oracle/tolerances.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "reference"), str(TESTS / "twin")]  # helpers, and the test modules below
warnings.simplefilter("error")

import test_lockstep  # noqa: E402
import test_matrix  # noqa: E402
import test_properties  # noqa: E402
import test_stability  # noqa: E402

from helpers.autograd_check import Measured, check_against_autograd  # noqa: E402
from manual_backprop import LOSSES  # noqa: E402
from manual_backprop.oracle.tolerances import LOCKSTEP, tolerance_for  # noqa: E402


def report(source: str, measured: list[Measured]) -> None:
    for dtype in ("float64", "float32"):
        rows = [m for m in measured if m.dtype == dtype]
        rtol = tolerance_for(dtype).rtol
        plain = max(m.rel_to_max for m in rows)
        scaled = [m.rel_to_scale for m in rows if m.rel_to_scale is not None]
        line = f"{source:>12} {dtype}: {len(rows):5d} checks, max error / max|expected| {plain:.2e}"
        if scaled:
            line += f", / rounding scale {max(scaled):.2e} (rtol {rtol:g}, margin {rtol / max(scaled):.0f}x)"
        else:
            line += f" (rtol {rtol:g}, margin {rtol / plain:.0f}x)"
        print(line)


def drawn_cases() -> list[Measured]:
    """What the property tests' strategy draws, checked as they check it."""
    measured: list[Measured] = []

    @test_properties.PROPERTY_SETTINGS
    @given(data=st.data())
    def check(loss, dtype, data):
        net, I, Y = data.draw(test_properties.nets_and_batches(loss, dtype))
        measured.extend(check_against_autograd(net, I, Y, rounding_scaled=True))

    for loss in LOSSES:
        for dtype in (np.float64, np.float32):
            check(loss, dtype)
    return measured


def main() -> int:
    report("matrix", [m for p in test_matrix.MATRIX
                      for m in check_against_autograd(*test_matrix.matrix_case(*p.values))])
    report("properties", drawn_cases())
    report("huge inputs", [m for p in test_stability.HUGE_CASES
                           for m in check_against_autograd(*test_stability.huge_case(*p.values),
                                                           rounding_scaled=True)])
    drift: dict[str, float] = {}
    for p in test_lockstep.CASES:
        name = np.dtype(p.values[-1]).name
        drift[name] = max(drift.get(name, 0.0), test_lockstep.run_lockstep(*p.values).max_drift)
    for dtype, worst in drift.items():
        rtol = LOCKSTEP[np.dtype(dtype)].rtol
        print(f"{'lockstep':>12} {dtype}: max parameter drift over {test_lockstep.STEPS} steps {worst:.2e} "
              f"(rtol {rtol:g}, margin {rtol / worst:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
