"""Name the mistake behind a wrong gradient: the diagnosis codes and how each is recognised.

NumPy only, so the torch oracle and the torch-free (finite-difference) oracle
share it. Each parameter's candidate gradient is judged on its own against the
reference for that parameter, so a mistake early in the backward (say, a
forgotten ½ in dL/dO) shows up on every parameter it reaches, and a mistake in
one line (a transposed dL/dW_H) only on that parameter.

The checks, in this order (the first that fits wins):

1. The shape differs from the parameter's:
   ``not_summed_over_batch`` when a bias gradient is ``(fan_out, N)`` whose sum
   over the batch is right (checked first: it is also a wrong shape);
   ``transposed`` when it is the transpose of the right gradient;
   else ``wrong_shape`` (including a flat ``(fan_out,)`` bias gradient).
2. ``not_finite`` when it holds NaN or inf.
3. Right up to the tolerance: no diagnosis.
4. ``zero``: all zeros where the reference is not.
5. ``transposed`` (square parameters, where the shape cannot tell).
6. ``negated``.
7. ``scaled_by_2``, ``scaled_by_1/2``, then ``scaled_by_N``, ``scaled_by_1/N``.
   With N = 2 the factor N is the factor 2: the constant's name is reported
   (its detail says it may also be a sum/mean mix-up). With N = 1 a factor of N
   changes nothing and the per-sample bias gradient is the summed one, so
   those mistakes are invisible there and the gradient passes.
8. ``activation_derivative``: equal to the backward *recomputed* with an
   activation whose derivative is taken at the wrong point (see
   ``activation_hypotheses``), where that differs from the right gradient.
9. ``unknown``.

Two codes beyond the list in the contract: ``missing`` (no gradient under that
key) and ``not_finite``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import numpy as np

from ..activations import ACTIVATIONS, Activation
from ..explain import layer_symbols
from ..network import network_backward, network_forward
from ..validation import as_targets
from .tolerances import Tolerance, is_close

CODES = ("wrong_shape", "transposed", "negated", "scaled_by_N", "scaled_by_1/N", "scaled_by_2",
         "scaled_by_1/2", "not_summed_over_batch", "zero", "activation_derivative", "unknown",
         "missing", "not_finite")


class Diagnosis(NamedTuple):
    """A code from CODES and a short detail (what exactly was found, may be empty)."""

    code: str
    detail: str = ""


class Hypothesis(NamedTuple):
    """Gradients recomputed under one wrong activation derivative, and what that mistake is."""

    label: str
    grads: dict


def as_numeric_array(value) -> Optional[np.ndarray]:
    """The candidate as a float64 array, or None when it is not a numeric array at all."""
    try:
        arr = np.asarray(value)
    except Exception:  # an object numpy cannot take (e.g. a tensor that requires grad)
        return None
    if arr.dtype.kind not in "biuf":
        return None
    return arr.astype(np.float64)


def diagnose(candidate, reference: np.ndarray, tol: Tolerance, N: int,
             hypotheses: Sequence[Hypothesis] = (), key: str = "") -> Optional[Diagnosis]:
    """None when ``candidate`` matches ``reference`` within ``tol``, else the Diagnosis.

    candidate: anything array-like (or None when missing). reference: the right
    gradient, the parameter's shape. N: the batch size. hypotheses: gradients
    recomputed under wrong activation derivatives, looked up by ``key``.
    """
    if candidate is None:
        return Diagnosis("missing")
    cand = as_numeric_array(candidate)
    ref = np.asarray(reference, dtype=np.float64)
    if cand is None:
        return Diagnosis("wrong_shape", f"not a numeric array ({type(candidate).__name__})")
    if cand.shape != ref.shape:
        return _diagnose_shape(cand, ref, tol, N)
    if not np.all(np.isfinite(cand)):
        return Diagnosis("not_finite")
    if is_close(cand, ref, tol):
        return None
    if not np.any(cand) and np.any(ref):
        return Diagnosis("zero")
    if ref.ndim == 2 and ref.shape[0] == ref.shape[1] and is_close(cand.T, ref, tol):
        return Diagnosis("transposed")
    if is_close(cand, -ref, tol):
        return Diagnosis("negated")
    factors = [("scaled_by_2", 2.0, ""), ("scaled_by_1/2", 0.5, "")]
    if N == 2:
        factors = [("scaled_by_2", 2.0, "with N = 2 this is also scaled_by_N"),
                   ("scaled_by_1/2", 0.5, "with N = 2 this is also scaled_by_1/N (a mean for a sum)")]
    elif N > 2:
        factors += [("scaled_by_N", float(N), ""), ("scaled_by_1/N", 1.0 / N, "")]
    for code, factor, detail in factors:
        if is_close(cand, factor * ref, tol):
            return Diagnosis(code, detail)
    for hyp in hypotheses:
        h = hyp.grads.get(key)
        if h is not None and not is_close(h, ref, tol) and is_close(cand, h, tol):
            return Diagnosis("activation_derivative", hyp.label)
    return Diagnosis("unknown")


def _diagnose_shape(cand: np.ndarray, ref: np.ndarray, tol: Tolerance, N: int) -> Diagnosis:
    """The candidate's shape is not the parameter's: say which shape mistake it is."""
    if (ref.ndim == 2 and ref.shape[1] == 1 and N > 1 and cand.shape == (ref.shape[0], N)
            and np.all(np.isfinite(cand)) and is_close(cand.sum(axis=1, keepdims=True), ref, tol)):
        return Diagnosis("not_summed_over_batch")
    if cand.ndim == 2 and cand.shape == ref.T.shape and is_close(cand.T, ref, tol):
        return Diagnosis("transposed")
    if cand.size == ref.size and is_close(cand.reshape(ref.shape), ref, tol):
        return Diagnosis("wrong_shape", "the values are right, only the shape is wrong")
    return Diagnosis("wrong_shape")


def _wrong_derivatives(act: Activation, Z: str, A: str) -> list[tuple[str, Activation]]:
    """Activations with ``act``'s forward and a mistaken backward, each with its description."""
    f, b = act.forward, act.backward
    out = [
        (f"{act.name}′ evaluated at the output {A} instead of at {Z} "
         f"(the derivative applied twice)",
         Activation(act.name, f, lambda dA, Z_, A_: b(dA, A_, f(A_)))),
        (f"{act.name}′ written with {Z} where its formula needs {A} (the wrong cached tensor)",
         Activation(act.name, f, lambda dA, Z_, A_: b(dA, Z_, Z_))),
        (f"{act.name}′ left out: dL/d{Z} taken as dL/d{A}",
         Activation(act.name, f, lambda dA, Z_, A_: dA)),
    ]
    for other in ACTIVATIONS.values():
        if other.name not in (act.name, "identity"):
            out.append((f"{other.name}′ used for a {act.name} layer", Activation(act.name, f, other.backward)))
    return out


def activation_hypotheses(net, I: np.ndarray, Y: np.ndarray) -> list[Hypothesis]:
    """The net's gradients recomputed (float64) with each wrong activation derivative substituted.

    The substitution is made in every hidden layer at once and, for deeper nets,
    in each hidden layer alone; also in the output layer when its activation is
    not the identity. Uses copies: neither ``net.params`` nor the net's forward
    cache is touched. I: (D_I, N); Y: (D_O, N) or class indices (N,).
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    acts = list(net.layer_activations)
    loss = net.loss_function
    I = np.asarray(I, dtype=np.float64)
    Y = as_targets(Y, loss, net.sizes[-1], I.shape[1], np.dtype(np.float64), "I's batch")
    O, cache = network_forward(params, net.layer_names, acts, I)
    dO = loss.backward(O, Y)  # (D_O, N)
    symbols = layer_symbols(len(acts), net.output_activation)
    hidden = list(range(len(acts) - 1))
    scopes = [(hidden, "")] if hidden else []
    if len(hidden) > 1:
        scopes += [([i], f" in layer {symbols[i].name} only") for i in hidden]
    if net.output_activation != "identity":
        scopes.append(([len(acts) - 1], " in the output layer"))
    out = []
    for layers, where in scopes:
        s = symbols[layers[0]]
        Z, A = (s.Z, s.A) if len(layers) == 1 else ("H", "Ĥ")
        for label, wrong in _wrong_derivatives(acts[layers[0]], Z, A):
            substituted = [wrong if i in layers else a for i, a in enumerate(acts)]
            grads = network_backward(params, net.layer_names, substituted, cache, dO)
            out.append(Hypothesis(label + where, grads))
    return out
