"""The seed's SGD update, w := w − α · dL/dw, applied all or nothing.

Every new value is computed aside, in scratch space, and scanned for NaN and
±inf; only when all are finite is any parameter written. So a step that would
put a NaN or an inf into the net (a non-finite gradient, or an update that
overflows the dtype, such as a huge α in float32) is a ValueError that names
the culprit, and the parameters stay bit-identical.

The scratch space is one flat array with a view per parameter, kept from step
to step: the update allocates nothing, and one dot product scans it all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .validation import GRAD_HINT, all_finite, check_finite


class SGDUpdate:
    """Scratch space for one net's update, and the update itself (``apply``)."""

    def __init__(self):
        self.flat = None  # all new values, end to end, when the parameters share one dtype
        self.views: dict[str, np.ndarray] = {}  # one per parameter, shaped like it
        self.made_for: tuple = ()  # (keys, ids of the arrays, the arrays): held, so the ids stay unique

    def _fit(self, params: Mapping) -> None:
        """(Re)make the scratch space unless it was made for these very arrays (updates are in place)."""
        made_for = self.made_for
        if made_for and made_for[1] == tuple(map(id, params.values())) and made_for[0] == tuple(params):
            return
        self.made_for = (tuple(params), tuple(map(id, params.values())), tuple(params.values()))
        dtypes = {p.dtype for p in params.values()}
        if len(dtypes) == 1:
            self.flat = np.empty(sum(p.size for p in params.values()), dtype=dtypes.pop())
            offsets = np.cumsum([0] + [p.size for p in params.values()])
            self.views = {k: self.flat[a:b].reshape(p.shape)
                          for (k, p), a, b in zip(params.items(), offsets[:-1], offsets[1:])}
        else:
            self.flat = None
            self.views = {k: np.empty_like(p) for k, p in params.items()}

    def apply(self, params: Mapping, grads: Mapping, lr: float, name: str = "grads") -> None:
        """w := w − lr · grads[w] for every parameter, in place, or a ValueError and nothing written.

        ``grads`` must already have params' keys, shapes and dtype, and ``lr``
        be checked (``validation.check_grads``, ``validation.check_lr``). A
        NaN or inf gradient carries into its new value (lr = 0 turns 0 · inf
        into an error), so scanning the new values catches it too.
        """
        self._fit(params)

        def form(key, p, w):  # w: the scratch view shaped like p
            np.multiply(grads[key], lr, out=w)  # lr · dL/dw
            np.subtract(p, w, out=w)  # w − lr · dL/dw

        self._form_and_write(params, self.views, form, grads, lr, name)

    def apply_steps(self, params: Mapping, steps: Mapping, lr: float) -> None:
        """w := w − steps[w] for every parameter, in place, or a ValueError and nothing written.

        ``steps`` are fresh arrays already equal to lr · dL/dw (``MLP.train_step``
        computes them so). Fast path: when ``s · s`` and ``w · w`` are finite
        for every step and parameter, every entry is below √max of the dtype,
        so w − s cannot overflow and the parameters are updated in place, with
        no copy. Otherwise the new values are formed in the steps' own arrays,
        scanned, and written only when all are finite.
        """
        if all(math.isfinite(np.vdot(a, a)) for a in (*steps.values(), *params.values())):
            for key, p in params.items():
                p -= steps[key]  # |w|, |s| < √max: finite
            return

        def form(key, p, s):  # s: the step itself, overwritten with the new value
            np.subtract(p, s, out=s)  # w − lr · dL/dw

        # the steps then hold the new values, so the error names those
        self._form_and_write(params, steps, form, steps, lr, "train_step's new value w − lr · dL/dw")

    def _form_and_write(self, params, new_values, form, grads, lr, name) -> None:
        """``form`` each parameter's new value into ``new_values``; write them all only if all are finite."""
        failed = None
        with np.errstate(over="raise", invalid="raise"):  # overflow is an error here, not a silent inf
            for key, p in params.items():
                try:
                    form(key, p, new_values[key])
                except FloatingPointError:
                    failed = key
                    break
        if failed is not None or not self._all_finite(new_values):
            self._raise(params, grads, lr, name, failed, new_values)
        for key, p in params.items():
            p[...] = new_values[key]

    def _all_finite(self, new_values) -> bool:
        """One scan of the flat scratch space when it holds them all, else one per array."""
        if new_values is self.views and self.flat is not None:
            return all_finite(self.flat)
        return all(all_finite(w) for w in new_values.values())

    def _raise(self, params, grads, lr, name, failed, new_values) -> None:
        """Name the first parameter whose update is not finite, and say why."""
        for key, p in params.items():
            if key == failed or not all_finite(new_values[key]):
                check_finite(grads[key], f"{name}[{key!r}]", GRAD_HINT)
                check_finite(p, f"net.params[{key!r}]", "the net had already diverged")
                raise ValueError(f"the update of {key!r}, w − lr · dL/dw with lr = {lr!r}, overflows "
                                 f"{p.dtype.name}: the learning rate or the gradient is too large")
        raise AssertionError("unreachable: a non-finite update was found, then not")
