"""Bad gradients and learning rates for sgd_step: a clear error, and not one parameter written.

The bad entry is put in the *last* gradient (``b_O``) where it can be, so an
update that wrote as it went would already have changed ``W_H, b_H, W_O``; the
bit-identical check catches that. Also here: the inputs that are accepted by
casting (ints, bools, lists, float64 gradients for a float32 net) give exactly
what their float form gives.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

try:
    import torch
except ImportError:  # a core install: the cases that need torch are marked needs_torch and not collected
    torch = None

from helpers.common import DTYPES, random_batch
from helpers.nothing_lost import assert_params_identical, assert_raises_nothing_lost, snapshot
from manual_backprop import MLP
from manual_backprop.update import sgd_update
from manual_backprop.validation import all_finite

SIZES, N = [4, 16, 2], 32
I, Y = random_batch(SIZES, N, seed=1)


def good_grads(net):
    net.forward(I)
    return net.backward(Y)


def with_grad(key, value):
    """sgd_step with the good gradients except ``grads[key] = value(good gradient)``."""
    def call(net):
        grads = good_grads(net)
        grads[key] = value(grads[key])
        net.sgd_step(grads, 0.1)
    return call


def with_grads(edit):
    def call(net):
        net.sgd_step(edit(good_grads(net)), 0.1)
    return call


def with_lr(lr):
    return lambda net: net.sgd_step(good_grads(net), lr)


def nan_at_end(g):
    g = g.copy()
    g.flat[-1] = np.nan
    return g


GRADS = [
    ("grads-list", with_grads(lambda g: list(g.values())), TypeError, "grads must be a dict keyed like net.params"),
    ("grads-None", with_grads(lambda g: None), TypeError, "grads must be a dict"),
    ("missing-b_O", with_grads(lambda g: {k: v for k, v in g.items() if k != "b_O"}), ValueError,
     "got missing ['b_O']"),
    ("extra-key", with_grads(lambda g: {**g, "W_X": g["W_O"]}), ValueError, "got unexpected ['W_X']"),
    ("torch-names", with_grads(lambda g: {f"linears.{i}": v for i, v in enumerate(g.values())}), ValueError,
     "must have exactly the keys of net.params ['W_H', 'b_H', 'W_O', 'b_O']"),
    ("W_O-transposed", with_grad("W_O", lambda g: g.T), ValueError, "it is the transpose; did you mean grads['W_O'].T?"),
    ("W_O-wrong-shape", with_grad("W_O", lambda g: g[:, :3]), ValueError,
     "grads['W_O'] must have the shape of net.params['W_O'], (2, 16); got (2, 3)"),
    ("b_O-flat", with_grad("b_O", lambda g: g.ravel()), ValueError, "did you mean grads['b_O'].reshape(-1, 1)?"),
    ("b_O-per-sample", with_grad("b_O", lambda g: np.repeat(g, N, axis=1) / N), ValueError,
     "The bias gradient is summed over the batch"),
    ("b_O-None", with_grad("b_O", lambda g: None), TypeError, "grads['b_O'] must be an array of numbers"),
    ("b_O-string", with_grad("b_O", lambda g: g.astype(str)), TypeError, "grads['b_O'] must be an array of real"),
    ("b_O-complex", with_grad("b_O", lambda g: g + 0j), TypeError, "grads['b_O'] must be real"),
    ("b_O-nan", with_grad("b_O", nan_at_end), ValueError, "grads['b_O'] must be finite; got 1 NaN"),
    ("b_O-+inf", with_grad("b_O", lambda g: g + np.inf), ValueError, "grads['b_O'] must be finite; got 0 NaN and 2 ±inf"),
    ("W_O--inf", with_grad("W_O", lambda g: np.where(g > 0, -np.inf, g)), ValueError, "grads['W_O'] must be finite"),
    ("lr-nan", with_lr(float("nan")), ValueError, "lr must be a finite number ≥ 0; got nan"),
    ("lr-inf", with_lr(np.inf), ValueError, "lr must be a finite number ≥ 0; got inf"),
    ("lr-negative", with_lr(-0.1), ValueError, "lr must be ≥ 0; got -0.1"),
    ("lr-string", with_lr("0.1"), TypeError, "lr must be a real number ≥ 0 (the learning rate); got str"),
    ("lr-None", with_lr(None), TypeError, "lr must be a real number"),
    ("lr-bool", with_lr(True), TypeError, "got bool True"),
    ("lr-complex", with_lr(0.1 + 0j), TypeError, "lr must be a real number"),
    ("lr-array", with_lr(np.array([0.1])), TypeError, "lr must be a real number"),
    ("update-overflows", with_lr(1e308), ValueError, "overflows float64: the learning rate or the gradient is too large"),
    ("lr-10**400", with_lr(10**400), ValueError, "lr must be a finite number ≥ 0; got an int of 401 digits, beyond"),
    ("lr-huge-fraction", with_lr(Fraction(10**400, 3)), ValueError, "beyond the range of float64"),
    ("lr-0d-array", with_lr(np.array(0.1)), TypeError, "for a one-element one use float(lr)"),
    ("lr-torch-scalar", lambda net: net.sgd_step(good_grads(net), torch.tensor(0.1)), TypeError,
     "got Tensor tensor(0.1000): an array or tensor"),
    ("b_O-masked", with_grad("b_O", lambda g: np.ma.masked_array(g, mask=g > 0)), TypeError,
     "grads['b_O'] must be a plain array of numbers; got a masked array"),
    ("b_O-torch-complex", with_grad("b_O", lambda g: torch.tensor(g + 1j)), TypeError, "grads['b_O'] must be real"),
    ("b_O-torch-nan", with_grad("b_O", lambda g: torch.tensor(nan_at_end(g), requires_grad=True)), ValueError,
     "grads['b_O'] must be finite; got 1 NaN"),
    ("b_O-torch-transposed", with_grad("b_O", lambda g: torch.tensor(g).T), ValueError,
     "it is the transpose; did you mean grads['b_O'].T?"),
    ("b_O-torch-meta", with_grad("b_O", lambda g: torch.empty(g.shape, device="meta")), TypeError,
     "grads['b_O'] must be an array of real numbers; got a torch tensor (torch.float32, torch.strided, on meta)"),
]


def needs_torch(case_id: str) -> list:
    """The marks of a case: needs_torch for the cases that build torch tensors."""
    return [pytest.mark.needs_torch] if "torch-" in case_id and case_id != "torch-names" else []


@pytest.mark.parametrize("call,exc,fragment", [pytest.param(*c[1:], id=c[0], marks=needs_torch(c[0])) for c in GRADS])
def test_sgd_step_rejects_and_writes_nothing(call, exc, fragment):
    net = MLP(SIZES, seed=0)
    assert_raises_nothing_lost(net, call, exc, fragment)


def test_float32_update_overflow_writes_nothing():
    """lr · g fits float64 but not float32: caught before any parameter is written."""
    net = MLP(SIZES, dtype=np.float32, seed=0)
    assert_raises_nothing_lost(net, with_lr(1e37), ValueError, "overflows float32")


def test_float64_grads_beyond_float32_range():
    net = MLP(SIZES, dtype=np.float32, seed=0)
    assert_raises_nothing_lost(net, with_grad("b_O", lambda g: g.astype(np.float64) * 1e300), ValueError,
                               "grads['b_O'] has values beyond the range of float32")


def test_train_step_with_bad_targets_writes_nothing():
    net = MLP(SIZES, seed=0)
    assert_raises_nothing_lost(net, lambda n: n.train_step(I, Y.T, 0.1), ValueError, "did you mean Y.T?")


CASTS = [
    ("I-int", lambda: (np.round(I * 3).astype(np.int64), Y), lambda: (np.round(I * 3), Y)),
    ("I-uint8", lambda: ((I > 0).astype(np.uint8), Y), lambda: ((I > 0) * 1.0, Y)),
    ("I-bool", lambda: (I > 0, Y), lambda: ((I > 0) * 1.0, Y)),
    ("I-nested-list", lambda: (I.tolist(), Y), lambda: (I, Y)),
    ("Y-int", lambda: (I, np.sign(Y).astype(np.int32)), lambda: (I, np.sign(Y))),
    ("Y-bool", lambda: (I, Y > 0), lambda: (I, (Y > 0) * 1.0)),
    ("Y-list", lambda: (I, Y.tolist()), lambda: (I, Y)),
    ("I-torch-requires-grad", lambda: (torch.tensor(I, requires_grad=True), Y), lambda: (I, Y)),
    ("I-torch-float32", lambda: (torch.tensor(I, dtype=torch.float32), Y), lambda: (I.astype(np.float32), Y)),
    ("I-torch-float16", lambda: (torch.tensor(I).half(), Y), lambda: (I.astype(np.float16), Y)),
    ("I-torch-bfloat16", lambda: (torch.tensor(I).bfloat16(), Y),
     lambda: (torch.tensor(I).bfloat16().float().numpy(), Y)),
    ("I-torch-int", lambda: (torch.tensor(np.round(I * 3)).long(), Y), lambda: (np.round(I * 3), Y)),
    ("I-torch-transposed", lambda: (torch.tensor(I.T).T, Y), lambda: (I, Y)),
    ("I-torch-parameter", lambda: (torch.nn.Parameter(torch.tensor(I)), Y), lambda: (I, Y)),
    ("I-torch-sparse", lambda: (torch.tensor(I).to_sparse(), Y), lambda: (I, Y)),
    ("I-torch-negative-view", lambda: (torch.tensor(-I).neg(), Y), lambda: (I, Y)),
    ("Y-torch-requires-grad", lambda: (I, torch.tensor(Y, requires_grad=True)), lambda: (I, Y)),
    ("Y-torch-bfloat16", lambda: (I, torch.tensor(Y).bfloat16()), lambda: (I, torch.tensor(Y).bfloat16().float().numpy())),
    ("I-matrix", lambda: (I.view(np.matrix), Y), lambda: (I, Y)),
    ("Y-matrix", lambda: (I, Y.view(np.matrix)), lambda: (I, Y)),
    ("I-read-only", lambda: (read_only(I), Y), lambda: (I, Y)),
    ("Y-tuple", lambda: (I, tuple(map(tuple, Y))), lambda: (I, Y)),
]


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("given,as_float", [pytest.param(*c[1:], id=c[0], marks=needs_torch(c[0])) for c in CASTS])
def test_ints_bools_and_lists_are_cast(given, as_float, dtype_name):
    dtype = DTYPES[dtype_name]
    net_a, net_b = MLP(SIZES, dtype=dtype, seed=0), MLP(SIZES, dtype=dtype, seed=0)
    (Ia, Ya), (Ib, Yb) = given(), as_float()
    assert np.array_equal(net_a.forward(Ia), net_b.forward(Ib)), "forward of the cast input"
    assert net_a.loss(net_a.forward(Ia), Ya) == net_b.loss(net_b.forward(Ib), Yb), "loss"
    net_a.sgd_step(net_a.backward(Ya), 0.1)
    net_b.sgd_step(net_b.backward(Yb), 0.1)
    for key in net_a.params:
        assert np.array_equal(net_a.params[key], net_b.params[key]), f"{key} after a step"


LAYOUTS = {
    "fortran": np.asfortranarray,
    "transposed-view": lambda a: np.ascontiguousarray(a.T).T,
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "reversed": lambda a: a[::-1, ::-1].copy()[::-1, ::-1],
}


@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_memory_layout_gives_the_bits_of_the_plain_array(layout, dtype_name):
    """Inputs, targets and gradients in any layout give bit for bit what their C-contiguous copy gives.

    BLAS rounds a product differently for a Fortran-ordered operand, so the
    inputs are made contiguous first; these sizes show the difference when
    they are not.
    """
    dtype = DTYPES[dtype_name]
    sizes, n = ([7, 33, 5], 37) if dtype == np.float64 else ([64, 64, 3], 37)
    Ib, Yb = (a.astype(dtype) for a in random_batch(sizes, n, seed=2))
    net_a, net_b = MLP(sizes, dtype=dtype, seed=0), MLP(sizes, dtype=dtype, seed=0)
    view = LAYOUTS[layout]
    assert np.array_equal(net_a.forward(view(Ib)), net_b.forward(Ib)), "forward"
    assert net_a.loss(view(net_a.forward(view(Ib))), view(Yb)) == net_b.loss(net_b.forward(Ib), Yb), "loss"
    grads_a, grads_b = net_a.backward(view(Yb)), net_b.backward(Yb)
    for key in grads_b:
        assert np.array_equal(grads_a[key], grads_b[key]), f"dL/d{key}"
    net_a.sgd_step({k: view(g) for k, g in grads_a.items()}, 0.1)
    net_b.sgd_step(grads_b, 0.1)
    assert net_a.train_step(view(Ib), view(Yb), 0.1) == net_b.train_step(Ib, Yb, 0.1), "train_step's loss"
    for key in net_a.params:
        assert np.array_equal(net_a.params[key], net_b.params[key]), f"{key} after two steps"


@pytest.mark.needs_torch
@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("torch_dtype", ["float64", "float32", "float16", "bfloat16"])
def test_torch_gradients_are_accepted(torch_dtype, dtype_name):
    """Gradients as torch tensors (requiring grad, of any float dtype) update like their NumPy values."""
    dtype = DTYPES[dtype_name]
    net_a, net_b = MLP(SIZES, dtype=dtype, seed=0), MLP(SIZES, dtype=dtype, seed=0)
    tensors = {k: torch.tensor(g).to(getattr(torch, torch_dtype)).requires_grad_() for k, g in good_grads(net_a).items()}
    net_a.sgd_step(tensors, 0.1)
    net_b.sgd_step({k: t.detach().double().numpy() for k, t in tensors.items()}, 0.1)
    for key in net_a.params:
        assert np.array_equal(net_a.params[key], net_b.params[key]), key


def test_class_labels_as_whole_floats_and_bools_are_cast():
    net = MLP([4, 8, 2], loss="softmax_cross_entropy", seed=0)
    O = net.forward(I)
    labels = (I[0] > 0)
    expected = net.loss(O, labels.astype(np.int64))
    assert net.loss(O, labels) == expected, "bool labels"
    assert net.loss(O, labels.astype(np.float32)) == expected, "whole float labels"
    assert net.loss(O, labels.tolist()) == expected, "a list of bools"


@pytest.mark.parametrize("lr", [0, 1, np.float32(0.1), np.int64(2), 0.1], ids=["0", "int-1", "np.float32", "np.int64", "0.1"])
def test_real_lr_types_are_accepted(lr):
    net = MLP(SIZES, seed=0)
    before = snapshot(net)
    grads = good_grads(net)
    net.sgd_step(grads, lr)
    for key, p in net.params.items():
        assert np.array_equal(p, before[key] - float(lr) * grads[key]), f"{key} after lr={lr!r}"


def test_float64_grads_for_a_float32_net_are_cast():
    net = MLP(SIZES, dtype=np.float32, seed=0)
    twin = MLP(SIZES, dtype=np.float32, seed=0)
    grads = good_grads(net)
    net.sgd_step({k: g.astype(np.float64) for k, g in grads.items()}, 0.1)
    twin.sgd_step({k: g.astype(np.float32) for k, g in grads.items()}, 0.1)
    for key, p in net.params.items():
        assert p.dtype == np.float32 and np.array_equal(p, twin.params[key]), key


@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("values,expected", [
    pytest.param([1.0, -2.0], True, id="small"),
    pytest.param(["max", "-max"], True, id="squares-overflow"),  # ± the dtype's largest finite value
    pytest.param([np.nan, 1.0], False, id="nan"),
    pytest.param([np.inf, 1.0], False, id="+inf"),
    pytest.param([-np.inf, np.inf], False, id="-inf-and-+inf"),
])
def test_all_finite_fast_path_and_fallback(values, expected, dtype_name):
    """The dot-product scan never misses a NaN/inf, and huge finite values (squares beyond range) pass."""
    dtype = DTYPES[dtype_name]
    big = np.finfo(dtype).max
    a = np.array([{"max": big, "-max": -big}.get(v, v) for v in values], dtype=dtype).reshape(2, 1)
    assert all_finite(a) is expected, f"all_finite({a.ravel()!r})"


def test_huge_finite_gradients_are_not_mistaken_for_inf():
    """Gradients whose squares overflow are finite: with a small enough lr the step goes through."""
    net = MLP(SIZES, seed=0)
    before = snapshot(net)
    grads = {k: np.full_like(p, 1e200) for k, p in net.params.items()}
    net.sgd_step(grads, 1e-210)
    for key, p in net.params.items():
        assert np.array_equal(p, before[key] - 1e-210 * grads[key]), key


def test_train_step_of_a_diverged_net_says_the_output_overflowed():
    """A net whose b_O already holds inf outputs inf: an error with the hint, and nothing written."""
    net = MLP(SIZES, seed=0)
    net.params["b_O"][0, 0] = np.inf
    before = snapshot(net)
    with pytest.raises(ValueError, match=re.escape("the output O must be finite; got 0 NaN and 32 ±inf")
                       + ".*did the forward pass overflow"):
        net.train_step(I, Y, 0.1)
    assert_params_identical(net, before, "train_step of a diverged net")


def test_update_follows_replaced_parameter_arrays():
    """The update writes whatever arrays net.params holds now, also after one is replaced."""
    net = MLP(SIZES, seed=0)
    grads = good_grads(net)
    net.sgd_step(grads, 0.1)
    net.params["W_O"] = np.ones((2, 16))  # a new array, as a user may put there
    before = snapshot(net)
    net.sgd_step(grads, 0.1)
    for key, p in net.params.items():
        assert np.array_equal(p, before[key] - 0.1 * grads[key]), f"{key} after the replacement"


@pytest.mark.parametrize("bad_key", ["a", "b"])
def test_update_with_mixed_dtypes_is_all_or_nothing(bad_key):
    """Parameters of two dtypes are each updated in their own, and still nothing is written on failure."""
    params = {"a": np.arange(3.0).reshape(3, 1), "b": np.arange(4, dtype=np.float32).reshape(2, 2)}
    grads = {k: np.ones_like(p) for k, p in params.items()}
    before = snapshot(params)
    sgd_update(params, grads, 0.5)
    for key, p in params.items():
        assert p.dtype == before[key].dtype and np.array_equal(p, before[key] - 0.5), key
    grads[bad_key] = np.full_like(params[bad_key], np.nan)
    after_good = snapshot(params)
    with pytest.raises(ValueError, match=re.escape(f"grads['{bad_key}'] must be finite")):
        sgd_update(params, grads, 0.5)
    for key, p in params.items():
        assert p.tobytes() == after_good[key].tobytes(), f"{key} written by a failed update"
