"""Errors that the argument checks cannot see: overflow inside MLP's arithmetic, the update and the losses.

Each test states the behaviour the public contract promises (README, "Errors"):
bad input, or input whose arithmetic overflows the net's dtype, is a
ValueError or TypeError naming what to change, under this suite's
warnings-as-errors too, and a call that raises leaves the parameters and the
forward cache as they were.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.common import assert_close, random_batch
from helpers.fuzz_strategies import FUZZ_SETTINGS, array_args, check_call, good_net, lr_args, names_argument
from helpers.nothing_lost import assert_params_identical, assert_raises_nothing_lost, assert_trains_normally, snapshot
from manual_backprop import MLP
from manual_backprop.oracle.tolerances import is_close, tolerance_for

SIZES, N = [4, 16, 2], 32
I, Y = random_batch(SIZES, N, seed=1)


# --- overflow inside the net's arithmetic: a ValueError naming the cause, not numpy's RuntimeWarning

def assert_overflow_named(net, call, names, trains_after: bool = True) -> None:
    """``call(net)`` raises a ValueError saying what overflows and naming one of ``names``; nothing changed."""
    before = snapshot(net)
    with pytest.raises(ValueError, match="overflow") as info:
        call(net)
    assert names_argument(str(info.value), names), f"the message does not name {names}: {info.value}"
    assert_params_identical(net, before, "a call whose arithmetic overflowed")
    if trains_after:
        assert_trains_normally(net, before)


def test_train_step_with_an_lr_that_overflows_the_backward():
    """lr = 1e308 passes check_lr, then lr · dL/dO overflows in the backward's matmul."""
    assert_overflow_named(MLP(SIZES, seed=0), lambda n: n.train_step(I, Y, 1e308), ["lr"])


@pytest.mark.parametrize("lr", [1e300, 1e39], ids=["1e300", "beyond-float32"])
def test_float32_train_step_with_an_lr_beyond_its_range(lr):
    """dO *= lr in float32: lr itself (or lr · dO) is beyond float32's range."""
    assert_overflow_named(MLP(SIZES, dtype=np.float32, seed=0), lambda n: n.train_step(I, Y, lr), ["lr"])


@pytest.mark.parametrize("call", ["forward", "train_step"])
def test_float32_net_fed_3e38(call):
    """3e38 fits float32, so the check passes; W_H @ I then overflows float32 (BLAS here raises no
    floating-point flag: the hidden pre-activation silently becomes ±inf and the sigmoid hides it)."""
    net = MLP(SIZES, dtype=np.float32, seed=0)
    W = net.params["W_H"]
    row = np.abs(W).sum(axis=1).argmax()  # Σ|w| > 3.4e38 / 3e38 for this seed: asserted below
    assert np.abs(W[row]).sum(dtype=np.float64) * 3e38 > np.finfo(np.float32).max
    big = np.repeat(3e38 * np.sign(W[row]).astype(np.float64)[:, None], N, axis=1)  # every term one sign
    run = {"forward": lambda n: n.forward(big), "train_step": lambda n: n.train_step(big, Y, 0.1)}[call]
    assert_overflow_named(net, run, ["I"])


def test_backward_whose_gradient_overflows():
    """Finite targets far from the output: dL/dW = dL/dO · Ĥᵀ overflows float64."""
    net = MLP(SIZES, seed=0)
    net.forward(I)
    assert_overflow_named(net, lambda n: n.backward(np.full((2, N), -1e308)), ["Y"])


@pytest.mark.parametrize("loss,O,Y_", [
    ("half_sse", np.full((2, N), 1e200), np.full((2, N), -1e200)),  # (O − Y)² beyond float64: BLAS gives inf
    ("half_sse", np.full((2, N), 1e308), np.full((2, N), -1e308)),  # O − Y itself overflows
    ("mse", np.full((2, N), 1e200), np.zeros((2, N))),
], ids=["square-overflows", "difference-overflows", "mse"])
def test_loss_of_finite_outputs_and_targets_is_finite_or_an_error(loss, O, Y_):
    """A loss of finite O and Y is finite, or a ValueError naming the overflow; never inf."""
    assert_overflow_named(MLP(SIZES, loss=loss, seed=0), lambda n: n.loss(O, Y_), ["O", "Y", "loss"])


def test_softmax_cross_entropy_of_finite_logits_far_apart():
    """O − max(O) overflows for logits ±1e308: an error naming the overflow, not inf and a warning."""
    O = np.zeros((3, N))
    O[0], O[1] = 1e308, -1e308
    net = MLP([4, 8, 3], loss="softmax_cross_entropy", seed=0)
    assert_overflow_named(net, lambda n: n.loss(O, np.ones(N, dtype=int)), ["O", "loss"])


def test_train_step_does_not_apply_a_step_whose_loss_is_inf():
    """A net whose outputs are finite but huge: the loss overflows, so no update may be applied."""
    net = MLP(SIZES, seed=0)
    net.params["b_O"][...] = 1e200
    assert_overflow_named(net, lambda n: n.train_step(I, Y, 1e-300), ["loss"], trains_after=False)


# --- all or nothing: read-only parameters, and the forward cache

@pytest.mark.parametrize("call", ["sgd_step", "train_step"])
@pytest.mark.parametrize("key", ["W_H", "b_O"])
def test_read_only_parameter_is_refused_before_any_write(key, call):
    """A user may set flags.writeable = False; the update checks every parameter before writing any."""
    net = MLP(SIZES, seed=0)
    net.forward(I)
    grads = net.backward(Y)
    net.params[key].flags.writeable = False
    before = snapshot(net)
    run = {"sgd_step": lambda: net.sgd_step(grads, 0.1), "train_step": lambda: net.train_step(I, Y, 0.1)}[call]
    with pytest.raises(ValueError, match=re.escape(f"net.params['{key}']") + ".*read-only"):
        run()
    assert_params_identical(net, before, f"{call} with a read-only {key}")
    net.params[key].flags.writeable = True
    run()  # and with the array writable again, the step goes through
    assert not np.array_equal(net.params[key], before[key])


@pytest.mark.parametrize("bad", ["Y-transposed", "Y-nan", "lr-negative", "I-wrong-width"])
def test_failed_train_step_leaves_the_forward_cache(bad):
    """train_step's docstring: a call that raises changes nothing, the forward cache included."""
    net, twin = MLP(SIZES, seed=0), MLP(SIZES, seed=0)
    I2, Y2 = random_batch(SIZES, 5, seed=7)
    args = {"Y-transposed": (I2, Y2.T, 0.1), "Y-nan": (I2, np.full_like(Y2, np.nan), 0.1),
            "lr-negative": (I2, Y2, -1.0), "I-wrong-width": (I2[:3], Y2, 0.1)}[bad]
    net.forward(I)
    twin.forward(I)
    with pytest.raises(ValueError):
        net.train_step(*args)
    after, expected = net.backward(Y), twin.backward(Y)  # the cache of forward(I), not of the failed call
    for key in expected:
        assert after[key].tobytes() == expected[key].tobytes(), f"dL/d{key} after the failed train_step"


# --- what a raising or succeeding step leaves behind (the cache a later backward uses, the output)

I_B, Y_B = random_batch(SIZES, 8, seed=2)  # a second batch, beside I and Y


def _grads_after(net, I_, Y_):
    net.forward(I_)
    return net.backward(Y_)


def test_train_step_that_overflows_keeps_the_cache_and_the_parameters():
    net = MLP(SIZES, seed=0)
    expected = _grads_after(net, I, Y)
    before = snapshot(net)
    with pytest.raises(ValueError, match="overflows float64"):
        net.train_step(I_B, Y_B, 1e308)
    assert_params_identical(net, before, "a train_step whose update overflows")
    again = net.backward(Y)
    for key in expected:
        assert np.array_equal(again[key], expected[key]), f"backward after a failed train_step: {key} changed"


def test_after_train_step_the_cache_is_that_batch_before_the_update():
    net = MLP(SIZES, seed=0)
    before = snapshot(net)
    net.train_step(I_B, Y_B, 0.1)
    twin = MLP(SIZES, seed=0)
    expected = _grads_after(twin, I_B, Y_B)
    assert all(np.array_equal(twin.params[k], before[k]) for k in before)
    got = net.backward(Y_B)  # the cache's activations are the pre-update forward's
    # the output layer's bias gradient comes from the cache alone: equal to rounding (the tuned step's
    # sigmoid is another exact form of σ), while a cache taken after the update is off by far more
    assert_close(got["b_O"], expected["b_O"], "dL/db_O from the cache after train_step", tolerance_for(net.dtype))
    after = _grads_after(net, I_B, Y_B)
    assert not is_close(after["b_O"], expected["b_O"], tolerance_for(net.dtype)), "the step moved nothing"


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


# --- the fuzz of errors/test_fuzz.py, with finite values that pass the checks and overflow the arithmetic

CONFIGS = {
    "f64-half_sse": ([6, 4, 2], "half_sse", np.float64),  # six inputs of 1e308 can overflow W_H @ I
    "f32-mse": ([3, 4, 2], "mse", np.float32),
    "f32-softmax_ce": ([3, 4, 3], "softmax_cross_entropy", np.float32),
}


@pytest.mark.needs_torch  # its strategies draw torch tensors among the wrappers
@pytest.mark.parametrize("config", list(CONFIGS))
@settings(FUZZ_SETTINGS, max_examples=100)
@given(data=st.data())
def test_fuzz_huge_finite_values(config, data):
    """forward, loss, backward, sgd_step and train_step fed 1e38, 3e38, 1e308 and int64's extremes."""
    sizes, loss, dtype = CONFIGS[config]
    make = good_net(sizes, loss, dtype)
    n = 3
    I3, Y3 = random_batch(sizes, n, loss=loss, seed=1)
    labels = sizes[-1] if loss == "softmax_cross_entropy" else None
    Y_shape = (n,) if labels else (sizes[-1], n)
    net = make()
    O3 = net.forward(I3)
    grads = net.backward(Y3)
    call = data.draw(st.sampled_from(["forward", "loss-O", "loss-Y", "backward", "sgd_step-grad",
                                      "sgd_step-lr", "train_step-I", "train_step-Y", "train_step-lr"]))
    huge_I = lambda: data.draw(array_args(I3.shape, huge=True), label="I")  # noqa: E731
    huge_Y = lambda: data.draw(array_args(Y_shape, labels=labels, huge=True), label="Y")  # noqa: E731
    prepare = None
    if call == "forward":
        a = huge_I()
        run, given_, plain, names = (lambda n_, I: n_.forward(I)), {"I": a.given}, {"I": a.plain}, ["I"]
    elif call.startswith("loss"):
        a = data.draw(array_args(O3.shape, huge=True), label="O") if call == "loss-O" else huge_Y()
        what = call[-1]
        args = {"O": O3, "Y": Y3}
        run, names = (lambda n_, O, Y: n_.loss(O, Y)), [what, "loss"]  # "the loss overflows"
        given_, plain = {**args, what: a.given}, {**args, what: a.plain}
    elif call == "backward":
        a = huge_Y()
        run, given_, plain, names = (lambda n_, Y: n_.backward(Y)), {"Y": a.given}, {"Y": a.plain}, ["Y"]
        prepare = lambda n_: n_.forward(I3)  # noqa: E731
    elif call == "sgd_step-grad":
        key = data.draw(st.sampled_from(list(grads)), label="key")
        a = data.draw(array_args(grads[key].shape, huge=True), label="grad")
        run, names = (lambda n_, grads, lr: n_.sgd_step(grads, lr)), [f"grads[{key!r}]", repr(key)]
        given_ = {"grads": {**grads, key: a.given}, "lr": 0.1}
        plain = {"grads": {**grads, key: a.plain} if a.plain is not None else None, "lr": 0.1}
    elif call == "sgd_step-lr":
        a = data.draw(lr_args(huge=True), label="lr")
        run, names = (lambda n_, grads, lr: n_.sgd_step(grads, lr)), ["lr", "'W_H'", "'b_H'", "'W_O'", "'b_O'"]
        given_, plain = {"grads": grads, "lr": a.given}, {"grads": grads, "lr": a.plain}
    else:
        what = call.split("-")[1]
        a = {"I": huge_I, "Y": huge_Y, "lr": lambda: data.draw(lr_args(huge=True), label="lr")}[what]()
        args = {"I": I3, "Y": Y3, "lr": 0.1}
        run, names = (lambda n_, I, Y, lr: n_.train_step(I, Y, lr)), [what, "loss"]
        given_, plain = {**args, what: a.given}, {**args, what: a.plain}
    check_call(make, run, given_, plain, names, prepare=prepare)


# --- the torch-free checker reads candidates as torch_ref.check_gradients does

@pytest.mark.needs_torch
@pytest.mark.parametrize("form", ["torch-requires-grad", "torch-bfloat16", "masked"])
def test_check_gradients_fd_reads_candidates_like_check_gradients(form):
    """check_gradients_fd called a right gradient in a torch tensor 'wrong_shape' (not a numeric array)
    and passed a fully masked one; it should judge what check_gradients judges."""
    import torch

    from manual_backprop.oracle import check_gradients_fd
    from torch_ref import check_gradients

    net = MLP([3, 4, 2], seed=0)
    I3, Y3 = random_batch([3, 4, 2], 3, seed=1)
    net.forward(I3)
    grads = net.backward(Y3)
    make = {"torch-requires-grad": lambda g: torch.tensor(g, requires_grad=True),
            "torch-bfloat16": lambda g: torch.tensor(g).bfloat16(),
            "masked": lambda g: np.ma.masked_array(g, mask=True)}[form]
    candidate = {k: make(g) for k, g in grads.items()}
    if form == "masked":
        with pytest.raises(TypeError, match=re.escape("grads['W_H'] must be a plain array of numbers")):
            check_gradients_fd(net, I3, Y3, candidate)
        return
    fd, autograd = check_gradients_fd(net, I3, Y3, candidate), check_gradients(net, I3, Y3, candidate)
    for key in grads:
        assert fd.params[key].diagnosis == autograd.params[key].diagnosis, (key, str(fd))
        assert fd.params[key].got_shape == grads[key].shape, (key, str(fd))
