"""The MLP class: holds the parameters and composes the pure functions.

Letters: ``D_I`` input width, ``D_O`` output width, ``N`` batch. Data is
features × batch: ``I`` is ``(D_I, N)``, ``O`` and dense targets ``Y`` are
``(D_O, N)``; class-index targets are ``(N,)``.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import fast_step
from .activations import get_activation
from .losses import get_loss
from .network import layer_activation_names, layer_names, network_backward, network_forward
from .persistence import copy_params, load_mlp, save_mlp
from .update import sgd_update
from .validation import (
    OUTPUT_HINT,
    as_inputs,
    as_outputs,
    as_targets,
    check_dtype,
    check_finite,
    check_grads,
    check_lr,
    check_seed,
    check_sizes,
)


class MLP:
    """A multilayer perceptron with hand-written backpropagation (NumPy only).

    ``sizes = [D_I, D_H1, …, D_O]``; every hidden layer uses ``activation``, the
    output layer ``output_activation``. Parameters are ``W`` ``(fan_out,
    fan_in)`` and ``b`` ``(fan_out, 1)``, initialised from
    ``np.random.default_rng(seed)`` uniformly in ±1/√fan_in, as
    ``torch.nn.Linear`` does (drawn in float64, then cast to ``dtype``).

    Besides the constructor's arguments, a net exposes ``layer_names`` (the
    seed's ``["H", "O"]``, or ``["H1", …, "Hk", "O"]``), ``layer_activations``
    (each layer's ``activations.Activation`` entry, first layer first) and
    ``loss_function`` (the ``losses.Loss`` entry): what other code needs to
    recompute the net's math without reaching into its state.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid",
                 output_activation: str = "identity", loss: str = "half_sse",
                 dtype: DTypeLike = np.float64, seed: int | None = 0) -> None:
        self.sizes = check_sizes(sizes)
        self.activation = activation
        self.output_activation = output_activation
        self.loss_name = loss
        n_layers = len(self.sizes) - 1
        self._layer_activations = tuple(
            get_activation(name, "activation" if i < n_layers - 1 else "output_activation")
            for i, name in enumerate(layer_activation_names(n_layers, activation, output_activation)))
        self._loss_function = get_loss(loss)
        self.dtype = check_dtype(dtype)
        self.seed = check_seed(seed)
        self.layer_names = layer_names(n_layers)
        rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for name, fan_in, fan_out in zip(self.layer_names, self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            self.params["W_" + name] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(self.dtype)
            self.params["b_" + name] = rng.uniform(-bound, bound, (fan_out, 1)).astype(self.dtype)
        self._cache: list | None = None  # each layer's (X, Z, A) from the last successful forward

    @property
    def layer_activations(self) -> tuple:
        """Each layer's activation (registry entries: name, forward, backward, formula), first layer first."""
        return self._layer_activations

    @property
    def loss_function(self):
        """The loss's registry entry (name, forward, backward, targets, formula)."""
        return self._loss_function

    def __repr__(self) -> str:
        return (f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, "
                f"output_activation={self.output_activation!r}, loss={self.loss_name!r}, "
                f"dtype=np.{self.dtype.name}, seed={self.seed!r})")

    def forward(self, I: ArrayLike) -> NDArray[np.floating]:
        """O = f_O(W_O f(W_H I + b_H) + b_O). I: (D_I, N). Returns O: (D_O, N).

        Keeps what backward needs (each layer's input, pre-activation and
        activation). O is handed back read-only, as a view of what backward
        uses: copy it (``O.copy()``) to change it. A forward that raises leaves
        no cache, so a later backward cannot use an older batch; an output that
        overflows to NaN or inf is such an error.
        """
        self._cache = None
        I = as_inputs(I, self.sizes[0], self.dtype)  # finite (D_I, N), cast to dtype
        with _overflow_is_an_error("the forward pass", self.dtype, "I or the weights are"):
            O, cache = network_forward(self.params, self.layer_names, self.layer_activations, I)
        check_finite(O, "the output O", OUTPUT_HINT)
        self._cache = cache
        return _read_only(O)

    def loss(self, O: ArrayLike, Y: ArrayLike) -> float:
        """The configured loss of outputs O (D_O, N) against targets Y, as a Python float."""
        O = as_outputs(O, self.sizes[-1], self.dtype)  # finite (D_O, N)
        Y = self._targets(Y, O.shape[1], "O's batch")
        with _overflow_is_an_error("the loss", self.dtype, "O or Y is"):
            return _finite_loss(self.loss_function.forward(O, Y), self.loss_name)

    def backward(self, Y: ArrayLike) -> dict[str, NDArray[np.floating]]:
        """Gradients of the loss at the last forward's output, keyed and shaped like params."""
        if self._cache is None:
            raise RuntimeError("backward needs the cache of a successful forward pass: call "
                               "net.forward(I) first (a forward that raised leaves no cache)")
        O = self._cache[-1][2]  # (D_O, N): the last layer's activation
        Y = self._targets(Y, O.shape[1], "the last forward's batch")
        with _overflow_is_an_error("the backward pass", self.dtype, "Y or the weights are"):
            dO = self.loss_function.backward(O, Y)  # (D_O, N): seeds the backward
            return network_backward(self.params, self.layer_names, self.layer_activations, self._cache, dO)

    def sgd_step(self, grads: Mapping[str, ArrayLike], lr: float) -> None:
        """Seed: w := w − α · dL/dw, in place, for every parameter.

        Everything is checked and every new value computed before the first write,
        so a call that raises leaves the parameters bit-identical.
        """
        sgd_update(self.params, check_grads(grads, self.params), check_lr(lr, self.dtype))

    def train_step(self, I: ArrayLike, Y: ArrayLike, lr: float) -> float:
        """One SGD step on a mini-batch: forward, loss, backward, update. Returns the loss before the step.

        The result is ``O = forward(I); L = loss(O, Y); sgd_step(backward(Y), lr)``'s, up to
        rounding (a few units in the last place), with each argument checked once; the work
        is done by ``fast_step``, which says how it differs from that sequence. A call that
        raises changes nothing: the parameters stay bit-identical and the forward cache is
        the one before the call. After a step the cache holds this batch's forward, taken
        before the update. Read-only parameters, an output or loss that overflows, and an
        update that would not be finite are ValueErrors.
        """
        lr = check_lr(lr, self.dtype)
        I = as_inputs(I, self.sizes[0], self.dtype)  # finite (D_I, N), cast to dtype
        Y = self._targets(Y, I.shape[1], "I's batch")
        try:  # inline rather than _overflow_is_an_error: no generator's enter and exit in the hot path
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                L, cache = fast_step.train_step(self, I, Y, lr)
        except FloatingPointError as err:
            raise _overflow_error("train_step", self.dtype, "I, Y or the weights are", err) from None
        self._cache = cache  # only once the whole step has succeeded
        return L

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters and the configuration to the .npz file ``path`` (no suffix is added)."""
        save_mlp(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLP:
        """The net saved at ``path`` by ``save``, parameters bit-exact; a damaged file is a ValueError."""
        return load_mlp(cls, path)

    def _targets(self, Y, N: int, batch_of: str) -> np.ndarray:
        return as_targets(Y, self.loss_function, self.sizes[-1], N, self.dtype, batch_of)

    @classmethod
    def from_params(cls, params, activation: str = "sigmoid", output_activation: str = "identity",
                    loss: str = "half_sse", seed: int | None = 0) -> "MLP":
        """A net holding copies of the arrays ``params``: what ``load`` builds, no net of their size drawn.

        ``params`` maps the seed names (``W_H, b_H, W_O, b_O``; deeper nets ``W_H1,
        b_H1, …``) to ``W (fan_out, fan_in)`` and ``b (fan_out, 1)``, all float64 or
        all float32 and finite; sizes and dtype come from the arrays. ``seed`` is
        only recorded (what ``save`` writes). The constructor runs on a stand-in one
        unit wide per layer (two numbers drawn per layer), so the net is set up
        exactly as ``__init__`` sets it up; then it takes the real sizes and the copies.
        """
        sizes, dtype, arrays = copy_params(params)  # checked, in the seed's key order
        net = cls([1] * len(sizes), activation, output_activation, loss, dtype, seed)
        net.sizes = check_sizes(sizes)
        net.params = arrays
        return net


@contextmanager
def _overflow_is_an_error(what: str, dtype: np.dtype, arguments: str) -> Iterator[None]:
    """NumPy's overflow and invalid-value flags inside the block become a ValueError naming ``what``
    and the ``arguments`` whose size led there."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield
    except FloatingPointError as err:
        raise _overflow_error(what, dtype, arguments, err) from None


def _overflow_error(what: str, dtype: np.dtype, arguments: str, err: FloatingPointError) -> ValueError:
    return ValueError(f"{what} overflowed {dtype.name} ({err}): {arguments} too large for it; the "
                      f"learning rate may be too large, or the inputs may need scaling")


def _finite_loss(L: float, loss_name: str) -> float:
    """``L``, or a ValueError when finite outputs and targets gave an infinite loss (its sum overflowed)."""
    if not math.isfinite(L):
        raise ValueError(f"the loss {loss_name} of finite outputs and targets is {L}: its sum overflowed; "
                         f"{OUTPUT_HINT}")
    return L


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``: the caller sees the values without being able to change them."""
    view = a.view()
    view.flags.writeable = False
    return view
