"""torch_ref: the torch.nn twin of manual_backprop.MLP and the autograd oracle.

Names are loaded on first use, so importing the package (as pytest does for
the ``backprop_oracle`` plugin in every session) costs nothing until torch is
really needed.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TorchMLP": ".model",
    "autograd_grads": ".autograd",
    "run_autograd": ".autograd",
    "AutogradResult": ".autograd",
    "check_gradients": ".autograd",
    "params_from_state_dict": ".state_dict",
    "state_dict_from_params": ".state_dict",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
