"""Ends its process with status 0 from inside backward."""
import os


def backward(params, I, Y):
    os._exit(0)
