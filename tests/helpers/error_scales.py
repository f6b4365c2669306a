"""How far two correct implementations may drift apart by rounding: a scale per compared quantity.

The table in ``manual_backprop.oracle.tolerances`` accepts ``max|actual − expected| ≤
rtol · max|expected| + atol``. Scaling by the result is right when nothing
cancels. It breaks down when inputs are large and units saturate: the
seed's sigmoid derivative ``Ĥ (1 − Ĥ)`` and tanh's ``1 − A²`` are computed,
in NumPy and in torch alike, by cancellation from an output within a few ulps
of 1, so they carry an *absolute* error of about one unit round-off ``u``,
which is a relative error of ``u / f'(Z)`` — 100 % when every unit of a
layer sits at |Z| ≈ 17 (float64) or 8 (float32). NumPy's and torch's ``tanh``
and ``exp`` differ in the last bit often enough to show it.

First-order rounding-error analysis gives an honest scale instead. For every
quantity it propagates, next to the value, a bound ``S`` such that two correct
implementations differ by a small multiple of ``u · S`` (the multiple grows
with the fan-in and depth; the table's rtol already allows for that):

- forward, per layer: ``S_Z = |W| (S_X + |X|) + |b|`` (rounding of the product,
  plus the input's own error), ``S_A = S_Z + |A|`` (|f'| ≤ 1 for every
  activation here, plus the rounding of f);
- loss gradient: ``S_dO`` from the output's error and the rounding of
  ``O − Y`` (or ``softmax − onehot``), times the loss's scale factor;
- backward, per layer: ``S_dZ = S_dA + |dA| (1 + S_Z)`` (the upstream error,
  plus ``|dA|`` times the absolute error of ``f'`` from cancellation and from
  the forward's error in Z, with |f''| ≤ 1), ``S_dW = S_dZ |X|ᵀ + |dZ| S_Xᵀ``,
  ``S_db = Σ_batch S_dZ``, ``S_dX = |W|ᵀ (S_dZ + |dZ|)``.

Every ``S`` is at least as large as the magnitude of its quantity, so a check
against ``rtol · max S`` is never stricter than the table's own check; for
unsaturated nets the two scales are within a small factor, so mistakes (off by
O(1)) are still caught. The one event outside the model is a relu or
leaky_relu pre-activation within rounding of 0, where the derivative jumps; it
has probability ~u per unit and is tested separately with exact zeros.
"""

from __future__ import annotations

import numpy as np

from manual_backprop.losses import log_softmax


def error_scales(net, I, Y) -> dict[str, float]:
    """max S for the output ("O"), the loss ("L") and each gradient (keyed like net.params).

    Computed in float64 from ``net``'s parameters and the batch (I (D_I, N); Y
    (D_O, N) or class indices (N,)); ``net`` is not changed.
    """
    acts = net.layer_activations
    loss = net.loss_function
    p = {k: np.asarray(v, dtype=np.float64) for k, v in net.params.items()}

    X = np.asarray(I, dtype=net.dtype).astype(np.float64)  # (D_I, N): both twins see this exactly
    S_X = np.zeros_like(X)
    layers = []
    for name, act in zip(net.layer_names, acts):
        W, b = p["W_" + name], p["b_" + name]
        Z = W @ X + b  # (D_out, N)
        A = act.forward(Z)
        S_Z = np.abs(W) @ (S_X + np.abs(X)) + np.abs(b)  # (D_out, N)
        layers.append((W, X, S_X, S_Z))
        X, S_X = A, S_Z + np.abs(A)
    O, S_O = X, S_X  # (D_O, N)

    N = O.shape[1]
    if loss.class_index:
        Y = np.asarray(Y).astype(np.intp)
        onehot = np.zeros_like(O)
        onehot[Y, np.arange(N)] = 1.0
        S_dO = (S_O.max(axis=0, keepdims=True) + np.exp(log_softmax(O)) + onehot) / N  # (D_O, N)
    else:
        Y = np.asarray(Y, dtype=np.float64)
        factor = 2.0 / O.size if net.loss_name == "mse" else 1.0
        S_dO = factor * (S_O + np.abs(O) + np.abs(Y))  # (D_O, N)
    dA = np.abs(loss.backward(O, Y))  # (D_O, N): |dL/dO|
    scales = {"O": float(S_O.max()),
              "L": float(np.sum(dA * S_O)) + abs(loss.forward(O, Y))}

    S_dA = S_dO
    for name, (W, X, S_X, S_Z) in zip(reversed(net.layer_names), reversed(layers)):
        S_dZ = S_dA + dA * (1.0 + S_Z)  # (D_out, N); |dZ| ≤ |dA| since |f'| ≤ 1
        scales["W_" + name] = float((S_dZ @ np.abs(X).T + dA @ S_X.T).max())  # (D_out, D_in)
        scales["b_" + name] = float(S_dZ.sum(axis=1).max())  # (D_out,): summed over the batch
        S_dA = np.abs(W).T @ (S_dZ + dA)  # (D_in, N)
        dA = np.abs(W).T @ dA  # (D_in, N): a bound on |dL/dX|
    return scales
