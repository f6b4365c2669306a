"""Measure the largest errors the test suite meets, per dtype, next to the tolerance table.

    python scripts/measure_errors.py

Runs the matrix, the property tests, the huge-input stability cases and the
lockstep runs in this process (the same cases and examples as pytest, which
fail loudly past the tolerances) and prints, per dtype, the largest error
relative to the largest reference entry (the table's plain scale), relative to
the rounding-error scale where a test uses it, and each's margin to rtol.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
warnings.simplefilter("error")

import autograd_check  # noqa: E402
import test_lockstep  # noqa: E402
import test_matrix  # noqa: E402
import test_properties  # noqa: E402
import test_stability  # noqa: E402

from manual_backprop import LOSSES  # noqa: E402
from manual_backprop.oracle.tolerances import LOCKSTEP, tolerance_for  # noqa: E402


def run(source: str, calls) -> None:
    autograd_check.SEEN.clear()
    for call in calls:
        call()
    for dtype in ("float64", "float32"):
        rows = [r for r in autograd_check.SEEN if r[0] == dtype]
        rtol = tolerance_for(dtype).rtol
        plain = max(r[2] for r in rows)
        scaled = [r[3] for r in rows if r[3] is not None]
        line = f"{source:>12} {dtype}: {len(rows):5d} checks, max error / max|expected| {plain:.2e}"
        if scaled:
            line += f", / rounding scale {max(scaled):.2e} (rtol {rtol:g}, margin {rtol / max(scaled):.0f}x)"
        else:
            line += f" (rtol {rtol:g}, margin {rtol / plain:.0f}x)"
        print(line)


def main() -> int:
    run("matrix", [lambda p=p: test_matrix.test_matrix_matches_autograd(*p.values)
                   for p in test_matrix.MATRIX])
    run("properties", [lambda loss=loss, dt=dt: test_properties.test_every_gradient_matches_autograd(
                           loss=loss, dtype=dt) for loss in LOSSES for dt in (np.float64, np.float32)])
    run("huge inputs", [lambda p=p: test_stability.test_huge_inputs_through_a_net_match_autograd(*p.values)
                        for p in test_stability.HUGE_CASES])
    test_lockstep.DRIFT.clear()
    for p in test_lockstep.CASES:
        test_lockstep.test_sgd_in_lockstep_with_torch(*p.values)
    for dtype in ("float64", "float32"):
        worst = max(d for name, d in test_lockstep.DRIFT if name == dtype)
        rtol = LOCKSTEP[np.dtype(dtype)].rtol
        print(f"{'lockstep':>12} {dtype}: max parameter drift over 100 steps {worst:.2e} "
              f"(rtol {rtol:g}, margin {rtol / worst:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
