"""One comparison of the manual net against autograd, output → loss → each gradient, for many tests.

``check_against_autograd`` runs the manual forward, loss and backward and the
torch twin's on one batch and asserts they agree within the dtype's tolerance
from ``manual_backprop.oracle.tolerances``. It returns what it measured, so
``scripts/measure_errors.py`` can report the largest errors the suite's cases meet.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from helpers.common import assert_close
from helpers.error_scales import error_scales
from manual_backprop.oracle.tolerances import max_errors, tolerance_for
from torch_ref import run_autograd


class Measured(NamedTuple):
    """One comparison's error, relative to max|expected| and to the rounding scale (None where unused)."""

    dtype: str
    what: str
    rel_to_max: float
    rel_to_scale: float | None


def _check(actual, expected, what: str, dtype, scale: float | None) -> Measured:
    """With scale None: the table's check (relative to max|expected|); else relative to ``scale``."""
    tol = tolerance_for(dtype)
    if scale is None:
        assert_close(actual, expected, what, tol)
        rel_to_max, rel = max_errors(actual, expected)[1], None
    else:
        actual, expected = np.asarray(actual), np.asarray(expected)
        assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
        abs_err, rel_to_max = max_errors(actual, expected)
        rel = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else float("inf"))
        assert abs_err <= tol.rtol * scale + tol.atol, (
            f"{what}: max abs error {abs_err:.3e}, {rel:.3e} of its rounding scale {scale:.3e} "
            f"({rel_to_max:.3e} of max|expected|; tolerance rtol={tol.rtol:g}, atol={tol.atol:g})")
    return Measured(np.dtype(dtype).name, what, rel_to_max, rel)


def check_against_autograd(net, I, Y, rounding_scaled: bool = False) -> list[Measured]:
    """Assert net's output, loss and gradients on (I, Y) match autograd's; returns what was measured.

    rounding_scaled=False: the table's normwise check, right for unsaturated
    nets (inputs of unit scale). True: errors are measured against the scales
    of ``error_scales`` instead, right for inputs of any scale.
    """
    O = net.forward(I)
    L = net.loss(O, Y)
    grads = net.backward(Y)
    ref = run_autograd(net, I, Y)
    scales = error_scales(net, I, Y) if rounding_scaled else {}
    assert np.all(np.isfinite(O)) and np.isfinite(L), f"non-finite output or loss: L = {L}"
    assert O.dtype == net.dtype and O.shape == ref.output.shape, f"output O: {O.dtype} {O.shape}"
    measured = [_check(O, ref.output, "output O", net.dtype, scales.get("O")),
                _check(L, ref.loss, "loss L", net.dtype, scales.get("L"))]
    assert list(grads) == list(net.params), f"gradient keys {list(grads)}, expected {list(net.params)}"
    for key in reversed(list(net.params)):  # the output layer's first, as backprop computes them
        g = grads[key]
        assert g.shape == net.params[key].shape and g.dtype == net.dtype, (
            f"dL/d{key}: {g.dtype} {g.shape}, expected {net.dtype} {net.params[key].shape}")
        assert np.all(np.isfinite(g)), f"dL/d{key} has non-finite entries"
        measured.append(_check(g, ref.grads[key], f"dL/d{key}", net.dtype, scales.get(key)))
    return measured
