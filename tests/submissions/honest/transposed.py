"""A real mistake: dL/dW_O returned transposed."""
import numpy as np


def backward(params, I, Y):
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": H_hat @ dO.T, "b_O": dO.sum(axis=1, keepdims=True)}
