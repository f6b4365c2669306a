"""Train the manual net and its torch twin in lockstep, recording how far apart their gradients are.

This is the project's one lockstep loop: the main job, the lockstep tests and the
one-step tests all run it. Both twins start from the same weights (the twin is
built from the manual net), see the same mini-batches and each takes its own
SGD steps: the manual net with ``MLP.sgd_step`` (or ``MLP.train_step``), the
twin with ``torch.optim.SGD``. At every step the loss and each parameter's
gradient of the two are compared with the dtype's tolerance
(``manual_backprop.oracle.tolerances``, the one table), and after the step the
weights are compared with the drift allowance ``LOCKSTEP``, so rounding
differences that grow as the two sets of weights drift apart show up step by
step. With ``resync=True`` the twin is given the manual net's weights before
every step, so each step's difference is that step's own, without the drift.

Data is the manual net's features × batch: ``I (D_I, N)``, ``Y (D_O, N)`` or
class indices ``(N,)``. The twin is fed ``I.T``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import numpy as np

from manual_backprop.oracle.tolerances import LOCKSTEP, Tolerance, is_close, max_errors, tolerance_for

from .._torch import torch  # without torch: an ImportError naming the extra
from ..model import TorchMLP


@dataclass
class Diff:
    """How far the manual value is from torch's: max |difference|, that over max |torch|, and the verdict."""

    max_abs_err: float
    max_rel_err: float
    passed: bool


@dataclass
class StepRecord:
    """One SGD step: both losses (before the update), the twins' differences, and how far it moved.

    ``diffs``: "loss" and each gradient, judged with the dtype's tolerance.
    ``weights``: each parameter after the step, judged with the drift allowance ``LOCKSTEP``.
    ``moved``: the smallest change this step made to any manual parameter, relative to its
    largest entry (a step far below the tolerance could not tell a wrong gradient from a right one).
    """

    step: int
    epoch: int
    loss_manual: float
    loss_torch: float
    diffs: dict  # "loss" and each parameter name → Diff
    weights: dict  # each parameter name → Diff, after the step
    moved: float

    @property
    def passed(self) -> bool:
        """The loss and every gradient agree (what the main job's verdict is about)."""
        return all(d.passed for d in self.diffs.values())

    @property
    def weights_passed(self) -> bool:
        return all(d.passed for d in self.weights.values())


@dataclass
class LockstepResult:
    """Every step's record, with the dtype's tolerance; ``passed`` when every step agrees."""

    names: list  # "loss", then the parameter names in net.params order
    tolerance: Tolerance
    records: list = field(default_factory=list)
    final_weights: dict = field(default_factory=dict)  # parameter name → Diff after the last step

    @property
    def passed(self) -> bool:
        """Every step's loss and gradients agree."""
        return all(r.passed for r in self.records)

    @property
    def max_drift(self) -> float:
        """The largest difference of the twins' weights after any step, relative to torch's largest entry."""
        return max(d.max_rel_err for r in self.records for d in r.weights.values())

    @property
    def first_failure(self) -> Optional[StepRecord]:
        return next((r for r in self.records if not r.passed), None)

    def worst(self, name: str) -> StepRecord:
        """The step where ``name`` (a parameter or "loss") differs most, relative to torch's value."""
        return max(self.records, key=lambda r: r.diffs[name].max_rel_err)

    def table(self) -> str:
        """Per quantity: max abs and rel difference at the first step and at the worst step."""
        tol = self.tolerance
        lines = [f"{'':>8}  {'first step':^21}  {'worst step':^28}",
                 f"{'':>8}  {'max abs':>10} {'max rel':>10}  {'step':>6} {'max abs':>10} {'max rel':>10}  ok",
                 ]
        for name in self.names:
            first, worst = self.records[0].diffs[name], self.worst(name)
            w = worst.diffs[name]
            ok = all(r.diffs[name].passed for r in self.records)
            lines.append(f"{name:>8}  {first.max_abs_err:10.2e} {first.max_rel_err:10.2e}  {worst.step:>6} "
                         f"{w.max_abs_err:10.2e} {w.max_rel_err:10.2e}  {'yes' if ok else 'NO'}")
        lines.append(f"tolerance: max abs ≤ {tol.rtol:g} · max |torch| + {tol.atol:g}, "
                     f"i.e. max rel ≲ {tol.rtol:g}")
        return "\n".join(lines)

    def loss_curves(self, rows: int = 10) -> str:
        """Both twins' mean loss per epoch, at up to ``rows`` evenly spaced epochs (first and last included)."""
        epochs = sorted({r.epoch for r in self.records})
        shown = sorted({epochs[round(i)] for i in np.linspace(0, len(epochs) - 1, min(rows, len(epochs)))})
        lines = [f"{'epoch':>6} {'mean loss manual':>17} {'mean loss torch':>17} {'difference':>11}"]
        for e in shown:
            rs = [r for r in self.records if r.epoch == e]
            m = float(np.mean([r.loss_manual for r in rs]))
            t = float(np.mean([r.loss_torch for r in rs]))
            lines.append(f"{e:>6} {m:17.8g} {t:17.8g} {abs(m - t):11.2e}")
        return "\n".join(lines)


def compare(manual: dict, reference: dict, tol: Tolerance) -> dict:
    """Per key, the Diff of a manual value (array or float) from torch's."""
    out = {}
    for key, ref in reference.items():
        abs_err, rel_err = max_errors(manual[key], ref)
        out[key] = Diff(abs_err, rel_err, is_close(manual[key], ref, tol))
    return out


def lockstep(net, batches: Iterable, lr: float, resync: bool = False, update: str = "sgd_step",
             on_step: Optional[Callable[[StepRecord], None]] = None) -> LockstepResult:
    """Train ``net`` and a twin built from it side by side on ``batches`` of (epoch, I, Y).

    ``net`` is trained in place. ``update`` is how the manual net steps:
    "sgd_step" (the gradients compared, then ``net.sgd_step``) or "train_step"
    (the gradients compared, then ``net.train_step`` on the same batch).
    ``resync`` copies its weights into the twin before every step. ``on_step``
    is called with each step's record (a progress bar, say). Returns every
    step's record and the final weights' difference, judged with the gradient tolerance.
    """
    if update not in ("sgd_step", "train_step"):
        raise ValueError(f"update must be 'sgd_step' or 'train_step'; got {update!r}")
    model = TorchMLP.from_manual(net)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    tol, drift = tolerance_for(net.dtype), LOCKSTEP[net.dtype]
    result = LockstepResult(["loss"] + list(net.params), tol)
    for step, (epoch, I, Y) in enumerate(batches):
        I = np.asarray(I, dtype=net.dtype)  # both twins see the same rounded inputs
        if resync:
            model.load_params(net.params)
        O = net.forward(I)
        loss_manual = net.loss(O, Y)
        grads = net.backward(Y)

        opt.zero_grad()
        X = torch.from_numpy(np.ascontiguousarray(I.T))  # (N, D_I): torch is batch-major
        loss_torch = model.loss_fn(model(X), model.targets(Y))
        loss_torch.backward()
        diffs = compare({"loss": loss_manual, **grads}, {"loss": loss_torch.item(), **model.grads()}, tol)

        before = {key: p.copy() for key, p in net.params.items()}
        if update == "sgd_step":
            net.sgd_step(grads, lr)
        else:
            net.train_step(I, Y, lr)
        opt.step()
        moved = min(max_errors(p, before[key])[1] for key, p in net.params.items())
        record = StepRecord(step, epoch, loss_manual, loss_torch.item(), diffs,
                            compare(net.params, model.to_params(), drift), moved)
        result.records.append(record)
        if on_step is not None:
            on_step(record)
    result.final_weights = compare(net.params, model.to_params(), tol)
    return result
