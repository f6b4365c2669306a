"""At import, forks three children that sleep for a minute, then returns the right gradients:
they would outlive the grading if nothing killed them."""
import os
import time

import numpy as np

for _ in range(3):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)


def backward(params, I, Y):
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}
