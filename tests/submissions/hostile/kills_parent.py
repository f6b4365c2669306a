"""Kills its parent process with SIGKILL from inside backward, then returns the right gradients."""
import os
import signal

import numpy as np


def backward(params, I, Y):
    os.kill(os.getppid(), signal.SIGKILL)
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}
