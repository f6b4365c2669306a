"""NumPy's own BLAS ``gemm``, found through NumPy's build configuration and called through ctypes.

``np.matmul`` computes ``A B``; BLAS's ``gemm`` computes ``C := α op(A) op(B) + β C``
in one pass, so an update ``W ← W − lr · dZ Xᵀ`` needs no gradient array and no
second pass over ``W``. NumPy exposes no α or β, so ``numpy_gemm`` looks the
function up in the OpenBLAS NumPy itself loaded: the same library and the
same thread pool as ``np.matmul``.

Only NumPy's own wheels' BLAS, scipy-openblas, is used: its build
configuration (``numpy.__config__.CONFIG``, NumPy ≥ 1.26) names it and says
the integer width, and its exported names follow from that width
(``scipy_cblas_dgemm64_`` with 64-bit integers, ``scipy_cblas_dgemm`` with
32-bit ones). Anything else (MKL, Accelerate, a NumPy built against a system
BLAS, a name not found) gives no gemm and a sentence saying why; the tuned
step then uses ``np.matmul``.

A gemm handed a pointer reads and writes wherever the sizes say, so
``Gemm.__call__`` checks every argument (arrays, dtype, C order, alignment,
shapes, a writable and separate output) before the call and raises
TypeError or ValueError on a mismatch.
"""

from __future__ import annotations

import ctypes
import functools
import importlib

import numpy as np

SYMBOL_PREFIX = "scipy_cblas_"  # scipy-openblas's prefix of its CBLAS names
# NumPy's extension module that links its BLAS, so that its handle finds the BLAS's names (NumPy 2, then 1.x)
MODULES = ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath")
_ROW_MAJOR, _PLAIN, _TRANSPOSED = 101, 111, 112  # CBLAS's enum values
_DTYPES = ((np.dtype(np.float64), "d", ctypes.c_double), (np.dtype(np.float32), "s", ctypes.c_float))


class Gemm:
    """``gemm(alpha, A, trans_a, B, trans_b, beta, C)``: ``C := alpha · op(A) op(B) + beta · C``.

    ``op(X)`` is ``Xᵀ`` when its flag is true. ``A``, ``B`` and ``C`` are 2-D
    NumPy arrays of one dtype (float64 or float32), C-contiguous and aligned;
    ``C`` is writable and shares no memory with ``A`` or ``B``; ``op(A)`` is
    ``(M, K)``, ``op(B)`` is ``(K, N)`` and ``C`` is ``(M, N)``. Anything else is a
    TypeError (not arrays, not 2-D, another dtype, α or β not a float) or a ValueError
    (layout, shapes, a read-only or overlapping ``C``), and nothing is written.
    """

    __slots__ = ("_functions", "_largest", "symbols")

    def __init__(self, functions: dict, largest: int, symbols: tuple[str, ...]):
        self._functions = functions  # dtype -> the ctypes function
        self._largest = largest  # the largest size the BLAS's integers hold
        self.symbols = symbols

    def __call__(self, alpha, A, trans_a, B, trans_b, beta, C) -> None:
        fn = self._functions.get(getattr(C, "dtype", None))
        if fn is None or not (isinstance(A, np.ndarray) and isinstance(B, np.ndarray)
                              and isinstance(C, np.ndarray) and A.dtype == B.dtype == C.dtype
                              and isinstance(alpha, float) and isinstance(beta, float)
                              and A.ndim == B.ndim == C.ndim == 2):
            raise self._type_error(alpha, A, B, beta, C)
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        if not (A.flags.c_contiguous and A.flags.aligned and B.flags.c_contiguous and B.flags.aligned
                and C.flags.carray  # C-contiguous, aligned and writable
                and (A.shape[1] if trans_a else A.shape[0]) == M
                and (B.shape[1] if trans_b else B.shape[0]) == K and (B.shape[0] if trans_b else B.shape[1]) == N
                and max(M, N, K) <= self._largest
                and not np.may_share_memory(C, A) and not np.may_share_memory(C, B)):
            raise self._value_error(A, trans_a, B, trans_b, C)
        fn(_ROW_MAJOR, _TRANSPOSED if trans_a else _PLAIN, _TRANSPOSED if trans_b else _PLAIN, M, N, K,
           alpha, A.ctypes.data, max(1, A.shape[1]), B.ctypes.data, max(1, B.shape[1]),
           beta, C.ctypes.data, max(1, N))

    def _type_error(self, alpha, A, B, beta, C) -> TypeError:
        named = {"A": A, "B": B, "C": C}
        for name, a in named.items():
            if not isinstance(a, np.ndarray):
                return TypeError(f"gemm: {name} must be a NumPy array; got {type(a).__name__}")
        for name, a in named.items():
            if a.ndim != 2:
                return TypeError(f"gemm: {name} must be 2-D; got {a.ndim}-D, shape {a.shape}")
        for name, x in (("alpha", alpha), ("beta", beta)):
            if not isinstance(x, float):
                return TypeError(f"gemm: {name} must be a float; got {type(x).__name__} {x!r}")
        known = ", ".join(d.name for d in self._functions)
        return TypeError(f"gemm: A, B and C must share one dtype of {known}; got "
                         f"{A.dtype}, {B.dtype} and {C.dtype}")

    def _value_error(self, A, trans_a, B, trans_b, C) -> ValueError:
        for name, a in (("A", A), ("B", B), ("C", C)):
            if not a.flags.c_contiguous:
                return ValueError(f"gemm: {name} must be C-contiguous; got strides {a.strides} for shape {a.shape}")
            if not a.flags.aligned:
                return ValueError(f"gemm: {name} must be aligned for {a.dtype}; its data starts at "
                                  f"{a.ctypes.data:#x}")
        if not C.flags.writeable:
            return ValueError("gemm: C is read-only (flags.writeable is False) and gemm writes it")
        op_a = A.T.shape if trans_a else A.shape
        op_b = B.T.shape if trans_b else B.shape
        if op_a[0] != C.shape[0] or op_b[1] != C.shape[1] or op_a[1] != op_b[0]:
            return ValueError(f"gemm: op(A) {op_a} times op(B) {op_b} must give C's shape {C.shape} "
                              f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)})")
        if max(C.shape + op_a) > self._largest:
            return ValueError(f"gemm: a size of {max(C.shape + op_a)} exceeds what this BLAS's integers "
                              f"hold ({self._largest})")
        return ValueError("gemm: C shares memory with A or B; gemm reads them while it writes C")


@functools.cache
def numpy_gemm() -> tuple[Gemm | None, str]:
    """(the ``Gemm`` of the OpenBLAS NumPy loaded, or None; a sentence saying which and why).

    Looked up once per process (``numpy_gemm.cache_clear()`` looks again).
    """
    config = getattr(np.__config__, "CONFIG", None)
    if not isinstance(config, dict):
        return None, (f"NumPy {np.__version__} states no build configuration (numpy.__config__.CONFIG, "
                      f"NumPy ≥ 1.26), so its BLAS is unknown: np.matmul")
    dependencies = config.get("Build Dependencies")
    blas = dependencies.get("blas") if isinstance(dependencies, dict) else None
    name = blas.get("name") if isinstance(blas, dict) else None
    if name != "scipy-openblas":
        return None, (f"NumPy's BLAS is {name or 'not stated in numpy.__config__.CONFIG'}, not its wheels' "
                      f"OpenBLAS (scipy-openblas): np.matmul")
    wide = "64BITINT" in str(blas.get("openblas configuration", ""))  # type: ignore[union-attr]
    index, suffix = (ctypes.c_int64, "64_") if wide else (ctypes.c_int32, "")
    lib, failures = None, []
    for module in MODULES:
        try:
            lib = ctypes.CDLL(importlib.import_module(module).__file__)  # already loaded: this gives its handle
            break
        except (ImportError, OSError) as err:
            failures.append(f"{module}: {type(err).__name__}: {err}")
    if lib is None:
        return None, f"NumPy's extension module could not be opened ({'; '.join(failures)}): np.matmul"
    functions, symbols = {}, []
    for dtype, letter, real in _DTYPES:
        symbol = f"{SYMBOL_PREFIX}{letter}gemm{suffix}"
        try:
            fn = getattr(lib, symbol)
        except AttributeError:
            return None, (f"OpenBLAS's {symbol} not found in NumPy's {module} (its BLAS exports other "
                          f"names): np.matmul")
        fn.restype = None
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, index, index, index, real,
                       ctypes.c_void_p, index, ctypes.c_void_p, index, real, ctypes.c_void_p, index]
        functions[dtype] = fn
        symbols.append(symbol)
    gemm = Gemm(functions, (1 << 63) - 1 if wide else (1 << 31) - 1, tuple(symbols))
    wrong = _self_test(gemm)
    if wrong:
        return None, f"OpenBLAS's {wrong}: np.matmul"
    return gemm, (f"OpenBLAS's {' and '.join(symbols)} found in NumPy's {module} "
                  f"({64 if wide else 32}-bit integers)")


def _self_test(gemm: Gemm) -> str:
    """'' if small products of whole numbers (exact in any order) come out right, else what went wrong."""
    A = np.arange(6.0).reshape(2, 3)
    B = np.arange(6.0).reshape(3, 2) - 2
    for dtype, _, _ in _DTYPES:
        a, b = A.astype(dtype), B.astype(dtype)
        for trans_a, trans_b, left, right in ((False, False, a, b), (True, True, a.T.copy(), b.T.copy())):
            C = np.ones((2, 2), dtype)
            gemm(2.0, left, trans_a, right, trans_b, -1.0, C)
            expected = 2 * np.matmul(a, b) - 1
            if not np.array_equal(C, expected):
                return (f"{dtype.name} gemm gave {C.tolist()} where 2 · A B − 1 is {expected.tolist()} "
                        f"(trans_a={trans_a}, trans_b={trans_b})")
    return ""
