"""The one table of tolerances, per dtype, used by the tests and by the gradient checker.

Two gradients are *close* when their largest entry-wise difference is small
next to the largest entry of the reference:

    max |actual − expected|  ≤  rtol · max |expected|  +  atol

This is a normwise test, the natural one for results of matrix products:
BLAS and torch sum in different orders, and their rounding errors scale with
the size of the whole product, not with each (possibly cancelled, near-zero)
entry.

Why these numbers:

- float64: unit round-off is 1.1e-16. A gradient here is a chain of at most a
  few matrix products over at most a few hundred terms, so honest
  implementations differ by roughly depth · K · 1e-16 ≲ 1e-12 of the largest
  entry. ``rtol = 1e-9`` leaves a margin of about 1000, while any real
  mistake (a factor, a sign, a transposition, a wrong derivative) is off by
  far more than 1e-9.
- float32: unit round-off is 6e-8, and the same chain gives ≲ 1e-5. Besides,
  numpy's and torch's ``exp`` may differ in the last bit, which near-saturated
  sigmoid or tanh units amplify. ``rtol = 1e-4`` allows for both and still
  rejects every mistake the checker names (the nearest, a factor of 2, is off
  by 1.0).
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
    np.dtype(np.float64): Tolerance(rtol=1e-9, atol=1e-13),
    np.dtype(np.float32): Tolerance(rtol=1e-4, atol=1e-5),
}

FINITE_DIFFERENCE = Tolerance(rtol=1e-6, atol=1e-8)
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
