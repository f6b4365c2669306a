"""Allocates memory in backward until something stops it."""
import numpy as np


def backward(params, I, Y):
    hoard = []
    while True:
        hoard.append(np.ones(10_000_000))
