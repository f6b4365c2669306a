"""A torch-free second oracle: gradients by central finite differences, in float64.

    dL/dw ≈ (L(w + h) − L(w − h)) / (2h)   for every entry w of every parameter.

It costs two forward passes per parameter entry, so it is meant for small nets.
It never changes ``net.params``: it perturbs a float64 copy.
"""

from __future__ import annotations

import numpy as np

from ..network import network_forward
from ..validation import as_targets
from .tolerances import FINITE_DIFFERENCE_STEP


def numerical_grads(net, I, Y, h: float = FINITE_DIFFERENCE_STEP) -> dict[str, np.ndarray]:
    """Central-difference gradients of ``net``'s loss at (I, Y), keyed and shaped like net.params.

    I: (D_I, N). Y: (D_O, N), or (N,) class indices. Computed in float64 whatever
    net.dtype is, on a copy of the parameters.
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    I = np.asarray(I, dtype=np.float64)
    loss = net.loss_function
    Y = as_targets(Y, loss, net.sizes[-1], I.shape[1], np.dtype(np.float64), "I's batch")

    def loss_at() -> float:
        O, _ = network_forward(params, net.layer_names, net.layer_activations, I)
        return loss.forward(O, Y)

    grads = {}
    for key, p in params.items():
        g = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            original = p[idx]
            p[idx] = original + h
            up = loss_at()
            p[idx] = original - h
            down = loss_at()
            p[idx] = original
            g[idx] = (up - down) / (2 * h)
        grads[key] = g
    return grads
