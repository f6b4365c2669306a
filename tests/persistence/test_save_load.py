"""Parameters save and load exactly: MLP.save / MLP.load (NumPy only; the torch twin's
state_dict is tested in twin/test_state_dict.py).

Bit-exact means the bytes of every array are equal (not merely close), with
the same keys, order, dtype and shape. A damaged file is a ValueError naming
the key that is wrong.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from helpers.common import SHAPE_CASES, random_batch, trained
from helpers.nothing_lost import assert_params_identical
from manual_backprop import MLP

CONFIGS = [
    pytest.param(dict(), id="seed-defaults"),
    pytest.param(dict(activation="tanh", output_activation="sigmoid", loss="mse"), id="tanh-sigmoid-mse"),
    pytest.param(dict(activation="relu", loss="softmax_cross_entropy", seed=None), id="relu-xent-seedNone"),
]
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("sizes,N", SHAPE_CASES)
def test_save_load_round_trip_is_bit_exact(tmp_path, sizes, N, dtype, config):
    net = trained(sizes, N, dtype, **config)
    path = tmp_path / "net.npz"
    net.save(path)
    back = MLP.load(path)
    assert repr(back) == repr(net), "configuration"
    assert_params_identical(back, net.params, "MLP.load(net.save(...))")
    I, _ = random_batch(sizes, N, seed=5)
    assert np.array_equal(back.forward(I), net.forward(I)), "forward of the loaded net"


def test_file_is_plain_npz_at_the_exact_path(tmp_path):
    net = trained([4, 16, 2], 8, np.float32)
    path = tmp_path / "model"  # no suffix: saved exactly here, as with a file object
    net.save(str(path))
    assert sorted(os.listdir(tmp_path)) == ["model"], "no suffix added, no temporary file left behind"
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == ["W_H", "W_O", "b_H", "b_O", "config"]
        config = json.loads(f["config"].item())
        assert config["sizes"] == [4, 16, 2] and config["dtype"] == "float32" and config["seed"] == 3
        assert f["W_H"].tobytes() == net.params["W_H"].tobytes()


def test_save_refuses_a_diverged_net_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "net.npz"
    net = trained([4, 16, 2], 8, np.float64)
    net.save(path)
    old = path.read_bytes()
    net.params["W_O"][0, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape("net.params['W_O'] holds NaN")):
        net.save(path)
    assert path.read_bytes() == old and sorted(os.listdir(tmp_path)) == ["net.npz"]


def write(path, **arrays):
    """An .npz like MLP.save writes, with the given arrays replaced (None deletes one)."""
    net = MLP([4, 16, 2], seed=0)
    full = {"config": np.array(json.dumps({"format": "manual_backprop.MLP", "version": 1, "sizes": [4, 16, 2],
                                           "activation": "sigmoid", "output_activation": "identity",
                                           "loss": "half_sse", "dtype": "float64", "seed": 0})),
            **net.params}
    full.update(arrays)
    np.savez(path, **{k: v for k, v in full.items() if v is not None})
    return path


def config_with(**changes):
    config = {"format": "manual_backprop.MLP", "version": 1, "sizes": [4, 16, 2], "activation": "sigmoid",
              "output_activation": "identity", "loss": "half_sse", "dtype": "float64", "seed": 0}
    config.update(changes)
    return np.array(json.dumps({k: v for k, v in config.items() if v is not None}))


W_H = MLP([4, 16, 2], seed=0).params["W_H"]
DAMAGED = [
    ("missing-W_O", dict(W_O=None), "missing array 'W_O'"),
    ("missing-b_H", dict(b_H=None), "missing array 'b_H'"),
    ("W_H-transposed", dict(W_H=W_H.T), "array 'W_H' has shape (4, 16); the config's sizes need (16, 4)"),
    ("b_O-flat", dict(b_O=np.zeros(2)), "array 'b_O' has shape (2,)"),
    ("W_H-float32", dict(W_H=W_H.astype(np.float32)), "array 'W_H' has dtype float32; the config says float64"),
    ("W_H-int", dict(W_H=np.zeros((16, 4), dtype=np.int64)), "array 'W_H' has dtype int64"),
    ("W_H-nan", dict(W_H=np.full((16, 4), np.nan)), "array 'W_H' holds NaN"),
    ("W_H-object", dict(W_H=np.array([[None] * 4] * 16)), "array 'W_H' cannot be read without pickle"),
    ("extra-array", dict(W_X=W_H), "unexpected array(s) ['W_X']"),
    ("missing-config", dict(config=None), "missing array 'config'"),
    ("config-not-json", dict(config=np.array("sizes=4,16,2")), "'config' is not valid JSON"),
    ("config-number", dict(config=np.array([1.0, 2.0])), "'config' must be a JSON string"),
    ("config-other-format", dict(config=config_with(format="keras")), "'config' does not describe"),
    ("config-version-2", dict(config=config_with(version=2)), "format version 2"),
    ("config-no-loss", dict(config=config_with(loss=None)), "'config' lacks ['loss']"),
    ("config-bad-width", dict(config=config_with(sizes=[4, 0, 2])), "sizes[1] must be a positive int"),
    ("config-bad-dtype", dict(config=config_with(dtype="float16")), "dtype must be one of"),
    ("config-bad-activation", dict(config=config_with(activation="gelu")), "unknown activation 'gelu'"),
    ("config-other-sizes", dict(config=config_with(sizes=[4, 8, 2])), "array 'W_H' has shape (16, 4)"),
]


@pytest.mark.parametrize("arrays,fragment", [pytest.param(*c[1:], id=c[0]) for c in DAMAGED])
def test_damaged_file_is_a_clear_error(tmp_path, arrays, fragment):
    path = write(tmp_path / "net.npz", **arrays)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        MLP.load(path)


def test_the_unchanged_file_loads(tmp_path):
    """The writer of the damaged files above, without damage, writes a loadable file."""
    back = MLP.load(write(tmp_path / "net.npz"))
    assert_params_identical(back, MLP([4, 16, 2], seed=0).params, "the undamaged file")


@pytest.mark.parametrize("content,fragment", [
    pytest.param(b"not a zip file at all", "not an .npz file written by MLP.save", id="text"),
    pytest.param(None, "holds a single .npy array", id="npy"),
])
def test_not_an_npz_is_a_clear_error(tmp_path, content, fragment):
    path = tmp_path / "net.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, W_H)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        MLP.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "absent.npz")


def widths_drawn(monkeypatch) -> list:
    """Record the size of every array MLP's random generator draws from here on."""
    sizes, default_rng = [], np.random.default_rng

    class Recording:
        def __init__(self, seed):
            self.rng = default_rng(seed)

        def uniform(self, low, high, size):
            sizes.append(int(np.prod(size)))
            return self.rng.uniform(low, high, size)

    monkeypatch.setattr(np.random, "default_rng", Recording)
    return sizes


def test_from_params_is_the_net_without_drawing_one_of_its_size(monkeypatch):
    net = trained([4, 6, 3, 2], 8, np.float32, activation="tanh", loss="mse", seed=5)
    params = {k: net.params[k] for k in reversed(list(net.params))}  # any key order
    drawn = widths_drawn(monkeypatch)
    built = MLP.from_params(params, activation="tanh", loss="mse", seed=5)
    assert drawn and max(drawn) == 1, f"drew arrays of {drawn} numbers"
    monkeypatch.undo()
    assert repr(built) == repr(net) and set(vars(built)) == set(vars(net)), "the same attributes as __init__ sets"
    assert_params_identical(built, net.params, "MLP.from_params")
    assert all(built.params[k] is not p for k, p in net.params.items()), "copies, not the caller's arrays"
    rng = np.random.default_rng(6)
    I, Y = rng.standard_normal((4, 8)), rng.standard_normal((2, 8))
    assert built.train_step(I, Y, 0.1) == net.train_step(I, Y, 0.1)
    assert_params_identical(built, net.params, "a training step after from_params")


def test_load_never_draws_a_net_of_the_files_size(tmp_path, monkeypatch):
    net = trained([4, 16, 2], 8, np.float64)
    net.save(tmp_path / "net.npz")
    drawn = widths_drawn(monkeypatch)
    back = MLP.load(tmp_path / "net.npz")
    assert max(drawn) == 1, f"drew arrays of {drawn} numbers"
    monkeypatch.undo()
    assert_params_identical(back, net.params, "MLP.load")


P = MLP([4, 16, 2], seed=0).params
BAD_PARAMS = [
    ("list", list(P.values()), TypeError, "params must be a dict of W and b per layer"),
    ("odd-count", {k: P[k] for k in ["W_H", "b_H", "W_O"]}, ValueError, "an even number ≥ 2 of arrays; got 3"),
    ("wrong-name", {**{k: P[k] for k in ["W_H", "b_H", "W_O"]}, "b_X": P["b_O"]}, ValueError,
     "params must have the keys ['W_H', 'b_H', 'W_O', 'b_O']"),
    ("fan-in", {**P, "W_O": np.zeros((2, 15))}, ValueError, "params['W_O'] must have shape (2, 16)"),
    ("flat-bias", {**P, "b_H": np.zeros(16)}, ValueError, "params['b_H'] must be a non-empty 2-D array"),
    ("row-bias", {**P, "b_H": np.zeros((1, 16))}, ValueError, "params['b_H'] must have shape (16, 1)"),
    ("empty", {**P, "W_H": np.zeros((16, 0))}, ValueError, "params['W_H'] must be a non-empty 2-D array"),
    ("mixed-dtype", {**P, "b_O": P["b_O"].astype(np.float32)}, TypeError, "params['b_O'] must be a NumPy array"),
    ("float16", {k: p.astype(np.float16) for k, p in P.items()}, TypeError, "of dtype float16"),
    ("list-array", {**P, "b_O": [[0.0], [0.0]]}, TypeError, "got list of dtype None"),
    ("nan", {**P, "W_O": np.full((2, 16), np.nan)}, ValueError, "params['W_O'] must be finite; got 32 NaN"),
]


@pytest.mark.parametrize("params,error,fragment", [pytest.param(*c[1:], id=c[0]) for c in BAD_PARAMS])
def test_from_params_names_the_bad_array(params, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        MLP.from_params(params)
