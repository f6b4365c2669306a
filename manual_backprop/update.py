"""The seed's SGD update, w := w − α · dL/dw, applied all or nothing.

Every new value is computed aside first. Only when every parameter can be
written (none is read-only) and every new value is finite is any parameter
written. So a step that would put a NaN or an inf into the net (an update that
overflows the dtype, such as a huge α in float32, or a net that had already
diverged) is a ValueError that names the culprit, and the parameters stay
bit-identical.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .validation import GRAD_HINT, all_finite, check_finite, check_writable


def sgd_update(params: Mapping, grads: Mapping, lr: float) -> None:
    """Seed: w := w − lr · dL/dw for every parameter, in place; or a ValueError and nothing written.

    ``grads`` must already have params' keys, shapes and dtype, and ``lr`` be
    checked (``validation.check_grads``, ``validation.check_lr``).
    """
    for key, p in params.items():
        check_writable(p, f"net.params[{key!r}]")
    try:
        with np.errstate(over="raise", invalid="raise"):  # an overflow is an error here, not a silent inf
            new = {key: p - lr * grads[key] for key, p in params.items()}  # each p's shape and dtype
    except FloatingPointError:
        new = {}
    if len(new) < len(params) or not all(all_finite(w) for w in new.values()):
        _raise_not_finite(params, grads, lr)
    for key, p in params.items():
        p[...] = new[key]


def _raise_not_finite(params: Mapping, grads: Mapping, lr: float) -> None:
    """Name the first parameter whose new value is not finite, and say why."""
    for key, p in params.items():
        check_finite(grads[key], f"grads[{key!r}]", GRAD_HINT)
        check_finite(p, f"net.params[{key!r}]", "the net had already diverged")
        try:
            with np.errstate(over="raise", invalid="raise"):
                if all_finite(p - lr * grads[key]):
                    continue  # this parameter's update is fine: the culprit comes later
        except FloatingPointError:
            pass
        raise ValueError(f"the update of {key!r}, w − lr · dL/dw with lr = {lr!r}, overflows "
                         f"{p.dtype.name}: the learning rate or the gradient is too large")
