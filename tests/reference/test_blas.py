"""NumPy's own gemm (manual_backprop/_blas.py): its fallbacks, and the checks at its call.

The fallbacks: NumPy's build configuration is patched to say what other builds
say (MKL, Accelerate, no configuration at all), or the library's name is
changed, and each time the tuned step must take np.matmul, say why through
``fast_step.gemm_route()``, and still give the reference's step. The checks: a
gemm call handed something a BLAS would misread raises, and writes nothing.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from helpers.common import DTYPES, assert_close, random_batch
from manual_backprop import MLP, _blas, fast_step
from manual_backprop.oracle.tolerances import tolerance_for


@pytest.fixture
def fresh_lookup(monkeypatch):
    """The gemm looked up anew after the test's patches, and again after they are undone."""
    monkeypatch.setattr(fast_step, "GEMM_MIN", 0)  # were a gemm found, every layer would take it
    _blas.numpy_gemm.cache_clear()
    yield monkeypatch
    _blas.numpy_gemm.cache_clear()


def with_blas_named(name):
    def patch(monkeypatch):
        config = copy.deepcopy(getattr(np.__config__, "CONFIG", None) or {})
        config.setdefault("Build Dependencies", {})["blas"] = {"name": name, "found": True}
        monkeypatch.setattr(np.__config__, "CONFIG", config, raising=False)  # NumPy < 1.26 has none
    return patch


def without_config(monkeypatch):
    monkeypatch.delattr(np.__config__, "CONFIG", raising=False)


def with_config_none(monkeypatch):
    monkeypatch.setattr(np.__config__, "CONFIG", None, raising=False)


def with_renamed_symbols(monkeypatch):
    monkeypatch.setattr(_blas, "SYMBOL_PREFIX", "renamed_cblas_")


def with_module_missing(monkeypatch):
    monkeypatch.setattr(_blas, "MODULES", ("numpy._core._no_such_module",))


def with_wrong_results(monkeypatch):
    """float64 arrays handed to the float32 gemm (which reads half their bytes, never beyond them): a library
    whose gemm computes something else."""
    (f64, _, _), (f32, s, single) = _blas._DTYPES
    monkeypatch.setattr(_blas, "_DTYPES", ((f64, s, single), (f32, s, single)))


# Failures met only after NumPy's own OpenBLAS is found: where it is not (NumPy < 1.26 states no
# build configuration), an earlier reason stands and there is nothing for these patches to break.
AFTER_OPENBLAS_FOUND = {"renamed-symbol", "module-missing", "wrong-results"}

# (id, patch, words the reason must hold)
FALLBACKS = [
    ("mkl", with_blas_named("mkl-sdl"), ["mkl-sdl", "np.matmul"]),
    ("accelerate", with_blas_named("accelerate"), ["accelerate", "np.matmul"]),
    ("no-config", without_config, ["numpy.__config__.CONFIG", "np.matmul"]),
    ("config-none", with_config_none, ["numpy.__config__.CONFIG", "np.matmul"]),
    ("renamed-symbol", with_renamed_symbols, ["renamed_cblas_dgemm", "not found", "np.matmul"]),
    ("module-missing", with_module_missing, ["_no_such_module", "ModuleNotFoundError", "np.matmul"]),
    ("wrong-results", with_wrong_results, ["gemm gave", "np.matmul"]),
]


def calls_made(net, I, Y, lr) -> tuple[float, set]:
    """One train_step of ``net``, and the names of the NumPy functions, gemm and kernels it called."""
    names: set = set()

    def record(name, fn):
        def call(*args, **kwargs):
            names.add(name)
            return fn(*args, **kwargs)
        return call

    with fast_step.instrumented(record):
        loss = net.train_step(I, Y, lr)
    return loss, names


def assert_step_equals_reference(sizes, dtype, route_called: str):
    """Two steps of train_step against forward → loss → backward → sgd_step on a twin; ``route_called`` is the
    product each step must have called ("gemm" or "matmul")."""
    fast, plain = (MLP(sizes, dtype=dtype, seed=2) for _ in range(2))
    tol = tolerance_for(dtype)
    for step in range(2):
        I, Y = random_batch(sizes, 64, seed=step)
        loss, called = calls_made(fast, I, Y, 0.05)
        assert route_called in called, f"step {step}: no {route_called} among {sorted(called)}"
        if route_called == "matmul":
            assert "gemm" not in called, f"step {step}: a gemm was called on the fallback"
        O = plain.forward(I)
        expected = plain.loss(O, Y)
        plain.sgd_step(plain.backward(Y), 0.05)
        assert_close(loss, expected, f"step {step}: the loss", tol)
        for key, p in plain.params.items():
            assert_close(fast.params[key], p, f"step {step}: {key}", tol)


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("name,patch,words", FALLBACKS, ids=[f[0] for f in FALLBACKS])
def test_another_blas_falls_back_to_matmul_and_says_why(fresh_lookup, name, patch, words, dtype):
    if name in AFTER_OPENBLAS_FOUND:
        found, unpatched = _blas.numpy_gemm()
        if found is None:
            pytest.skip(f"{name} breaks a lookup that gets further than this NumPy's: {unpatched}")
        _blas.numpy_gemm.cache_clear()
    patch(fresh_lookup)
    gemm, reason = _blas.numpy_gemm()
    assert gemm is None, reason
    route = fast_step.gemm_route()
    assert not route.taken and route.reason == reason
    for word in words:
        assert word in reason, f"{name}: {word!r} not in the reason {reason!r}"
    assert_step_equals_reference([6, 12, 3], dtype, "matmul")


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_numpys_own_openblas_is_found_and_taken(fresh_lookup, dtype):
    """The unpatched lookup, for contrast: where NumPy states its wheels' OpenBLAS, the gemm is found and used."""
    config = getattr(np.__config__, "CONFIG", None) or {}
    if config.get("Build Dependencies", {}).get("blas", {}).get("name") != "scipy-openblas":
        pytest.skip(f"NumPy {np.__version__} does not state its wheels' OpenBLAS: {fast_step.gemm_route().reason}")
    route = fast_step.gemm_route()
    assert route.taken, route.reason
    assert "gemm" in route.reason and "found" in route.reason
    assert_step_equals_reference([6, 12, 3], dtype, "gemm")


def test_the_route_off_says_so(monkeypatch):
    monkeypatch.setattr(fast_step, "USE_GEMM", False)
    route = fast_step.gemm_route()
    assert not route.taken and "USE_GEMM is False" in route.reason


# --- the checks at the call ----------------------------------------------------------------------

@pytest.fixture
def gemm():
    found, reason = _blas.numpy_gemm()
    if found is None:
        pytest.skip(reason)
    return found


def whole(shape, dtype, start=0):
    """Small whole numbers: every product and sum is exact, in any order."""
    return (np.arange(np.prod(shape)).reshape(shape) % 7 - 3 + start).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_computes_alpha_op_a_op_b_plus_beta_c(gemm, dtype, trans_a, trans_b):
    M, N, K = 3, 5, 4
    A = whole((K, M) if trans_a else (M, K), dtype)
    B = whole((N, K) if trans_b else (K, N), dtype, 1)
    C = whole((M, N), dtype, 2)
    expected = 2 * (A.T if trans_a else A) @ (B.T if trans_b else B) - 1 * C
    gemm(2.0, A, trans_a, B, trans_b, -1.0, C)
    assert np.array_equal(C, expected)


def unaligned(shape, dtype):
    raw = np.zeros(int(np.prod(shape)) * np.dtype(dtype).itemsize + 1, np.uint8)[1:]
    out = raw.view(dtype).reshape(shape)
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


def read_only(a):
    a.flags.writeable = False
    return a


# Each: (id, the arguments changed from a good call's, the error, a fragment of its message). The good call
# is gemm(1.0, A (3, 4), False, B (4, 5), False, 0.0, C (3, 5)), float64.
BAD = [
    ("A-a-list", {"A": [[1.0] * 4] * 3}, TypeError, "A must be a NumPy array; got list"),
    ("C-None", {"C": None}, TypeError, "NumPy array"),
    ("B-1-D", {"B": np.ones(20)}, TypeError, "B must be 2-D; got 1-D"),
    ("B-float32", {"B": np.ones((4, 5), np.float32)}, TypeError, "one dtype of float64, float32"),
    ("all-int64", {"A": np.ones((3, 4), np.int64), "B": np.ones((4, 5), np.int64),
                   "C": np.ones((3, 5), np.int64)}, TypeError, "one dtype"),
    ("alpha-int", {"alpha": 1}, TypeError, "alpha must be a float; got int"),
    ("beta-str", {"beta": "0"}, TypeError, "beta must be a float; got str"),
    ("A-fortran", {"A": np.asfortranarray(np.ones((3, 4)))}, ValueError, "A must be C-contiguous"),
    ("B-strided", {"B": np.ones((4, 10))[:, ::2]}, ValueError, "B must be C-contiguous"),
    ("C-transposed-view", {"C": np.ones((5, 3)).T}, ValueError, "C must be C-contiguous"),
    ("A-unaligned", {"A": unaligned((3, 4), np.float64)}, ValueError, "A must be aligned"),
    ("C-unaligned", {"C": unaligned((3, 5), np.float64)}, ValueError, "C must be aligned"),
    ("C-read-only", {"C": read_only(np.ones((3, 5)))}, ValueError, "C is read-only"),
    ("K-mismatch", {"B": np.ones((5, 5))}, ValueError, "op(A) (3, 4) times op(B) (5, 5)"),
    ("M-mismatch", {"A": np.ones((2, 4))}, ValueError, "must give C's shape (3, 5)"),
    ("N-mismatch", {"C": np.ones((3, 6))}, ValueError, "must give C's shape (3, 6)"),
    ("trans-a-mismatch", {"trans_a": True}, ValueError, "op(A) (4, 3)"),
    ("trans-b-mismatch", {"trans_b": True}, ValueError, "op(B) (5, 4)"),
]


@pytest.mark.parametrize("changes,exc,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_gemm_refuses_what_a_blas_would_misread_and_writes_nothing(gemm, changes, exc, fragment):
    call = {"alpha": 1.0, "A": np.ones((3, 4)), "trans_a": False, "B": np.ones((4, 5)), "trans_b": False,
            "beta": 0.0, "C": np.full((3, 5), 7.0)}
    call.update(changes)
    before = np.array(call["C"], copy=True) if isinstance(call["C"], np.ndarray) else None
    with pytest.raises(exc, match=re.escape(fragment)):
        gemm(*call.values())
    if before is not None:
        assert np.array_equal(call["C"], before), "a refused call wrote C"


def test_gemm_refuses_an_output_overlapping_an_input(gemm):
    buffer = np.ones((4, 4))
    A, C = buffer[:2], buffer[1:3]  # rows 1 of A and 0 of C are the same memory
    with pytest.raises(ValueError, match="C shares memory with A or B"):
        gemm(1.0, A, False, np.ones((4, 4)), False, 0.0, C)
    assert np.array_equal(buffer, np.ones((4, 4)))
