"""The MLP class: holds the parameters and composes the pure functions.

Letters: ``D_I`` input width, ``D_O`` output width, ``N`` batch. Data is
features × batch: ``I`` is ``(D_I, N)``, ``O`` and dense targets ``Y`` are
``(D_O, N)``; class-index targets are ``(N,)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .activations import get_activation
from .losses import get_loss
from .network import layer_names, network_backward, network_forward

SUPPORTED_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be one of {[d.name for d in SUPPORTED_DTYPES]}; got {dtype!r}")
    return dt


def _check_sizes(sizes) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a list of layer widths [D_I, D_H, ..., D_O]; got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, [D_I, D_O]; "
                         f"got {list(sizes)!r}")
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"sizes[{i}] must be a positive int; got {type(s).__name__} {s!r}")
        if s < 1:
            raise ValueError(f"sizes[{i}] must be a positive int (a layer width); got {s!r}")
        out.append(int(s))
    return tuple(out)


class MLP:
    """A multilayer perceptron with hand-written backpropagation (NumPy only).

    ``sizes = [D_I, D_H1, …, D_O]``; every hidden layer uses ``activation``, the
    output layer ``output_activation``. Parameters are ``W`` ``(fan_out,
    fan_in)`` and ``b`` ``(fan_out, 1)``, initialised from
    ``np.random.default_rng(seed)`` uniformly in ±1/√fan_in, as
    ``torch.nn.Linear`` does (drawn in float64, then cast to ``dtype``).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid",
                 output_activation: str = "identity", loss: str = "half_sse",
                 dtype=np.float64, seed: int | None = 0):
        self.sizes = _check_sizes(sizes)
        self.activation = activation
        self.output_activation = output_activation
        self.loss_name = loss
        n_layers = len(self.sizes) - 1
        self._activations = ([get_activation(activation)] * (n_layers - 1)
                             + [get_activation(output_activation, "output_activation")])
        self._loss = get_loss(loss)
        self.dtype = _check_dtype(dtype)
        self.seed = seed
        self.layer_names = layer_names(n_layers)
        rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for name, fan_in, fan_out in zip(self.layer_names, self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            self.params["W_" + name] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(self.dtype)
            self.params["b_" + name] = rng.uniform(-bound, bound, (fan_out, 1)).astype(self.dtype)
        self._cache = None

    def __repr__(self) -> str:
        return (f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, "
                f"output_activation={self.output_activation!r}, loss={self.loss_name!r}, "
                f"dtype=np.{self.dtype.name}, seed={self.seed!r})")

    def forward(self, I) -> np.ndarray:
        """O = f_O(W_O f(W_H I + b_H) + b_O). I: (D_I, N). Returns O: (D_O, N).

        Keeps what backward needs (each layer's input, pre-activation and activation).
        """
        I = np.asarray(I, dtype=self.dtype)
        if I.ndim != 2 or I.shape[0] != self.sizes[0]:
            hint = ("; inputs are features × batch, did you mean I.T?"
                    if I.ndim == 2 and I.shape[1] == self.sizes[0] else "")
            raise ValueError(f"I must have shape (D_I, N) = ({self.sizes[0]}, N); got {I.shape}{hint}")
        O, self._cache = network_forward(self.params, self.layer_names, self._activations, I)
        return O

    def loss(self, O, Y) -> float:
        """The configured loss of outputs O (D_O, N) against targets Y, as a Python float."""
        O = np.asarray(O, dtype=self.dtype)
        return self._loss.forward(O, self._targets(Y))

    def backward(self, Y) -> dict[str, np.ndarray]:
        """Gradients of the loss at the last forward's output, keyed and shaped like params."""
        if self._cache is None:
            raise RuntimeError("backward needs the cache of a forward pass: call net.forward(I) first")
        O = self._cache[-1][2]  # (D_O, N): the last layer's activation
        dO = self._loss.backward(O, self._targets(Y))  # (D_O, N): seeds the backward
        return network_backward(self.params, self.layer_names, self._activations, self._cache, dO)

    def sgd_step(self, grads: dict, lr: float) -> None:
        """Seed: w := w − α · dL/dw, in place, for every parameter."""
        for key, p in self.params.items():
            p -= lr * grads[key]

    def train_step(self, I, Y, lr: float) -> float:
        """One SGD step on a mini-batch: forward, loss, backward, update. Returns the loss before the step.

        The update is sgd_step's, w := w − α · dL/dw, reached by a shorter road:
        backpropagation is linear in its seed dL/dO, so seeding it with α · dL/dO
        yields α · dL/dw for every parameter at once. That scales one (D_O, N)
        array instead of every weight matrix. The result equals sgd_step's up to
        rounding (a few units in the last place).
        """
        O = self.forward(I)
        L = self.loss(O, Y)
        dO = self._loss.backward(O, self._targets(Y))  # (D_O, N), a fresh array
        dO *= lr
        steps = network_backward(self.params, self.layer_names, self._activations, self._cache, dO)
        for key, p in self.params.items():
            p -= steps[key]  # steps[key] = α · dL/dw, p's shape
        return L

    def _targets(self, Y) -> np.ndarray:
        if self._loss.targets == "class_index":
            return np.asarray(Y).astype(np.intp, copy=False)
        return np.asarray(Y, dtype=self.dtype)
