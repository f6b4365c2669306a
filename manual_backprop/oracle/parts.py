"""Grade the other parts of the seed a student writes: the forward, the loss and the SGD step. NumPy only.

Each grader calls the student's function on fresh copies, treats what comes
back as untrusted (``np.asarray``, then dtype and shape checks; no method of
the returned object is called) and returns a ``PartResult``. A float32 value
is judged at float32's tolerance, as a float32 gradient is:

- ``forward(params, I) -> O``, O ``(D_O, N)``: the seed's H = W_H I + b_H,
  Ĥ = f(H), O = W_O Ĥ + b_O. Codes: ``transposed`` (O returned ``(N, D_O)``),
  ``bias_missing``, ``output_activation`` (f applied to O too),
  ``wrong_activation``, ``weight_transposed`` (W used as Wᵀ, possible only for a
  square W), ``wrong_shape``, ``not_finite``, ``unknown``.
- ``loss(O, Y) -> float``: the net's loss (the seed's L = ½ Σ (O − Y)²). The
  value is read like a gradient, by its factor: ``scaled_by_1/N`` (a mean over
  the batch for the seed's sum), ``scaled_by_1/N+scaled_by_1/D_O`` (a mean over
  all entries), ``scaled_by_2`` (the ½ missing), … One number cannot tell
  factors apart on one net; the graded nets together can
  (``diagnosis.consensus``). Also ``wrong_shape`` (not one number),
  ``not_finite``, ``unknown``.
- ``sgd_step(params, grads, lr) -> params``: w := w − lr · dL/dw. What is
  accepted: the returned dict of new values, whether it is a new dict or
  ``params`` itself updated in place (the grader only sees what is returned;
  in an isolated child process the argument's changes are not even visible).
  Codes: ``ascent`` (w + lr·g), ``lr_missing`` (w − g), ``lr_squared``
  (w − lr²·g), and their pairs such as ``ascent+lr_missing``;
  ``not_returned`` (None: an update in place that is never returned),
  ``wrong_type``, ``missing`` (a key not returned), ``wrong_shape``,
  ``not_finite``, ``unknown``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import numpy as np

from ..explain import forward_equations
from ..network import network_forward
from .comparison import param_tolerance
from .diagnosis import Diagnosis, best, numeric_array, value_readings
from .hypotheses import forward_mistakes
from .tolerances import Tolerance, is_close

SGD_LR = 0.1  # neither 1 nor ½: lr, 1 and lr² are three different steps


class PartResult(NamedTuple):
    """The verdict on one part: its name, passed, the code (None when passed), detail and fix line.

    ``readings``: the loss's factor readings, for reading several nets together.
    """

    name: str
    passed: bool
    diagnosis: Optional[str] = None
    detail: str = ""
    fix: str = ""
    readings: tuple = ()


def _failed(name: str, code: str, detail: str, fix: str, readings: tuple = ()) -> PartResult:
    text = "; ".join(p for p in (detail, fix) if p)
    return PartResult(name, False, code, detail, f"{name}: {code}: {text}", readings)


def _returned(value, what: str) -> tuple[Optional[np.ndarray], str]:
    """The returned value as a float64 array, or None and what it was instead."""
    arr = numeric_array(value)
    if arr is None:
        return None, f"{what} returned {type(value).__name__}, not a numeric array"
    return arr.astype(np.float64), ""


def _own_tolerance(tol: Tolerance, value) -> Tolerance:
    """``tol``, loosened to the returned value's own dtype where the table has it (float32, as for gradients)."""
    arr = numeric_array(value)
    return tol if arr is None else param_tolerance(tol, arr.dtype)[0]


def plain_dict(value) -> Optional[dict]:
    """A returned dict as a plain dict (base dict methods, str keys only), or None when not a dict.

    A dict subclass's own ``get``, ``keys`` or ``__getitem__`` are never called,
    and a key that merely claims to equal "W_H" is not taken for it; keys of
    other types are kept under their repr, so that they show as unexpected.
    """
    if not isinstance(value, dict):
        return None
    return {(k if type(k) is str else repr(k)): v for k, v in dict.items(value)}


def _float64_params(net) -> dict:
    return {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}


def grade_forward(forward: Callable, net, I: np.ndarray, tol: Tolerance) -> PartResult:
    """Call ``forward(params, I)`` (fresh float64 copies) and judge O (D_O, N) against the net's."""
    params = _float64_params(net)
    ref, _ = network_forward(params, net.layer_names, net.layer_activations, I)
    eqs = "; ".join(forward_equations(net.sizes, I.shape[1], net.activation, net.output_activation))
    got = forward({k: v.copy() for k, v in params.items()}, I.copy())
    O, problem = _returned(got, "forward")
    tol = _own_tolerance(tol, got)
    if O is None:
        return _failed("forward", "wrong_shape", problem, f"return O {ref.shape}: {eqs}")
    if not np.all(np.isfinite(O)):
        return _failed("forward", "not_finite", "O holds NaN or inf", eqs)
    if O.shape != ref.shape:
        if O.shape == ref.T.shape and is_close(O.T, ref, tol):
            return _failed("forward", "transposed", f"returned O as {O.shape}, samples × features",
                           f"the seed's O is features × batch {ref.shape}: {eqs}")
        return _failed("forward", "wrong_shape", f"returned shape {O.shape}, not {ref.shape}", eqs)
    if is_close(O, ref, tol):
        return PartResult("forward", True)
    for label, code, wrong in _forward_readings(net, params, I):
        if is_close(O, wrong, tol):
            return _failed("forward", code, label, eqs)
    return _failed("forward", "unknown", "O matches none of the known mistakes", eqs)


def _forward_readings(net, params: dict, I: np.ndarray):
    """(label, code, O) for each forward mistake, and a square weight used transposed."""
    for m in forward_mistakes(net):
        yield m.label, m.code, network_forward(m.params, net.layer_names, m.activations, I)[0]
    for name in net.layer_names:
        W = params["W_" + name]
        if W.shape[0] == W.shape[1]:
            swapped = dict(params, **{"W_" + name: W.T.copy()})
            yield (f"your forward uses W_{name}ᵀ where the seed multiplies by W_{name}", "weight_transposed",
                   network_forward(swapped, net.layer_names, net.layer_activations, I)[0])


LOSS_CLAUSES = {
    "negated": "the sign is flipped",
    "scaled_by_2": "the ½ is missing",
    "scaled_by_1/2": "halved once too often",
    "scaled_by_1/N": "a mean over the batch where the loss sums",
    "scaled_by_N": "a sum over the batch where the loss takes the mean",
    "scaled_by_1/D_O": "a mean over the outputs where the loss sums",
    "scaled_by_D_O": "a sum over the outputs where the loss takes the mean",
}
LOSS_FORMULAS = {
    "half_sse": "L = ½ Σ (O − Y)², summed over outputs and batch",
    "mse": "L = Σ (O − Y)² / (D_O·N), the mean over all entries",
    "softmax_cross_entropy": "L = −(1/N) Σ_n log softmax(O)[Y_n, n]",
}


def loss_fix(diagnosis: Diagnosis, loss_name: str) -> str:
    """The loss part's fix line: one clause per cause, then the loss's formula."""
    clauses = [LOSS_CLAUSES.get(c, "matches none of the known mistakes") for c in diagnosis.code.split("+")]
    text = "; ".join(([diagnosis.detail] if diagnosis.detail else []) + clauses
                     + [LOSS_FORMULAS.get(loss_name, loss_name)])
    return f"loss: {diagnosis.code}: {text}"


def grade_loss(loss_fn: Callable, net, O: np.ndarray, Y: np.ndarray, tol: Tolerance) -> PartResult:
    """Call ``loss(O, Y)`` (copies) and judge the number against the net's loss, by its factor."""
    ref = float(net.loss_function.forward(O, Y))
    formula = LOSS_FORMULAS.get(net.loss_name, net.loss_name)
    returned = loss_fn(O.copy(), Y.copy())
    got, problem = _returned(returned, "loss")
    tol = _own_tolerance(tol, returned)
    if got is None or got.size != 1:
        detail = problem if got is None else f"returned shape {got.shape}: one loss per entry?"
        return _failed("loss", "wrong_shape", detail, f"L is one number: {formula}")
    value = got.reshape(1)
    if not np.all(np.isfinite(value)):
        return _failed("loss", "not_finite", "L is NaN or inf", formula)
    target = np.array([ref])
    if is_close(value, target, tol):
        return PartResult("loss", True)
    found = best(value_readings(value, target, tol, O.shape[1], O.shape[0]), O.shape[1], O.shape[0])
    if found is None:
        return _failed("loss", "unknown", f"L = {value[0]:.6g} where the loss is {ref:.6g}", formula)
    return PartResult("loss", False, found.code, found.detail, loss_fix(found, net.loss_name), found.readings)


SGD_STEPS = {  # factor f of the step new = w − f·g, in units of lr → the code
    "": lambda lr: lr, "ascent": lambda lr: -lr, "lr_missing": lambda lr: 1.0,
    "ascent+lr_missing": lambda lr: -1.0, "lr_squared": lambda lr: lr * lr,
    "ascent+lr_squared": lambda lr: -lr * lr,
}
SGD_CLAUSES = {"ascent": "the step climbs the gradient (w + lr·g)", "lr_missing": "the step leaves out lr",
               "lr_squared": "the step uses lr² (lr applied twice)"}


def grade_sgd_step(sgd_step: Callable, net, tol: Tolerance, seed: int = 0, lr: float = SGD_LR) -> PartResult:
    """Call ``sgd_step(params, grads, lr)`` with seeded gradients and judge the returned parameters."""
    params = _float64_params(net)
    rng = np.random.default_rng(seed)
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    given = {k: v.copy() for k, v in params.items()}
    seed_eq = "w := w − lr · dL/dw for every parameter, returning the dict of new values"
    out = sgd_step(given, {k: v.copy() for k, v in grads.items()}, lr)
    if out is None:
        changed = any(not np.array_equal(given[k], params[k]) for k in params if isinstance(given.get(k), np.ndarray))
        detail = "returned None" + ("; it changed params in place, so return them too" if changed else "")
        return _failed("sgd_step", "not_returned", detail, seed_eq)
    if plain_dict(out) is None:
        return _failed("sgd_step", "wrong_type", f"returned {type(out).__name__}, not a dict", seed_eq)
    out = plain_dict(out)
    assert out is not None  # a dict: checked just above
    missing = [k for k in params if k not in out]
    if missing:
        return _failed("sgd_step", "missing", f"no new value for {missing}", seed_eq)
    new, tols = {}, {}
    for k, p in params.items():
        arr, problem = _returned(out[k], f"sgd_step's {k!r}")
        tols[k] = _own_tolerance(tol, out[k])
        if arr is None or arr.shape != p.shape:
            return _failed("sgd_step", "wrong_shape",
                           problem if arr is None else f"{k} has shape {arr.shape}, not {p.shape}", seed_eq)
        if not np.all(np.isfinite(arr)):
            return _failed("sgd_step", "not_finite", f"{k} holds NaN or inf", seed_eq)
        new[k] = arr
    for code, factor in SGD_STEPS.items():
        if all(is_close(new[k], params[k] - factor(lr) * grads[k], tols[k]) for k in params):
            if not code:
                return PartResult("sgd_step", True)
            clauses = "; ".join(SGD_CLAUSES[c] for c in code.split("+"))
            return _failed("sgd_step", code, clauses, seed_eq)
    return _failed("sgd_step", "unknown", "the new values match none of the known mistakes", seed_eq)
