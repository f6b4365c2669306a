"""torch_ref: the torch.nn twin of manual_backprop.MLP and the autograd oracle."""

from .autograd import AutogradResult, autograd_grads, run_autograd
from .check import check_gradients
from .model import TorchMLP

__all__ = ["TorchMLP", "autograd_grads", "run_autograd", "AutogradResult", "check_gradients"]
