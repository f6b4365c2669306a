"""Defines its function under another name."""


def back_prop(params, I, Y):
    return {}


def helper(x):
    return x
