"""Right, with a helper module from its own folder and far more printing than a pipe holds."""
import sys

from chatty_helpers import sigmoid

for i in range(2000):
    print(f"debug line {i} " + "x" * 60)


def backward(params, I, Y):
    print("shapes:", {k: v.shape for k, v in params.items()}, I.shape, Y.shape)
    print("to stderr too " * 500, file=sys.stderr)
    H_hat = sigmoid(params["W_H"] @ I + params["b_H"])
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}
