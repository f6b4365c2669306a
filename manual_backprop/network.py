"""The whole network's forward and backward pass as two pure functions.

Letters: ``D_I`` input width, ``D_H`` (or ``D_H1 … D_Hk``) hidden widths,
``D_O`` output width, ``N`` batch. Layer ``l`` maps ``X_l (D_in, N)`` to
``Z_l = W_l X_l + b_l`` and ``A_l = f_l(Z_l)``, both ``(D_out, N)``; the input
is ``X_1 = I`` and the output is ``O = A_last``. With one hidden layer these
are the seed's ``H, Ĥ`` and ``O``.

The functions take the parameters as a dict keyed like the seed (``W_H, b_H,
W_O, b_O``; deeper nets ``W_H1, b_H1, …``) and never change them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .activations import Activation
from .layers import linear_backward, linear_forward


def layer_names(n_layers: int) -> list[str]:
    """Seed names of the layers: ["H", "O"] for one hidden layer, ["H1", …, "Hk", "O"] for k ≥ 2."""
    n_hidden = n_layers - 1
    if n_hidden == 1:
        return ["H", "O"]
    return [f"H{i}" for i in range(1, n_hidden + 1)] + ["O"]


def layer_activation_names(n_layers: int, activation: str, output_activation: str) -> list[str]:
    """The activation of each layer, first layer first: ``activation`` in every hidden layer,
    ``output_activation`` in the output layer (the seed: sigmoid, then identity)."""
    return [activation] * (n_layers - 1) + [output_activation]


def network_forward(params: dict, names: Sequence[str], activations: Sequence[Activation],
                    I: np.ndarray):
    """Seed: H = W_H I + b_H, Ĥ = f(H), O = W_O Ĥ + b_O (then the output activation).

    I: (D_I, N). Returns O (D_O, N) and the cache: one (X, Z, A) per layer, the
    layer's input, pre-activation and activation, which the backward reuses.
    """
    cache = []
    X = I
    for name, act in zip(names, activations):
        Z = linear_forward(params["W_" + name], params["b_" + name], X)  # (D_out, N)
        A = act.forward(Z)  # (D_out, N)
        cache.append((X, Z, A))
        X = A
    return X, cache


def network_backward(params: dict, names: Sequence[str], activations: Sequence[Activation],
                     cache: list, dO: np.ndarray) -> dict:
    """Backpropagate dO = dL/dO (D_O, N) through the cached forward, last layer first.

    Per layer, in the seed's order: dL/dZ = dL/dA ⊙ f'(Z) (the activation's
    backward; for the seed's sigmoid hidden layer dL/dH = dL/dĤ ⊙ Ĥ ⊙ (1 − Ĥ)),
    then dL/dW = dL/dZ · Xᵀ, dL/db = Σ_batch dL/dZ and dL/dX = Wᵀ · dL/dZ, which
    is the layer below's dL/dA (the seed's dL/dĤ = W_Oᵀ · dL/dO).

    Returns the gradients keyed and shaped like params, in the same key order.
    """
    grads = {}
    dA = dO  # (D_O, N)
    for i in reversed(range(len(names))):
        name = names[i]
        X, Z, A = cache[i]
        dZ = activations[i].backward(dA, Z, A)  # (D_out, N)
        grads["W_" + name], grads["b_" + name], dA = linear_backward(
            dZ, params["W_" + name], X, need_dX=i > 0)
    return {key: grads[key] for key in params}
