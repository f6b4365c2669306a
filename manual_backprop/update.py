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

from .validation import GRAD_HINT, check_finite, check_writable


def sgd_update(params: Mapping, grads: Mapping, lr: float) -> None:
    """Seed: w := w − lr · dL/dw for every parameter, in place; or a ValueError and nothing written.

    ``grads`` must already have params' keys, shapes and dtype and be finite,
    and ``lr`` be checked (``validation.check_grads``, ``validation.check_lr``).
    """
    for key, p in params.items():
        check_writable(p, f"net.params[{key!r}]")
    new = {key: _new_value(key, p, grads[key], lr) for key, p in params.items()}
    for key, p in params.items():
        p[...] = new[key]


def _new_value(key: str, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
    """w − lr · dL/dw as a new array, or a ValueError saying why it is not finite."""
    try:
        with np.errstate(over="raise", invalid="raise"):  # an overflow is an error here, not a silent inf
            w = p - lr * g  # (fan_out, fan_in) or (fan_out, 1), p's dtype
    except FloatingPointError:
        w = None
    if w is None or not np.isfinite(w).all():
        check_finite(g, f"grads[{key!r}]", GRAD_HINT)
        check_finite(p, f"net.params[{key!r}]", "the net had already diverged")
        raise ValueError(f"the update of {key!r}, w − lr · dL/dw with lr = {lr!r}, overflows "
                         f"{p.dtype.name}: the learning rate or the gradient is too large")
    return w
