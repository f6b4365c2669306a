"""The MLP class: holds the parameters and composes the pure functions.

Letters: ``D_I`` input width, ``D_O`` output width, ``N`` batch. Data is
features × batch: ``I`` is ``(D_I, N)``, ``O`` and dense targets ``Y`` are
``(D_O, N)``; class-index targets are ``(N,)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import fast_step
from .activations import get_activation
from .losses import get_loss
from .network import layer_names, network_backward, network_forward
from .persistence import load_mlp, save_mlp
from .update import SGDUpdate
from .validation import (as_class_targets, as_dense_targets, as_inputs, as_outputs, check_dtype,
                         check_grads, check_lr, check_seed, check_sizes)


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
        self.sizes = check_sizes(sizes)
        self.activation = activation
        self.output_activation = output_activation
        self.loss_name = loss
        n_layers = len(self.sizes) - 1
        self._activations = ([get_activation(activation)] * (n_layers - 1)
                             + [get_activation(output_activation, "output_activation")])
        self._loss = get_loss(loss)
        self.dtype = check_dtype(dtype)
        self.seed = check_seed(seed)
        self.layer_names = layer_names(n_layers)
        rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for name, fan_in, fan_out in zip(self.layer_names, self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            self.params["W_" + name] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(self.dtype)
            self.params["b_" + name] = rng.uniform(-bound, bound, (fan_out, 1)).astype(self.dtype)
        self._cache = None
        self._update = SGDUpdate()  # the all-or-nothing update, with its scratch space

    def __repr__(self) -> str:
        return (f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, "
                f"output_activation={self.output_activation!r}, loss={self.loss_name!r}, "
                f"dtype=np.{self.dtype.name}, seed={self.seed!r})")

    def forward(self, I) -> np.ndarray:
        """O = f_O(W_O f(W_H I + b_H) + b_O). I: (D_I, N). Returns O: (D_O, N).

        Keeps what backward needs (each layer's input, pre-activation and activation).
        A forward that raises leaves no cache, so a later backward cannot use stale data.
        """
        try:
            I = as_inputs(I, self.sizes[0], self.dtype)  # finite (D_I, N), cast to dtype
            O, self._cache = network_forward(self.params, self.layer_names, self._activations, I)
        except BaseException:
            self._cache = None
            raise
        return O

    def loss(self, O, Y) -> float:
        """The configured loss of outputs O (D_O, N) against targets Y, as a Python float."""
        O = as_outputs(O, self.sizes[-1], self.dtype)  # finite (D_O, N)
        return self._loss.forward(O, self._targets(Y, O.shape[1], "O's batch"))

    def backward(self, Y) -> dict[str, np.ndarray]:
        """Gradients of the loss at the last forward's output, keyed and shaped like params."""
        if self._cache is None:
            raise RuntimeError("backward needs the cache of a successful forward pass: call "
                               "net.forward(I) first (a forward that raised leaves no cache)")
        O = self._cache[-1][2]  # (D_O, N): the last layer's activation
        Y = self._targets(Y, O.shape[1], "the last forward's batch")
        dO = self._loss.backward(O, Y)  # (D_O, N): seeds the backward
        return network_backward(self.params, self.layer_names, self._activations, self._cache, dO)

    def sgd_step(self, grads: dict, lr: float) -> None:
        """Seed: w := w − α · dL/dw, in place, for every parameter.

        Everything is checked and every new value computed before the first write,
        so a call that raises leaves the parameters bit-identical.
        """
        self._update.apply(self.params, check_grads(grads, self.params, finite=False), check_lr(lr))

    def train_step(self, I, Y, lr: float) -> float:
        """One SGD step on a mini-batch: forward, loss, backward, update. Returns the loss before the step.

        The result is forward → loss → backward → sgd_step's, w := w − α · dL/dw,
        up to rounding (a few units in the last place); the forward cache it
        leaves is the one ``forward(I)`` would, for a later ``backward``. The work
        is done by ``fast_step``, which says how it differs from that sequence.

        I, Y and lr are checked once, up front. A call that raises changes
        nothing: the parameters stay bit-identical and the forward cache is the
        one before the call. Read-only parameters, an output or loss that
        overflows, and an update that would not be finite are ValueErrors.
        """
        lr = check_lr(lr)
        I = as_inputs(I, self.sizes[0], self.dtype)  # finite (D_I, N), cast to dtype
        Y = self._targets(Y, I.shape[1], "I's batch")
        L, self._cache = fast_step.train_step(self, I, Y, lr)  # assigned only when the whole step succeeded
        return L

    @property
    def layer_activations(self) -> tuple:
        """The activation of each layer, first to last (registry entries: name, forward, backward)."""
        return tuple(self._activations)

    @property
    def loss_function(self):
        """The loss's registry entry (name, forward, backward, targets)."""
        return self._loss

    def save(self, path) -> None:
        """Write the parameters and the configuration to the .npz file ``path`` (no suffix is added)."""
        save_mlp(self, path)

    @classmethod
    def load(cls, path) -> "MLP":
        """The net saved at ``path`` by ``save``, parameters bit-exact; a damaged file is a ValueError."""
        return load_mlp(cls, path)

    def _targets(self, Y, N: int, batch_of: str) -> np.ndarray:
        if self._loss.targets == "class_index":
            return as_class_targets(Y, self.sizes[-1], N, batch_of)  # (N,) ints in [0, D_O)
        return as_dense_targets(Y, self.sizes[-1], N, self.dtype, batch_of)  # finite (D_O, N)
