"""The gradient checker's report: one row per parameter, and a readable table. NumPy only.

Both oracles return it: ``torch_ref.check_gradients`` (against autograd) and
``manual_backprop.oracle.comparison.check_gradients_fd`` (against finite differences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .tolerances import Tolerance


@dataclass(frozen=True)
class ParamCheck:
    """The verdict on one parameter's candidate gradient.

    ``max_abs_err`` and ``max_rel_err`` (relative to the largest reference
    entry, as in ``tolerances.max_errors``) are NaN when the shapes differ.
    ``diagnosis`` is None when the gradient passes, else a code from
    ``manual_backprop.oracle.diagnosis.CODES`` (several joined by ``+``);
    ``fix`` is then one line naming the seed equation, with concrete shapes,
    that gives the right gradient. ``tolerance`` is the one this parameter was
    judged at: the check's, loosened only by this candidate's own dtype.
    """

    name: str
    shape: tuple
    got_shape: Optional[tuple]
    passed: bool
    max_abs_err: float
    max_rel_err: float
    diagnosis: Optional[str] = None
    detail: str = ""
    fix: str = ""
    tolerance: Optional[Tolerance] = None  # what this parameter was judged at (its own dtype's)
    dtype: Optional[str] = None  # the candidate's dtype name, None when not a numeric array
    readings: tuple = field(default=(), repr=False, compare=False)  # diagnosis.Reading, for consensus


@dataclass(frozen=True)
class GradientReport:
    """Per-parameter verdicts (``params``, keyed like net.params) against one reference.

    ``passed`` is True when every parameter passes, the candidate has no
    keys the net does not have (listed in ``unexpected``) and there is no
    ``problem`` (a candidate that is not a dict at all, said in one line).
    ``tolerance`` is the loosest any parameter was judged at, ``base_tolerance``
    the check's own (a float32 candidate is judged at float32's, alone).
    """

    params: dict
    reference: str  # "autograd" or "finite differences"
    tolerance: Tolerance
    context: str  # the net and batch checked, e.g. "MLP([4, 16, 2], sigmoid → identity, half_sse), N = 32"
    unexpected: tuple = field(default=())
    base_tolerance: Optional[Tolerance] = None
    problem: str = ""
    # name -> (candidate, reference) of each failing parameter, kept only when asked (grade --plot)
    arrays: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return (not self.problem and not self.unexpected
                and all(p.passed for p in self.params.values()))

    @property
    def failures(self) -> list:
        """The ParamChecks that failed, output layer first."""
        return [p for p in reversed(list(self.params.values())) if not p.passed]

    def __str__(self) -> str:
        tol = self.base_tolerance or self.tolerance
        looser = [f"{p.name} ({p.dtype}) at rtol {p.tolerance.rtol:g}" for p in self.params.values()
                  if p.tolerance is not None and p.tolerance != tol]
        own = f"; {', '.join(looser)}" if looser else ""
        head = (f"gradient check against {self.reference} (rtol {tol.rtol:g}, atol {tol.atol:g}{own}): "
                f"{self.context}")
        if self.problem:
            return f"{head}\n  {self.problem}\nFAILED"
        rows = [("parameter", "shape", "max abs err", "max rel err", "result")]
        for p in reversed(list(self.params.values())):  # output layer first, as backprop goes
            shape = "×".join(map(str, p.shape))
            if p.got_shape is not None and p.got_shape != p.shape:
                shape += " (got " + ("×".join(map(str, p.got_shape)) or "scalar") + ")"
            result = "ok" if p.passed else f"FAIL {p.diagnosis}"
            rows.append((p.name, shape, _num(p.max_abs_err), _num(p.max_rel_err), result))
        for key in self.unexpected:
            rows.append((str(key), "", "", "", "FAIL unexpected key"))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [head] + ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines += ["  " + p.fix for p in self.failures]
        if self.unexpected:
            lines.append(f"  unexpected keys {list(self.unexpected)}; the gradient dict must have "
                         f"exactly the keys of net.params: {list(self.params)}")
        lines.append("PASSED" if self.passed else
                     f"FAILED: {len(self.failures) + len(self.unexpected)} of "
                     f"{len(self.params) + len(self.unexpected)} wrong")
        return "\n".join(lines)


def _num(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.2e}"
