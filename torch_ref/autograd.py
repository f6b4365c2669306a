"""The autograd reference: torch's gradients in the manual net's names, shapes and layout, and
``check_gradients``, anyone's gradients judged against them with the mistake named.

    from torch_ref import check_gradients
    report = check_gradients(net, I, Y, grads)   # grads: a dict keyed like net.params
    report.passed, report.params["W_H"].diagnosis
    print(report)                                # the per-parameter table

The comparison, the diagnosis and the report are NumPy code shared with the
torch-free ``manual_backprop.oracle.check_gradients_fd``; only the reference
differs. The net is left exactly as it was: ``net.params`` bit for bit, and
its forward cache (autograd runs on a fresh twin; the net's own forward is
never called).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from manual_backprop import MLP
from manual_backprop.oracle.comparison import compare_gradients, validate_inputs
from manual_backprop.oracle.report import GradientReport
from manual_backprop.oracle.tolerances import tolerance_for

from ._torch import torch  # without torch: an ImportError naming the extra
from .model import TorchMLP


class AutogradResult(NamedTuple):
    """What the torch twin computes for one batch, in manual layout."""

    output: np.ndarray  # (D_O, N)
    loss: float
    grads: dict  # seed names → np.ndarray, shaped like net.params


def run_autograd(net: MLP, I: ArrayLike, Y: ArrayLike) -> AutogradResult:
    """Forward, loss and backward of a fresh twin of ``net`` on (I (D_I, N), Y); net is unchanged."""
    model = TorchMLP.from_manual(net)
    # copies, always: torch.from_numpy of a read-only array (a (D_I, 1) I is contiguous once
    # transposed) warns that the tensor is not writable
    X = torch.from_numpy(np.array(np.asarray(I, dtype=net.dtype).T, order="C"))  # (N, D_I)
    out = model(X)  # (N, D_O)
    loss = model.loss_fn(out, model.targets(np.array(Y)))
    loss.backward()
    return AutogradResult(out.detach().numpy().T.copy(), float(loss.item()), model.grads())


def autograd_grads(net: MLP, I: ArrayLike, Y: ArrayLike) -> dict[str, np.ndarray]:
    """dL/dw for every parameter of ``net`` by torch autograd, keyed and shaped like net.params."""
    return run_autograd(net, I, Y).grads


def check_gradients(net: MLP, I: ArrayLike, Y: ArrayLike, grads: Mapping) -> GradientReport:
    """Compare candidate ``grads`` with autograd's for ``net`` at (I (D_I, N), Y), per parameter.

    Y: (D_O, N), or class indices (N,) for softmax_cross_entropy. Tolerances
    are those of net.dtype in ``manual_backprop.oracle.tolerances``. Bad input is a
    TypeError/ValueError naming the argument.
    """
    I, Y, candidate = validate_inputs(net, I, Y, grads)
    reference = autograd_grads(net, np.asarray(I, dtype=net.dtype), Y)
    return compare_gradients(net, I, Y, candidate, reference, "autograd", tolerance_for(net.dtype))
