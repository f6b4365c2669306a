"""Backwards with a wrong quantity, or the right one in the wrong place, written as students write them.

Each is the seed's one-hidden-layer net (sigmoid hidden layer, identity output,
``L = ½ Σ (O − Y)²``), written in its own style: loops over the batch, einsum,
row-major ``(N, D)`` arrays transposed at the end. Each takes a ``factor``
switch that adds one mistake of dL/dO's scale as well: ``"negated"``
(``Y − O``) or ``"mean"`` (a mean over the batch).

``PLANTED[name] = (backward, causes)``: ``causes(key, N, D_O)`` lists what the
oracle must name on that key, read off the code below (not off the oracle's);
``FACTOR_CAUSE`` gives the factor switch's own cause, which reaches every key.
"""

from __future__ import annotations

import numpy as np

LAM, LR = 0.01, 0.1


def _sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


def _dO(O, Y, factor):
    dO = Y - O if factor == "negated" else O - Y
    return dO / O.shape[1] if factor == "mean" else dO


def zipped_in_backprop_order(params, I, Y, factor=None):
    """The gradients collected output layer first, then zipped with the keys in the params' order."""
    W_H, b_H, W_O, b_O = params["W_H"], params["b_H"], params["W_O"], params["b_O"]
    H_hat = _sigmoid(W_H @ I + b_H)
    dO = _dO(W_O @ H_hat + b_O, Y, factor)
    grads = [dO @ H_hat.T, dO.sum(axis=1, keepdims=True)]
    dH = (W_O.T @ dO) * H_hat * (1 - H_hat)
    grads += [dH @ I.T, dH.sum(axis=1, keepdims=True)]
    return dict(zip(params, grads))


def copied_params_and_forgot_one(params, I, Y, factor=None):
    """grads starts as a copy of params and every entry is overwritten, but for W_H."""
    grads = {k: v.copy() for k, v in params.items()}
    H_hat = _sigmoid(np.einsum("hi,in->hn", params["W_H"], I) + params["b_H"])
    O = np.einsum("oh,hn->on", params["W_O"], H_hat) + params["b_O"]
    dO = O - Y
    if factor == "negated":
        dO = -dO
    grads["W_O"] = np.einsum("on,hn->oh", dO, H_hat)
    grads["b_O"] = dO.sum(axis=1, keepdims=True)
    grads["b_H"] = (np.einsum("oh,on->hn", params["W_O"], dO) * H_hat * (1 - H_hat)).sum(axis=1, keepdims=True)
    if factor == "mean":  # the average taken at the end, over every entry of grads
        for k in grads:
            grads[k] = grads[k] / I.shape[1]
    return grads


def l2_penalty(params, I, Y, factor=None):
    """L2 regularisation's λ·W added to both weight gradients (the biases left alone)."""
    H_hat = _sigmoid(params["W_H"] @ I + params["b_H"])
    dO = _dO(params["W_O"] @ H_hat + params["b_O"], Y, factor)
    dH = params["W_O"].T @ dO * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T + LAM * params["W_H"], "b_H": np.sum(dH, axis=1, keepdims=True),
            "W_O": dO @ H_hat.T + LAM * params["W_O"], "b_O": np.sum(dO, axis=1, keepdims=True)}


def returns_the_step(params, I, Y, factor=None):
    """Row-major: samples as rows, and the step −lr·dL/dw returned where the gradient belongs."""
    X, T = I.T, Y.T  # (N, D_I), (N, D_O)
    H_hat = _sigmoid(X @ params["W_H"].T + params["b_H"].T)
    dO = _dO((H_hat @ params["W_O"].T + params["b_O"].T).T, T.T, factor).T  # (N, D_O)
    dH = dO @ params["W_O"] * H_hat * (1 - H_hat)
    grads = {"W_H": dH.T @ X, "b_H": dH.sum(axis=0)[:, None], "W_O": dO.T @ H_hat, "b_O": dO.sum(axis=0)[:, None]}
    return {k: -LR * g for k, g in grads.items()}


def loop_that_assigns(params, I, Y, factor=None):
    """A loop over the samples whose += became =: only the last sample's gradient survives."""
    N = I.shape[1]
    for n in range(N):
        x, y = I[:, n:n + 1], Y[:, n:n + 1]
        h_hat = _sigmoid(params["W_H"] @ x + params["b_H"])
        d_o = _dO(params["W_O"] @ h_hat + params["b_O"], y, factor if factor != "mean" else None)
        if factor == "mean":
            d_o = d_o / N
        d_h = params["W_O"].T @ d_o * h_hat * (1 - h_hat)
        grads = {"W_H": d_h @ x.T, "b_H": d_h, "W_O": d_o @ h_hat.T, "b_O": d_o}
    return grads


def sums_then_outer(params, I, Y, factor=None):
    """The batch summed first, then one outer product per weight (np.outer of the sums)."""
    H_hat = _sigmoid(params["W_H"] @ I + params["b_H"])
    dO = _dO(params["W_O"] @ H_hat + params["b_O"], Y, factor)
    dH = params["W_O"].T @ dO * H_hat * (1 - H_hat)
    return {"W_H": np.outer(dH.sum(axis=1), I.sum(axis=1)), "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": np.outer(dO.sum(axis=1), H_hat.sum(axis=1)), "b_O": dO.sum(axis=1, keepdims=True)}


def pre_activation_in_dW_O(params, I, Y, factor=None):
    """dL/dW_O = dL/dO · Hᵀ: the cached H taken for Ĥ."""
    H = params["W_H"] @ I + params["b_H"]
    H_hat = _sigmoid(H)
    dO = _dO(params["W_O"] @ H_hat + params["b_O"], Y, factor)
    dH = params["W_O"].T @ dO * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H.T, "b_O": dO.sum(axis=1, keepdims=True)}


def sigmoid_derivative_at_output(params, I, Y, factor=None):
    """σ′ written at the linear output too: dL/dO = (O − Y) ⊙ O ⊙ (1 − O)."""
    H_hat = _sigmoid(params["W_H"] @ I + params["b_H"])
    O = params["W_O"] @ H_hat + params["b_O"]
    dO = _dO(O, Y, factor) * O * (1 - O)
    dH = params["W_O"].T @ dO * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}


def bias_summed_over_axis_0(params, I, Y, factor=None):
    """np.sum(dZ, axis=0): the features summed, as in a row-major tutorial, in whatever shape it comes."""
    H_hat = _sigmoid(params["W_H"] @ I + params["b_H"])
    dO = _dO(params["W_O"] @ H_hat + params["b_O"], Y, factor)
    dH = params["W_O"].T @ dO * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": np.sum(dH, axis=0),
            "W_O": dO @ H_hat.T, "b_O": np.sum(dO, axis=0, keepdims=True)}


SWAP = {"W_H": "W_O", "b_H": "b_O", "W_O": "W_H", "b_O": "b_H"}
WEIGHTS = ("W_H", "W_O")


def _wrong_axis(key, N, D_O):
    if key == "b_O" and D_O == 1:  # one output: its sum over the features is dL/dO itself, one column per sample
        return ["not_summed_over_batch"] if N > 1 else []
    return ["wrong_axis"] if key.startswith("b_") else []


PLANTED = {
    "swapped_with": (zipped_in_backprop_order, lambda key, N, D_O: ["swapped_with_" + SWAP[key]]),
    "returned_parameters": (copied_params_and_forgot_one,
                            lambda key, N, D_O: ["returned_parameters"] if key == "W_H" else []),
    "weight_decay": (l2_penalty, lambda key, N, D_O: ["weight_decay"] if key in WEIGHTS else []),
    "update_not_gradient": (returns_the_step, lambda key, N, D_O: ["update_not_gradient"]),
    "one_sample": (loop_that_assigns, lambda key, N, D_O: ["one_sample"] if N > 1 else []),
    "product_of_sums": (sums_then_outer, lambda key, N, D_O: ["product_of_sums"] if key in WEIGHTS and N > 1 else []),
    "pre_activation": (pre_activation_in_dW_O, lambda key, N, D_O: ["pre_activation"] if key == "W_O" else []),
    "output_activation_derivative": (sigmoid_derivative_at_output,
                                     lambda key, N, D_O: ["output_activation_derivative"]),
    "wrong_axis": (bias_summed_over_axis_0, _wrong_axis),
}
FACTOR_CAUSE = {"negated": "negated", "mean": "scaled_by_1/N"}
# The factor each planted mistake is combined with: one that every net shows where the mistake
# itself is invisible on a net (one sample, or a product of sums, at N = 1 is the right gradient).
FACTOR_FOR = {name: "negated" if name in ("one_sample", "product_of_sums") else "mean" for name in PLANTED}
FACTOR_FOR["returned_parameters"] = "mean"
