"""The one table of tolerances, per dtype, used by the tests and by the gradient checker.

Two gradients are *close* when their largest entry-wise difference is small
next to the largest entry of the reference:

    max |actual − expected|  ≤  rtol · max |expected|  +  atol

This is a normwise test, the natural one for results of matrix products:
BLAS and torch sum in different orders, and their rounding errors scale with
the size of the whole product, not with each (possibly cancelled, near-zero)
entry.

Why these numbers:

Measured (``python scripts/measure_errors.py``): over the 840-case matrix of
activation × output activation × loss × depth 1–4 the largest error is
2.6e-15 (float64) and 2.0e-6 (float32) of the largest reference entry; over
the property tests (widths 1–32, batch 1–64, inputs of scale 1e-3 to 1e4)
2.9e-14 and 7.2e-6; over 100 lockstep SGD steps 2.4e-14 (float64).

- float64: unit round-off is 1.1e-16. A gradient here is a chain of at most a
  few matrix products over at most a few hundred terms, so honest
  implementations differ by roughly depth · K · 1e-16 ≲ 1e-13 of the largest
  entry, as measured. ``rtol = 1e-11`` leaves a margin of over 300 on every
  measurement, and of 20 even on a worst-case depth · K of 4096, while any
  real mistake (a factor, a sign, a transposition, a wrong derivative) is off
  by far more.
- float32: unit round-off is 6e-8, and the same chain gives ≲ 1e-5, as
  measured; NumPy's and torch's ``exp`` and ``tanh`` also differ in the last
  bit now and then. ``rtol = 1e-4`` leaves a margin of 14 on the worst
  measurement and still rejects every mistake the checker names (the
  nearest, a factor of 2, is off by 1.0).
- Saturated units are the exception that no rtol covers. The derivatives of
  sigmoid, Ĥ (1 − Ĥ), and of tanh, 1 − A², are computed from the output by
  cancellation, in torch as in NumPy, so they have an *absolute* error of
  about one ulp: when every unit a gradient flows through sits at |Z| ≳ 15
  (float64) or ≳ 8 (float32), the two twins' gradients can differ by 100 %
  of themselves (one may be exactly 0). Tests with inputs of large scale
  therefore measure errors against a first-order rounding-error scale of the
  whole computation (``tests/error_scales.py``) with the same rtol; against
  that scale the largest error measured is 1.9e-16 (float64) and 7.9e-8
  (float32), about one unit round-off.
- ``atol`` only matters when the reference is (nearly) all zero, such as a
  dead ReLU layer: it is a few hundred units of round-off of a unit-scale
  quantity.
- finite differences (float64, central, step ``h = 1e-5``): the truncation
  error is O(h²) ≈ 1e-10 and the cancellation error O(eps · |L| / h) ≈ 1e-11
  · |L|; h = 1e-5 sits near the optimum eps^(1/3). Measured on the test nets
  (sigmoid, tanh and softplus, all three losses) the worst normwise error is
  1.7e-8 (with h = 1e-6 it is 1.8e-7, with 1e-4 2.1e-7), so ``rtol = 1e-6``
  leaves a margin of about 60, while the mistakes the checker names are off
  by 1e-1 or more.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tolerance(NamedTuple):
    rtol: float
    atol: float


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
# float64: the gradient table's own tolerance (the largest drift measured over
# 100 steps is 2.4e-14 of the largest parameter). float32: each step adds the
# twins' gradient difference (a few units of round-off, 6e-8 each) times lr,
# and training feeds every difference back into the next gradients, so the
# parameters drift apart step by step; the largest drift measured over the
# lockstep runs is 9.9e-6. rtol = 5e-4 leaves a margin of 50, while the first
# step alone moves every parameter of those runs by at least 7.9e-3 of its
# size (16 times the tolerance; the test asserts 10 times), so a gradient off
# by a factor shows at once (and the float64 run checks each step far more
# tightly).
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
