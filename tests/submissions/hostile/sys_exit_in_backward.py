"""Raises SystemExit(0) inside backward, as sys.exit(0) does."""


def backward(params, I, Y):
    raise SystemExit(0)
