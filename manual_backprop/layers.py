"""The affine layer of the seed, forward and backward.

Letters: ``D_in`` a layer's fan-in, ``D_out`` its fan-out, ``N`` the batch.
Data is features × batch, weights are ``(fan_out, fan_in)``, biases are column
vectors ``(fan_out, 1)``: so ``Z = W @ X + b`` reads exactly as the seed's
``H = W_H I + b_H``.
"""

from __future__ import annotations

import numpy as np


def linear_forward(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Seed: H = W_H I + b_H (and O = W_O Ĥ + b_O).

    W: (D_out, D_in). b: (D_out, 1). X: (D_in, N). Returns Z: (D_out, N).
    """
    Z = W @ X  # (D_out, N)
    Z += b  # (D_out, 1) broadcast over the batch
    return Z


def linear_backward(dZ: np.ndarray, W: np.ndarray, X: np.ndarray, need_dX: bool = True):
    """Seed: the matrix-multiply rule for D = W·X, dW = dD · Xᵀ and dX = Wᵀ · dD.

    For the output layer these are the seed's dL/dW_O = dL/dO · Ĥᵀ and
    dL/dĤ = W_Oᵀ · dL/dO; for the hidden layer dL/dW_H = dL/dH · Iᵀ. The seed's
    dL/db = dL/dH holds per sample; over a batch the bias gradient is its sum.

    dZ: (D_out, N). W: (D_out, D_in). X: (D_in, N).
    Returns (dW (D_out, D_in), db (D_out, 1), dX (D_in, N) or None when not needed:
    the network's input needs no gradient, so the first layer skips that product).
    """
    dW = dZ @ X.T  # (D_out, N) · (N, D_in) = (D_out, D_in), W's own shape
    db = dZ.sum(axis=1, keepdims=True)  # (D_out, 1): summed over the batch
    dX = W.T @ dZ if need_dX else None  # (D_in, D_out) · (D_out, N) = (D_in, N), X's own shape
    return dW, db, dX
