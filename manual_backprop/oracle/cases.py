"""Grade a student's ``backward(params, I, Y) -> grads`` on several seeded nets. NumPy only.

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

from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from ..losses import get_loss
from ..mlp import MLP
from .comparison import check_gradients_fd
from .report import GradientReport


class Case(NamedTuple):
    """One graded net: its label, layer widths, batch size and the seed of weights and data."""

    label: str
    sizes: tuple
    N: int
    seed: int


# One hidden layer each: the seed's net, N = 1, and non-square layers both ways.
# N = 2 is avoided: there a factor N cannot be told from the factor 2.
DEFAULT_CASES = (
    Case("seed net 4-16-2, N=32", (4, 16, 2), 32, 0),
    Case("3-5-2, N=1", (3, 5, 2), 1, 1),
    Case("5-3-4, N=3", (5, 3, 4), 3, 2),
    Case("2-7-3, N=8", (2, 7, 3), 8, 3),
)


class CaseResult(NamedTuple):
    case: Case
    report: GradientReport


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


def grade(backward: Callable, cases: Sequence[Case] = DEFAULT_CASES, activation: str = "sigmoid",
          output_activation: str = "identity", loss: str = "half_sse",
          check: Optional[Callable] = None) -> list:
    """Run ``backward(params, I, Y)`` on each case and check it; returns a CaseResult per case.

    check: ``check(net, I, Y, grads) -> GradientReport``; default
    ``check_gradients_fd`` (finite differences). Exceptions raised by
    ``backward`` propagate. A return value that is not a dict is a TypeError
    naming the function.
    """
    if not callable(backward):
        raise TypeError(f"backward must be a function backward(params, I, Y) -> grads; "
                        f"got {type(backward).__name__}")
    check = check or check_gradients_fd
    results = []
    for case in cases:
        case = Case(*case)
        net = MLP(list(case.sizes), activation=activation, output_activation=output_activation,
                  loss=loss, seed=case.seed)
        I, Y = case_data(case, loss)
        params = {k: v.copy() for k, v in net.params.items()}
        grads = backward(params, I.copy(), Y.copy())
        if not isinstance(grads, dict):
            name = getattr(backward, "__name__", "backward")
            raise TypeError(f"{name}(params, I, Y) must return a dict of gradients keyed like "
                            f"params {list(net.params)}; got {type(grads).__name__}")
        results.append(CaseResult(case, check(net, I, Y, grads)))
    return results


def summary(results: Sequence[CaseResult], failures_only: bool = False) -> str:
    """Each case's table (only the failing ones when ``failures_only``), then one verdict line."""
    parts = []
    for r in results:
        if failures_only and r.report.passed:
            continue
        parts.append(f"== {r.case.label}: {'passed' if r.report.passed else 'FAILED'}\n{r.report}")
    failed = sum(not r.report.passed for r in results)
    parts.append(f"{len(results) - failed} of {len(results)} nets passed" if failed else
                 f"all {len(results)} nets passed")
    return "\n\n".join(parts)
