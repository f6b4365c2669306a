"""Convert between a manual params dict and TorchMLP's ``state_dict``, bit-exactly.

A manual params dict has seed names (``W_H, b_H, W_O, b_O``; deeper nets
``W_H1, …``), weights ``(fan_out, fan_in)`` and biases ``(fan_out, 1)``.
TorchMLP's ``state_dict`` has ``linears.<i>.weight`` ``(fan_out, fan_in)``, the
same layout, and ``linears.<i>.bias`` ``(fan_out,)``. Only the bias is
reshaped; no value is ever rounded or transposed.

    model.load_state_dict(state_dict_from_params(net.params))
    net.params.update(params_from_state_dict(model.state_dict()))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from manual_backprop.network import layer_names

from ._torch import torch  # without torch: an ImportError naming the extra


def state_dict_from_params(params: Mapping) -> dict[str, torch.Tensor]:
    """A ``state_dict`` for TorchMLP holding copies of ``params`` (seed names) in torch's names and shapes."""
    if not isinstance(params, Mapping) or len(params) == 0 or len(params) % 2:
        raise ValueError(f"params must be a dict of W_ and b_ arrays, two per layer; got {params!r:.80}")
    names = layer_names(len(params) // 2)
    expected = [prefix + name for name in names for prefix in ("W_", "b_")]
    if sorted(params) != sorted(expected):
        raise ValueError(f"params must have the keys {expected}; got {list(params)}")
    state = {}
    for i, name in enumerate(names):
        W = np.asarray(params["W_" + name])
        b = np.asarray(params["b_" + name])
        if W.ndim != 2 or b.shape != (W.shape[0], 1):
            raise ValueError(f"params['W_{name}'] must be (fan_out, fan_in) and params['b_{name}'] "
                             f"(fan_out, 1); got {W.shape} and {b.shape}")
        state[f"linears.{i}.weight"] = torch.from_numpy(W.copy())  # (fan_out, fan_in)
        state[f"linears.{i}.bias"] = torch.from_numpy(b.reshape(-1).copy())  # (fan_out, 1) → (fan_out,)
    return state


def params_from_state_dict(state_dict: Mapping) -> dict[str, np.ndarray]:
    """A manual params dict (seed names and shapes, copies) from a TorchMLP ``state_dict``."""
    n_layers = len(state_dict) // 2
    expected = [f"linears.{i}.{part}" for i in range(n_layers) for part in ("weight", "bias")]
    if n_layers == 0 or sorted(state_dict) != sorted(expected):
        raise ValueError(f"state_dict must have the keys of a TorchMLP, {expected}; got {list(state_dict)}")
    params = {}
    for i, name in enumerate(layer_names(n_layers)):
        W = state_dict[f"linears.{i}.weight"].detach().cpu().numpy()
        b = state_dict[f"linears.{i}.bias"].detach().cpu().numpy()
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"linears.{i}.weight must be (fan_out, fan_in) and linears.{i}.bias "
                             f"(fan_out,); got {tuple(W.shape)} and {tuple(b.shape)}")
        params["W_" + name] = W.copy()
        params["b_" + name] = b.reshape(-1, 1).copy()  # (fan_out,) → (fan_out, 1)
    return params
