"""The tuned training step behind ``MLP.train_step``: the reference's arithmetic, with less traffic.

The reference (``network_forward`` → loss → ``network_backward`` →
``MLP.sgd_step``) is written to be read against the seed: every step makes
fresh arrays, forms every gradient, then forms every new parameter aside and
scans it before writing. On a large net each of those is another pass over
megabytes, and each fresh array must be faulted in by the allocator. This
module computes the same step (equal up to rounding; ``tests/reference/test_fast_step.py``
holds it to that for every activation, loss, dtype and depths 1–3), and
differs in these ways, each for speed:

- **Work buffers.** Every array the step writes is allocated once per net and
  batch size and reused, with ``out=`` throughout. The forward's arrays come in
  two sets used in turn: the step writes into the set that is not the net's
  current cache and hands it over only when the whole step has succeeded, so a
  step that raises leaves the cache, like the parameters, as it was.
- **The update folded into the product, through NumPy's own BLAS.** For a
  large layer, ``W ← W − lr · dZ Xᵀ`` is one ``gemm`` with α = −lr and β = 1
  writing into ``W``: no gradient array is formed and no separate update pass
  reads and writes ``W`` again. The forward's bias goes the same way: ``Z`` is
  filled with ``b`` (a write-only pass) and the ``gemm`` adds ``W X`` into it.
  NumPy exposes no α or β, so ``gemm`` is called through ``ctypes`` in the
  OpenBLAS that NumPy itself loaded (``_numpy_gemm``): the same library and
  the same thread pool as ``np.matmul``. Where NumPy was built against another
  BLAS (its build configuration says which), for small layers, and with
  ``USE_GEMM = False``, the step uses ``np.matmul`` and updates as below.
- **All or nothing, checked cheaply.** The reference forms the new values
  aside and scans them. A folded layer can't: the ``gemm`` writes ``W`` as it
  goes. So before the first write, one BLAS dot per array gives ``‖W‖``,
  ``‖b‖``, ``‖dZ‖`` and ``‖X‖`` (each finite only if every entry is), and
  Cauchy–Schwarz bounds every partial sum the step forms: of the forward's
  ``W X + b`` by ``‖W‖‖X‖ + ‖b‖`` (OpenBLAS's worker threads flag no
  overflow to NumPy), of ``dZ Xᵀ`` by ``‖dZ‖‖X‖``, of a new weight by
  ``‖W‖ + lr ‖dZ‖‖X‖``, of a new bias by ``‖b‖ + lr √N ‖dZ‖``. When each is
  below a quarter of the dtype's maximum nothing can overflow, and the step
  writes in place. The other layers do as the reference does, with fewer
  calls: their gradients go into one array, scaled by lr in one call, each
  new value ``w − lr · dL/dw`` written over its gradient there, and one dot
  of that array with itself scans them all; then they are copied in. On the
  seed's net that is what keeps the step a fraction of torch's. A NaN, an
  inf or a value near overflow (rare) sends the step back to the reference's
  road, which writes nothing unless every new value is finite and names the
  culprit when not.
- **Fewer passes for the common layers**, in place: sigmoid and tanh hidden
  layers, the identity output, the ``half_sse`` and ``mse`` losses. The
  sigmoid is ``e / (1 + e)`` with ``e = exp(min(z, c))`` and ``c`` the largest
  whole number whose ``exp`` is finite in the dtype: four passes where the
  reference's two-branch form takes seven. For ``z < 0`` it is the reference's
  own branch, bit for bit; for ``z ≥ 0`` it is another exact rewriting of σ,
  equal to rounding (a few units in the last place), and it never overflows.
  Bias sums over the batch are a matrix-vector product with ones (BLAS, both
  cores). Every other activation and loss uses its registry entry's forward
  and backward, unchanged.

Measured and dropped: SciPy's BLAS for the fold (NumPy's and SciPy's
OpenBLAS each keep a thread pool, and handing the cores between them cost
more than the fold saved), and the element-wise work split over two threads:
right after a two-thread product, a second element-wise thread gained
nothing. Taking the second core from OpenBLAS instead (one BLAS thread for
the whole step, and two lanes of our own, each with its half of every
layer's rows) brought the big float64 net's step within 2–4 % of its
products in a prototype that lacked some of the checks, but made the big
float32 net's step and the 256-512-256 net's a third slower than this one,
and it changes NumPy's BLAS threads for the whole process during each step.
``scripts/step_profile.py`` times each operation of this step.

The contract is the reference's: every error raised before the first write,
nothing changed by a call that raises, and the same forward cache left for a
later ``net.backward``.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import weakref
from typing import Any

import numpy as np

from .validation import OUTPUT_HINT, check_finite

USE_GEMM = True  # False: np.matmul and a separate update pass everywhere (the tests run both)
GEMM_MIN = 1 << 18  # layers of fewer multiply-adds use np.matmul: ctypes' call overhead would dominate

_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> its TrainStep
_GEMM: dict | None = None  # dtype -> gemm(alpha, A, trans_a, B, trans_b, beta, C), once looked up


def train_step(net, I: np.ndarray, Y: np.ndarray, lr: float):
    """One SGD step of ``net`` on checked inputs; returns (loss before the step, the forward cache).

    ``I`` must already be a finite ``(D_I, N)`` array of ``net.dtype``, ``Y`` the
    checked targets and ``lr`` a checked float (``MLP.train_step`` does this).
    Raises ValueError, with nothing written, for read-only parameters, an
    overflowing forward or loss, or an update that is not finite.
    """
    step = _STEPS.get(net)
    if step is None or not step.fits(net, I.shape[1]):
        step = _STEPS[net] = TrainStep(net, I.shape[1])
    return step(net, I, Y, lr)


# --- NumPy's own gemm, through ctypes -------------------------------------------------------------

def _numpy_gemm() -> dict:
    """``{dtype: gemm}`` for float64 and float32 from the OpenBLAS NumPy loaded, or ``{}``.

    Only for NumPy's own wheels' BLAS, scipy-openblas, whose exported names and
    integer width the build configuration states (``scipy_cblas_dgemm64_`` with
    64-bit integers, or without the suffix with 32-bit ones). Anything else, or
    any failure to find the names, leaves the step on ``np.matmul``.
    """
    global _GEMM
    if _GEMM is None:
        try:
            _GEMM = _load_gemm()
        except Exception:  # pragma: no cover - any surprise in a foreign build: use np.matmul
            _GEMM = {}
    return _GEMM


def gemm_route() -> bool:
    """Whether large layers fold their update into NumPy's own gemm here (else np.matmul throughout)."""
    return bool(USE_GEMM and _numpy_gemm())


def _load_gemm() -> dict:
    config = getattr(np.__config__, "CONFIG", {})  # NumPy ≥ 1.26
    blas = config.get("Build Dependencies", {}).get("blas", {})
    if blas.get("name") != "scipy-openblas":
        return {}
    wide = "64BITINT" in str(blas.get("openblas configuration", ""))
    index, suffix = (ctypes.c_int64, "64_") if wide else (ctypes.c_int, "")
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:  # pragma: no cover - NumPy 1.x
        umath = importlib.import_module("numpy.core._multiarray_umath")
    lib = ctypes.CDLL(umath.__file__)  # already loaded: its handle also finds the BLAS it links
    found = {}
    for dtype, letter, real in ((np.float64, "d", ctypes.c_double), (np.float32, "s", ctypes.c_float)):
        fn = getattr(lib, f"scipy_cblas_{letter}gemm{suffix}")
        fn.restype = None
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, index, index, index, real,
                       ctypes.c_void_p, index, ctypes.c_void_p, index, real, ctypes.c_void_p, index]
        found[np.dtype(dtype)] = _gemm_caller(fn)
    return found


def _gemm_caller(fn):
    row_major, plain, transposed = 101, 111, 112  # CBLAS's enum values

    def gemm(alpha, A, trans_a, B, trans_b, beta, C):
        """C := alpha · op(A) op(B) + beta · C, all C-contiguous 2-D arrays of one dtype; op = ·ᵀ if trans."""
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        fn(row_major, transposed if trans_a else plain, transposed if trans_b else plain, M, N, K,
           alpha, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1], beta, C.ctypes.data, N)
    return gemm


# --- element-wise kernels, in place, with one scratch array T of the same shape ------------------

def _exp_cap(dtype) -> float:
    """The largest whole number whose exp is finite in ``dtype`` (709 in float64, 88 in float32)."""
    return float(math.floor(math.log(float(np.finfo(dtype).max))))


def _sigmoid_forward(Z, A, T):
    """A := σ(Z) as e / (1 + e), e = exp(min(Z, c)): bit for bit the reference for Z < 0, never overflowing."""
    np.minimum(Z, _CAP[Z.dtype], out=A)
    np.exp(A, out=A)
    np.add(A, 1.0, out=T)
    np.divide(A, T, out=A)


def _sigmoid_backward(dA, A, T):
    """dA := dA ⊙ A ⊙ (1 − A), in the reference's order, so bit for bit its result."""
    np.subtract(1.0, A, out=T)
    dA *= A
    dA *= T


def _tanh_forward(Z, A, T):
    np.tanh(Z, out=A)


def _tanh_backward(dA, A, T):
    """dA := dA ⊙ (1 − A²), in the reference's order."""
    np.multiply(A, A, out=T)
    np.subtract(1.0, T, out=T)
    dA *= T


_CAP = {np.dtype(d): _exp_cap(d) for d in (np.float64, np.float32)}

# name -> (forward(Z, A, T), backward_in_place(dA, A, T), output bounded by 1 in magnitude)
FAST_ACTIVATIONS = {
    "sigmoid": (_sigmoid_forward, _sigmoid_backward, True),
    "tanh": (_tanh_forward, _tanh_backward, True),
}


class _Layer:
    """One layer's buffers and choices; ``sets`` holds its (Z, A) in each of the two forward sets."""

    __slots__ = ("W_key", "b_key", "shapes", "act", "kind", "forward", "backward", "gemm", "sets", "G",
                 "db", "db_column", "new_b", "ones", "T", "bounded_input")
    W_key: str
    b_key: str
    shapes: tuple
    act: Any  # the registry's Activation
    kind: str  # "fast" (a kernel here), "identity" or "other" (the registry's forward and backward)
    forward: Any
    backward: Any
    gemm: Any  # NumPy's gemm when the update is folded into it, else None
    sets: list
    G: Any  # without gemm: the weight's gradient, then its new value (a view of the aside array)
    db: np.ndarray  # the bias gradient, flat; without gemm then its new value
    db_column: np.ndarray  # the same, (fan_out, 1)
    new_b: Any  # with gemm: the new bias, formed aside
    ones: np.ndarray
    T: np.ndarray
    bounded_input: bool


class TrainStep:
    """The work buffers of one net at one batch size, and the step that uses them."""

    def __init__(self, net, N: int):
        self.sizes, self.dtype, self.N = tuple(net.sizes), np.dtype(net.dtype), N
        self.activations = tuple(net.layer_activations)
        self.loss = net.loss_function
        dt = self.dtype
        gemm = _numpy_gemm().get(dt) if USE_GEMM else None
        outs = self.sizes[1:]
        self.layers: list[_Layer] = []
        pairs = list(zip(self.sizes[:-1], outs))
        folded = [gemm is not None and fan_in * fan_out * N >= GEMM_MIN for fan_in, fan_out in pairs]
        # the new values of the layers whose update is not folded into a gemm, formed aside in one array
        aside = np.empty(sum(fo * (fi + 1) for (fi, fo), f in zip(pairs, folded) if not f), dt)
        self.aside = aside if aside.size else None
        start = 0
        ones = np.ones(N, dt)  # Σ over the batch as a product with ones
        bounded = False  # the input I is not bounded; a sigmoid or tanh output is, by 1
        for name, (fan_in, fan_out), act, fold in zip(net.layer_names, pairs, self.activations, folded):
            L = _Layer()
            L.W_key, L.b_key, L.act = "W_" + name, "b_" + name, act
            L.shapes = ((fan_out, fan_in), (fan_out, 1))
            L.kind = ("fast" if act.name in FAST_ACTIVATIONS else
                      "identity" if act.name == "identity" else "other")
            L.forward, L.backward, bounded_output = FAST_ACTIVATIONS.get(act.name, (None, None, False))
            L.gemm = gemm if fold else None
            L.sets = [(np.empty((fan_out, N), dt), np.empty((fan_out, N), dt) if L.kind == "fast" else None)
                      for _ in range(2)]
            if fold:  # the bias's new value aside; the weight's is written by the gemm
                L.G, L.db = None, np.empty(fan_out, dt)
                L.new_b = np.empty((fan_out, 1), dt)
            else:  # the gradient, then the new value, in the aside array
                L.G = aside[start:start + fan_out * fan_in].reshape(fan_out, fan_in)
                L.db = aside[start + fan_out * fan_in:start + fan_out * (fan_in + 1)]
                L.new_b = None
                start += fan_out * (fan_in + 1)
            L.db_column = L.db.reshape(fan_out, 1)
            L.ones = ones
            L.bounded_input, bounded = bounded, bounded_output
            self.layers.append(L)
        self.current = 1  # the set last handed out; the next step writes the other one
        # dL/dA of every hidden layer's output (dZ is formed in it, in place); dL/dO; one scratch
        self.dA = [np.empty((d, N), dt) for d in outs[:-1]]
        self.dO = np.empty((outs[-1], N), dt) if self.loss.name in ("half_sse", "mse") else None
        T = np.empty(max(outs) * N, dt)  # the kernels' scratch, one view per layer
        for L, d in zip(self.layers, outs):
            L.T = T[:d * N].reshape(d, N)
        self.limit = 0.25 * float(np.finfo(dt).max)  # margin for the rounding of the bounds' own terms
        self.params_in_order = [(key, shape, is_W) for L in self.layers
                                for key, shape, is_W in ((L.W_key, L.shapes[0], True), (L.b_key, L.shapes[1], False))]
        self.folded = [i for i, L in enumerate(self.layers) if L.gemm]
        self.not_folded = [i for i, L in enumerate(self.layers) if not L.gemm]

    def fits(self, net, N: int) -> bool:
        """Still the right buffers: same batch, dtype, layers and loss (the parameters' shapes are checked
        on every call)."""
        return (N == self.N and net.dtype == self.dtype and net.layer_activations == self.activations
                and net.loss_function == self.loss)

    def __call__(self, net, I, Y, lr):
        params, dt, layers = net.params, self.dtype, self.layers
        if len(params) != 2 * len(layers):
            return self._reference_step(net, I, Y, lr)
        Ws, bs = [], []
        for key, shape, into in self.params_in_order:  # C-ordered, writable arrays of the net's dtype, shape
            p = params.get(key)
            flags = p.flags if type(p) is np.ndarray else None
            if flags is None or p.dtype != dt or p.shape != shape or not (flags.c_contiguous and flags.aligned):
                return self._reference_step(net, I, Y, lr)  # another layout or dtype: the reference's road
            if not flags.writeable:
                raise ValueError(f"net.params[{key!r}] is read-only (flags.writeable is False): "
                                 f"train_step updates the parameters in place")
            (Ws if into else bs).append(p)
        s = 1 - self.current

        # forward: Z = W X + b, A = f(Z), into set s
        X = I if I.flags.aligned else I.copy()  # C-contiguous already (MLP.train_step); gemm wants it aligned
        cache = []
        for L, W, b in zip(layers, Ws, bs):
            Z, A = L.sets[s]
            if L.gemm:
                np.copyto(Z, b)  # broadcast over the batch; the gemm adds W X into it (β = 1)
                L.gemm(1.0, W, False, X, False, 1.0, Z)
            else:
                np.matmul(W, X, out=Z)
                Z += b
            if A is not None:
                L.forward(Z, A, L.T)
            elif L.kind == "identity":
                A = Z
            else:
                A = L.act.forward(Z)
            cache.append((X, Z, A))
            X = A

        # loss and its gradient dL/dO
        dO = self._loss(X, Y)

        # backward: dZ of every layer (formed in the dA buffers, in place), dX = Wᵀ dZ with the old W
        dZs = [dO] * len(layers)
        dA = dO
        for i in range(len(layers) - 1, -1, -1):
            L = layers[i]
            if L.backward is not None:
                L.backward(dA, cache[i][2], L.T)
            elif L.kind != "identity":
                dA = L.act.backward(dA, cache[i][1], cache[i][2])
            dZs[i] = dA
            if i:
                np.matmul(Ws[i].T, dA, out=self.dA[i - 1])
                dA = self.dA[i - 1]

        # every check before the first write
        if not (self._bounded(Ws, bs, dZs, cache, lr) and self._aside(Ws, bs, dZs, cache, lr)):
            return self._reference_step(net, I, Y, lr)
        for L, W, b, dZ, (X, _, _) in zip(layers, Ws, bs, dZs, cache):
            if L.gemm:
                np.copyto(b, L.new_b)
                L.gemm(-lr, dZ, False, X, True, 1.0, W)  # W += −lr · dZ Xᵀ
            else:
                np.copyto(W, L.G)
                np.copyto(b, L.db_column)
        self.current = s
        return self.L, cache

    # --- the pieces -------------------------------------------------------------------------------

    def _loss(self, O, Y):
        """Sets self.L and self.sq_dO (‖dL/dO‖², or None); returns dL/dO (a buffer of the step or a fresh
        array, free to overwrite)."""
        name = self.loss.name
        if self.dO is not None:  # half_sse, mse: one difference serves the value and the gradient
            d = np.subtract(O, Y, out=self.dO)
            sq = float(np.vdot(d, d))
            if not math.isfinite(sq):
                check_finite(O, "the output O", OUTPUT_HINT)
                self._overflowed(sq)
            if name == "half_sse":
                self.L, self.sq_dO = 0.5 * sq, sq
            else:
                self.L, self.sq_dO = sq / d.size, sq * (2.0 / d.size) ** 2 * 1.0001  # rounding margin
                d *= 2.0 / d.size
            return d
        check_finite(O, "the output O", OUTPUT_HINT)
        self.L, self.sq_dO = self.loss.forward(O, Y), None
        if not math.isfinite(self.L):
            self._overflowed(self.L)
        return self.loss.backward(O, Y)

    def _overflowed(self, value):
        raise ValueError(f"the loss {self.loss.name} overflowed {self.dtype.name} ({value!r}) from finite "
                         f"outputs and targets: the outputs are too far from the targets; "
                         f"{OUTPUT_HINT}")

    def _bounded(self, Ws, bs, dZs, cache, lr) -> bool:
        """For the layers whose update the gemm folds in: nothing overflowed, and no new value can.

        From ‖W‖, ‖b‖, ‖X‖ and ‖dZ‖ (each finite only if every entry is): every partial sum of
        ``W X + b`` is at most ``‖W‖‖X‖ + ‖b‖`` in magnitude, of ``dZ Xᵀ`` at most ``g =
        ‖dZ‖‖X‖``, so a new weight is at most ``‖W‖ + lr g``; a partial bias sum over the batch
        is at most ``√N ‖dZ‖``, so a new bias is at most ``‖b‖ + lr √N ‖dZ‖``. Each bound is
        checked before the arithmetic it covers. False (a NaN or inf among them, or a bound
        beyond a quarter of the dtype's maximum) sends the step to the reference. Sets the new
        biases, aside.
        """
        limit, root_N, sqrt, vdot = self.limit, math.sqrt(self.N), math.sqrt, np.vdot
        for i in self.folded:
            L, W, b, dZ, X = self.layers[i], Ws[i], bs[i], dZs[i], cache[i][0]
            nX = sqrt(X.size) if L.bounded_input else sqrt(float(vdot(X, X)))
            nW = sqrt(float(vdot(W, W)))
            nb = sqrt(float(vdot(b, b)))
            ndZ = sqrt(self.sq_dO if dZ is self.dO else float(vdot(dZ, dZ)))  # the loss has ‖dO‖²
            g, sums = ndZ * nX, root_N * ndZ
            if not (nW * nX + nb <= limit and g <= limit and nW + lr * g <= limit
                    and sums <= limit and nb + lr * sums <= limit):  # also False for NaN and inf
                return False
            new_b = L.new_b
            np.matmul(dZ, L.ones, out=L.db)  # Σ over the batch
            np.multiply(L.db_column, lr, out=new_b)
            np.subtract(b, new_b, out=new_b)  # the reference's b − lr · dL/db
        return True

    def _aside(self, Ws, bs, dZs, cache, lr) -> bool:
        """For the other layers: every new value formed aside, as the reference does, and scanned.

        The gradients go into one array, which is scaled by lr in one call, then each
        parameter's ``w − lr · dL/dw`` overwrites its gradient there. One dot of that array
        with itself is finite only if every new value is (when it is not, the reference sorts
        a mere overflow of the squares from a value that is not finite). False, or an
        overflow on the way, sends the step to the reference.
        """
        aside, layers = self.aside, self.layers
        if aside is None:
            return True
        try:
            for i in self.not_folded:
                np.matmul(dZs[i], cache[i][0].T, out=layers[i].G)
                np.matmul(dZs[i], layers[i].ones, out=layers[i].db)  # Σ over the batch
            aside *= lr
            for i in self.not_folded:
                L = layers[i]
                np.subtract(Ws[i], L.G, out=L.G)  # the reference's w − lr · dL/dw
                np.subtract(bs[i], L.db_column, out=L.db_column)
        except FloatingPointError:  # under the caller's errstate: an overflow, which the reference names
            return False
        return math.isfinite(float(np.vdot(aside, aside)))

    def _reference_step(self, net, I, Y, lr):
        """The reference's road: for parameters the tuned route can't take (another dtype or layout), and
        for a step whose checks found a value at or near overflow (it raises, naming it, or writes all)."""
        from .network import network_backward, network_forward  # the plain reference

        O, cache = network_forward(net.params, net.layer_names, net.layer_activations, I)
        check_finite(O, "the output O", OUTPUT_HINT)
        L = self.loss.forward(O, Y)
        if not math.isfinite(L):
            self._overflowed(L)
        grads = network_backward(net.params, net.layer_names, net.layer_activations, cache,
                                 self.loss.backward(O, Y))
        net.sgd_step(grads, lr)
        return L, cache
