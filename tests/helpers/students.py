"""A student's backprop, written from the seed's equations independently of manual_backprop, with
switchable realistic mistakes; and, per mistake, which parameters it breaks and how.

``student_backward(params, I, Y, mistake=...)`` handles any depth, sigmoid or
tanh hidden layers, an identity output and the three losses. ``mistake`` is one
switch or several joined by ``+`` (made together). ``expected`` says what the
oracle must report for each single mistake on one net, and ``expected_on_net``
for any combination on the graded nets read together: derived from where each
mistake sits in the equations, not from the oracle's code.

``student_forward``, ``student_loss`` and ``student_sgd_step`` are the seed's
other parts, with their own mistakes (``FORWARD_MISTAKES``, ``LOSS_MISTAKES``,
``SGD_MISTAKES`` give the code each must be named by).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


def _forward(params, I, activation, mistakes=frozenset()):
    names = [k[2:] for k in params if k.startswith("W_")]
    f = _sigmoid if activation == "sigmoid" else np.tanh
    if "forward_tanh" in mistakes:
        f = np.tanh
    Xs, Zs, As = [], [], []
    X = I
    for i, name in enumerate(names):
        Z = params["W_" + name] @ X
        if not ("forward_no_b_H" in mistakes and i == 0):
            Z = Z + params["b_" + name]
        if i < len(names) - 1 or "forward_output_activation" in mistakes:
            A = f(Z)
        else:
            A = Z  # identity output layer
        Xs.append(X), Zs.append(Z), As.append(A)
        X = A
    return names, Xs, Zs, As


def _dO(O, Y, loss, m):
    D_O, N = O.shape
    if loss == "mse":
        return (O - Y) / O.size if "mse_without_2" in m else 2 * (O - Y) / O.size
    if loss == "softmax_cross_entropy":
        e = np.exp(O - O.max(axis=0, keepdims=True))
        P = e / e.sum(axis=0, keepdims=True)
        P[Y, np.arange(N)] -= 1.0
        return P if "ce_sum" in m else P / N
    dO = Y - O if "negated_dO" in m else O - Y
    if "forgot_half" in m:
        dO = 2 * dO
    if "half_twice" in m:
        dO = 0.5 * dO
    if "mean_over_batch" in m:
        dO = dO / N
    if "mean_over_outputs" in m:
        dO = dO / D_O
    if "half_mean_all" in m:  # L = ½ mean over all entries
        dO = dO / (N * D_O)
    if "mse_for_half_sse" in m:  # torch's MSELoss gradient used for the seed's loss
        dO = 2 * dO / (N * D_O)
    return dO


def _dZ(dA, Z, A, activation, m):
    if "relu_formula" in m:
        return dA * (Z > 0)
    if "crude_numerical_deriv" in m:  # f′ by a central difference with a large step
        h = 1e-2
        f = _sigmoid if activation == "sigmoid" else np.tanh
        return dA * (f(Z + h) - f(Z - h)) / (2 * h)
    if activation == "sigmoid":
        if "deriv_at_output" in m:
            return dA * _sigmoid(A) * (1 - _sigmoid(A))
        if "deriv_of_preact" in m:
            return dA * Z * (1 - Z)
        return dA if "deriv_omitted" in m else dA * A * (1 - A)
    if "deriv_at_output" in m:
        return dA * (1 - np.tanh(A) ** 2)
    if "deriv_of_preact" in m:
        return dA * (1 - Z ** 2)
    if "deriv_omitted" in m:
        return dA
    return dA * A * (1 - A) if "sigmoid_formula_for_tanh" in m else dA * (1 - A ** 2)


def switches(mistake) -> frozenset:
    """The set of switches in ``mistake`` ("a+b"), tanh variants mapped to the sigmoid ones'."""
    return frozenset(base_mistake(m) for m in mistake.split("+")) if mistake else frozenset()


def student_backward(params, I, Y, mistake=None, activation="sigmoid", loss="half_sse"):
    """Gradients by the seed's equations, with the deliberate mistakes in ``mistake`` (None: right)."""
    m = switches(mistake)
    names, Xs, Zs, As = _forward(params, I, activation, m)
    last = len(names) - 1
    dA = _dO(As[-1], Y, loss, m)
    grads = {}
    for i in reversed(range(len(names))):
        name, X, Z, A = names[i], Xs[i], Zs[i], As[i]
        dZ = dA if i == last else _dZ(dA, Z, A, activation, m)
        dW = dZ @ X.T
        db = dZ.sum(axis=1, keepdims=True)
        if i == last and "W_out_transposed" in m:
            dW = X @ dZ.T
        if i == 0 and "W_in_transposed" in m:
            dW = X @ dZ.T
        if i == 0 and "zero_W_in" in m:
            dW = np.zeros_like(params["W_" + name])
        if i == last and "W_out_uses_preact" in m:
            dW = dZ @ Zs[i - 1].T
        if i == last and "b_out_mean" in m:
            db = dZ.mean(axis=1, keepdims=True)
        if i == last and "b_out_flat" in m:
            db = db.ravel()
        if i == last and "b_out_float32" in m:
            db = db.astype(np.float32)
        if i == 0 and "b_in_not_summed" in m:
            db = dZ
        grads["W_" + name], grads["b_" + name] = dW, db
        if i > 0:
            W = params["W_" + name]
            dA = (W @ dZ) if "dX_W_not_transposed" in m else W.T @ dZ
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
        "W_out_uses_preact": {"W_" + out: "pre_activation"},
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


# What each switch does to each parameter, read off the equations: a list of causes per
# parameter role ("out": W_O and b_O, "hidden": the hidden layers' W and b, or one key).
# dL/dO's factors reach every parameter; a derivative mistake only the layers below it.
ALL = ("W_out", "b_out", "W_hidden", "b_hidden")
CAUSES = {
    "negated_dO": {r: ["negated"] for r in ALL},
    "forgot_half": {r: ["scaled_by_2"] for r in ALL},
    "half_twice": {r: ["scaled_by_1/2"] for r in ALL},
    "mean_over_batch": {r: ["scaled_by_1/N"] for r in ALL},
    "mean_over_outputs": {r: ["scaled_by_1/D_O"] for r in ALL},
    "half_mean_all": {r: ["scaled_by_1/N", "scaled_by_1/D_O"] for r in ALL},
    "mse_for_half_sse": {r: ["scaled_by_2", "scaled_by_1/N", "scaled_by_1/D_O"] for r in ALL},
    "deriv_at_output": {r: ["activation_derivative"] for r in ("W_hidden", "b_hidden")},
    "deriv_of_preact": {r: ["activation_derivative"] for r in ("W_hidden", "b_hidden")},
    "deriv_omitted": {r: ["activation_derivative"] for r in ("W_hidden", "b_hidden")},
    "relu_formula": {r: ["activation_derivative"] for r in ("W_hidden", "b_hidden")},
    "sigmoid_formula_for_tanh": {r: ["activation_derivative"] for r in ("W_hidden", "b_hidden")},
    "W_out_transposed": {"W_out": ["transposed"]},
    "W_in_transposed": {"W_in": ["transposed"]},
    "b_out_mean": {"b_out": ["scaled_by_1/N"]},
    "b_out_flat": {"b_out": ["wrong_shape"]},
    "b_in_not_summed": {"b_in": ["not_summed_over_batch"]},
    "mse_without_2": {r: ["scaled_by_1/2"] for r in ALL},
    "ce_sum": {r: ["scaled_by_N"] for r in ALL},
    "zero_W_in": {"W_in": ["zero"]},
    "W_out_uses_preact": {"W_out": ["pre_activation"]},
    "forward_no_b_H": {r: ["forward_mistake"] for r in ALL},
    "forward_output_activation": {r: ["forward_mistake"] for r in ALL},
    "forward_tanh": {r: ["forward_mistake"] for r in ALL},
}
# The order causes are named in (README): shape, sign, constant, batch, outputs, recomputed mistake.
ORDER = ["not_summed_over_batch", "transposed", "wrong_shape", "negated", "scaled_by_2",
         "scaled_by_1/2", "scaled_by_N", "scaled_by_1/N", "scaled_by_D_O", "scaled_by_1/D_O",
         "update_not_gradient", "weight_decay", "activation_derivative", "output_activation_derivative",
         "pre_activation", "forward_mistake", "one_sample", "product_of_sums", "wrong_axis", "returned_parameters",
         "zero", "unknown"]
FACTORS = {"negated": lambda N, D: -1, "scaled_by_2": lambda N, D: 2, "scaled_by_1/2": lambda N, D: 0.5,
           "scaled_by_N": lambda N, D: N, "scaled_by_1/N": lambda N, D: 1 / N,
           "scaled_by_D_O": lambda N, D: D, "scaled_by_1/D_O": lambda N, D: 1 / D}


def _roles(key, names):
    name = key[2:]
    kind = key[:1]
    roles = {f"{kind}_out" if name == names[-1] else f"{kind}_hidden"}
    if name == names[0]:
        roles.add(f"{kind}_in")
    return roles


def expected_on_net(mistake, names, N, D_O):
    """{parameter: code} the graded nets, read together, must report on a net with batch N and D_O outputs.

    A parameter passes when nothing the mistakes do to it can be seen on this net:
    no structural cause (a per-sample bias at N = 1 is the summed one) and a
    factor of exactly 1 (a mean over the batch at N = 1). Otherwise every cause
    is named, also a factor invisible here (1/N at N = 1), since the other nets
    show it.
    """
    out = {}
    for key in (p + n for n in names for p in ("W_", "b_")):
        causes = []
        for switch in switches(mistake):
            for role in _roles(key, names):
                causes += CAUSES[switch].get(role, [])
        if N == 1 and "not_summed_over_batch" in causes:
            causes.remove("not_summed_over_batch")
        factor = np.prod([FACTORS[c](N, D_O) for c in causes if c in FACTORS])
        structural = [c for c in causes if c not in FACTORS]
        if structural or abs(factor - 1) > 1e-12:
            out[key] = "+".join(sorted(causes, key=ORDER.index))
    return out


# Pairs and triples across shapes, factors and derivatives (sigmoid hidden layer, half_sse).
COMPOUND_MISTAKES = [
    "negated_dO+mean_over_batch",                  # dO = (Y − O)/N
    "forgot_half+mean_over_batch",                 # dO = 2(O − Y)/N
    "W_in_transposed+deriv_of_preact",             # transposed + a wrong σ′
    "W_in_transposed+mean_over_batch",
    "W_out_transposed+half_twice",
    "b_in_not_summed+deriv_at_output",             # per-sample (D, N) bias + a wrong σ′
    "b_in_not_summed+mean_over_batch",
    "b_out_flat+mean_over_batch",                  # flat (D,) bias + a mean
    "relu_formula+forgot_half",                    # relu′ and the ½ forgotten
    "negated_dO+deriv_omitted",
    "mean_over_outputs+deriv_at_output",
    "b_out_mean+forgot_half",
    "W_in_transposed+negated_dO+mean_over_batch",  # triples
    "b_in_not_summed+forgot_half+deriv_of_preact",
    "b_out_flat+negated_dO+mean_over_outputs",
    "forgot_half+mean_over_batch+mean_over_outputs",
    "mean_over_batch+b_out_mean",                  # b_O averaged twice: 1/N²
]
# Single mistakes of the scale of dL/dO that one net cannot always tell apart, and forward
# mistakes whose gradients the backward inherits.
SCALE_AND_FORWARD_MISTAKES = ["mean_over_outputs", "half_mean_all", "mse_for_half_sse", "mean_over_batch",
                              "forgot_half", "half_twice", "forward_no_b_H", "forward_output_activation",
                              "forward_tanh"]


def student_forward(params, I, mistake=None):
    """O (D_O, N) by the seed's forward (sigmoid hidden layer, identity output), with one mistake."""
    H = params["W_H"] @ I + (0 if mistake == "no_b_H" else params["b_H"])
    f = np.tanh if mistake == "tanh" else (lambda Z: Z) if mistake == "no_activation" else _sigmoid
    H_hat = f(H)
    O = params["W_O"] @ H_hat + (0 if mistake == "no_b_O" else params["b_O"])
    if mistake == "sigmoid_on_output":
        O = _sigmoid(O)
    return O.T if mistake == "samples_first" else O


FORWARD_MISTAKES = {"no_b_H": "bias_missing", "no_b_O": "bias_missing", "tanh": "wrong_activation",
                    "no_activation": "wrong_activation", "sigmoid_on_output": "output_activation",
                    "samples_first": "transposed"}


def student_loss(O, Y, mistake=None):
    """The seed's L = ½ Σ (O − Y)², with one mistake."""
    sq = (O - Y) ** 2
    D_O, N = O.shape
    return {"mean_over_batch": 0.5 * sq.sum() / N, "no_half": sq.sum(),
            "mean_all": 0.5 * sq.mean(), "mse": sq.mean(), "per_entry": 0.5 * sq,
            "mean_over_outputs": 0.5 * sq.sum() / D_O}.get(mistake, 0.5 * sq.sum())


LOSS_MISTAKES = {"mean_over_batch": "scaled_by_1/N", "no_half": "scaled_by_2",
                 "mean_all": "scaled_by_1/N+scaled_by_1/D_O",
                 "mse": "scaled_by_2+scaled_by_1/N+scaled_by_1/D_O", "per_entry": "wrong_shape",
                 "mean_over_outputs": "scaled_by_1/D_O"}


def student_sgd_step(params, grads, lr, mistake=None):
    """w := w − lr · dL/dw, returning the new dict, with one mistake."""
    if mistake == "in_place_no_return":
        for k in params:
            params[k] -= lr * grads[k]
        return None
    if mistake == "in_place_and_return":
        for k in params:
            params[k] -= lr * grads[k]
        return params
    step = {"ascent": -lr, "no_lr": 1.0, "lr_squared": lr * lr}.get(mistake, lr)
    return {k: params[k] - step * grads[k] for k in params}


SGD_MISTAKES = {"ascent": "ascent", "no_lr": "lr_missing", "lr_squared": "lr_squared",
                "in_place_no_return": "not_returned", "in_place_and_return": None}
