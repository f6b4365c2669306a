"""Returns a list of gradients instead of a dict."""
import numpy as np


def backward(params, I, Y):
    return [np.zeros_like(v) for v in params.values()]
