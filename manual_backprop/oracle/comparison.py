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

import numpy as np
from numpy.typing import ArrayLike

from ..mlp import MLP
from ..validation import as_inputs, as_targets
from .diagnosis import activation_hypotheses, as_numeric_array, diagnose
from .finite_differences import numerical_grads
from .hints import fix_line
from .report import GradientReport, ParamCheck
from .tolerances import FINITE_DIFFERENCE, TOLERANCES, Tolerance, max_errors, tolerance_for


def validate_inputs(net, I, Y, grads) -> tuple[np.ndarray, np.ndarray]:
    """Raise TypeError/ValueError naming the argument on bad input; return I and Y as arrays."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a manual_backprop.MLP; got {type(net).__name__}")
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of parameter name → gradient array (keys "
                        f"{list(net.params)}); got {type(grads).__name__}")
    I = as_inputs(I, net.sizes[0], net.dtype)  # finite (D_I, N), the same checks as net.forward
    Y = as_targets(Y, net.loss_function, net.sizes[-1], I.shape[1], net.dtype, "I's batch")
    return I, Y


def describe(net, N: int) -> str:
    """A short description of the net and batch, for the report's heading."""
    return (f"MLP({list(net.sizes)}, {net.activation} → {net.output_activation}, {net.loss_name}, "
            f"{np.dtype(net.dtype).name}), N = {N}")


def _loosest(tol: Tolerance, *dtypes) -> Tolerance:
    """``tol``, loosened to the tolerance of any candidate dtype in the table that is looser.

    A float32 candidate for a float64 net is right up to float32 rounding, and passes as such.
    """
    for dt in dtypes:
        if dt in TOLERANCES:
            other = TOLERANCES[dt]
            tol = Tolerance(max(tol.rtol, other.rtol), max(tol.atol, other.atol))
    return tol


def compare_gradients(net, I, Y, grads: Mapping, reference: dict, reference_name: str,
                      tol: Tolerance) -> GradientReport:
    """The report on candidate ``grads`` against ``reference`` (a dict shaped like net.params).

    The tolerance is ``tol``, or the table's tolerance for the candidate's dtype
    when that is looser. Diagnoses every failing parameter; the activation-derivative hypotheses are
    recomputed only when some parameter fails with the right shape.
    """
    N = np.shape(I)[1]
    tol = _loosest(tol, *(v.dtype for v in grads.values() if isinstance(v, np.ndarray)))
    hypotheses = None
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
        diagnosis = diagnose(value, ref, tol, N, hypotheses or (), key)
        if diagnosis is not None and diagnosis.code == "unknown" and hypotheses is None:
            hypotheses = activation_hypotheses(net, I, Y)  # computed once, when first needed
            diagnosis = diagnose(value, ref, tol, N, hypotheses, key)
        fix = ""
        if diagnosis is not None:
            fix = fix_line(key, diagnosis, got_shape, net.sizes, N, net.activation,
                           net.output_activation, net.loss_name)
        checks[key] = ParamCheck(
            name=key, shape=ref.shape, got_shape=got_shape, passed=diagnosis is None,
            max_abs_err=abs_err, max_rel_err=rel_err,
            diagnosis=None if diagnosis is None else diagnosis.code,
            detail="" if diagnosis is None else diagnosis.detail, fix=fix)
    unexpected = tuple(k for k in grads if k not in reference)
    return GradientReport(checks, reference_name, tol, describe(net, N), unexpected)


def check_gradients_fd(net: MLP, I: ArrayLike, Y: ArrayLike, grads: Mapping) -> GradientReport:
    """Check candidate ``grads`` against central finite differences (float64), without torch.

    I: (D_I, N). Y: (D_O, N), or class indices (N,). grads: a dict keyed like
    net.params. The tolerance is the looser of the finite-difference one and
    the net dtype's, since the candidate is at most as accurate as its dtype.
    Costs two forward passes per parameter entry: meant for small nets.
    """
    I, Y = validate_inputs(net, I, Y, grads)
    fd, own = FINITE_DIFFERENCE, tolerance_for(net.dtype)
    tol = Tolerance(max(fd.rtol, own.rtol), max(fd.atol, own.atol))
    return compare_gradients(net, I, Y, grads, numerical_grads(net, I, Y), "finite differences", tol)
