"""The torch twin's state_dict converts to and from the manual params bit-exactly, also through a saved file."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch

from helpers.common import SHAPE_CASES, trained
from helpers.nothing_lost import assert_params_identical
from manual_backprop import MLP
from torch_ref import TorchMLP, params_from_state_dict, state_dict_from_params


def assert_state_dicts_identical(actual, expected):
    assert list(actual) == list(expected), f"state_dict keys {list(actual)}, expected {list(expected)}"
    for key, t in expected.items():
        a = actual[key]
        assert a.dtype == t.dtype and a.shape == t.shape, f"{key}: {a.dtype} {a.shape}, expected {t.dtype} {t.shape}"
        assert a.numpy().tobytes() == t.numpy().tobytes(), f"{key} differs"


@pytest.mark.parametrize("sizes,N", SHAPE_CASES)
def test_torch_state_dict_round_trip_is_bit_exact(sizes, N, dtype):
    net = trained(sizes, N, dtype)
    model = TorchMLP(net.sizes, net.activation, net.output_activation, net.loss_name, net.dtype)
    model.load_state_dict(state_dict_from_params(net.params))
    assert_state_dicts_identical(model.state_dict(), TorchMLP.from_manual(net).state_dict())

    buffer = io.BytesIO()  # through torch's own file format too
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    back = MLP(net.sizes, net.activation, net.output_activation, net.loss_name, net.dtype)
    back.params.update(params_from_state_dict(loaded))
    assert_params_identical(back, net.params, "params → state_dict → torch.save/load → params")


def test_saved_manual_net_feeds_the_twin_bit_exactly(tmp_path):
    net = trained([4, 16, 2], 8, np.float32)
    net.save(tmp_path / "net.npz")
    twin = TorchMLP.from_manual(MLP.load(tmp_path / "net.npz"))
    assert_state_dicts_identical(twin.state_dict(), state_dict_from_params(net.params))


@pytest.mark.parametrize("bad,fragment", [
    pytest.param(lambda p: {k: v for k, v in p.items() if k != "b_O"}, "two per layer", id="odd-count"),
    pytest.param(lambda p: {**{k: v for k, v in p.items() if k != "b_O"}, "b_X": p["b_O"]},
                 "params must have the keys ['W_H', 'b_H', 'W_O', 'b_O']", id="wrong-name"),
    pytest.param(lambda p: {**p, "b_O": p["b_O"].ravel()}, "params['b_O'] (fan_out, 1)", id="flat-bias"),
])
def test_state_dict_from_bad_params(bad, fragment):
    params = MLP([4, 16, 2], seed=0).params
    with pytest.raises(ValueError, match=re.escape(fragment)):
        state_dict_from_params(bad(params))


def test_params_from_a_foreign_state_dict():
    with pytest.raises(ValueError, match=re.escape("state_dict must have the keys of a TorchMLP")):
        params_from_state_dict(torch.nn.Sequential(torch.nn.Linear(4, 2)).state_dict())
