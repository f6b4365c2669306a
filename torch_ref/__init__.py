"""torch_ref: the torch.nn twin of manual_backprop.MLP and the autograd oracle."""

from .autograd import AutogradResult, autograd_grads, run_autograd
from .model import TorchMLP
from .state_dict import params_from_state_dict, state_dict_from_params

__all__ = ["TorchMLP", "autograd_grads", "run_autograd", "AutogradResult",
           "params_from_state_dict", "state_dict_from_params"]
