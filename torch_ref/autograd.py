"""Reference gradients from torch autograd, in the manual net's names, shapes and layout."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .model import TorchMLP


class AutogradResult(NamedTuple):
    """What the torch twin computes for one batch, in manual layout."""

    output: np.ndarray  # (D_O, N)
    loss: float
    grads: dict  # seed names → np.ndarray, shaped like net.params


def run_autograd(net, I, Y) -> AutogradResult:
    """Forward, loss and backward of a fresh twin of ``net`` on (I (D_I, N), Y); net is unchanged."""
    model = TorchMLP.from_manual(net)
    X = torch.from_numpy(np.ascontiguousarray(np.asarray(I, dtype=net.dtype).T))  # (N, D_I)
    out = model(X)  # (N, D_O)
    loss = model.loss_fn(out, model.targets(Y))
    loss.backward()
    return AutogradResult(out.detach().numpy().T.copy(), float(loss.item()), model.grads())


def autograd_grads(net, I, Y) -> dict[str, np.ndarray]:
    """dL/dw for every parameter of ``net`` by torch autograd, keyed and shaped like net.params."""
    return run_autograd(net, I, Y).grads
