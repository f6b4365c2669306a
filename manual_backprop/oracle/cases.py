"""Grade a student's ``backward(params, I, Y) -> grads`` on several seeded nets. NumPy only.

Also, when given, the other parts of the seed: ``forward(params, I) -> O``,
``loss(O, Y) -> float`` and ``sgd_step(params, grads, lr) -> params``
(``manual_backprop.oracle.parts`` says what each receives and what is accepted).

Shared by the pytest fixture ``backprop_oracle`` (``torch_ref.pytest_plugin``)
and the command ``python -m torch_ref.grade``; both pass autograd's check, and
this module's default is the torch-free finite-difference one.

What the student's function receives, per case (fresh copies each call, so
it may change them freely):

- ``params``: a dict with the seed's names and shapes, ``W_H (D_H, D_I)``,
  ``b_H (D_H, 1)``, ``W_O (D_O, D_H)``, ``b_O (D_O, 1)``, float64;
- ``I``: the inputs, ``(D_I, N)`` float64, features × batch;
- ``Y``: the targets, ``(D_O, N)`` float64 (class indices ``(N,)`` for
  ``softmax_cross_entropy``).

It returns a dict of gradients with the same keys and shapes. The net is the
seed's (sigmoid hidden layer, identity output, ``half_sse``) unless
``activation``, ``output_activation`` or ``loss`` say otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from ..losses import get_loss
from ..mlp import MLP
from .comparison import check_gradients_fd
from .diagnosis import Diagnosis, consensus
from .hints import fix_line
from .parts import PartResult, grade_forward, grade_loss, grade_sgd_step, loss_fix, plain_dict
from .report import GradientReport
from .tolerances import tolerance_for


class Case(NamedTuple):
    """One graded net: its label, layer widths, batch size and the seed of weights and data."""

    label: str
    sizes: tuple
    N: int
    seed: int


# One hidden layer each: the seed's net, N = 1, and non-square layers both ways.
# N = 2 is avoided: there a factor N cannot be told from the factor 2. Together the
# nets tell every factor reading apart (the seed's D_O = 2 makes 1/D_O look like ½
# there): a factor 2^a N^b D_O^d is 2^a 3^d on 3-5-3 (N = 1), which fixes a and d,
# and 2^(a+2d) 3^b on 5-3-4 (N = 3), which then fixes b. A wrong scale passes a
# net only where its factors cancel there (a factor of N at N = 1, 2 · 1/D_O on
# the seed's net), and the other nets show it; the MSE gradient 2(O − Y)/(N·D_O)
# for half_sse, which passed 3-5-2 at N = 1, is 2/3 on 3-5-3.
DEFAULT_CASES = (
    Case("seed net 4-16-2, N=32", (4, 16, 2), 32, 0),
    Case("3-5-3, N=1", (3, 5, 3), 1, 1),
    Case("5-3-4, N=3", (5, 3, 4), 3, 2),
    Case("2-7-3, N=8", (2, 7, 3), 8, 3),
)


class CaseResult(NamedTuple):
    """One net's verdicts: ``report`` is the backward's (None when no backward was graded);
    ``parts`` holds a PartResult per graded part, in the seed's order."""

    case: Case
    report: Optional[GradientReport]
    parts: tuple = ()

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.parts) and (self.report is None or self.report.passed)

    def part(self, name: str) -> Optional[PartResult]:
        return next((p for p in self.parts if p.name == name), None)


def random_batch(sizes, N: int, loss: str = "half_sse", seed: int = 0, scale: float = 1.0):
    """Seeded standard-normal inputs ``scale`` · (D_I, N) and targets for ``loss``, float64:
    (D_O, N) standard normal, or (N,) class indices in [0, D_O)."""
    rng = np.random.default_rng(seed)
    I = scale * rng.standard_normal((sizes[0], N))
    if get_loss(loss).class_index:
        Y: np.ndarray = rng.integers(0, sizes[-1], size=N)
    else:
        Y = rng.standard_normal((sizes[-1], N))
    return I, Y


def case_data(case: Case, loss: str = "half_sse"):
    """The seeded inputs (D_I, N) and targets of a graded case."""
    return random_batch(case.sizes, case.N, loss, seed=1000 + case.seed)


def grade(backward: Optional[Callable] = None, cases: Sequence[Case] = DEFAULT_CASES,
          activation: str = "sigmoid", output_activation: str = "identity", loss: str = "half_sse",
          check: Optional[Callable] = None, *, forward: Optional[Callable] = None,
          loss_fn: Optional[Callable] = None, sgd_step: Optional[Callable] = None) -> list:
    """Run the given parts of a student's seed on each case and check them; a CaseResult per case.

    backward(params, I, Y) -> grads; forward(params, I) -> O; loss_fn(O, Y) ->
    float (``loss`` names the net's loss); sgd_step(params, grads, lr) -> params.
    check: ``check(net, I, Y, grads) -> GradientReport``; default
    ``check_gradients_fd`` (finite differences). Exceptions raised by a student
    function propagate. A backward that returns no dict fails with a report
    whose ``problem`` names the expected dict. The nets are then read together
    (``consensus``), so that a factor the nets tell apart is named once for all.
    """
    given = {"forward": forward, "loss_fn": loss_fn, "backward": backward, "sgd_step": sgd_step}
    for name, fn in given.items():
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be a function; got {type(fn).__name__}")
    if all(fn is None for fn in given.values()):
        raise TypeError("grade needs at least one function: backward, forward, loss_fn or sgd_step")
    check = check or check_gradients_fd
    results = []
    for case in cases:
        case = Case(*case)
        net = MLP(list(case.sizes), activation=activation, output_activation=output_activation,
                  loss=loss, seed=case.seed)
        I, Y = case_data(case, loss)
        tol = tolerance_for(net.dtype)
        parts = []
        if forward is not None:
            parts.append(grade_forward(forward, net, I.copy(), tol))
        if loss_fn is not None:
            O = net.forward(I)
            parts.append(grade_loss(loss_fn, net, O, Y, tol))
        report = None
        if backward is not None:
            report = _check_backward(backward, net, I, Y, check)
            parts.append(_backward_part(report))
        if sgd_step is not None:
            parts.append(grade_sgd_step(sgd_step, net, tol, seed=2000 + case.seed))
        results.append(CaseResult(case, report, tuple(parts)))
    return read_together(results, activation, output_activation, loss)


def _backward_part(report: GradientReport) -> PartResult:
    """The backward's verdict as a part: ``wrong_type`` (not a dict) or ``wrong_gradients``, the
    failing parameters' codes in the detail (the report's table has the rest)."""
    if report.passed:
        return PartResult("backward", True)
    if report.problem:
        return PartResult("backward", False, "wrong_type", report.problem)
    detail = ", ".join(f"{p.name} {p.diagnosis}" for p in report.failures)
    return PartResult("backward", False, "wrong_gradients", detail)


def _check_backward(backward: Callable, net, I, Y, check: Callable) -> GradientReport:
    """Call ``backward`` on fresh copies and check what it returns; not a dict is a report's problem."""
    params = {k: v.copy() for k, v in net.params.items()}
    grads = backward(params, I.copy(), Y.copy())
    if plain_dict(grads) is not None:
        return check(net, I, Y, plain_dict(grads))
    name = getattr(backward, "__name__", "backward")
    kind = type(grads).__name__
    if isinstance(grads, (tuple, list)):
        kind = f"a {kind} of {len(grads)} items"
    example = "{" + ", ".join(f"'{k}': dL_d{k}" for k in net.params) + "}"
    problem = (f"{name}(params, I, Y) must return a dict of gradients keyed like params "
               f"{list(net.params)}; got {kind}. Return {example}")
    return dataclasses.replace(check(net, I, Y, {}), problem=problem)


def read_together(results: Sequence[CaseResult], activation: str, output_activation: str,
                  loss: str) -> list:
    """The results with each parameter's (and the loss's) diagnosis read across all the nets.

    Verdicts never change: only the names of failing parameters, where one
    reading fits every net (``diagnosis.consensus``).
    """
    results = _gradients_together(list(results), activation, output_activation, loss)
    results = _losses_together(results, loss)
    return [r._replace(parts=tuple(_backward_part(r.report) if p.name == "backward" else p for p in r.parts))
            for r in results]


def _gradients_together(results: list, activation: str, output_activation: str, loss: str) -> list:
    """Each parameter read on every net's backward report at once."""
    reports = [r.report for r in results]
    if not reports or any(rep is None or rep.problem for rep in reports):
        return results
    for key in reports[0].params:
        if not all(key in r.report.params for r in results):
            continue
        agreed = consensus([(_as_diagnosis(r.report.params[key]), r.case.N, r.case.sizes[-1])
                            for r in results])
        for i, d in enumerate(agreed or ()):
            if d is not None:
                r = results[i]
                results[i] = r._replace(report=_renamed(r.report, key, d, r.case, activation,
                                                        output_activation, loss))
    return results


def _losses_together(results: list, loss: str) -> list:
    """The loss part read on every net at once."""
    losses = [r.part("loss") for r in results]
    if not losses or any(p is None for p in losses):
        return results
    agreed = consensus([(_as_diagnosis(p), r.case.N, r.case.sizes[-1]) for r, p in zip(results, losses)])
    for i, d in enumerate(agreed or ()):
        if d is not None:
            renamed = PartResult("loss", False, d.code, d.detail, loss_fix(d, loss), d.readings)
            results[i] = results[i]._replace(parts=tuple(renamed if p.name == "loss" else p
                                                         for p in results[i].parts))
    return results


def _as_diagnosis(p) -> Optional[Diagnosis]:
    """A ParamCheck's or PartResult's verdict as a Diagnosis with its readings, None when it passed."""
    return None if p.passed else Diagnosis(p.diagnosis, p.detail, p.readings)


def _renamed(report: GradientReport, key: str, d: Diagnosis, case: Case, activation: str,
             output_activation: str, loss: str) -> GradientReport:
    """``report`` with ``key``'s diagnosis, detail and fix line replaced by ``d``."""
    p = report.params[key]
    dtype = np.dtype(p.dtype) if p.dtype else None
    fix = fix_line(key, d, p.got_shape, case.sizes, case.N, activation, output_activation, loss, dtype)
    params = dict(report.params)
    params[key] = dataclasses.replace(p, diagnosis=d.code, detail=d.detail, fix=fix)
    return dataclasses.replace(report, params=params)


def summary(results: Sequence[CaseResult], failures_only: bool = False) -> str:
    """Each case's parts and table (only the failing cases when ``failures_only``), then a verdict line."""
    parts = []
    for r in results:
        if failures_only and r.passed:
            continue
        head = f"== {r.case.label}: {'passed' if r.passed else 'FAILED'}"
        head += " (" + ", ".join(_verdict(p) for p in r.parts) + ")"  # every graded part, in the seed's order
        lines = [head] + [f"  {p.fix}" for p in r.parts if not p.passed and p.name != "backward"]
        if r.report is not None:
            lines.append(str(r.report))
        parts.append("\n".join(lines))
    failed = sum(not r.passed for r in results)
    parts.append(f"{len(results) - failed} of {len(results)} nets passed" if failed else
                 f"all {len(results)} nets passed")
    return "\n\n".join(parts)


def _verdict(p: PartResult) -> str:
    """"loss FAIL scaled_by_1/N", "forward ok"; the backward's codes are in its table."""
    if p.passed:
        return f"{p.name} ok"
    return f"{p.name} FAIL" + ("" if p.name == "backward" else f" {p.diagnosis}")
