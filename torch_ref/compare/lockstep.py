"""Train the manual net and its torch twin in lockstep, recording how far apart their gradients are.

Both twins start from the same weights (the twin is built from the manual net),
see the same mini-batches and each takes its own SGD steps: the manual net with
``MLP.sgd_step``, the twin with ``torch.optim.SGD``. At every step the loss and
each parameter's gradient of the two are compared with the dtype's tolerance
(``manual_backprop.oracle.tolerances``, the one table), so rounding differences that
grow as the two sets of weights drift apart show up step by step. With
``resync=True`` the twin is given the manual net's weights before every step,
so each step's difference is that step's own, without the drift.

Data is the manual net's features × batch: ``I (D_I, N)``, ``Y (D_O, N)`` or
class indices ``(N,)``. The twin is fed ``I.T``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import numpy as np

from manual_backprop.oracle.tolerances import Tolerance, is_close, max_errors, tolerance_for

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
    """One SGD step: both losses (before the update) and, per quantity, the difference of the twins."""

    step: int
    epoch: int
    loss_manual: float
    loss_torch: float
    diffs: dict  # "loss" and each parameter name → Diff

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.diffs.values())


@dataclass
class LockstepResult:
    """Every step's record, with the dtype's tolerance; ``passed`` when every step agrees."""

    names: list  # "loss", then the parameter names in net.params order
    tolerance: Tolerance
    records: list = field(default_factory=list)
    final_weights: dict = field(default_factory=dict)  # parameter name → Diff after the last step

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.records)

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


def lockstep(net, batches: Iterable, lr: float, resync: bool = False,
             on_step: Optional[Callable[[StepRecord], None]] = None) -> LockstepResult:
    """Train ``net`` and a twin built from it side by side on ``batches`` of (epoch, I, Y).

    ``net`` is trained in place. ``resync`` copies its weights into the twin
    before every step. ``on_step`` is called with each step's record (a
    progress bar, say). Returns every step's record and the final weights' difference.
    """
    model = TorchMLP.from_manual(net)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    tol = tolerance_for(net.dtype)
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
        ref = model.grads()

        diffs = compare({"loss": loss_manual, **grads}, {"loss": loss_torch.item(), **ref}, tol)
        record = StepRecord(step, epoch, loss_manual, loss_torch.item(), diffs)
        result.records.append(record)
        if on_step is not None:
            on_step(record)
        net.sgd_step(grads, lr)
        opt.step()
    result.final_weights = compare(net.params, model.to_params(), tol)
    return result
