"""The one table of tolerances, per dtype, used by the tests and by the gradient checker.

Two gradients are *close* when their largest entry-wise difference is small
next to the largest entry of the reference:

    max |actual − expected|  ≤  rtol · max |expected|  +  atol

This is a normwise test, the natural one for results of matrix products:
BLAS and torch sum in different orders, and their rounding errors scale with
the size of the whole product, not with each (possibly cancelled, near-zero)
entry. ``python scripts/measure_errors.py`` prints the largest errors the
suite's cases meet next to these numbers; the rule behind each:

- float64: unit round-off u = 1.1e-16. A gradient here is a chain of a few
  matrix products over at most a few hundred terms, so honest implementations
  differ by about depth · K · u of the largest entry. ``rtol = 1e-11`` leaves
  a margin of hundreds over that, while any real mistake (a factor, a sign, a
  transposition, a wrong derivative) is off by far more.
- float32: u = 6e-8, and NumPy's and torch's ``exp`` and ``tanh`` differ in
  the last bit now and then. ``rtol = 1e-4`` leaves a margin of over ten on
  what the suite meets and still rejects every mistake the checker names (the
  nearest, a factor of 2, is off by 1.0).
- Saturated units are the exception no rtol covers: the derivatives of
  sigmoid, Ĥ (1 − Ĥ), and tanh, 1 − A², are computed from the output by
  cancellation, in torch as in NumPy, so they carry an *absolute* error of
  about one ulp. When every unit a gradient flows through is saturated the
  twins' gradients may differ by 100 % of themselves; tests with inputs of
  large scale therefore measure errors against a first-order rounding-error
  scale of the whole computation (``tests/helpers/error_scales.py``) with the same rtol.
- ``atol`` only matters when the reference is (nearly) all zero, such as a
  dead ReLU layer: a few hundred units of round-off of a unit-scale quantity.
- Finite differences (float64, central, step h): truncation error O(h²) and
  cancellation error O(u · |L| / h); h = 1e-5 sits near the optimum u^(1/3),
  and ``rtol = 1e-6`` is far below the smallest mistake the checker names
  (off by 1e-1 or more).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tolerance(NamedTuple):
    rtol: float
    atol: float

    def loosened(self, *others: "Tolerance") -> "Tolerance":
        """The loosest of this and ``others``, rtol and atol each: what a comparison of
        results carrying all their errors allows."""
        return Tolerance(max(self.rtol, *(o.rtol for o in others)), max(self.atol, *(o.atol for o in others)))


TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float64): Tolerance(rtol=1e-11, atol=1e-13),
    np.dtype(np.float32): Tolerance(rtol=1e-4, atol=1e-5),
}

FINITE_DIFFERENCE = Tolerance(rtol=1e-6, atol=1e-8)

# Candidate dtypes the checker does not support: a gradient right only to this
# precision still fails, named ``low_precision`` (the values are right; the dtype
# is not). float16: unit round-off 4.9e-4, so a right gradient stored in float16
# is off by up to that much of its largest entry, and one computed in float16
# more. Measured on the default graded nets and on 4-32-2 with N = 64 (the
# seed's backward): 3.8e-4 when cast, 2.2e-3 when computed in float16. rtol =
# 2e-2 leaves a margin of 9, while the nearest named mistake (a factor of 2) is
# off by 1.0, 50 times the tolerance.
LOW_PRECISION = {np.dtype(np.float16): Tolerance(rtol=2e-2, atol=1e-3)}

# Parameters of the two twins after t steps of SGD on the same mini-batches.
# float64: the gradient table's own tolerance. float32: each step adds the
# twins' gradient difference (a few units of round-off) times lr, and training
# feeds every difference back into the next gradients, so the parameters drift
# apart step by step; rtol = 5e-4 allows that drift over the lockstep tests'
# 100 steps, while the lockstep test asserts that the first step alone moves
# every parameter by more than ten times this, so a wrong gradient shows at once.
LOCKSTEP = {
    np.dtype(np.float64): TOLERANCES[np.dtype(np.float64)],
    np.dtype(np.float32): Tolerance(rtol=5e-4, atol=1e-6),
}
FINITE_DIFFERENCE_STEP = 1e-5


def tolerance_for(dtype) -> Tolerance:
    """The tolerance for comparing results computed in ``dtype``."""
    return TOLERANCES[np.dtype(dtype)]


def max_errors(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(max absolute error, max absolute error relative to the largest reference entry)."""
    expected = np.asarray(expected, dtype=np.float64)
    abs_err = float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected), initial=0.0))
    scale = float(np.max(np.abs(expected), initial=0.0))
    rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else float("inf"))
    return abs_err, rel_err


def is_close(actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    """True when max|actual − expected| ≤ tol.rtol · max|expected| + tol.atol (shapes must match)."""
    if np.shape(actual) != np.shape(expected):
        return False
    abs_err, _ = max_errors(actual, expected)
    scale = float(np.max(np.abs(np.asarray(expected, dtype=np.float64)), initial=0.0))
    return abs_err <= tol.rtol * scale + tol.atol
