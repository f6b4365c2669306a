"""Name the mistake behind a wrong gradient: the diagnosis codes and how each is recognised.

NumPy only, so the torch oracle and the torch-free (finite-difference) oracle
share it. Each parameter's candidate gradient is judged on its own against the
reference for that parameter, so a mistake early in the backward (say, a
forgotten ½ in dL/dO) shows up on every parameter it reaches, and a mistake in
one line (a transposed dL/dW_H) only on that parameter.

A diagnosis is a *reading*: the causes that, applied to the right gradient,
give the candidate. Several causes are joined with ``+`` in a fixed order
(shape, sign, constant, batch, outputs, then the hypotheses in
``hypotheses.KIND_ORDER``), e.g. ``transposed+activation_derivative`` or
``negated+scaled_by_1/N``.

1. Shape. A candidate of the wrong shape is first brought back to the
   parameter's shape, and its values are then read as below:
   ``not_summed_over_batch`` (a bias gradient ``(fan_out, N)``: summed over the
   batch), ``transposed`` (the transpose), ``wrong_shape`` (the same entries in
   another shape, e.g. a flat ``(fan_out,)`` bias). When the values explain
   nothing the code is ``wrong_shape`` alone.
2. ``not_finite`` when it holds NaN or inf; ``zero`` when it is all zeros.
3. The factor is fitted, not looked up: c = ⟨g, r⟩ / ⟨r, r⟩, accepted when
   g ≈ c·r within the tolerance, where r is the right gradient or the gradient
   recomputed under one mistake (a hypothesis, made by
   ``manual_backprop.oracle.hypotheses``, which lists them: a wrong
   derivative, an inherited forward mistake, one sample, another key's
   gradient, …). c is then factored into the
   known causes, each at most once (one exception below): ``negated`` (−1),
   ``scaled_by_2`` or ``scaled_by_1/2`` (the ½ of the loss), ``scaled_by_N`` or ``scaled_by_1/N``
   (sum vs mean over the batch), ``scaled_by_D_O`` or ``scaled_by_1/D_O`` (sum
   vs mean over the outputs); a mean over the batch taken twice (in dL/dO and
   again in a bias's sum) is ``scaled_by_1/N+scaled_by_1/N``. A cause whose
   factor is 1 on this net (N = 1, D_O = 1) cannot be seen and is not named.
   A negative c that no factor reading explains may be an SGD step,
   ``update_not_gradient`` (lr·f with lr as a person types it and f a factor
   of the batch or the outputs; it counts as two causes, the sign and lr).
   ``weight_decay`` is a fit of two terms, g ≈ f·r + λ·W.
4. For a square parameter, the transpose is tried last (``transposed+…``).
5. The hypotheses whose gradient has another shape than the parameter's
   (``swapped_with_<name>``, against that parameter's shape) or is compared by
   its entries (``wrong_axis``).
6. Only when nothing above fits: pairs of recomputed mistakes (fewest causes win).
7. ``unknown`` when nothing fits.

Where one net cannot tell readings apart (N = 2 makes 1/N the ½; D_O = 2 makes
1/D_O the ½; at N = 4, 2·(1/N) is ½) the fewest causes win, ties go to the
order above, and the detail names every other reading that would name a cause
the chosen one does not (``rivals``). ``manual_backprop.oracle.cases`` then reads all the
graded nets together (``consensus``), which settles most such ties.

Codes outside the contract's list: ``missing`` (no gradient under that key),
``not_finite``, ``low_precision`` (right only to the precision of a dtype the
checker does not support, e.g. float16) and ``forward_mistake``.
"""

from __future__ import annotations

import itertools
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from .hypotheses import KIND_ORDER, Hypothesis, kind_rank
from .tolerances import Tolerance, is_close

SHAPE_CAUSES = ("not_summed_over_batch", "transposed", "wrong_shape")
# The factor causes, in the order a code names them; each group holds rivals (at most one is named,
# except that a mean over the batch may be taken twice: in dL/dO and again in a bias's sum).
FACTOR_GROUPS = (("negated",), ("scaled_by_2", "scaled_by_1/2"), ("scaled_by_N", "scaled_by_1/N"),
                 ("scaled_by_D_O", "scaled_by_1/D_O"))
FACTOR_CAUSES = tuple(c for group in FACTOR_GROUPS for c in group)
TWICE = ("scaled_by_1/N",)
HYPOTHESIS_CAUSES = tuple(k if not k.endswith("_") else k + "<name>" for k in KIND_ORDER)
CODES = SHAPE_CAUSES + FACTOR_CAUSES + HYPOTHESIS_CAUSES + (
    "zero", "unknown", "missing", "not_finite", "low_precision")
UPDATE = "update_not_gradient"


def cause_factor(cause: str, N: int, D_O: int) -> float:
    """The factor one cause multiplies the gradient by, on a net with batch N and D_O outputs."""
    return {"negated": -1.0, "scaled_by_2": 2.0, "scaled_by_1/2": 0.5, "scaled_by_N": float(N),
            "scaled_by_1/N": 1.0 / N, "scaled_by_D_O": float(D_O), "scaled_by_1/D_O": 1.0 / D_O}[cause]


def factor_of(causes: Sequence[str], N: int, D_O: int) -> float:
    """The product of the causes' factors."""
    return float(np.prod([cause_factor(c, N, D_O) for c in causes]))


def visible(causes: Sequence[str], N: int, D_O: int) -> bool:
    """False when some cause multiplies by exactly 1 on this net (a factor N at N = 1): unseen there."""
    return all(cause_factor(c, N, D_O) != 1.0 for c in causes if c != "negated")


def _group_options(group: tuple) -> list[tuple]:
    """A group's choices: none, one of its causes, or one of them twice (TWICE)."""
    return [()] + [(c,) for c in group] + [(c, c) for c in group if c in TWICE]


# Every combination of factor causes, at most one choice per group, fewest causes first.
FACTOR_READINGS = tuple(sorted(
    (sum(combo, ()) for combo in itertools.product(*[_group_options(g) for g in FACTOR_GROUPS])),
    key=lambda causes: (len(causes), [FACTOR_CAUSES.index(c) for c in causes])))
# The factors an SGD step's −lr may come with: a mean over the batch or the outputs where the loss
# sums (a constant, 2 or −1, is part of lr itself).
UPDATE_READINGS = ((), ("scaled_by_1/N",), ("scaled_by_1/D_O",), ("scaled_by_1/N", "scaled_by_1/D_O"))


class Diagnosis(NamedTuple):
    """A code (one cause from CODES, or several joined by ``+``) and a short detail (may be empty).

    ``readings``: every reading that fits on this net (see ``Reading``), for
    reading several nets together; empty for the codes that are not readings.
    """

    code: str
    detail: str = ""
    readings: tuple = ()


class Reading(NamedTuple):
    """One explanation of a candidate: a shape cause (or ""), factor causes, and a hypothesis.

    ``hypothesis`` is a Hypothesis's label ("" for none) and ``kind`` its code
    (two codes joined by ``+`` for a pair of mistakes; ``update_not_gradient``
    and ``weight_decay`` carry lr or λ in the label).
    """

    shape: str
    causes: tuple
    hypothesis: str = ""
    kind: str = ""

    @property
    def code(self) -> str:
        return "+".join(([self.shape] if self.shape else []) + list(self.causes)
                        + ([self.kind] if self.kind else []))

    @property
    def size(self) -> int:
        return bool(self.shape) + len(self.causes) + (self.kind.count("+") + 1 if self.kind else 0)

    @property
    def value_part(self) -> tuple:
        """What several nets must agree on: the factor causes and the hypothesis (not the shape)."""
        return (self.causes, self.hypothesis, self.kind)


def as_numeric_array(value) -> Optional[np.ndarray]:
    """The candidate as a float64 array, or None when it is not a numeric array at all."""
    arr = numeric_array(value)
    return None if arr is None else arr.astype(np.float64)


def numeric_array(value) -> Optional[np.ndarray]:
    """The candidate as an array of its own numeric dtype, or None when it is not numeric."""
    try:
        arr = np.asarray(value)
    except Exception:  # an object numpy cannot take (e.g. a tensor that requires grad)
        return None
    if arr.dtype.kind not in "biuf":
        return None
    return arr


def _fits(values: np.ndarray, target: np.ndarray, tol: Tolerance, N: int, D_O: int,
          itself: bool = False, vv: Optional[float] = None) -> list[tuple]:
    """The factor readings c with values ≈ c·target, c fitted by least squares, then factored;
    ``itself``: also () when values ≈ target (a hypothesis met with no factor); vv: ‖values‖²."""
    norm = float(np.vdot(target, target))
    if norm == 0.0:
        return []
    vt = float(np.vdot(values, target))
    c = vt / norm
    vv = float(np.vdot(values, values)) if vv is None else vv
    if _surely_apart(vv, vt, norm, values.size, tol) or not is_close(values, c * target, tol):
        return []
    return [causes for causes in FACTOR_READINGS
            if (causes or itself) and is_close(values, factor_of(causes, N, D_O) * target, tol)]


def _surely_apart(vv: float, vt: float, tt: float, size: int, tol: Tolerance) -> bool:
    """True when values cannot be within ``tol`` of c·target (c = vt/tt fitted by least squares),
    from the dot products vv = ‖values‖², vt = ⟨values, target⟩, tt = ‖target‖² alone.

    Within the tolerance every entry of the residual is at most b = rtol·max|c·target| + atol
    ≤ rtol·|c|·‖target‖ + atol, so its squared norm, vv − c·vt, is at most size·b². The margin
    (4×, and 1e-9·vv for the rounding of that difference) leaves every close call to ``is_close``.
    """
    c = vt / tt
    bound = tol.rtol * abs(c) * tt ** 0.5 + tol.atol
    return vv - c * vt > 4.0 * size * bound * bound + 1e-9 * vv


def _update_readings(values: np.ndarray, ref: np.ndarray, tol: Tolerance, N: int, D_O: int,
                     shape: str) -> list:
    """``update_not_gradient``: values ≈ −lr·f·ref for a learning rate a person types (one significant
    digit, 0 < lr < 1, not ½, which is ``negated+scaled_by_1/2``) and f a mean's factor (UPDATE_READINGS)."""
    norm = float(np.vdot(ref, ref))
    c = float(np.vdot(values, ref)) / norm if norm else 0.0
    if c >= 0.0 or not is_close(values, c * ref, tol):
        return []
    out = []
    for causes in UPDATE_READINGS:
        f = factor_of(causes, N, D_O)
        lr = -c / f
        typed = float(f"{lr:.1g}")
        if 0.0 < typed < 1.0 and typed != 0.5 and abs(typed - lr) <= 1e-3 * lr \
                and is_close(values, -typed * f * ref, tol):
            out.append(Reading(shape, causes, f"lr = {typed:g}", UPDATE))
    return out


def _decay_readings(values: np.ndarray, ref: np.ndarray, W: np.ndarray, tol: Tolerance, N: int, D_O: int,
                    shape: str) -> list:
    """``weight_decay``: values ≈ f·ref + λ·W, f a factor reading (or 1) and λ fitted."""
    rr, rw, ww = float(np.vdot(ref, ref)), float(np.vdot(ref, W)), float(np.vdot(W, W))
    vr, vw = float(np.vdot(values, ref)), float(np.vdot(values, W))
    det = rr * ww - rw * rw
    if det <= 1e-12 * rr * ww:
        return []  # W along the gradient (or zero): λ cannot be told from a factor
    a, lam = (vr * ww - vw * rw) / det, (vw * rr - vr * rw) / det
    if not is_close(values, a * ref + lam * W, tol):
        return []
    out = []
    for causes in ((),) + FACTOR_READINGS:
        f = factor_of(causes, N, D_O)
        lam = float(np.vdot(values - f * ref, W)) / ww
        if lam != 0.0 and is_close(values, f * ref + lam * W, tol):
            out.append(Reading(shape, causes, f"λ = {lam:.3g}", "weight_decay"))
    return out


def value_readings(values: np.ndarray, ref: np.ndarray, tol: Tolerance, N: int, D_O: int,
                   hypotheses: Sequence[Hypothesis] = (), key: str = "", shape: str = "",
                   update: bool = False) -> list:
    """Every Reading of ``values`` (ref's shape, float64, finite) against ``ref`` and the hypotheses
    of ref's shape that reach this parameter (``reaching``; the others are read by ``reshaped_readings``).

    update: also read a negative factor as an SGD step (a gradient, not a loss).
    Readings with causes invisible on this net are kept (``consensus`` needs
    them); ``best`` leaves them out.
    """
    vv = float(np.vdot(values, values))
    out = [Reading(shape, causes) for causes in _fits(values, ref, tol, N, D_O, vv=vv)]
    if update:
        out += _update_readings(values, ref, tol, N, D_O, shape)
    for hyp in hypotheses:
        h = hyp.grads.get(key)
        if h is None or hyp.free_shape or np.shape(h) != ref.shape:
            continue  # read by its entries, or against another shape
        if hyp.added:
            out += _decay_readings(values, ref, h, tol, N, D_O, shape)
            continue
        out += [Reading(shape, causes, hyp.label, hyp.kind) for causes in _fits(values, h, tol, N, D_O, True, vv)]
    return out


def reshaped_readings(cand: np.ndarray, ref: np.ndarray, tol: Tolerance, N: int, D_O: int,
                      hypotheses: Sequence[Hypothesis], key: str) -> list:
    """The Readings of ``cand`` against the hypotheses that ``value_readings`` leaves out: those whose
    gradient has another shape than ref (another parameter's), with the shape causes taken against
    that shape, and those read by their entries whatever the shape (``free_shape``)."""
    out = []
    for hyp in hypotheses:
        h = hyp.grads.get(key)
        if h is None or hyp.added or (np.shape(h) == ref.shape and not hyp.free_shape):
            continue
        if hyp.free_shape:
            options = [("", cand.reshape(h.shape))] if cand.size == h.size else []
        else:
            options = _undo_shape(cand, h, N)
        for shape, values in options:
            out += [Reading(shape, causes, hyp.label, hyp.kind) for causes in _fits(values, h, tol, N, D_O, True)]
    return out


def best(readings: Sequence[Reading], N: int, D_O: int) -> Optional[Diagnosis]:
    """The simplest reading that this net can see, with its rivals (``rivals``) named in the detail."""
    seen = sorted((r for r in readings if visible(r.causes, N, D_O)), key=_rank)
    if not seen:
        return None
    first = seen[0]
    return Diagnosis(first.code, describe_reading(first, rivals(first, seen[1:]), _ambiguity_reason(N, D_O)),
                     tuple(readings))


def rivals(chosen: Reading, others: Sequence[Reading]) -> list:
    """The other readings that would name a cause ``chosen`` does not (so the line must mention them).

    A reading that adds causes to all of ``chosen``'s (say 2 and 1/D_O, which cancel
    at D_O = 2) is no rival: naming ``chosen`` names only causes that it has too.
    An SGD step's −lr holds the sign: ``negated`` read as −1 = −0.2·D_O at
    D_O = 5 has no rival in ``scaled_by_D_O+update_not_gradient``.
    """
    out: list[Reading] = []
    for r in others:
        held = r.causes + (("negated",) if UPDATE in r.kind else ())
        contains = (all(held.count(c) >= chosen.causes.count(c) for c in chosen.causes)
                    and (not chosen.kind or r.hypothesis == chosen.hypothesis))
        if r.code != chosen.code and not contains and r.code not in [o.code for o in out]:
            out.append(r)
    return out


def _rank(r: Reading) -> tuple:
    """Fewest causes first, plain factors before a hypothesis. An SGD step counts as two causes,
    the sign and lr: −1/N at N = 10 is a mean and a flipped sign (named) or lr = 0.1 (its rival)."""
    causes = [FACTOR_CAUSES.index(c) for c in r.causes]
    kinds = [kind_rank(k) for k in r.kind.split("+")] if r.kind else []
    return (r.size + (UPDATE in r.kind), r.kind != "", causes, kinds)


def _ambiguity_reason(N: int, D_O: int) -> str:
    """Why one net cannot tell factors apart: the sizes that coincide with a constant or each other."""
    facts = []
    if N == 2:
        facts.append("N = 2")
    if D_O == 2:
        facts.append("D_O = 2")
    if N == D_O > 1:
        facts.append(f"N = D_O = {N}")
    return f"on this net ({', '.join(facts)})" if facts else "on this net"


def describe_reading(reading: Reading, rivals: Sequence[Reading] = (), where: str = "") -> str:
    """The detail of a reading: its hypothesis, and the rivals the nets could not rule out."""
    parts = [reading.hypothesis] if reading.hypothesis else []
    if rivals:
        names = " or ".join(r.code + (f" ({r.hypothesis})" if r.hypothesis else "") for r in rivals)
        parts.append(f"{where or 'on the graded nets'} this cannot be told from {names}")
    return "; ".join(parts)


def diagnose(candidate, reference: np.ndarray, tol: Tolerance, N: int,
             hypotheses: Sequence[Hypothesis] | Callable[[], Sequence[Hypothesis]] = (),
             key: str = "", D_O: int = 0, precision: Optional[Tolerance] = None,
             pairs: Sequence[Hypothesis] | Callable[[], Sequence[Hypothesis]] = ()) -> Optional[Diagnosis]:
    """None when ``candidate`` matches ``reference`` within ``tol``, else the Diagnosis.

    candidate: anything array-like (or None when missing). reference: the right
    gradient, the parameter's shape. N: the batch size; D_O: the output width
    (0: unknown, the outputs' factor is then not tried). hypotheses: gradients
    recomputed under mistakes, looked up by ``key``, or a function returning
    them (called only when the plain reading fails). pairs: the same for two
    mistakes at once, read only when no single one fits. precision: a looser
    tolerance that the candidate's own dtype would meet (float16): right within
    it but not within ``tol`` is ``low_precision``; mistakes are then read at it.
    """
    if candidate is None:
        return Diagnosis("missing")
    cand = as_numeric_array(candidate)
    ref = np.asarray(reference, dtype=np.float64)
    if cand is None:
        return Diagnosis("wrong_shape", f"not a numeric array ({type(candidate).__name__})")
    D_O = D_O or 1
    if not np.all(np.isfinite(cand)):
        return Diagnosis("not_finite")
    if cand.shape == ref.shape and is_close(cand, ref, tol):
        return None
    if precision is not None:
        if cand.shape == ref.shape and is_close(cand, ref, precision):
            return Diagnosis("low_precision")
        tol = precision
    if cand.shape == ref.shape and not np.any(cand) and np.any(ref):
        return Diagnosis("zero")
    lazy = _Lazy(hypotheses, key, ref, tol)
    options = _undo_shape(cand, ref, N)
    for shape, values in options:
        found = _read(values, ref, tol, N, D_O, lazy, key, shape)
        if found is not None:
            return found
    found = best(reshaped_readings(cand, ref, tol, N, D_O, lazy.get(), key), N, D_O)
    if found is None and pairs:
        two = _Lazy(pairs, key, ref, tol).get()
        for shape, values in options:
            found = found or best(value_readings(values, ref, tol, N, D_O, two, key, shape), N, D_O)
        found = found or best(reshaped_readings(cand, ref, tol, N, D_O, two, key), N, D_O)
    if found is not None:
        return found
    return Diagnosis("wrong_shape") if cand.shape != ref.shape else Diagnosis("unknown")


def reaching(hypotheses: Sequence[Hypothesis], key: str, ref: np.ndarray, tol: Tolerance) -> list:
    """The hypotheses that change ``key``'s gradient, each with that gradient alone, as float64.

    One of ref's shape within ``tol`` of ref does not reach this parameter (a
    derivative mistake does not reach the output layer): it would only repeat
    the plain reading.
    """
    # max|h − ref| ≤ bound (is_close's rule) implies ‖h − ref‖² ≤ size·bound²: past that, h reaches.
    far = 1.001 * ref.size * (tol.rtol * float(np.max(np.abs(ref), initial=0.0)) + tol.atol) ** 2
    out = []
    for hyp in hypotheses:
        h = hyp.grads.get(key)
        if h is None:
            continue
        h = np.asarray(h, dtype=np.float64)
        if not hyp.added and h.shape == ref.shape:
            d = h - ref
            if float(np.vdot(d, d)) <= far and is_close(h, ref, tol):
                continue
        out.append(hyp._replace(grads={key: h}))
    return out


class _Lazy:
    """The hypotheses that reach one parameter, computed on first use."""

    def __init__(self, hypotheses, key: str, ref: np.ndarray, tol: Tolerance):
        self._source = hypotheses
        self._value: Optional[list] = None
        self._key, self._ref, self._tol = key, ref, tol

    def get(self) -> list:
        if self._value is None:
            every = self._source() if callable(self._source) else self._source
            self._value = reaching(every, self._key, self._ref, self._tol)
        return self._value


def _read(values, ref, tol, N, D_O, lazy: _Lazy, key, shape) -> Optional[Diagnosis]:
    """The best reading of ``values``: the plain factors first, the hypotheses only when those fail."""
    if shape and is_close(values, ref, tol):  # the shape alone (factors of 1 here kept for consensus)
        detail = "the values are right, only the shape is wrong" if shape == "wrong_shape" else ""
        readings = (Reading(shape, ()),) + tuple(value_readings(values, ref, tol, N, D_O, (), key, shape, True))
        return Diagnosis(shape, detail, readings)
    found = best(value_readings(values, ref, tol, N, D_O, (), key, shape, update=True), N, D_O)
    if found is None:
        found = best(value_readings(values, ref, tol, N, D_O, lazy.get(), key, shape, update=True), N, D_O)
    return found


def _undo_shape(cand: np.ndarray, ref: np.ndarray, N: int) -> list[tuple[str, np.ndarray]]:
    """(shape cause, the candidate brought to ref's shape), most likely first; ("", cand) when it fits."""
    if cand.shape == ref.shape:
        out = [("", cand)]
        if ref.ndim == 2 and ref.shape[0] == ref.shape[1] and not np.allclose(cand, cand.T):
            out.append(("transposed", cand.T))  # a square parameter: only the values can tell
        return out
    out = []
    if ref.ndim == 2 and ref.shape[1] == 1 and N > 1 and cand.shape == (ref.shape[0], N):
        out.append(("not_summed_over_batch", cand.sum(axis=1, keepdims=True)))
    if cand.ndim == 2 and cand.shape == ref.T.shape:
        out.append(("transposed", cand.T))
    if cand.size == ref.size:
        out.append(("wrong_shape", cand.reshape(ref.shape)))
    return out


def consensus(per_net: Sequence[tuple[Optional[Diagnosis], int, int]]) -> Optional[list]:
    """Read one parameter on several nets together; None when no single value reading fits them all.

    per_net: (diagnosis or None when it passed, N, D_O) per net. A reading fits
    a failing net when it is among that net's readings (its shape cause aside),
    and a passing net when its factor is 1 there and it names no hypothesis.
    Returns, per net, the Diagnosis to show (None for a passing one): the
    simplest common reading, with the net's own shape cause, and the rivals
    the nets together cannot rule out named in the detail.
    """
    failing = [d for d, _, _ in per_net if d is not None]
    if not failing or any(not d.readings for d in failing):
        return None
    common = None
    for d, N, D_O in per_net:
        if d is None:
            fits = {(c, "", "") for c in FACTOR_READINGS if abs(factor_of(c, N, D_O) - 1.0) < 1e-12}
        else:
            fits = {r.value_part for r in d.readings}
        common = fits if common is None else common & fits
    if not common:
        return None
    ranked = sorted(common, key=lambda v: _rank(Reading("", *v)))
    top = Reading("", *ranked[0])
    others = rivals(top, [Reading("", *v) for v in ranked[1:]])
    out: list[Optional[Diagnosis]] = []
    for d, N, D_O in per_net:
        if d is None:
            out.append(None)
            continue
        shape = next((r.shape for r in d.readings if r.value_part == top.value_part), "")
        reading = top._replace(shape=shape)
        unseen = [c for c in reading.causes if not visible((c,), N, D_O)]
        detail = describe_reading(reading, others)
        if unseen:
            note = f"{' and '.join(unseen)} cannot be seen at N = {N}, D_O = {D_O}; named from the other nets"
            detail = "; ".join(p for p in (detail, note) if p)
        out.append(Diagnosis(reading.code, detail, d.readings))
    return out
