"""Losses: each value with its gradient directly below.

Letters: ``D_O`` output width, ``N`` batch size. The network's output ``O`` is
``(D_O, N)``, features × batch, as in the seed. Each ``*_backward`` returns
``dO = dL/dO``, shape ``(D_O, N)``: the gradient that seeds backpropagation.

- ``half_sse`` (the seed's loss, the default): L = ½ Σ (O − Y)², summed over
  outputs *and* batch. dL/dO = O − Y.
- ``mse`` (as ``torch.nn.MSELoss()``): L = mean (O − Y)² over all D_O·N
  elements. dL/dO = 2 (O − Y) / (D_O · N). Compared with ``half_sse`` it is
  scaled by 2 / (D_O · N): the ½ that cancels the square's 2 is gone, and
  the sum has become a mean.
- ``softmax_cross_entropy`` (as ``torch.nn.CrossEntropyLoss()``): ``O`` holds
  logits, ``Y`` class indices of shape ``(N,)``; L = mean over the batch of
  −log softmax(O)[y]. dL/dO = (softmax(O) − onehot(Y)) / N.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


def half_sse_forward(O: np.ndarray, Y: np.ndarray) -> float:
    """Seed: L = ½ Σ (O − Y)², summed over all D_O · N entries."""
    diff = O - Y  # (D_O, N)
    return 0.5 * float(np.vdot(diff, diff))


def half_sse_backward(O: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Seed: dL/dO = O − Y, shape (D_O, N)."""
    return O - Y


def mse_forward(O: np.ndarray, Y: np.ndarray) -> float:
    """L = (1 / (D_O · N)) Σ (O − Y)²: the mean over all entries, as torch.nn.MSELoss()."""
    diff = O - Y  # (D_O, N)
    return float(np.vdot(diff, diff)) / diff.size


def mse_backward(O: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """dL/dO = 2 (O − Y) / (D_O · N), shape (D_O, N)."""
    return (O - Y) * (2.0 / O.size)


def log_softmax(O: np.ndarray) -> np.ndarray:
    """log softmax over the classes (axis 0) of logits O (D_O, N), via a stable log-sum-exp.

    Subtracting each column's max makes every exponent ≤ 0, so nothing overflows.
    """
    shifted = O - O.max(axis=0, keepdims=True)  # (D_O, N), each column's max is 0
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))  # (1, N) broadcast


def softmax_cross_entropy_forward(O: np.ndarray, Y: np.ndarray) -> float:
    """L = −(1/N) Σ_n log softmax(O)[Y_n, n]: mean over the batch, as torch.nn.CrossEntropyLoss().

    O: logits (D_O, N). Y: class indices (N,), integers in [0, D_O).
    """
    N = O.shape[1]
    picked = log_softmax(O)[Y, np.arange(N)]  # (N,): the log-probability of each true class
    return -float(picked.sum()) / N


def softmax_cross_entropy_backward(O: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """dL/dO = (softmax(O) − onehot(Y)) / N, shape (D_O, N)."""
    N = O.shape[1]
    dO = np.exp(log_softmax(O))  # (D_O, N): softmax, each column sums to 1
    dO[Y, np.arange(N)] -= 1.0
    dO /= N
    return dO


class Loss(NamedTuple):
    """A named loss with its gradient and the text of both formulas.

    ``targets`` is "dense" (Y shaped like O) or "class_index" (Y (N,)).
    ``formula`` is L and ``gradient`` is dL/dO as this code computes it, with
    ``{D_O}`` and ``{N}`` standing for the output width and the batch size.
    """

    name: str
    forward: Callable[[np.ndarray, np.ndarray], float]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    targets: str
    formula: str
    gradient: str

    def gradient_text(self, D_O: int, N: int) -> str:
        """dL/dO with the batch's own sizes, e.g. ``2 (O − Y) / (2·32)`` for mse."""
        return self.gradient.format(D_O=D_O, N=N)

    @property
    def class_index(self) -> bool:
        """True when targets are class indices (N,), False when they are shaped like O (D_O, N)."""
        return self.targets == "class_index"


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("half_sse", half_sse_forward, half_sse_backward, "dense",
             "½ Σ (O − Y)²", "O − Y"),
        Loss("mse", mse_forward, mse_backward, "dense",
             "Σ (O − Y)² / ({D_O}·{N})", "2 (O − Y) / ({D_O}·{N})"),
        Loss("softmax_cross_entropy", softmax_cross_entropy_forward,
             softmax_cross_entropy_backward, "class_index",
             "−Σ_n log softmax(O)[Y_n, n] / {N}", "(softmax(O) − onehot(Y)) / {N}"),
    )
}


def get_loss(name: str) -> Loss:
    """Look a loss up by name; an unknown name is a ValueError listing the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"loss must be a str naming a loss, one of {sorted(LOSSES)}; "
                        f"got {type(name).__name__} {name!r}")
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(sorted(LOSSES))}") from None
