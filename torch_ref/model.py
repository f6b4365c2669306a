"""TorchMLP: the autograd twin of manual_backprop.MLP, built from plain torch.nn parts.

Boring on purpose: ``nn.Linear`` layers and activation modules in a row, and
the loss as torch defines it. Data is torch's batch-major ``(N, D)``: feed it
``I.T``. ``nn.Linear.weight`` is ``(fan_out, fan_in)``, the manual net's layout,
so weights move between the twins without a transpose; biases are ``(fan_out,)``
here and ``(fan_out, 1)`` there.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from manual_backprop import MLP
from manual_backprop.activations import ELU_ALPHA, LEAKY_RELU_SLOPE, SOFTPLUS_THRESHOLD
from manual_backprop.losses import get_loss
from manual_backprop.network import layer_activation_names, layer_names

from ._torch import nn, torch  # without torch: an ImportError naming the extra

TORCH_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE),
    "identity": nn.Identity,
    "softplus": lambda: nn.Softplus(beta=1.0, threshold=SOFTPLUS_THRESHOLD),
    "elu": lambda: nn.ELU(alpha=ELU_ALPHA),
}


def half_sse(O: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The seed's L = ½ Σ (O − Y)², summed over outputs and batch."""
    return 0.5 * nn.functional.mse_loss(O, Y, reduction="sum")


TORCH_LOSSES = {
    "half_sse": lambda: half_sse,
    "mse": nn.MSELoss,
    "softmax_cross_entropy": nn.CrossEntropyLoss,
}

TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


class TorchMLP(nn.Module):
    """The same network as manual_backprop.MLP, for autograd. forward: (N, D_I) → (N, D_O)."""

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid",
                 output_activation: str = "identity", loss: str = "half_sse",
                 dtype=np.float64):
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        self.layer_names = layer_names(len(self.sizes) - 1)
        self.activation = activation
        self.output_activation = output_activation
        self.loss_name = loss
        torch_dtype = TORCH_DTYPES[np.dtype(dtype)]
        self.linears = nn.ModuleList(
            nn.Linear(fan_in, fan_out, dtype=torch_dtype)
            for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]))
        self.activations = nn.ModuleList(
            TORCH_ACTIVATIONS[a]()
            for a in layer_activation_names(len(self.linears), activation, output_activation))
        self.loss_fn = TORCH_LOSSES[loss]()

    @classmethod
    def from_manual(cls, net: MLP) -> TorchMLP:
        """A twin with the manual net's configuration and a bit-exact copy of its weights."""
        model = cls(net.sizes, net.activation, net.output_activation, net.loss_name, net.dtype)
        model.load_params(net.params)
        return model

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        for linear, act in zip(self.linears, self.activations):
            X = act(linear(X))
        return X

    def load_params(self, params: dict) -> None:
        """Copy a manual params dict (seed names, W (fan_out, fan_in), b (fan_out, 1)) in, bit-exactly."""
        with torch.no_grad():
            for name, linear in zip(self.layer_names, self.linears):
                linear.weight.copy_(torch.from_numpy(np.asarray(params["W_" + name])))
                linear.bias.copy_(torch.from_numpy(np.asarray(params["b_" + name]).reshape(-1)))

    def to_params(self) -> dict[str, np.ndarray]:
        """The weights as a manual params dict (seed names and shapes), bit-exact copies."""
        params = {}
        for name, linear in zip(self.layer_names, self.linears):
            params["W_" + name] = linear.weight.detach().numpy().copy()
            params["b_" + name] = linear.bias.detach().numpy().reshape(-1, 1).copy()
        return params

    def grads(self) -> dict[str, np.ndarray]:
        """The accumulated .grad of every parameter, as a dict with seed names and shapes."""
        grads = {}
        for name, linear in zip(self.layer_names, self.linears):
            grads["W_" + name] = linear.weight.grad.detach().numpy().copy()
            grads["b_" + name] = linear.bias.grad.detach().numpy().reshape(-1, 1).copy()
        return grads

    def targets(self, Y) -> torch.Tensor:
        """Manual-layout targets as torch expects them: (D_O, N) → (N, D_O); class indices (N,) as int64."""
        Y = np.asarray(Y)
        if get_loss(self.loss_name).class_index:
            return torch.from_numpy(Y.astype(np.int64))
        dtype = self.linears[0].weight.dtype
        return torch.from_numpy(np.ascontiguousarray(Y.T)).to(dtype)
