"""The tuned training step behind ``MLP.train_step``: the reference's arithmetic, with less traffic.

The reference (``network_forward`` → loss → ``network_backward`` →
``MLP.sgd_step``) is written to be read against the seed: every step makes
fresh arrays, forms every gradient, then forms every new parameter aside and
scans it before writing. On a large net each of those is another pass over
megabytes, and each fresh array must be faulted in by the allocator. This
module computes the same step (equal up to rounding; ``tests/test_fast_step.py``
holds it to that for every activation, loss, dtype and depths 1–3), and
differs in these ways, each for speed:

- **Work buffers.** Every array the step writes is allocated once per net and
  batch size and reused, with ``out=`` throughout. The forward's arrays come in
  two sets used in turn: the step writes into the set that is not the net's
  current cache and hands it over only when the whole step has succeeded, so a
  step that raises leaves the cache, like the parameters, as it was.
- **One BLAS pool.** Each weight gradient is formed by NumPy's ``matmul`` into
  one scratch array (the size of the largest weight: one layer's worth of
  memory), then ``W − lr · G`` is written into ``W`` in place.
  Optionally (``USE_SCIPY = True``, with SciPy installed) the update is folded
  into the product instead: ``W ← W − lr · dZ · Xᵀ`` as one BLAS ``gemm`` with
  β = 1 on ``W``'s transposed, Fortran-ordered view, which forms no gradient
  array at all, and every product of the step then goes through SciPy's BLAS.
  It is off by default, and SciPy is not a dependency: NumPy and SciPy each
  bundle an OpenBLAS with its own thread pool, and on the two-core machine
  this was measured on, the hand-over between the pools (NumPy's still serves
  the argument checks and the caller's own products) cost more than the fold
  saved, in float64 most.
- **All or nothing without a copy.** The reference forms the new values aside
  and scans them. Here, before the first write, one BLAS dot per array gives
  ``‖W‖``, ``‖dZ‖`` and ``‖X‖`` (each finite only if every entry is), and
  Cauchy–Schwarz bounds every entry of the new weight by
  ``‖W‖ + lr · ‖dZ‖ · ‖X‖``. When that is far below the dtype's maximum no
  entry can overflow, and the step writes in place. Otherwise (a NaN, or
  values near overflow: rare) it falls back to ``MLP.sgd_step`` with the
  gradients formed in full, which writes nothing and names the culprit.
- **Fast kernels for the common layers**, computed in place: sigmoid and tanh
  layers (the bias added in the same call as the activation), the identity
  output, and the ``half_sse`` and ``mse`` losses. The sigmoid is the
  reference's own stable formula, bit for bit. Every other activation and
  loss uses its registry entry's forward and backward, unchanged.
- **Two threads for the element-wise work: built, measured, off by default**
  (``SPLIT_MIN``). NumPy releases the GIL inside a ufunc, so two threads can
  run two halves of the rows at once, and alone a split sigmoid takes little
  more than half the time. Inside the step it did not pay: right after a
  product OpenBLAS's idle thread still spins on the second core, so the second
  element-wise thread finds no core free, and the hand-offs cost more than
  they saved.

The contract is the reference's: every error raised before the first write,
nothing changed by a call that raises, and the same forward cache left for a
later ``net.backward``.
"""

from __future__ import annotations

import math
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .validation import OUTPUT_HINT, check_finite

USE_SCIPY = False  # True: SciPy's BLAS for the products, the update folded into the gemm (see above)
SPLIT_MIN = 1 << 62  # element-wise work on at least this many entries is split over two threads: off
#                      by default (see the module doc); 1 << 16 switches it on for arrays worth a hand-off
BLAS_MIN = 1 << 18  # products of fewer multiply-adds (per layer) use NumPy's matmul: less call overhead

_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> its TrainStep
_pool = None
_blas = None  # scipy.linalg.blas once imported, False when SciPy is missing


def _scipy_blas():
    """scipy.linalg.blas, imported on first use (it takes a while), or None without SciPy."""
    global _blas
    if _blas is None:
        try:
            from scipy.linalg import blas
        except ImportError:  # pragma: no cover - the tests run the NumPy route with USE_SCIPY = False
            blas = False
        _blas = blas
    return _blas or None


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


def _split(fn, *args) -> None:
    """``fn(*args)`` on arrays of as many rows (and scalars), in two halves of rows on two threads when large."""
    global _pool
    rows = args[0].shape[0]
    if args[0].size < SPLIT_MIN or rows < 2 or _cores() < 2:
        fn(*args)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fast_step")
    h = rows // 2
    other = _pool.submit(fn, *(a[:h] if isinstance(a, np.ndarray) else a for a in args))
    try:
        fn(*(a[h:] if isinstance(a, np.ndarray) else a for a in args))
    finally:
        other.result()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --- element-wise kernels: each writes its result into ``out`` -------------------------------------

def _sigmoid_forward(Z, out):
    """The reference sigmoid, 1/(1+e) or e/(1+e) with e = e^(−|z|), bit for bit; no temporary beyond one mask."""
    np.abs(Z, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)  # e^(−|z|) ≤ 1
    den = out + 1.0
    np.maximum(out, Z >= 0, out=out)  # numerator: 1 for z ≥ 0, e for z < 0
    np.divide(out, den, out=out)


def _sigmoid_backward(dA, A):
    """dA := dA ⊙ A ⊙ (1 − A) in place: the reference's order, so bit for bit its result."""
    t = np.subtract(1.0, A)
    dA *= A
    dA *= t


def _tanh_forward(Z, out):
    np.tanh(Z, out=out)


def _tanh_backward(dA, A):
    """dA := dA ⊙ (1 − A²) in place, in the reference's order."""
    t = np.multiply(A, A)
    np.subtract(1.0, t, out=t)
    np.multiply(t, dA, out=dA)


def _add_bias(Z, b):
    Z += b  # (D, 1) broadcast over the batch


def _update(W, G, lr):
    """W := W − lr · G, G overwritten: the reference's form of the new value."""
    G *= lr
    np.subtract(W, G, out=W)


# name -> (forward(Z, out), backward_in_place(dA, A), output bounded by 1 in magnitude)
FAST_ACTIVATIONS = {
    "sigmoid": (_sigmoid_forward, _sigmoid_backward, True),
    "tanh": (_tanh_forward, _tanh_backward, True),
}


def _bias_then(forward):
    def kernel(Z, b, A):
        Z += b
        forward(Z, A)
    return kernel


class TrainStep:
    """The work buffers of one net at one batch size, and the step that uses them."""

    def __init__(self, net, N: int):
        self.sizes, self.dtype, self.N = tuple(net.sizes), np.dtype(net.dtype), N
        self.activations = tuple(net.layer_activations)
        self.loss = net.loss_function
        dt, n_layers = self.dtype, len(self.sizes) - 1
        outs = self.sizes[1:]
        self.fast = [a.name in FAST_ACTIVATIONS for a in self.activations]
        self.identity = [a.name == "identity" for a in self.activations]
        # two forward sets (Z, A) per layer; A only for a fast, non-identity activation
        self.sets = [[(np.empty((d, N), dt), np.empty((d, N), dt) if f else None)
                      for d, f in zip(outs, self.fast)] for _ in range(2)]
        self.current = 1  # the set last handed out; the next step writes the other one
        # dL/dA of every hidden layer's output (dZ is formed in it, in place), and dL/dO
        self.dA = [np.empty((d, N), dt) for d in outs[:-1]]
        self.dO = np.empty((outs[-1], N), dt) if self.loss.name in ("half_sse", "mse") else None
        self.db = [np.empty((d, 1), dt) for d in outs]
        self.new_b = [np.empty((d, 1), dt) for d in outs]
        big = any(fi * fo * N >= BLAS_MIN for fi, fo in zip(self.sizes[:-1], outs))
        blas = _scipy_blas() if USE_SCIPY and big else None
        # one BLAS for all the products of a step (see the module doc), SciPy's when any is large
        self.blas = [blas is not None] * n_layers
        if blas is not None:
            prefix = "d" if dt == np.float64 else "s"
            self.gemm = getattr(blas, prefix + "gemm")
            dot = getattr(blas, prefix + "dot")
            self.sq = lambda a: float(dot(a.reshape(-1), a.reshape(-1)))  # a · a, C-contiguous a
        else:
            self.sq = lambda a: float(np.vdot(a, a))
        # NumPy route: one scratch array for the largest weight gradient
        need = max([fi * fo for fi, fo, b in zip(self.sizes[:-1], outs, self.blas) if not b], default=0)
        self.G = np.empty(need, dt)
        self.limit = 0.25 * float(np.finfo(dt).max)  # margin for the rounding of the bound's own terms
        self.n_layers = n_layers
        self.expected = [(kind + name, shape) for name, fi, fo in zip(net.layer_names, self.sizes[:-1], outs)
                         for kind, shape in (("W_", (fo, fi)), ("b_", (fo, 1)))]
        self.G_views = [self.G[:fi * fo].reshape(fo, fi) if not b else None
                        for fi, fo, b in zip(self.sizes[:-1], outs, self.blas)]
        self.db_flat = [db.reshape(-1) for db in self.db]
        self.forward_kernels = [_bias_then(FAST_ACTIVATIONS[a.name][0]) if f else None
                                for a, f in zip(self.activations, self.fast)]
        # an input bounded by 1 in magnitude (a sigmoid or tanh output) needs no norm: ‖X‖ ≤ √size
        self.bounded_input = [False] + [FAST_ACTIVATIONS.get(a.name, (0, 0, False))[2]
                                        for a in self.activations[:-1]]

    def fits(self, net, N: int) -> bool:
        """Still the right buffers: same shapes, dtype, batch, layers and loss."""
        return (N == self.N and tuple(net.sizes) == self.sizes and np.dtype(net.dtype) == self.dtype
                and tuple(net.layer_activations) == self.activations and net.loss_function == self.loss)

    def __call__(self, net, I, Y, lr):
        params = net.params
        for key, p in params.items():
            if isinstance(p, np.ndarray) and not p.flags.writeable:
                raise ValueError(f"net.params[{key!r}] is read-only (flags.writeable is False): "
                                 f"train_step updates the parameters in place")
        dt = self.dtype
        for key, shape in self.expected:  # C-ordered arrays of the net's dtype and shape, else the reference
            p = params.get(key)
            if type(p) is not np.ndarray or p.dtype != dt or p.shape != shape or not p.flags.c_contiguous:
                return self._reference_step(net, I, Y, lr)
        names = net.layer_names
        s = 1 - self.current
        Ws = [params["W_" + n] for n in names]
        bs = [params["b_" + n] for n in names]

        # forward: Z = W X + b, A = f(Z), into set s
        X = np.ascontiguousarray(I)
        cache = []
        for i, (W, b) in enumerate(zip(Ws, bs)):
            Z, A = self.sets[s][i]
            self._affine(i, W, b, X, Z)
            act = self.activations[i]
            if A is not None and not self.blas[i]:
                _split(self.forward_kernels[i], Z, b, A)  # the bias added and the activation, in one hand-off
            elif A is not None:
                _split(FAST_ACTIVATIONS[act.name][0], Z, A)
            elif self.identity[i]:
                A = Z
            else:
                A = act.forward(Z)
            cache.append((X, Z, A))
            X = A
        O = X

        # loss and its gradient dL/dO
        dO = self._loss(O, Y)
        L = self.L

        # backward: dZ of every layer (formed in the dA buffers, in place), dX = Wᵀ dZ with the old W
        dZs = [None] * self.n_layers
        dA = dO
        for i in reversed(range(self.n_layers)):
            X, Z, A = cache[i]
            act = self.activations[i]
            if self.fast[i]:
                _split(FAST_ACTIVATIONS[act.name][1], dA, A)
                dZ = dA
            elif self.identity[i]:
                dZ = dA
            else:
                dZ = act.backward(dA, Z, A)
            dZs[i] = dZ
            if i > 0:
                dA = self.dA[i - 1]
                self._back(i, Ws[i], dZ, dA)

        # every check before the first write
        if not self._safe(Ws, bs, dZs, cache, lr):
            grads = {}
            with np.errstate(over="ignore", invalid="ignore"):  # sgd_step finds and names any inf
                for i, n in enumerate(names):
                    grads["W_" + n] = dZs[i] @ cache[i][0].T
                    grads["b_" + n] = dZs[i].sum(axis=1, keepdims=True)
            net.sgd_step({k: grads[k] for k in params}, lr)  # raises, naming the culprit, or writes all
        else:
            for i, b in enumerate(bs):
                b[...] = self.new_b[i]
                self._fold(i, Ws[i], dZs[i], cache[i][0], lr)
        self.current = s
        return L, cache

    # --- the pieces -------------------------------------------------------------------------------

    def _affine(self, i, W, b, X, Z):
        """Z := W X + b."""
        if self.blas[i]:
            np.copyto(Z, b)  # broadcast over the batch, then added into by gemm (β = 1)
            self.gemm(1.0, X.T, W.T, beta=1.0, c=Z.T, overwrite_c=1)  # Zᵀ += Xᵀ Wᵀ, in Z's memory
        else:
            np.matmul(W, X, out=Z)
            if self.sets[0][i][1] is None:  # else the activation's kernel adds it
                _split(_add_bias, Z, b)

    def _back(self, i, W, dZ, out):
        """out := Wᵀ dZ, the layer's dL/dX."""
        if self.blas[i]:
            self.gemm(1.0, dZ.T, W.T, beta=0.0, c=out.T, overwrite_c=1, trans_b=1)  # (dZᵀ W)ᵀ
        else:
            np.matmul(W.T, dZ, out=out)

    def _fold(self, i, W, dZ, X, lr):
        """W := W − lr · dZ Xᵀ, in place."""
        if self.blas[i]:
            self.gemm(-lr, X.T, dZ.T, beta=1.0, c=W.T, overwrite_c=1, trans_a=1)  # Wᵀ += −lr X dZᵀ
        else:
            G = self.G_views[i]
            np.matmul(dZ, X.T, out=G)
            _split(_update, W, G, lr)

    def _loss(self, O, Y):
        """Sets self.L; returns dL/dO (a buffer of the step or a fresh array, free to overwrite)."""
        name = self.loss.name
        if self.dO is not None:  # half_sse, mse: one difference serves the value and the gradient
            d = np.subtract(O, Y, out=self.dO)
            sq = self.sq(d)
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
        self.L = self.loss.forward(O, Y)
        if not math.isfinite(self.L):
            self._overflowed(self.L)
        return self.loss.backward(O, Y)

    def _overflowed(self, value):
        raise ValueError(f"the loss {self.loss.name} overflowed {self.dtype.name} ({value!r}) from finite "
                         f"outputs and targets: the outputs are too far from the targets; "
                         f"{OUTPUT_HINT}")

    def _safe(self, Ws, bs, dZs, cache, lr) -> bool:
        """Every new value finite: biases formed aside and scanned; weights bounded (see the module doc)."""
        limit = self.limit
        with np.errstate(over="ignore", invalid="ignore"):  # an inf or NaN here sends the step to
            for i, (W, b, dZ) in enumerate(zip(Ws, bs, dZs)):   # sgd_step, which names it
                nb = self.new_b[i]
                np.einsum("ij->i", dZ, out=self.db_flat[i])  # Σ over the batch: one thread, no BLAS pool
                np.multiply(self.db[i], lr, out=nb)
                np.subtract(b, nb, out=nb)  # the reference's w − lr · dL/dw
                if not math.isfinite(float(np.vdot(nb, nb))):
                    return False
                X = cache[i][0]
                nX = math.sqrt(X.size) if self.bounded_input[i] else math.sqrt(self.sq(X))
                nW = math.sqrt(self.sq(W))
                ndZ = math.sqrt(self.sq_dO if dZ is self.dO else self.sq(dZ))  # the loss has ‖dO‖²
                g = ndZ * nX
                if not (g <= limit and nW + lr * g <= limit):  # also False for NaN and inf
                    return False
        return True

    def _reference_step(self, net, I, Y, lr):
        """Parameters the tuned route can't take (another dtype or layout): the reference's road."""
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
