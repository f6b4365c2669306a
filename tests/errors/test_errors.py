"""Bad input to MLP(...), forward, loss and backward: a clear error, and nothing lost.

Each case asserts the exception type and a fragment of its message (the
argument's name, or the hint that explains the mistake), that every parameter
is bit-identical afterwards, and that the net then trains exactly as an
untouched one. The seed's net 4-16-2 with N = 32 is the subject; class-index
cases use a 4-8-3 classifier.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

try:
    import torch
except ImportError:  # a core install: the cases that need torch are marked needs_torch and not collected
    torch = None

from helpers.common import DTYPES, random_batch
from helpers.nothing_lost import assert_raises_nothing_lost
from manual_backprop import MLP

SEED_SIZES, N = [4, 16, 2], 32
I, Y = random_batch(SEED_SIZES, N, seed=1)  # I (4, 32), Y (2, 32)
CLS_SIZES = [4, 8, 3]
I_CLS, Y_CLS = random_batch(CLS_SIZES, N, loss="softmax_cross_entropy", seed=1)  # Y_CLS (32,)

CONSTRUCTOR = [
    ("sizes-one-entry", dict(sizes=[4]), ValueError, "at least an input and an output width"),
    ("sizes-empty", dict(sizes=[]), ValueError, "at least an input and an output width"),
    ("sizes-None", dict(sizes=None), TypeError, "sizes must be a list of layer widths"),
    ("sizes-string", dict(sizes="4,16,2"), TypeError, "sizes must be a list of layer widths"),
    ("sizes-int", dict(sizes=4), TypeError, "sizes must be a list of layer widths"),
    ("width-zero", dict(sizes=[4, 0, 2]), ValueError, "sizes[1] must be a positive int"),
    ("width-negative", dict(sizes=[4, 16, -2]), ValueError, "sizes[2] must be a positive int"),
    ("width-fractional", dict(sizes=[4, 2.5, 2]), TypeError, "sizes[1] must be a positive int"),
    ("width-float-whole", dict(sizes=[4.0, 16, 2]), TypeError, "got float 4.0"),
    ("width-bool", dict(sizes=[4, True, 2]), TypeError, "sizes[1] must be a positive int"),
    ("width-string", dict(sizes=[4, "16", 2]), TypeError, "sizes[1] must be a positive int"),
    ("sizes-0d-array", dict(sizes=np.array(5)), TypeError, "sizes must be a list of layer widths"),
    ("sizes-2d-array", dict(sizes=np.array([[4, 16, 2]])), TypeError, "did you mean sizes.ravel()?"),
    ("sizes-set", dict(sizes={4, 16, 2}), TypeError, "got set {"),
    ("sizes-frozenset", dict(sizes=frozenset([4, 2])), TypeError, "does not keep the layers in order"),
    ("sizes-dict", dict(sizes={4: 16, 16: 2}), TypeError, "got dict {4: 16, 16: 2}, which does not keep"),
    ("sizes-generator", dict(sizes=(s for s in [4, 2])), TypeError, "sizes must be a list of layer widths"),
    ("sizes-bytes", dict(sizes=b"\x04\x10\x02"), TypeError, "sizes must be a list of layer widths"),
    ("sizes-float-array", dict(sizes=np.array([4.0, 16.0, 2.0])), TypeError, "sizes[0] must be a positive int"),
    ("width-10**30", dict(sizes=[10**30, 2]), ValueError, "sizes[0] must be at most 268,435,456"),
    ("width-2**63", dict(sizes=[2**63, 2]), ValueError, "sizes[0] must be at most 268,435,456"),
    ("width-10**400", dict(sizes=[4, 10**400, 2]), ValueError, "got an int of 401 digits"),
    ("width-uint64-2**63", dict(sizes=np.array([2**63, 2], dtype=np.uint64)), ValueError,
     "sizes[0] must be at most"),
    ("width-negative-huge", dict(sizes=[4, -10**5000, 2]), ValueError, "sizes[1] must be a positive int"),
    ("too-many-parameters", dict(sizes=[4, 20_000, 20_000, 2]), ValueError,
     "make a net of 400,160,002 parameters (3.0 GiB in float64); at most 268,435,456"),
    ("too-many-layers", dict(sizes=[1] * 10_002), ValueError, "at most 10001 widths"),
    ("sizes-range-beyond-len", dict(sizes=range(10**20)), ValueError, "got more than 2**63"),
    ("sizes-long-array", dict(sizes=np.ones(10**6, dtype=np.int8)), ValueError, "at most 10001 widths"),
    ("activation-unknown", dict(activation="gelu"), ValueError,
     "known activations: elu, identity, leaky_relu, relu, sigmoid, softplus, tanh"),
    ("activation-None", dict(activation=None), TypeError, "activation must be a str"),
    ("output_activation-unknown", dict(output_activation="softmax"), ValueError,
     "unknown output_activation 'softmax'; known activations:"),
    ("loss-unknown", dict(loss="cross_entropy"), ValueError,
     "known losses: half_sse, mse, softmax_cross_entropy"),
    ("loss-callable", dict(loss=len), TypeError, "loss must be a str"),
    ("dtype-float16", dict(dtype=np.float16), ValueError, "dtype must be one of ['float64', 'float32']"),
    ("dtype-int", dict(dtype=np.int64), ValueError, "dtype must be one of ['float64', 'float32']"),
    ("dtype-complex", dict(dtype=np.complex128), ValueError, "dtype must be one of"),
    ("dtype-nonsense", dict(dtype="banana"), ValueError, "dtype must be one of"),
    ("seed-negative", dict(seed=-1), ValueError, "seed must be None or a non-negative int"),
    ("seed-float", dict(seed=1.5), TypeError, "seed must be None or a non-negative int"),
]


@pytest.mark.parametrize("kwargs,exc,fragment", [pytest.param(*c[1:], id=c[0]) for c in CONSTRUCTOR])
def test_constructor_rejects(kwargs, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        MLP(**{"sizes": SEED_SIZES, **kwargs})


@pytest.mark.parametrize("sizes", [np.array([4, 16, 2]), np.array([4, 16, 2], dtype=np.uint8), (4, 16, 2),
                                   range(4, 17, 12), [np.int32(4), np.int64(16), 2]],
                         ids=["int-array", "uint8-array", "tuple", "range", "numpy-scalars"])
def test_sizes_any_ordered_sequence_of_ints(sizes):
    """Sequences of whole numbers, NumPy's included, make the very net a list of Python ints makes."""
    net, plain = MLP(sizes, seed=0), MLP([int(s) for s in sizes], seed=0)
    assert net.sizes == plain.sizes and all(type(s) is int for s in net.sizes), net.sizes
    for key, p in plain.params.items():
        assert np.array_equal(net.params[key], p), key


def test_sizes_at_the_parameter_cap():
    """MAX_PARAMETERS itself is allowed, one more is not (checked on the widths; nothing is built)."""
    from manual_backprop.validation import MAX_PARAMETERS, check_sizes

    assert MAX_PARAMETERS == 2**28  # the README states this number
    assert check_sizes([2**14 - 1, 2**14]) == (2**14 - 1, 2**14)  # (2¹⁴ − 1 + 1) · 2¹⁴ = 2²⁸
    with pytest.raises(ValueError, match=re.escape("make a net of 268,451,840 parameters")):
        check_sizes([2**14, 2**14])


@pytest.mark.parametrize("sizes", [[10**9, 2], [30_000, 30_000, 2], [2, 2**28, 2], np.ones(10**6, dtype=np.int8)],
                         ids=["wide-input", "wide-hidden", "cap-width", "a-million-layers"])
def test_huge_sizes_are_refused_before_anything_is_allocated(sizes):
    """The size check runs on the widths alone: no array is allocated before the refusal."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=re.escape("sizes")):
            MLP(sizes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"MLP({sizes}) allocated {peak:,} bytes before refusing"


def forward_with(bad):
    return lambda net: net.forward(bad)


FORWARD = [
    ("features-3-not-4", I[:3], ValueError, "D_I = 3 does not match the net's D_I = 4"),
    ("batch-major", I.T, ValueError, "inputs are features × batch; did you mean I.T?"),
    ("one-sample-1d", I[:, 0], ValueError, "use I.reshape(-1, 1)"),
    ("1d-other-length", I[0], ValueError, "got a 1-D array of shape (32,)"),
    ("3d", I[None], ValueError, "got a 3-D array of shape (1, 4, 32)"),
    ("0d-scalar", np.float64(1.0), ValueError, "got a 0-D array"),
    ("empty-batch", I[:, :0], ValueError, "the batch is empty"),
    ("None", None, TypeError, "I must be an array of numbers; got None"),
    ("string", "1 2 3 4", TypeError, "I must be an array of real numbers"),
    ("complex", I + 0j, TypeError, "I must be real; got complex"),
    ("object-list", [[1.0, None]] * 4, TypeError, "I must be an array of real numbers"),
    ("ragged-list", [[1.0, 2.0], [3.0]], ValueError, "I must be a rectangular array"),
    ("nan", np.where(np.arange(N) == 5, np.nan, I), ValueError, "I must be finite; got 4 NaN"),
    ("+inf", np.where(I > 1, np.inf, I), ValueError, "I must be finite"),
    ("-inf", np.where(I < -1, -np.inf, I), ValueError, "I must be finite"),
    ("masked", np.ma.masked_array(I, mask=I > 1), TypeError, "got a masked array, whose mask NumPy would drop"),
    ("masked-no-mask", np.ma.masked_array(I), TypeError, "I.filled(value)"),
    ("generator", (row for row in I), TypeError, "I must be an array of real numbers"),
    ("huge-python-ints", [[10**30] * N] * 4, TypeError, "ints beyond int64"),
    ("datetime", np.zeros((4, N), dtype="M8[s]"), TypeError, "got ndarray of dtype datetime64[s]"),
]


@pytest.mark.parametrize("bad,exc,fragment", [pytest.param(*c[1:], id=c[0]) for c in FORWARD])
def test_forward_rejects(bad, exc, fragment):
    net = MLP(SEED_SIZES, seed=0)
    net.forward(I)
    assert_raises_nothing_lost(net, forward_with(bad), exc, fragment)


def test_forward_rejects_values_beyond_float32():
    net = MLP(SEED_SIZES, dtype=np.float32, seed=0)
    assert_raises_nothing_lost(net, forward_with(np.full((4, 3), 1e39)), ValueError,
                               "I has values beyond the range of float32")


def test_failed_forward_leaves_no_cache_for_backward():
    """backward after a forward that raised must not silently use the earlier forward's batch."""
    net = MLP(SEED_SIZES, seed=0)
    net.forward(I)
    with pytest.raises(ValueError, match="did you mean I.T"):
        net.forward(I.T)
    with pytest.raises(RuntimeError, match="a forward that raised leaves no cache"):
        net.backward(Y)
    net.forward(I)
    assert net.backward(Y).keys() == net.params.keys()


def test_backward_before_any_forward():
    net = MLP(SEED_SIZES, seed=0)
    assert_raises_nothing_lost(net, lambda n: n.backward(Y), RuntimeError, "call net.forward(I) first")


def dense_cases(call, batch_of):
    """Bad dense targets Y for ``call(net, Y)``; the net has seen a forward of I (4, 32)."""
    return [
        ("transposed", lambda n: call(n, Y.T), "targets are outputs × batch; did you mean Y.T?"),
        ("batch-5-not-32", lambda n: call(n, Y[:, :5]), f"its batch of 5 does not match {batch_of}, N = 32"),
        ("outputs-1-not-2", lambda n: call(n, Y[:1]), "Y must have the output's shape (D_O, N) = (2, 32)"),
        ("1d", lambda n: call(n, Y[0]), "class indices need loss='softmax_cross_entropy'"),
        ("3d", lambda n: call(n, Y[None]), "got 3-D (1, 2, 32)"),
        ("nan", lambda n: call(n, np.where(Y > 1, np.nan, Y)), "Y must be finite"),
        ("inf", lambda n: call(n, np.where(Y > 1, np.inf, Y)), "Y must be finite"),
    ]


def loss_call(net, Yb):
    return net.loss(net.forward(I), Yb)


LOSS = [(f"loss-Y-{i}", f, ValueError, m) for i, f, m in dense_cases(loss_call, "O's batch")] + [
    (f"backward-Y-{i}", f, ValueError, m)
    for i, f, m in dense_cases(lambda n, Yb: n.backward(Yb), "the last forward's batch")] + [
    ("loss-Y-None", lambda n: n.loss(n.forward(I), None), TypeError, "Y must be an array of numbers"),
    ("loss-Y-string", lambda n: n.loss(n.forward(I), "ones"), TypeError, "Y must be an array of real"),
    ("backward-Y-complex", lambda n: n.backward(Y + 1j), TypeError, "Y must be real"),
    ("loss-O-transposed", lambda n: n.loss(n.forward(I).T, Y), ValueError, "did you mean O.T?"),
    ("loss-O-wrong-width", lambda n: n.loss(np.zeros((3, N)), Y), ValueError,
     "O must have shape (D_O, N) = (2, N)"),
    ("loss-O-nan", lambda n: n.loss(np.full((2, N), np.nan), Y), ValueError,
     "O must be finite; got 64 NaN and 0 ±inf of 64 entries; did the forward pass overflow?"),
    ("loss-O-1d", lambda n: n.loss(np.zeros(N), Y), ValueError, "got a 1-D array"),
]


@pytest.mark.parametrize("call,exc,fragment", [pytest.param(*c[1:], id=c[0]) for c in LOSS])
def test_loss_and_backward_reject_dense_targets(call, exc, fragment):
    net = MLP(SEED_SIZES, seed=0)
    net.forward(I)
    assert_raises_nothing_lost(net, call, exc, fragment)


def labels(*values):
    """Y_CLS with its first entries replaced, as float64 so fractional and NaN values fit."""
    out = Y_CLS.astype(np.float64)
    out[:len(values)] = values
    return out


CLASS = [
    ("negative", Y_CLS - 1, "got a negative label -1"),
    ("fractional", labels(0.5), "got fractional values such as 0.5"),
    ("equal-D_O", labels(3), "got label 3 ≥ D_O = 3"),
    ("one-based", np.where(Y_CLS == 0, 3, Y_CLS), "(labels 1..3? use Y - 1)"),
    ("nan", labels(np.nan), "Y must be finite"),
    ("one-hot", np.eye(3)[Y_CLS].T, "not one-hot; did you mean Y.argmax(axis=0)?"),
    ("row-vector", Y_CLS[None], "did you mean Y.ravel()?"),
    ("batch-5-not-32", Y_CLS[:5], "its batch of 5 does not match"),
]
CLASS_CALLS = {"backward": lambda n, Yb: n.backward(Yb), "loss": lambda n, Yb: n.loss(n.forward(I_CLS), Yb)}


@pytest.mark.parametrize("callee", list(CLASS_CALLS))
@pytest.mark.parametrize("bad,fragment", [pytest.param(*c[1:], id=c[0]) for c in CLASS])
def test_class_labels_rejected(bad, fragment, callee):
    net = MLP(CLS_SIZES, loss="softmax_cross_entropy", seed=0)
    net.forward(I_CLS)
    assert_raises_nothing_lost(net, lambda n: CLASS_CALLS[callee](n, bad), ValueError, fragment)


def test_class_labels_as_strings_are_a_type_error():
    net = MLP(CLS_SIZES, loss="softmax_cross_entropy", seed=0)
    net.forward(I_CLS)
    assert_raises_nothing_lost(net, lambda n: n.backward(Y_CLS.astype(str)), TypeError,
                               "Y must be an array of real numbers")


@pytest.mark.needs_torch
@pytest.mark.parametrize("loss,sizes", [("half_sse", [4, 16, 1]), ("softmax_cross_entropy", [4, 8, 3])])
@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
def test_check_gradients_of_read_only_single_sample(loss, sizes, dtype_name):
    """A read-only I (4, 1) and Y: contiguous once transposed, so torch would share it and warn that
    it is not writable (an error under this suite's warnings-as-errors); the checker copies it."""
    from torch_ref import check_gradients

    dtype = DTYPES[dtype_name]
    net = MLP(sizes, loss=loss, dtype=dtype, seed=0)
    I1, Y1 = random_batch(sizes, 1, loss=loss, seed=3)
    for a in (I1, Y1):
        a.flags.writeable = False
    net.forward(I1)
    report = check_gradients(net, I1, Y1, net.backward(Y1))
    assert report.passed, str(report)


CANDIDATE_FORMS = {
    "torch-requires-grad": (lambda g: torch.tensor(g, requires_grad=True), lambda g: g),
    "torch-bfloat16": (lambda g: torch.tensor(g).bfloat16(), lambda g: torch.tensor(g).bfloat16().float().numpy()),
    "torch-transposed": (lambda g: torch.tensor(g.T).T, lambda g: g),
}


@pytest.mark.needs_torch
@pytest.mark.parametrize("form", CANDIDATE_FORMS)
def test_check_gradients_reads_torch_candidates(form):
    """A candidate gradient as a torch tensor is judged on its values (bfloat16 crashed the checker)."""
    from torch_ref import check_gradients

    net = MLP(SEED_SIZES, seed=0)
    net.forward(I)
    grads = net.backward(Y)
    given, values = CANDIDATE_FORMS[form]
    report = check_gradients(net, I, Y, {k: given(g) for k, g in grads.items()})
    plain = check_gradients(net, I, Y, {k: values(g) for k, g in grads.items()})
    for key, p in plain.params.items():
        got = report.params[key]
        assert (got.passed, got.diagnosis, got.max_abs_err) == (p.passed, p.diagnosis, p.max_abs_err), key


@pytest.mark.needs_torch
def test_check_gradients_refuses_masked_candidates():
    """A fully masked candidate used to pass: its mask was dropped and the data under it compared."""
    from torch_ref import check_gradients

    net = MLP(SEED_SIZES, seed=0)
    net.forward(I)
    grads = net.backward(Y)
    grads["b_O"] = np.ma.masked_array(grads["b_O"], mask=True)
    with pytest.raises(TypeError, match=re.escape("grads['b_O'] must be a plain array of numbers; got a masked")):
        check_gradients(net, I, Y, grads)
