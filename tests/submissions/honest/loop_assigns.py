"""A real mistake: a loop over the samples that assigns where it should add, so only the last one counts."""
import numpy as np


def backward(params, I, Y):
    grads = {}
    for n in range(I.shape[1]):
        x, y = I[:, n:n + 1], Y[:, n:n + 1]
        h_hat = 1 / (1 + np.exp(-(params["W_H"] @ x + params["b_H"])))
        d_o = params["W_O"] @ h_hat + params["b_O"] - y
        d_h = (params["W_O"].T @ d_o) * h_hat * (1 - h_hat)
        grads = {"W_H": d_h @ x.T, "b_H": d_h, "W_O": d_o @ h_hat.T, "b_O": d_o}
    return grads
