"""torch itself, or a MissingExtraError (an ImportError) that says which extra brings it.

Every module of torch_ref that needs torch imports it from here
(``from torch_ref._torch import torch``), so that a core install, which is
NumPy only, gets the command to run instead of "No module named 'torch'".
``import torch_ref`` itself, the pytest plugin, ``grade --reference
finite_differences`` and the command line's ``explain`` need no torch.
"""

from __future__ import annotations

from ._extras import MissingExtraError, missing_extra

try:
    import torch
    from torch import nn
except ImportError as err:
    raise MissingExtraError(missing_extra("the torch side of torch_ref (TorchMLP, autograd, compare, bench)",
                                          "torch", "torch")) from err

__all__ = ["nn", "torch"]
