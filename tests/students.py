"""A student's backprop, written from the seed's equations independently of manual_backprop, with
switchable realistic mistakes; and, per mistake, which parameters it breaks and how.

``student_backward(params, I, Y, mistake=...)`` handles any depth, sigmoid or
tanh hidden layers, an identity output and the three losses. ``EXPECTED`` says
what the oracle must report for each mistake: derived from where the mistake
sits in the equations, not from the oracle's code.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


def _forward(params, I, activation):
    names = [k[2:] for k in params if k.startswith("W_")]
    f = _sigmoid if activation == "sigmoid" else np.tanh
    Xs, Zs, As = [], [], []
    X = I
    for i, name in enumerate(names):
        Z = params["W_" + name] @ X + params["b_" + name]
        A = Z if i == len(names) - 1 else f(Z)  # identity output layer
        Xs.append(X), Zs.append(Z), As.append(A)
        X = A
    return names, Xs, Zs, As


def _dO(O, Y, loss, mistake):
    N = O.shape[1]
    if loss == "mse":
        return (O - Y) / O.size if mistake == "mse_without_2" else 2 * (O - Y) / O.size
    if loss == "softmax_cross_entropy":
        e = np.exp(O - O.max(axis=0, keepdims=True))
        P = e / e.sum(axis=0, keepdims=True)
        P[Y, np.arange(N)] -= 1.0
        return P if mistake == "ce_sum" else P / N
    return {"negated_dO": Y - O, "forgot_half": 2 * (O - Y), "half_twice": 0.5 * (O - Y),
            "mean_over_batch": (O - Y) / N}.get(mistake, O - Y)


def _dZ(dA, Z, A, activation, mistake):
    if activation == "sigmoid":
        return {"deriv_at_output": dA * _sigmoid(A) * (1 - _sigmoid(A)),
                "deriv_of_preact": dA * Z * (1 - Z),
                "deriv_omitted": dA}.get(mistake, dA * A * (1 - A))
    return {"deriv_at_output": dA * (1 - np.tanh(A) ** 2),
            "deriv_of_preact": dA * (1 - Z ** 2),
            "deriv_omitted": dA,
            "sigmoid_formula_for_tanh": dA * A * (1 - A)}.get(mistake, dA * (1 - A ** 2))


def student_backward(params, I, Y, mistake=None, activation="sigmoid", loss="half_sse"):
    """Gradients by the seed's equations, with one deliberate ``mistake`` (None: right)."""
    mistake = base_mistake(mistake) if mistake else None
    names, Xs, Zs, As = _forward(params, I, activation)
    last = len(names) - 1
    dA = _dO(As[-1], Y, loss, mistake)
    grads = {}
    for i in reversed(range(len(names))):
        name, X, Z, A = names[i], Xs[i], Zs[i], As[i]
        dZ = dA if i == last else _dZ(dA, Z, A, activation, mistake)
        dW = dZ @ X.T
        db = dZ.sum(axis=1, keepdims=True)
        if i == last and mistake == "W_out_transposed":
            dW = X @ dZ.T
        if i == 0 and mistake == "W_in_transposed":
            dW = X @ dZ.T
        if i == 0 and mistake == "zero_W_in":
            dW = np.zeros_like(params["W_" + name])
        if i == last and mistake == "W_out_uses_preact":
            dW = dZ @ Zs[i - 1].T
        if i == last and mistake == "b_out_mean":
            db = dZ.mean(axis=1, keepdims=True)
        if i == last and mistake == "b_out_flat":
            db = dZ.sum(axis=1)
        if i == 0 and mistake == "b_in_not_summed":
            db = dZ
        grads["W_" + name], grads["b_" + name] = dW, db
        if i > 0:
            W = params["W_" + name]
            dA = (W @ dZ) if mistake == "dX_W_not_transposed" else W.T @ dZ
    return {k: grads[k] for k in params}


def expected(mistake, names, N):
    """{parameter: diagnosis code} the oracle must report for ``mistake``, all others passing."""
    keys = [p + n for n in names for p in ("W_", "b_")]
    hidden = [p + n for n in names[:-1] for p in ("W_", "b_")]
    first, out = names[0], names[-1]
    per_mistake = {
        None: {},
        "negated_dO": {k: "negated" for k in keys},
        "forgot_half": {k: "scaled_by_2" for k in keys},
        "half_twice": {k: "scaled_by_1/2" for k in keys},
        "mse_without_2": {k: "scaled_by_1/2" for k in keys},
        "mean_over_batch": {k: "scaled_by_1/N" for k in keys} if N > 1 else {},
        "ce_sum": {k: "scaled_by_N" for k in keys} if N > 1 else {},
        "deriv_at_output": {k: "activation_derivative" for k in hidden},
        "deriv_of_preact": {k: "activation_derivative" for k in hidden},
        "deriv_omitted": {k: "activation_derivative" for k in hidden},
        "sigmoid_formula_for_tanh": {k: "activation_derivative" for k in hidden},
        "W_out_transposed": {"W_" + out: "transposed"},
        "W_in_transposed": {"W_" + first: "transposed"},
        "zero_W_in": {"W_" + first: "zero"},
        "W_out_uses_preact": {"W_" + out: "unknown"},
        "b_out_mean": {"b_" + out: "scaled_by_1/N"} if N > 1 else {},
        "b_out_flat": {"b_" + out: "wrong_shape"},
        "b_in_not_summed": {"b_" + first: "not_summed_over_batch"} if N > 1 else {},
        "dX_W_not_transposed": {k: "unknown" for k in hidden},
    }
    return per_mistake[base_mistake(mistake) if mistake else None]


# mistake → (hidden activation, loss); the sigmoid/half_sse seed configuration unless stated.
MISTAKES = {
    "negated_dO": ("sigmoid", "half_sse"),
    "forgot_half": ("sigmoid", "half_sse"),
    "half_twice": ("sigmoid", "half_sse"),
    "mse_without_2": ("sigmoid", "mse"),
    "mean_over_batch": ("sigmoid", "half_sse"),
    "ce_sum": ("sigmoid", "softmax_cross_entropy"),
    "deriv_at_output": ("sigmoid", "half_sse"),
    "deriv_of_preact": ("sigmoid", "half_sse"),
    "deriv_omitted": ("sigmoid", "half_sse"),
    "tanh_deriv_at_output": ("tanh", "half_sse"),
    "tanh_deriv_of_preact": ("tanh", "half_sse"),
    "sigmoid_formula_for_tanh": ("tanh", "half_sse"),
    "W_out_transposed": ("sigmoid", "half_sse"),
    "W_in_transposed": ("sigmoid", "half_sse"),
    "zero_W_in": ("sigmoid", "half_sse"),
    "W_out_uses_preact": ("sigmoid", "half_sse"),
    "b_out_mean": ("sigmoid", "half_sse"),
    "b_out_flat": ("sigmoid", "half_sse"),
    "b_in_not_summed": ("sigmoid", "half_sse"),
    "dX_W_not_transposed": ("sigmoid", "half_sse"),  # only runs when W_O is square
}


def base_mistake(mistake):
    """The tanh variants share the sigmoid ones' switch."""
    return mistake[len("tanh_"):] if mistake.startswith("tanh_") else mistake
