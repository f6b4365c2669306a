"""A call that raises changes nothing: parameters, and the forward cache a later backward uses.

Each case makes a call fail in a way the argument checks alone cannot see
(a read-only parameter, an update or a loss that overflows, targets that are
only checked after the forward pass) and asserts the error, the parameters bit
for bit, and that ``backward`` afterwards still answers for the last good forward.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import random_batch, snapshot
from manual_backprop import MLP
from nothing_lost import assert_params_identical, assert_raises_nothing_lost

SIZES = [4, 16, 2]
I, Y = random_batch(SIZES, 8, seed=1)
I2, Y2 = random_batch(SIZES, 8, seed=2)


def grads_after(net, I_, Y_):
    net.forward(I_)
    return net.backward(Y_)


@pytest.mark.parametrize("key", ["W_H", "b_O"])
@pytest.mark.parametrize("call", ["sgd_step", "train_step"])
def test_a_read_only_parameter_is_refused_before_any_write(key, call):
    net = MLP(SIZES, seed=0)
    grads = grads_after(net, I, Y)
    net.params[key].flags.writeable = False

    def step(n):
        if call == "sgd_step":
            n.sgd_step(grads, 0.1)
        else:
            n.train_step(I, Y, 0.1)
    before = snapshot(net)
    with pytest.raises(ValueError, match=re.escape(f"net.params[{key!r}] is read-only")):
        step(net)
    assert_params_identical(net, before, f"{call} with a read-only {key}")
    net.params[key].flags.writeable = True
    step(net)  # and with the array writable again, the step goes through
    assert not np.array_equal(net.params[key], before[key])


def test_train_step_that_raises_keeps_the_cache_of_the_last_good_forward():
    net = MLP(SIZES, seed=0)
    expected = grads_after(net, I, Y)  # the cache now holds I's forward
    with pytest.raises(ValueError, match=re.escape("did you mean Y.T?")):
        net.train_step(I2, Y2.T, 0.1)  # I2 passes its checks; Y2.T does not
    again = net.backward(Y)
    for key in expected:
        assert np.array_equal(again[key], expected[key]), f"backward after a failed train_step: {key} changed"


def test_train_step_that_overflows_keeps_the_cache_and_the_parameters():
    net = MLP(SIZES, seed=0)
    expected = grads_after(net, I, Y)
    before = snapshot(net)
    with pytest.raises(ValueError, match="overflows float64"):
        net.train_step(I2, Y2, 1e308)
    assert_params_identical(net, before, "a train_step whose update overflows")
    again = net.backward(Y)
    for key in expected:
        assert np.array_equal(again[key], expected[key]), f"backward after a failed train_step: {key} changed"


def test_after_train_step_the_cache_is_that_batch_before_the_update():
    net = MLP(SIZES, seed=0)
    before = snapshot(net)
    net.train_step(I2, Y2, 0.1)
    twin = MLP(SIZES, seed=0)
    expected = grads_after(twin, I2, Y2)
    assert all(np.array_equal(twin.params[k], before[k]) for k in before)
    got = net.backward(Y2)  # the cache's activations are the pre-update forward's
    assert np.array_equal(got["b_O"], expected["b_O"]), "the output layer's bias gradient comes from the cache alone"


@pytest.mark.parametrize("dtype,scale", [(np.float32, 3e38), (np.float64, 1e308)], ids=["f32-3e38", "f64-1e308"])
def test_a_forward_that_overflows_is_a_value_error(dtype, scale):
    """Finite but huge inputs through relu units overflow to inf: the error names the overflow, also
    with warnings as errors (as here). (Sigmoid units saturate instead, rightly giving finite outputs.)"""
    net = MLP(SIZES, activation="relu", dtype=dtype, seed=0)
    net.params["W_H"][...] = 1.0  # H = 4 · scale, beyond the dtype's range
    big = np.full((4, 3), scale, dtype=dtype)
    before = snapshot(net)
    with pytest.raises(ValueError, match=f"the forward pass overflowed {np.dtype(dtype).name}"):
        net.forward(big)
    with pytest.raises(RuntimeError, match="call net.forward"):
        net.backward(np.zeros((2, 3)))  # the failed forward left no cache
    assert_params_identical(net, before, "a forward of inputs that overflow")
    assert_raises_nothing_lost(net, lambda n: n.train_step(big, np.zeros((2, 3)), 0.1), ValueError,
                               f"train_step overflowed {np.dtype(dtype).name}")


def test_a_loss_that_overflows_from_finite_values_is_a_value_error():
    net = MLP(SIZES, seed=0)
    O = np.full((2, 3), 1e200)
    with pytest.raises(ValueError, match="its sum overflowed"):
        net.loss(O, -O)  # (O − Y)² = 4e400: beyond float64, though O and Y are finite


def test_forward_hands_back_its_output_read_only():
    net = MLP(SIZES, seed=0)
    O = net.forward(I)
    expected = net.backward(Y)
    with pytest.raises(ValueError, match="read-only"):
        O += 1.0
    O_copy = O.copy()
    O_copy += 1.0  # a copy is the caller's own
    again = net.backward(Y)
    assert all(np.array_equal(again[k], expected[k]) for k in expected), "editing a copy changed backward"
