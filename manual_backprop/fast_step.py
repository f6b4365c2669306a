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
  OpenBLAS that NumPy itself loaded (``_blas.numpy_gemm``, which checks every
  argument at the call): the same library and the same thread pool as
  ``np.matmul``. Where NumPy was built against another BLAS (its build
  configuration says which; ``gemm_route()`` says why), for small layers, and
  with ``USE_GEMM = False``, the step uses ``np.matmul`` and updates as below.
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

import math
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from ._blas import numpy_gemm
from .network import network_backward, network_forward
from .validation import OUTPUT_HINT, check_finite

USE_GEMM = True  # False: np.matmul and a separate update pass everywhere (read at every step; the tests run both)
GEMM_MIN = 1 << 18  # layers of fewer multiply-adds use np.matmul: ctypes' call overhead would dominate

_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> its TrainStep
_wrap: Callable | None = None  # set by instrumented(): what each step's gemm and kernels are wrapped in


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


class GemmRoute(NamedTuple):
    """Whether large layers fold their update into NumPy's own gemm, and a sentence saying why."""

    taken: bool
    reason: str


def gemm_route() -> GemmRoute:
    """The route large layers take here: NumPy's own gemm, or np.matmul throughout, and why."""
    if not USE_GEMM:
        return GemmRoute(False, "manual_backprop.fast_step.USE_GEMM is False: np.matmul")
    gemm, reason = numpy_gemm()
    return GemmRoute(gemm is not None, reason)


@contextmanager
def instrumented(wrap: Callable[[str, Callable], Callable]) -> Iterator[None]:
    """Within the block, every step calls each NumPy function, its gemm and its kernels through ``wrap``.

    ``wrap(name, fn)`` returns what the step calls in place of ``fn``; ``name`` is
    a NumPy function's (``"matmul"``, ``"vdot"``, …), ``"gemm"``, or a kernel's
    (``"sigmoid forward"``). A kernel's own NumPy calls go through ``wrap`` too.
    For ``scripts/step_profile.py``, which times each; every net's step is
    rebuilt on entering and on leaving. Not for a process whose other threads
    step at the same time.
    """
    global np, _wrap
    plain = np
    np, _wrap = _WrappedNumpy(plain, wrap), wrap  # type: ignore[assignment]
    _STEPS.clear()
    try:
        yield
    finally:
        np, _wrap = plain, None
        _STEPS.clear()


class _WrappedNumpy:
    """``numpy`` as ``instrumented`` hands it to this module: each function looked up is ``wrap``-ed once."""

    def __init__(self, numpy, wrap):
        self._numpy, self._wrap = numpy, wrap

    def __getattr__(self, name):
        value = getattr(self._numpy, name)
        if callable(value) and not isinstance(value, type):
            value = self._wrap(name, value)
        setattr(self, name, value)
        return value


# --- each activation's kernels ---------------------------------------------------------------------
# forward(Z, A, T) -> the activation, written into A when the kernels own an output buffer (else A is None);
# backward(dA, Z, A, T) -> dL/dZ, formed in dA's buffer when in place. T is scratch of the layer's shape.

class Kernels(NamedTuple):
    """One activation's forward and backward as the step calls them (signatures above)."""

    forward: Callable
    backward: Callable
    own_output: bool  # the forward writes into a buffer of the layer's (else it returns Z or a new array)
    bounded: bool  # every output is at most 1 in magnitude


def _exp_cap(dtype) -> float:
    """The largest whole number whose exp is finite in ``dtype`` (709 in float64, 88 in float32)."""
    return float(math.floor(math.log(float(np.finfo(dtype).max))))


def _sigmoid_forward(Z, A, T):
    """A := σ(Z) as e / (1 + e), e = exp(min(Z, c)): bit for bit the reference for Z < 0, never overflowing."""
    np.minimum(Z, _CAP[Z.dtype], out=A)
    np.exp(A, out=A)
    np.add(A, 1.0, out=T)
    np.divide(A, T, out=A)
    return A


def _sigmoid_backward(dA, Z, A, T):
    """dA := dA ⊙ A ⊙ (1 − A), in the reference's order, so bit for bit its result."""
    np.subtract(1.0, A, out=T)
    dA *= A
    dA *= T
    return dA


def _tanh_forward(Z, A, T):
    np.tanh(Z, out=A)
    return A


def _tanh_backward(dA, Z, A, T):
    """dA := dA ⊙ (1 − A²), in the reference's order."""
    np.multiply(A, A, out=T)
    np.subtract(1.0, T, out=T)
    dA *= T
    return dA


def _identity_forward(Z, A, T):
    return Z


def _identity_backward(dA, Z, A, T):
    return dA


_CAP = {np.dtype(d): _exp_cap(d) for d in (np.float64, np.float32)}

FAST_KERNELS = {  # in place, with fewer passes than the registry's; every other activation: kernels_for
    "sigmoid": Kernels(_sigmoid_forward, _sigmoid_backward, own_output=True, bounded=True),
    "tanh": Kernels(_tanh_forward, _tanh_backward, own_output=True, bounded=True),
    "identity": Kernels(_identity_forward, _identity_backward, own_output=False, bounded=False),
}


def kernels_for(act) -> Kernels:
    """The kernels the step uses for the registry's activation ``act``: its fast ones, else its own pair."""
    fast = FAST_KERNELS.get(act.name)
    if fast is not None:
        return fast
    forward, backward = act.forward, act.backward
    return Kernels(lambda Z, A, T: forward(Z), lambda dA, Z, A, T: backward(dA, Z, A),
                   own_output=False, bounded=False)


class _Layer:
    """One layer's parameters' keys, its kernels, its product route and its buffers."""

    __slots__ = ("W_key", "b_key", "W_shape", "b_shape", "kernels", "gemm", "buffers", "new_W", "new_b",
                 "new_b_column", "scratch", "bounded_input")
    W_key: str
    b_key: str
    W_shape: tuple
    b_shape: tuple
    kernels: Kernels
    gemm: Any  # NumPy's gemm when the layer's update is folded into it, else None (np.matmul)
    buffers: list  # (Z, A) in each of the forward's two sets; A is None unless the kernels own an output
    new_W: Any  # not folded: dL/dW, then W − lr · dL/dW over it, in the aside array; folded: None
    new_b: np.ndarray  # dL/db (flat), then b − lr · dL/db over it
    new_b_column: np.ndarray  # the same, (fan_out, 1)
    scratch: np.ndarray  # the kernels' T
    bounded_input: bool  # the layer's input is a sigmoid's or tanh's output


class TrainStep:
    """The work buffers of one net at one batch size, and the step that uses them."""

    def __init__(self, net, N: int):
        self.sizes, self.dtype, self.N = tuple(net.sizes), np.dtype(net.dtype), N
        self.activations = tuple(net.layer_activations)
        self.loss = net.loss_function
        self.use_gemm = USE_GEMM
        dt = self.dtype
        gemm = numpy_gemm()[0] if USE_GEMM else None
        outs = self.sizes[1:]
        pairs = list(zip(self.sizes[:-1], outs))
        folded = [gemm is not None and fan_in * fan_out * N >= GEMM_MIN for fan_in, fan_out in pairs]
        # the new values of the layers whose update is not folded into a gemm, formed aside in one array
        aside = np.empty(sum(fo * (fi + 1) for (fi, fo), f in zip(pairs, folded) if not f), dt)
        self.aside = aside if aside.size else None
        self.ones = np.ones(N, dt)  # Σ over the batch as a product with ones
        scratch = np.empty(max(outs) * N, dt)  # the kernels' T, one view per layer
        self.layers: list[_Layer] = []
        start = 0
        bounded = False  # the input I is not bounded; a sigmoid or tanh output is, by 1
        for name, (fan_in, fan_out), act, fold in zip(net.layer_names, pairs, self.activations, folded):
            layer = _Layer()
            layer.W_key, layer.b_key = "W_" + name, "b_" + name
            layer.W_shape, layer.b_shape = (fan_out, fan_in), (fan_out, 1)
            layer.kernels = self._wrapped(kernels_for(act), act.name)
            layer.gemm = (_wrap("gemm", gemm) if _wrap else gemm) if fold else None
            layer.buffers = [(np.empty((fan_out, N), dt),
                              np.empty((fan_out, N), dt) if layer.kernels.own_output else None)
                             for _ in range(2)]
            if fold:  # the gemm writes the new weight; the new bias is formed aside
                layer.new_W, layer.new_b = None, np.empty(fan_out, dt)
            else:
                layer.new_W = aside[start:start + fan_out * fan_in].reshape(fan_out, fan_in)
                layer.new_b = aside[start + fan_out * fan_in:start + fan_out * (fan_in + 1)]
                start += fan_out * (fan_in + 1)
            layer.new_b_column = layer.new_b.reshape(fan_out, 1)
            layer.scratch = scratch[:fan_out * N].reshape(fan_out, N)
            layer.bounded_input, bounded = bounded, layer.kernels.bounded
            self.layers.append(layer)
        self.current = 1  # the buffer set last handed out; the next step writes the other one
        self.dA_buffers = [np.empty((d, N), dt) for d in outs[:-1]]  # dL/dA of each hidden layer, then its dZ
        self.dO_buffer = np.empty((outs[-1], N), dt) if self.loss.name in ("half_sse", "mse") else None
        self.limit = 0.25 * float(np.finfo(dt).max)  # margin for the rounding of the bounds' own terms
        self.folded = [i for i, layer in enumerate(self.layers) if layer.gemm]
        self.not_folded = [i for i, layer in enumerate(self.layers) if not layer.gemm]

    @staticmethod
    def _wrapped(kernels: Kernels, name: str) -> Kernels:
        if _wrap is None:
            return kernels
        return kernels._replace(forward=_wrap(f"{name} forward", kernels.forward),
                                backward=_wrap(f"{name} backward", kernels.backward))

    def fits(self, net, N: int) -> bool:
        """Still the right buffers: same batch, dtype, layers, loss and route (the parameters' shapes are
        checked on every call)."""
        return (N == self.N and net.dtype == self.dtype and net.layer_activations == self.activations
                and net.loss_function == self.loss and self.use_gemm == USE_GEMM)

    def __call__(self, net, I, Y, lr):
        parameters = self._parameters(net)
        if parameters is None:  # another layout or dtype
            return self._reference_step(net, I, Y, lr)
        Ws, bs = parameters
        s = 1 - self.current  # the buffer set not in the net's cache
        cache = self._forward(Ws, bs, I, s)
        loss, dO, sq_dO = self._loss(cache[-1][2], Y)
        dZs = self._backward(Ws, cache, dO)
        # every check before the first write
        if not (self._bounded(Ws, bs, dZs, cache, lr, sq_dO) and self._aside(Ws, bs, dZs, cache, lr)):
            return self._reference_step(net, I, Y, lr)  # a value at or near overflow: the reference names it
        self._write(Ws, bs, dZs, cache, lr)
        self.current = s
        return loss, cache

    # --- the step, in order -----------------------------------------------------------------------

    def _parameters(self, net):
        """(the weights, the biases), each C-ordered, aligned, of the step's dtype and shape; None if one is
        not (the reference's road takes it). A read-only one is a ValueError."""
        params, dt = net.params, self.dtype
        if len(params) != 2 * len(self.layers):
            return None
        Ws, bs = [], []
        for layer in self.layers:
            for key, shape, into in ((layer.W_key, layer.W_shape, Ws), (layer.b_key, layer.b_shape, bs)):
                p = params.get(key)
                flags = p.flags if type(p) is np.ndarray else None
                if flags is None or p.dtype != dt or p.shape != shape or not (flags.c_contiguous and flags.aligned):
                    return None
                if not flags.writeable:
                    raise ValueError(f"net.params[{key!r}] is read-only (flags.writeable is False): "
                                     f"train_step updates the parameters in place")
                into.append(p)
        return Ws, bs

    def _forward(self, Ws, bs, I, s):
        """Z = W X + b and A = f(Z) of every layer, into buffer set ``s``; returns the cache [(X, Z, A)]."""
        X = I if I.flags.aligned else I.copy()  # C-contiguous already (MLP.train_step); gemm wants it aligned
        cache = []
        for layer, W, b in zip(self.layers, Ws, bs):
            Z, A = layer.buffers[s]
            if layer.gemm:
                np.copyto(Z, b)  # broadcast over the batch; the gemm adds W X into it (β = 1)
                layer.gemm(1.0, W, False, X, False, 1.0, Z)
            else:
                np.matmul(W, X, out=Z)
                Z += b
            A = layer.kernels.forward(Z, A, layer.scratch)
            cache.append((X, Z, A))
            X = A
        return cache

    def _loss(self, O, Y):
        """(the loss, dL/dO, ‖dL/dO‖² or None). dL/dO is a buffer of the step or a new array, free to
        overwrite."""
        d = self.dO_buffer
        if d is not None:  # half_sse, mse: one difference serves the value and the gradient
            np.subtract(O, Y, out=d)
            sq = float(np.vdot(d, d))
            if not math.isfinite(sq):
                check_finite(O, "the output O", OUTPUT_HINT)
                self._overflowed(sq)
            if self.loss.name == "half_sse":
                return 0.5 * sq, d, sq
            d *= 2.0 / d.size
            return sq / d.size, d, sq * (2.0 / d.size) ** 2 * 1.0001  # rounding margin
        check_finite(O, "the output O", OUTPUT_HINT)
        loss = self.loss.forward(O, Y)
        if not math.isfinite(loss):
            self._overflowed(loss)
        return loss, self.loss.backward(O, Y), None

    def _backward(self, Ws, cache, dO):
        """dL/dZ of every layer, the last first, each formed in dL/dA's buffer where the kernels work in place;
        dL/dX = Wᵀ dZ with the old W."""
        dZs: list = [None] * len(self.layers)
        dA = dO
        for i in range(len(self.layers) - 1, -1, -1):
            layer, (_, Z, A) = self.layers[i], cache[i]
            dZs[i] = layer.kernels.backward(dA, Z, A, layer.scratch)
            if i:
                dA = np.matmul(Ws[i].T, dZs[i], out=self.dA_buffers[i - 1])
        return dZs

    def _write(self, Ws, bs, dZs, cache, lr):
        """Every new value into the parameters, once every check has passed."""
        for layer, W, b, dZ, (X, _, _) in zip(self.layers, Ws, bs, dZs, cache):
            np.copyto(b, layer.new_b_column)
            if layer.gemm:
                layer.gemm(-lr, dZ, False, X, True, 1.0, W)  # W += −lr · dZ Xᵀ
            else:
                np.copyto(W, layer.new_W)

    # --- the checks -------------------------------------------------------------------------------

    def _overflowed(self, value):
        raise ValueError(f"the loss {self.loss.name} overflowed {self.dtype.name} ({value!r}) from finite "
                         f"outputs and targets: the outputs are too far from the targets; "
                         f"{OUTPUT_HINT}")

    def _bounded(self, Ws, bs, dZs, cache, lr, sq_dO) -> bool:
        """For the layers whose update the gemm folds in: nothing overflowed, and no new value can.

        From ‖W‖, ‖b‖, ‖X‖ and ‖dZ‖ (each finite only if every entry is): every partial sum of
        ``W X + b`` is at most ``‖W‖‖X‖ + ‖b‖`` in magnitude, of ``dZ Xᵀ`` at most ``g =
        ‖dZ‖‖X‖``, so a new weight is at most ``‖W‖ + lr g``; a partial bias sum over the batch
        is at most ``√N ‖dZ‖``, so a new bias is at most ``‖b‖ + lr √N ‖dZ‖``. Each bound is
        checked before the arithmetic it covers. False (a NaN or inf among them, or a bound
        beyond a quarter of the dtype's maximum) sends the step to the reference. Forms the new
        biases, aside. ``sq_dO`` is the loss's ‖dL/dO‖² (or None): it stands for ‖dZ‖² when dZ is in
        dO's buffer, where dZ is dO or an in-place kernel's dO ⊙ f′ with |f′| ≤ 1.
        """
        limit, root_N, sqrt, vdot = self.limit, math.sqrt(self.N), math.sqrt, np.vdot
        for i in self.folded:
            layer, W, b, dZ, X = self.layers[i], Ws[i], bs[i], dZs[i], cache[i][0]
            nX = sqrt(X.size) if layer.bounded_input else sqrt(float(vdot(X, X)))
            nW = sqrt(float(vdot(W, W)))
            nb = sqrt(float(vdot(b, b)))
            ndZ = sqrt(sq_dO if sq_dO is not None and dZ is self.dO_buffer else float(vdot(dZ, dZ)))
            g, sums = ndZ * nX, root_N * ndZ
            if not (nW * nX + nb <= limit and g <= limit and nW + lr * g <= limit
                    and sums <= limit and nb + lr * sums <= limit):  # also False for NaN and inf
                return False
            new_b = layer.new_b_column
            np.matmul(dZ, self.ones, out=layer.new_b)  # Σ over the batch
            np.multiply(new_b, lr, out=new_b)
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
                np.matmul(dZs[i], cache[i][0].T, out=layers[i].new_W)  # dL/dW
                np.matmul(dZs[i], self.ones, out=layers[i].new_b)  # dL/db: Σ over the batch
            aside *= lr
            for i in self.not_folded:
                layer = layers[i]
                np.subtract(Ws[i], layer.new_W, out=layer.new_W)  # the reference's w − lr · dL/dw
                np.subtract(bs[i], layer.new_b_column, out=layer.new_b_column)
        except FloatingPointError:  # under the caller's errstate: an overflow, which the reference names
            return False
        return math.isfinite(float(np.vdot(aside, aside)))

    def _reference_step(self, net, I, Y, lr):
        """The reference's road: for parameters the tuned route can't take (another dtype or layout), and
        for a step whose checks found a value at or near overflow (it raises, naming it, or writes all)."""
        O, cache = network_forward(net.params, net.layer_names, net.layer_activations, I)
        check_finite(O, "the output O", OUTPUT_HINT)
        loss = self.loss.forward(O, Y)
        if not math.isfinite(loss):
            self._overflowed(loss)
        grads = network_backward(net.params, net.layer_names, net.layer_activations, cache,
                                 self.loss.backward(O, Y))
        net.sgd_step(grads, lr)
        return loss, cache
