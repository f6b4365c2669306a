"""``from manual_backprop.network import ...``: the reference's backward pass, taken whole."""
from manual_backprop.network import network_backward  # noqa: F401


def backward(params, I, Y):
    raise NotImplementedError("never reached: the import is refused")
