"""check_gradients: anyone's gradients for a net, against autograd, with the mistake named.

    from torch_ref import check_gradients
    report = check_gradients(net, I, Y, grads)   # grads: a dict keyed like net.params
    report.passed, report.params["W_H"].diagnosis
    print(report)                                # the per-parameter table

The comparison, the diagnosis and the report are NumPy code shared with the
torch-free ``manual_backprop.check.check_gradients_fd``; only the reference
differs. The net is left exactly as it was: ``net.params`` bit for bit, and
its forward cache (autograd runs on a fresh twin; the net's own forward is
never called).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from manual_backprop.check import compare_gradients, validate_inputs
from manual_backprop.report import GradientReport
from manual_backprop.tolerances import tolerance_for

from .autograd import autograd_grads


def _as_numpy(value):
    """Candidates may be torch tensors (detached and copied to NumPy) or anything array-like."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def check_gradients(net, I, Y, grads: Mapping) -> GradientReport:
    """Compare candidate ``grads`` with autograd's for ``net`` at (I (D_I, N), Y), per parameter.

    Y: (D_O, N), or class indices (N,) for softmax_cross_entropy. Tolerances
    are those of net.dtype in ``manual_backprop.tolerances``. Bad input is a
    TypeError/ValueError naming the argument.
    """
    I, Y = validate_inputs(net, I, Y, grads)
    candidate = {k: _as_numpy(v) for k, v in grads.items()}
    reference = autograd_grads(net, np.asarray(I, dtype=net.dtype), Y)
    return compare_gradients(net, I, Y, candidate, reference, "autograd", tolerance_for(net.dtype))
