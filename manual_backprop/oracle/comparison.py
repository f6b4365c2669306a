"""Check anyone's gradients for a net and name the mistake: the shared core and the torch-free oracle.

    from manual_backprop.oracle import check_gradients_fd
    report = check_gradients_fd(net, I, Y, grads)   # against central finite differences, float64
    print(report)

``torch_ref.check_gradients`` is the same check against autograd. Both leave
the net exactly as it was: they never call ``net.forward``, so ``net.params``
(bit for bit) and the net's forward cache (what the next ``net.backward``
uses) are untouched; all work happens on copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike

from ..mlp import MLP
from ..validation import as_inputs, as_targets, unwrap_array
from .diagnosis import as_numeric_array, diagnose, numeric_array
from .finite_differences import numerical_grads
from .hints import fix_line
from .hypotheses import Reruns, key_hypotheses
from .report import GradientReport, ParamCheck
from .tolerances import FINITE_DIFFERENCE, LOW_PRECISION, TOLERANCES, Tolerance, max_errors, tolerance_for


def validate_inputs(net, I, Y, grads) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raise TypeError/ValueError naming the argument on bad input; return I and Y as arrays, and
    the candidate gradients read as the net's checks read arrays (torch tensors as NumPy, a masked
    array refused), so that every checker judges the same values."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a manual_backprop.MLP; got {type(net).__name__}")
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of parameter name → gradient array (keys "
                        f"{list(net.params)}); got {type(grads).__name__}")
    I = as_inputs(I, net.sizes[0], net.dtype)  # finite (D_I, N), the same checks as net.forward
    Y = as_targets(Y, net.loss_function, net.sizes[-1], I.shape[1], net.dtype, "I's batch")
    return I, Y, {k: unwrap_array(v, f"grads[{k!r}]") for k, v in grads.items()}


def describe_net(net, N: int) -> str:
    """A short description of the net and batch, for the report's heading."""
    return (f"MLP({list(net.sizes)}, {net.activation} → {net.output_activation}, {net.loss_name}, "
            f"{np.dtype(net.dtype).name}), N = {N}")


def param_tolerance(tol: Tolerance, dtype) -> tuple[Tolerance, Optional[Tolerance]]:
    """The tolerance one parameter's candidate is judged at, and its dtype's looser one if unsupported.

    ``tol``, loosened to the table's tolerance for the candidate's own dtype when
    that is looser (a float32 gradient for a float64 net is right up to float32
    rounding). Each parameter gets its own: a float32 ``b_O`` does not loosen a
    float64 ``W_H``. The second value is the LOW_PRECISION tolerance of a dtype
    the table does not support (float16), else None.
    """
    dt = np.dtype(dtype) if dtype is not None else None
    if dt in TOLERANCES:
        return tol.loosened(TOLERANCES[dt]), None
    low = LOW_PRECISION.get(dt) if dt is not None else None
    return tol, (None if low is None else tol.loosened(low))


def _dtype(value):
    """The candidate's own dtype, or None when it is not a numeric array."""
    arr = numeric_array(value) if value is not None else None
    return None if arr is None else arr.dtype


def compare_gradients(net, I, Y, grads: Mapping, reference: dict, reference_name: str,
                      tol: Tolerance) -> GradientReport:
    """The report on candidate ``grads`` against ``reference`` (a dict shaped like net.params).

    Each parameter is judged at ``tol``, or at the table's tolerance for that
    candidate's own dtype when that is looser (``param_tolerance``). Diagnoses
    every failing parameter; the hypotheses (``manual_backprop.oracle.hypotheses``)
    are computed once, and only when a plain reading fails, the pairs of
    recomputed mistakes only when no single one fits.
    """
    N = np.shape(I)[1]
    D_O = net.sizes[-1]
    cache: dict = {}

    def reruns() -> Reruns:
        if "reruns" not in cache:
            cache["reruns"] = Reruns(net, I, Y)
        return cache["reruns"]

    def get_hypotheses():
        if "all" not in cache:
            cache["all"] = reruns().singles() + key_hypotheses(net, reference)
        return cache["all"]

    checks = {}
    for key, ref in reference.items():
        ref = np.asarray(ref, dtype=np.float64)
        value = grads.get(key)
        cand = as_numeric_array(value) if value is not None else None
        got_shape = cand.shape if cand is not None else None
        if cand is not None and cand.shape == ref.shape:
            abs_err, rel_err = max_errors(cand, ref)
        else:
            abs_err = rel_err = float("nan")
        dtype = _dtype(value)
        own, precision = param_tolerance(tol, dtype)
        tol_read = own if precision is None else precision  # the tolerance the diagnosis reads at

        def get_pairs(key=key, ref=ref, tol_read=tol_read):
            return reruns().pairs_reaching(key, ref, tol_read)

        diagnosis = diagnose(value, ref, own, N, get_hypotheses, key, D_O, precision, get_pairs)
        fix = ""
        if diagnosis is not None:
            fix = fix_line(key, diagnosis, got_shape, net.sizes, N, net.activation,
                           net.output_activation, net.loss_name, dtype)
        checks[key] = ParamCheck(
            name=key, shape=ref.shape, got_shape=got_shape, passed=diagnosis is None,
            max_abs_err=abs_err, max_rel_err=rel_err,
            diagnosis=None if diagnosis is None else diagnosis.code,
            detail="" if diagnosis is None else diagnosis.detail, fix=fix, tolerance=own,
            dtype=None if dtype is None else dtype.name,
            readings=() if diagnosis is None else diagnosis.readings)
    unexpected = tuple(k for k in grads if k not in reference)
    loosest = tol.loosened(*(p.tolerance for p in checks.values() if p.tolerance is not None))  # each is set above
    return GradientReport(checks, reference_name, loosest, describe_net(net, N), unexpected, base_tolerance=tol)


def check_gradients_fd(net: MLP, I: ArrayLike, Y: ArrayLike, grads: Mapping) -> GradientReport:
    """Check candidate ``grads`` against central finite differences (float64), without torch.

    I: (D_I, N). Y: (D_O, N), or class indices (N,). grads: a dict keyed like
    net.params. The tolerance is the looser of the finite-difference one and
    the net dtype's, since the candidate is at most as accurate as its dtype.
    Costs two forward passes per parameter entry: meant for small nets.
    """
    I, Y, grads = validate_inputs(net, I, Y, grads)
    tol = FINITE_DIFFERENCE.loosened(tolerance_for(net.dtype))
    return compare_gradients(net, I, Y, grads, numerical_grads(net, I, Y), "finite differences", tol)
