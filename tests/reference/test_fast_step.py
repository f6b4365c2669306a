"""The tuned step (manual_backprop.fast_step) equals the plain reference, and keeps train_step's contract.

The reference is forward → loss → backward → sgd_step on a twin holding the same
parameters. Each case runs on both of the step's routes: np.matmul with a
separate update pass, and NumPy's own BLAS gemm with the update and the bias
folded into the products (its size threshold lowered so that the small nets
here take it).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from helpers.common import DTYPES, random_batch
from helpers.nothing_lost import assert_params_identical, assert_trains_normally, snapshot
from manual_backprop import ACTIVATIONS, LOSSES, MLP, fast_step
from manual_backprop.activations import sigmoid_backward, sigmoid_forward, tanh_backward

ROUTES = ["matmul", "gemm"]
HIDDEN = (7, 4, 6)


def numpy_ships_openblas() -> bool:
    """NumPy's build configuration names its own wheels' OpenBLAS (NumPy ≥ 1.26 states it)."""
    config = getattr(np.__config__, "CONFIG", {})
    return config.get("Build Dependencies", {}).get("blas", {}).get("name") == "scipy-openblas"


def require_gemm():
    """Skip where NumPy has no gemm of its own to call (saying why); fail where it ships one yet none was found."""
    taken, reason = fast_step.gemm_route()
    if not taken:
        assert not numpy_ships_openblas(), f"NumPy ships OpenBLAS, yet its gemm was not found: {reason}"
        pytest.skip(reason)


@pytest.fixture(params=ROUTES)
def route(request, monkeypatch):
    if request.param == "matmul":
        monkeypatch.setattr(fast_step, "USE_GEMM", False)
    else:
        require_gemm()
        monkeypatch.setattr(fast_step, "USE_GEMM", True)
        monkeypatch.setattr(fast_step, "GEMM_MIN", 0)
    return request.param


def output_activations(loss):
    return ["identity"] if LOSSES[loss].targets == "class_index" else ["identity", "sigmoid", "tanh", "relu"]


CASES = [pytest.param(act, out, loss, dtype, depth, id=f"{act}-{out}-{loss}-{dt}-depth{depth}")
         for loss in LOSSES for act in ACTIVATIONS for out in output_activations(loss)
         if out == "identity" or act == "sigmoid"
         for dt, dtype in DTYPES.items() for depth in (1, 2, 3)]


def twins(sizes, act, out, loss, dtype, seed=1):
    kw = {"activation": act, "output_activation": out, "loss": loss, "dtype": dtype, "seed": seed}
    return MLP(sizes, **kw), MLP(sizes, **kw)


@pytest.mark.parametrize("act,out,loss,dtype,depth", CASES)
def test_train_step_equals_forward_loss_backward_sgd_step(route, act, out, loss, dtype, depth):
    sizes, lr = [5, *HIDDEN[:depth], 3], 0.037
    fast, plain = twins(sizes, act, out, loss, dtype)
    eps = np.finfo(dtype).eps
    for step in range(3):  # three steps: both buffer sets are used, and one is reused
        for key, p in fast.params.items():
            plain.params[key][...] = p  # both step from the same weights
        I, Y = random_batch(sizes, 9, loss=loss, seed=step)
        L_fast = fast.train_step(I, Y, lr)
        O = plain.forward(I)
        L_plain = plain.loss(O, Y)
        grads = plain.backward(Y)
        before = snapshot(plain)
        plain.sgd_step(grads, lr)
        assert abs(L_fast - L_plain) <= 8 * eps * abs(L_plain), f"step {step}: loss {L_fast} vs {L_plain}"
        for key in plain.params:
            # rounding: an ulp of the weight, plus some ulps of the update lr · g (other summation orders)
            bound = 2 * eps * (np.max(np.abs(before[key])) + 8 * lr * np.max(np.abs(grads[key])))
            diff = np.max(np.abs(fast.params[key] - plain.params[key]))
            assert diff <= bound, f"step {step}: {key} off by {diff:.3e} (bound {bound:.3e})"
        # the cache it leaves is the forward's: a later backward gives the reference's (at the new weights)
        again, expected = fast.backward(Y), plain.backward(Y)
        for key, g in expected.items():
            scale = np.max(np.abs(g)) + np.finfo(dtype).tiny
            err = np.max(np.abs(again[key] - g)) / scale
            assert err <= 64 * eps, f"step {step}: backward after train_step, {key} off by {err:.3e}"


def test_the_gemm_route_is_taken_where_numpy_ships_openblas(monkeypatch):
    """Not a silent fallback: on NumPy's own wheels the big layers go through its gemm."""
    if not numpy_ships_openblas():
        pytest.skip(f"NumPy {np.__version__} does not state scipy-openblas in its build configuration")
    assert fast_step.gemm_route().taken, fast_step.gemm_route().reason
    monkeypatch.setattr(fast_step, "GEMM_MIN", 5 * 7 * 9)  # the first layer's multiply-adds, not the output's
    net = MLP([5, 7, 3], seed=0)
    net.train_step(*random_batch([5, 7, 3], 9, seed=0), 0.1)
    first, output = fast_step._STEPS[net].layers
    assert first.gemm is not None and output.gemm is None


EXTREMES = [1e4, -1e4, 0.0, -0.0, 88.0, -88.0, 745.0, -745.0, 20.0, -20.0, np.inf, -np.inf]


def pre_activations(dtype):
    rng = np.random.default_rng(3)
    Z = (rng.standard_normal((40, 30)) * 30).astype(dtype)
    Z[0, :len(EXTREMES)] = EXTREMES
    return Z


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_fast_kernels_equal_the_plain_formulas(dtype):
    Z = pre_activations(dtype)
    dA = np.random.default_rng(4).standard_normal(Z.shape).astype(dtype)
    T = np.empty_like(Z)
    sig, sig_back = fast_step.FAST_KERNELS["sigmoid"][:2]
    tanh, tanh_back = fast_step.FAST_KERNELS["tanh"][:2]
    ulp = np.finfo(dtype).eps

    A = np.empty_like(Z)
    sig(Z, A, T)
    e = np.exp(-np.abs(Z))
    plain = np.where(Z >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)  # the seed's σ, in its two stable branches
    negative = Z < 0
    assert np.array_equal(A[negative], plain[negative]), "sigmoid forward, z < 0: the reference's branch"
    assert np.all(np.abs(A - plain) <= 4 * ulp * plain), "sigmoid forward: within 4 ulp of the reference"
    reference = sigmoid_forward(Z)
    assert np.all(np.abs(A - reference) <= 4 * ulp * reference), "sigmoid forward vs the reference"
    assert A[0, EXTREMES.index(1e4)] == 1 and A[0, EXTREMES.index(-1e4)] == 0  # saturates, no overflow
    dZ = dA.copy()
    sig_back(dZ, Z, A, T)
    assert np.array_equal(dZ, sigmoid_backward(dA, Z, A)), "sigmoid backward vs the reference"
    seed = dA * A * (1 - A)  # seed: dL/dĤ ⊙ Ĥ ⊙ (1 − Ĥ)
    assert np.all(np.abs(dZ - seed) <= 4 * ulp * np.abs(seed)), "sigmoid backward vs the seed formula"

    tanh(Z, A, T)
    assert np.array_equal(A, np.tanh(Z)), "tanh forward"
    dZ = dA.copy()
    tanh_back(dZ, Z, A, T)
    assert np.array_equal(dZ, tanh_backward(dA, Z, A)), "tanh backward vs the reference"


# --- the contract: a call that raises changes nothing, the cache included ------------------------

SIZES = [4, 16, 2]


def cache_gradients(net, Y):
    """What a later backward would give: the cache, seen through the public surface."""
    return {k: g.copy() for k, g in net.backward(Y).items()}


def assert_cache_unchanged(net, Y, before, what):
    after = cache_gradients(net, Y)
    for key, g in before.items():
        assert after[key].tobytes() == g.tobytes(), f"{what}: the forward cache changed ({key})"


def trained_net(dtype, steps):
    """A net after ``steps`` good train_steps (so one, or both, of the step's buffer sets is in use)."""
    net = MLP(SIZES, dtype=dtype, seed=0)
    I, Y = random_batch(SIZES, 32, seed=1)
    for _ in range(steps):
        net.train_step(I, Y, 0.01)
    return net, Y


def blow_up_update(net, lr_big):
    I, Y = random_batch(SIZES, 32, seed=5)
    return lambda n: n.train_step(I, 100 * Y, lr_big)


def overflow_loss(net, _):
    net.params["W_O"][...] = np.sqrt(np.finfo(net.dtype).max)  # O is finite, but (O − Y)² is not
    I, Y = random_batch(SIZES, 32, seed=5)
    return lambda n: n.train_step(I, Y, 0.1)


def read_only(net, _):
    net.params["b_O"].flags.writeable = False
    I, Y = random_batch(SIZES, 32, seed=5)
    return lambda n: n.train_step(I, Y, 0.1)


def nan_weight(net, _):
    """A NaN in a hidden weight: the sigmoid passes it on to O, which must be finite."""
    net.params["W_H"][3, 1] = np.nan
    I, Y = random_batch(SIZES, 32, seed=5)
    return lambda n: n.train_step(I, Y, 0.1)


def inf_bias(net, _):
    """An inf in a hidden bias: the sigmoid saturates it, the output stays finite, and only the scan of
    the new values (or, folded, the norm of b_H) finds it."""
    net.params["b_H"][0, 0] = np.inf
    I, Y = random_batch(SIZES, 32, seed=5)
    return lambda n: n.train_step(I, Y, 0.1)


FAILURES = [
    ("update-overflows", blow_up_update, ValueError, "overflows"),
    ("nan-weight", nan_weight, ValueError, "the output O must be finite"),
    ("inf-bias", inf_bias, ValueError, "net.params['b_H'] must be finite"),
    ("loss-overflows", overflow_loss, ValueError, "overflowed"),
    ("read-only-param", read_only, ValueError, "is read-only"),
]


@pytest.mark.parametrize("steps", [1, 2], ids=["after-1-step", "after-2-steps"])
@pytest.mark.parametrize("name,make,exc,fragment", FAILURES, ids=[f[0] for f in FAILURES])
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_a_step_that_raises_changes_nothing_cache_included(route, dtype, name, make, exc, fragment, steps):
    net, Y = trained_net(dtype, steps)
    lr_big = float(np.finfo(dtype).max) / 4
    call = make(net, lr_big)
    before, cache_before = snapshot(net), cache_gradients(net, Y)
    with pytest.raises(exc, match=re.escape(fragment)):
        call(net)
    assert_params_identical(net, before, name)
    assert_cache_unchanged(net, Y, cache_before, name)
    for p in net.params.values():
        p.flags.writeable = True
    if name == "update-overflows":  # the others' weights are at overflow, or NaN, on purpose
        assert_trains_normally(net, before)


def folded_step(monkeypatch, dtype):
    """A seed-sized net's step with every layer folded into gemm, and arrays far from overflow:
    (Ws, bs, dZs, cache) as ``_bounded`` reads them (no dZ in the loss's buffer)."""
    monkeypatch.setattr(fast_step, "GEMM_MIN", 0)
    net = MLP(SIZES, dtype=dtype, seed=0)
    I, Y = random_batch(SIZES, 32, seed=5)
    net.train_step(I, Y, 0.1)
    step = fast_step._STEPS[net]
    Ws = [net.params["W_H"].copy(), net.params["W_O"].copy()]
    bs = [net.params["b_H"].copy(), net.params["b_O"].copy()]
    dZs = [np.zeros((16, 32), dtype), np.zeros((2, 32), dtype)]
    cache = [(I.astype(dtype), None, None), (np.full((16, 32), 0.5, dtype), None, None)]
    assert step._bounded(Ws, bs, dZs, cache, 0.1, None), "a step far from overflow"
    return step, Ws, bs, dZs, cache


def sqrt_max(dtype) -> float:
    return float(np.sqrt(np.finfo(dtype).max))


# Each of the folded layers' bounds, alone: every other bound holds, so a check left out lets it through.
# OpenBLAS's worker threads flag no overflow to NumPy, and a gemm writes W as it goes, so these bounds
# are all that stands between an overflow and a half-written W.
def forward_near_overflow(step, Ws, bs, dZs, cache, dtype):
    """One entry of W_H I is 0.81 of the maximum (no dot of W_H or I with itself overflows)."""
    Ws[0][...] = 0.0
    Ws[0][0, 0] = cache[0][0][0, 0] = 0.9 * sqrt_max(dtype)
    return 0.1


def gradient_near_overflow(step, Ws, bs, dZs, cache, dtype):
    """dZ_H Iᵀ may come near the maximum, although lr is so small that the update would be tiny."""
    dZs[0][0, 0] = 0.6 * sqrt_max(dtype)  # ‖dZ_H‖² = 0.72 of the maximum
    cache[0][0][0, 0] = 0.9 * sqrt_max(dtype)
    dZs[0][0, 1] = -dZs[0][0, 0]  # no bias sum
    cache[0][0][0, 1] = 0.0
    return 1e-30


def weight_update_overflows(step, Ws, bs, dZs, cache, dtype):
    """W − lr dZ Xᵀ beyond the range, while the biases' bound holds: I is large, and dZ's rows sum to 0."""
    dZs[0][:, 0], dZs[0][:, 1] = 1.0, -1.0
    X = cache[0][0]
    X *= 1000.0
    sums = np.sqrt(X.shape[1]) * np.linalg.norm(dZs[0])  # the bound of a bias sum over the batch
    return float(0.5 * step.limit / sums)  # lr · sums is half the limit; lr · ‖dZ‖‖X‖ is hundreds of times it


def bias_update_overflows(step, Ws, bs, dZs, cache, dtype):
    """b − lr Σ dZ beyond the range, while X = 0 (the weights don't move)."""
    cache[0][0][...] = 0.0
    dZs[0][:, :] = 1.0
    return float(np.finfo(dtype).max) / 4


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", [forward_near_overflow, gradient_near_overflow, weight_update_overflows,
                                  bias_update_overflows], ids=lambda f: f.__name__)
def test_each_bound_of_the_folded_update_refuses_on_its_own(monkeypatch, dtype, case):
    require_gemm()
    step, Ws, bs, dZs, cache = folded_step(monkeypatch, dtype)
    lr = case(step, Ws, bs, dZs, cache, dtype)
    assert not step._bounded(Ws, bs, dZs, cache, lr, None), case.__doc__


def test_read_only_parameters_are_refused_before_any_write(route):
    net, Y = trained_net(np.float64, 1)
    net.params["W_H"].flags.writeable = False  # the first layer's: an update that wrote as it went would
    before = snapshot(net)                      # already have changed the output layer's parameters
    I, _ = random_batch(SIZES, 32, seed=5)
    with pytest.raises(ValueError, match=re.escape("net.params['W_H'] is read-only")):
        net.train_step(I, Y, 0.1)
    assert_params_identical(net, before, "read-only W_H")


def test_the_output_overflow_is_named():
    net = MLP(SIZES, seed=0)
    net.params["b_O"][0, 0] = np.inf
    I, Y = random_batch(SIZES, 32, seed=1)
    with pytest.raises(ValueError, match=re.escape("the output O must be finite")):
        net.train_step(I, Y, 0.1)


def unaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` one byte off its dtype's alignment (``flags.aligned`` False)."""
    raw = np.empty(a.nbytes + 1, np.uint8)[1:]
    out = raw.view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


EDITS = {"fortran-order": np.asfortranarray, "other-dtype": lambda W: W.astype(np.float32),
         "unaligned": unaligned}


@pytest.mark.parametrize("edit", EDITS)
def test_parameters_the_tuned_route_cannot_take_use_the_reference(route, edit):
    fast, plain = twins(SIZES, "sigmoid", "identity", "half_sse", np.float64)
    for net in (fast, plain):
        net.params["W_H"] = EDITS[edit](net.params["W_H"])
    I, Y = random_batch(SIZES, 32, seed=1)
    L_fast = fast.train_step(I, Y, 0.1)
    O = plain.forward(I)
    L_plain = plain.loss(O, Y)
    plain.sgd_step(plain.backward(Y), 0.1)
    assert L_fast == L_plain
    for key, p in plain.params.items():
        assert np.array_equal(fast.params[key], p), key


def test_an_unaligned_input_gives_the_aligned_inputs_step(route):
    nets = twins(SIZES, "sigmoid", "identity", "half_sse", np.float64)
    I, Y = random_batch(SIZES, 32, seed=1)
    losses = [net.train_step(batch, Y, 0.1) for net, batch in zip(nets, (I, unaligned(I)))]
    assert losses[0] == losses[1]
    assert_params_identical(nets[1], snapshot(nets[0]), "the step on an unaligned copy of I")


def test_the_buffers_follow_the_batch_size_and_the_net():
    net = MLP(SIZES, seed=0)
    for N in (32, 5, 32):
        I, Y = random_batch(SIZES, N, seed=N)
        net.train_step(I, Y, 0.01)
        assert net.forward(I).shape == (2, N)


def test_public_surface_for_the_step():
    net = MLP([3, 5, 4, 2], activation="tanh", output_activation="sigmoid", loss="mse")
    assert [a.name for a in net.layer_activations] == ["tanh", "tanh", "sigmoid"]
    assert net.loss_function.name == "mse" and net.loss_function.targets == "dense"
    with pytest.raises(AttributeError):
        net.loss_function = None
