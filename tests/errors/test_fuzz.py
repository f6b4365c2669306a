"""A hypothesis fuzz of every public call's arguments: the plain array's result, or an error naming the argument.

Every argument of ``MLP(...)``, ``forward``, ``loss``, ``backward``,
``sgd_step``, ``train_step``, ``check_gradients`` and ``check_gradients_fd``
is drawn in many dtypes (bool, ints, float16/32/64, complex, object,
strings), shapes (0-D to 3-D, empty, transposed, one row short), layouts
(Fortran order, views, strided, read-only, negative strides), wrappers
(lists, tuples, masked arrays, ``np.matrix``, torch tensors, requiring grad,
bfloat16) and values (NaN, ±inf, beyond float32), one argument at a time, the
others good. ``fuzz_strategies.check_call`` states what each example asserts:
the result of the plain float array bit for bit, or a ValueError/TypeError
naming the argument, with the parameters bit-identical and the net training
normally afterwards.

Finite values that pass the checks but overflow the net's arithmetic (1e308,
3e38 into float32) are fuzzed in ``errors/test_errors_arithmetic.py``.

Derandomized, without an example database: every run tests the same examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.common import random_batch
from helpers.fuzz_strategies import (
    FUZZ_SETTINGS,
    Arg,
    array_args,
    check_call,
    good_net,
    lr_args,
    names_argument,
    outcome,
    sizes_args,
)
from manual_backprop import MLP
from manual_backprop.oracle import check_gradients_fd
from torch_ref import check_gradients

N = 3
CONFIGS = {
    "f64-half_sse": ([3, 4, 2], "half_sse", np.float64),
    "f32-mse": ([3, 4, 2], "mse", np.float32),
    "f64-softmax_ce": ([3, 4, 3], "softmax_cross_entropy", np.float64),
    "f32-softmax_ce": ([3, 4, 3], "softmax_cross_entropy", np.float32),
}
configs = pytest.mark.parametrize("config", list(CONFIGS))


class Setup:
    """A config's net maker, good batch (I, Y), good output O and good gradients."""

    def __init__(self, config: str):
        self.sizes, self.loss, self.dtype = CONFIGS[config]
        self.make = good_net(self.sizes, self.loss, self.dtype)
        self.I, self.Y = random_batch(self.sizes, N, loss=self.loss, seed=1)
        net = self.make()
        self.O = net.forward(self.I)
        self.grads = net.backward(self.Y)
        self.labels = self.sizes[-1] if self.loss == "softmax_cross_entropy" else None
        self.Y_shape = (N,) if self.labels else (self.sizes[-1], N)

    def forward(self, net):
        net.forward(self.I)

    def Y_arg(self, draw):
        return draw(array_args(self.Y_shape, labels=self.labels), label="Y")


@configs
@FUZZ_SETTINGS
@given(data=st.data())
def test_forward(config, data):
    s = Setup(config)
    I = data.draw(array_args((s.sizes[0], N)), label="I")
    check_call(s.make, lambda n, I: n.forward(I), {"I": I.given}, {"I": I.plain}, ["I"])


@configs
@FUZZ_SETTINGS
@given(data=st.data())
def test_loss(config, data):
    s = Setup(config)
    if data.draw(st.booleans(), label="draw O (else Y)"):
        arg, name = data.draw(array_args(s.O.shape), label="O"), "O"
        given, plain = {"O": arg.given, "Y": s.Y}, {"O": arg.plain, "Y": s.Y}
    else:
        arg, name = s.Y_arg(data.draw), "Y"
        given, plain = {"O": s.O, "Y": arg.given}, {"O": s.O, "Y": arg.plain}
    check_call(s.make, lambda n, O, Y: n.loss(O, Y), given, plain, [name])


@configs
@FUZZ_SETTINGS
@given(data=st.data())
def test_backward(config, data):
    s = Setup(config)
    Y = s.Y_arg(data.draw)
    check_call(s.make, lambda n, Y: n.backward(Y), {"Y": Y.given}, {"Y": Y.plain}, ["Y"], prepare=s.forward)


@configs
@FUZZ_SETTINGS
@given(data=st.data())
def test_sgd_step(config, data):
    s = Setup(config)
    what = data.draw(st.sampled_from(["grad", "grad", "grad", "lr", "container"]), label="what")
    grads = dict(s.grads)
    if what == "lr":
        lr = data.draw(lr_args(), label="lr")
        given, plain, names = {"grads": grads, "lr": lr.given}, {"grads": grads, "lr": lr.plain}, ["lr"]
    elif what == "grad":
        key = data.draw(st.sampled_from(list(grads)), label="key")
        g = data.draw(array_args(grads[key].shape), label="grad")
        given = {"grads": {**grads, key: g.given}, "lr": 0.1}
        plain = {"grads": {**grads, key: g.plain} if g.plain is not None else None, "lr": 0.1}
        names = [f"grads[{key!r}]", repr(key)]  # the entry, or the update of that parameter
    else:
        form = data.draw(st.sampled_from(["list", "None", "missing", "extra", "torch-names", "tuple-pairs"]))
        bad = {"list": list(grads.values()), "None": None, "missing": dict(list(grads.items())[:-1]),
               "extra": {**grads, "W_X": grads["W_O"]}, "tuple-pairs": tuple(grads.items()),
               "torch-names": {f"linears.{i}": v for i, v in enumerate(grads.values())}}[form]
        given, plain, names = {"grads": bad, "lr": 0.1}, {"grads": None, "lr": 0.1}, ["grads"]
    check_call(s.make, lambda n, grads, lr: n.sgd_step(grads, lr), given, plain, names)


@configs
@FUZZ_SETTINGS
@given(data=st.data())
def test_train_step(config, data):
    s = Setup(config)
    what = data.draw(st.sampled_from(["I", "Y", "lr"]), label="what")
    args = {"I": s.I, "Y": s.Y, "lr": 0.1}
    arg = {"I": lambda: data.draw(array_args(s.I.shape), label="I"),
           "Y": lambda: s.Y_arg(data.draw),
           "lr": lambda: data.draw(lr_args(), label="lr")}[what]()
    check_call(s.make, lambda n, I, Y, lr: n.train_step(I, Y, lr), {**args, what: arg.given},
               {**args, what: arg.plain}, [what])


@pytest.mark.parametrize("checker", [check_gradients, check_gradients_fd], ids=["autograd", "finite_differences"])
@pytest.mark.parametrize("config", ["f64-half_sse", "f32-softmax_ce"])
@FUZZ_SETTINGS
@given(data=st.data())
def test_gradient_checkers(config, checker, data):
    """I, Y and grads of the checkers: the report of the plain arrays, or an error naming the argument."""
    s = Setup(config)
    whats = ["I", "Y", "grads"] + (["grad"] if checker is check_gradients else [])  # fd: test_errors_arithmetic
    what = data.draw(st.sampled_from(whats), label="what")
    args = {"I": s.I, "Y": s.Y, "grads": s.grads}
    names = [what]
    if what == "I":
        arg = data.draw(array_args(s.I.shape), label="I")
    elif what == "Y":
        arg = s.Y_arg(data.draw)
    elif what == "grad":  # a candidate is judged, not checked: any array-like gets a report
        key = data.draw(st.sampled_from(list(s.grads)), label="key")
        g = data.draw(array_args(s.grads[key].shape), label="grad")
        arg = Arg({**s.grads, key: g.given}, {**s.grads, key: g.plain} if g.plain is not None else None, g.label)
        what, names = "grads", [f"grads[{key!r}]"]
    else:
        bad = data.draw(st.sampled_from([None, list(s.grads.values()), tuple(s.grads.items()), "W_H"]))
        arg = Arg(bad, None, f"grads {type(bad).__name__}")
    check_call(s.make, lambda n, I, Y, grads: checker(n, I, Y, grads), {**args, what: arg.given},
               {**args, what: arg.plain}, names)


@FUZZ_SETTINGS
@given(sizes=sizes_args())
def test_constructor_sizes(sizes):
    """Ordered sequences of ints within the cap make the net a list of them makes; the rest name sizes."""
    net, err = outcome(lambda _: MLP(sizes.given, seed=0), None)
    if sizes.plain is None:
        assert err is not None, f"MLP({sizes.given!r}) was accepted: {net!r}"
        assert names_argument(str(err), ["sizes"]), f"the message does not name sizes: {err}"
        return
    assert err is None, f"MLP({sizes.given!r}) refused: {err!r}"
    plain = MLP(list(sizes.plain), seed=0)
    assert net.sizes == plain.sizes and all(type(w) is int for w in net.sizes), net.sizes
    for key, p in plain.params.items():
        assert net.params[key].tobytes() == p.tobytes(), key


GOOD = {"activation": "tanh", "output_activation": "identity", "loss": "mse", "dtype": np.float32, "seed": 3}
BAD = {
    "activation": [None, 3, "gelu", "Sigmoid", b"relu", ["relu"]],
    "output_activation": [None, "softmax", 1.5],
    "loss": [None, "cross_entropy", len, ("mse",)],
    "dtype": [np.float16, np.int64, "banana", np.complex128, "float128", object, [np.float32]],
    "seed": [-1, 1.5, "0", True, np.float64(2.0), [1]],
}


@FUZZ_SETTINGS
@given(data=st.data())
def test_constructor_other_arguments(data):
    name = data.draw(st.sampled_from(list(BAD)), label="argument")
    value = data.draw(st.sampled_from(BAD[name]), label="value")
    _, err = outcome(lambda _: MLP([3, 4, 2], **{**GOOD, name: value}), None)
    assert err is not None, f"MLP({name}={value!r}) was accepted"
    assert names_argument(str(err), [name]), f"the message does not name {name}: {err}"
