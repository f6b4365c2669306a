"""Checks at the public surface: bad input stops here with a message a student can act on.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right
kind, wrong shape, range or value) *before* anything changes. Each message
names the argument, says what was expected and what came, and, where a common
mistake explains it, hints at the fix (``did you mean I.T?``).

Letters: ``D_I`` input width, ``D_O`` output width, ``N`` batch. Data is
features × batch: ``I`` is ``(D_I, N)``, ``O`` and dense targets ``Y`` are
``(D_O, N)``, class-index targets are ``(N,)``.

The array checks are cheap: O(1) checks on type and shape, at most one cast and
one ``np.isfinite`` pass per array. Integer and boolean arrays are accepted and
cast, as NumPy users expect; ``None``, strings, objects and complex numbers are
not. The functions are NumPy only and usable on their own, e.g. by a gradient
checker that wants the same errors as ``MLP``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
REAL_KINDS = "biuf"
OUTPUT_HINT = ("did the forward pass overflow? The learning rate may be too large, "
               "or the inputs may need scaling")  # bool, signed and unsigned int, float: cast to the net's dtype


def check_dtype(dtype) -> np.dtype:
    """The net's floating dtype: float64 or float32; anything else is a ValueError listing them."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt not in SUPPORTED_DTYPES:  # (dtype == None is True for float64)
        raise ValueError(f"dtype must be one of {[d.name for d in SUPPORTED_DTYPES]}; got {dtype!r}")
    return dt


def check_sizes(sizes) -> tuple[int, ...]:
    """Layer widths [D_I, D_H1, …, D_O]: at least two, each a positive int."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a list of layer widths [D_I, D_H, ..., D_O]; "
                        f"got {type(sizes).__name__} {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, [D_I, D_O]; "
                         f"got {list(sizes)!r}")
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            hint = ("; a width is a whole number of units" if isinstance(s, (float, np.floating)) else "")
            raise TypeError(f"sizes[{i}] must be a positive int (a layer width); "
                            f"got {type(s).__name__} {s!r}{hint}")
        if s < 1:
            raise ValueError(f"sizes[{i}] must be a positive int (a layer width); got {s!r}")
        out.append(int(s))
    return tuple(out)


def check_seed(seed) -> int | None:
    """The init seed: None (fresh entropy) or a non-negative int, so that it can be saved with the net."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None or a non-negative int; got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be None or a non-negative int; got {seed!r}")
    return int(seed)


def check_lr(lr) -> float:
    """The learning rate: a finite real number ≥ 0, returned as a Python float."""
    if type(lr) is float and 0.0 <= lr < math.inf:  # the common case, without the slower checks below
        return lr
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a real number ≥ 0 (the learning rate); got {type(lr).__name__} {lr!r}")
    lr = float(lr)
    if not math.isfinite(lr):
        raise ValueError(f"lr must be a finite number ≥ 0; got {lr!r}")
    if lr < 0:
        raise ValueError(f"lr must be ≥ 0; got {lr!r}: the update is w := w − lr · dL/dw, "
                         f"so a negative rate climbs the loss")
    return lr


def as_real_array(x, name: str, dtype: np.dtype | None) -> np.ndarray:
    """``np.asarray(x)`` cast to ``dtype``: bools, ints and floats pass; None, str, object, complex don't.

    A value beyond ``dtype``'s range (1e39 into float32) is a ValueError, not a
    silent inf. ``dtype=None`` keeps the array's own dtype. Finiteness is
    checked separately, by ``check_finite``.
    """
    if type(x) is np.ndarray and dtype is not None and x.dtype == dtype:  # the common case
        return x
    if x is None:
        raise TypeError(f"{name} must be an array of numbers; got None")
    try:
        a = np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers; got {type(x).__name__} "
                         f"that NumPy cannot make into one ({err})") from None
    if a.dtype.kind == "c":
        raise TypeError(f"{name} must be real; got complex array of dtype {a.dtype}: "
                        f"take .real (or abs()) explicitly if that is what you mean")
    if a.dtype.kind not in REAL_KINDS:
        raise TypeError(f"{name} must be an array of real numbers (bool, int or float); "
                        f"got {type(x).__name__} of dtype {a.dtype}")
    if dtype is None or a.dtype == dtype:
        return a
    with np.errstate(over="raise"):  # overflow in the cast is an error here, not a silent inf
        try:
            return a.astype(dtype)
        except FloatingPointError:
            raise ValueError(f"{name} has values beyond the range of {dtype.name} "
                             f"(±{np.finfo(dtype).max:.3g})") from None


def all_finite(a: np.ndarray) -> bool:
    """True when no entry of the float array ``a`` is NaN or ±inf.

    Fast path: ``a · a`` (one BLAS dot, no temporary) is finite only if every
    entry is, since a NaN or an inf makes a square NaN or inf and a sum of
    non-negative squares cannot cancel it. It can also be inf when finite
    entries are merely huge (squares beyond the dtype's range), so only a
    non-finite dot falls back to the exact element-wise test. BLAS raises no
    floating-point warning on that overflow.
    """
    return math.isfinite(np.vdot(a, a)) or bool(np.isfinite(a).all())


def check_finite(a: np.ndarray, name: str, hint: str = "") -> None:
    """ValueError if the float array ``a`` holds NaN or ±inf, with the count of each."""
    if not all_finite(a):
        n_nan = int(np.isnan(a).sum())
        n_inf = a.size - n_nan - int(np.isfinite(a).sum())
        raise ValueError(f"{name} must be finite; got {n_nan} NaN and {n_inf} ±inf of {a.size} entries"
                         + (f"; {hint}" if hint else ""))


def as_batch(x, name: str, rows: int, row_name: str, dtype: np.dtype, what: str,
             finite_hint: str = "") -> np.ndarray:
    """A finite ``(rows, N)`` array with N ≥ 1, features × batch; ``what`` names the rows in hints."""
    a = as_real_array(x, name, dtype)
    if a.ndim == 2 and a.shape[0] == rows and a.shape[1] >= 1:
        check_finite(a, name, finite_hint)
        return a
    expected = f"{name} must have shape ({row_name}, N) = ({rows}, N), {what} × batch"
    if a.ndim == 2 and a.shape[1] == rows and a.shape[0] >= 1:
        hint = f"{what} × batch, not batch × {what}; did you mean {name}.T?"
        if name == "I":
            hint = "inputs are features × batch; did you mean I.T?"
        raise ValueError(f"{expected}; got {a.shape}: {hint}")
    if a.ndim == 2 and a.shape[0] == rows:
        raise ValueError(f"{expected}; got {a.shape}: the batch is empty")
    if a.ndim == 1 and a.shape[0] == rows:
        raise ValueError(f"{expected}; got 1-D {a.shape}: for one sample use "
                         f"{name}.reshape(-1, 1), a single column")
    if a.ndim == 1 and rows == 1:
        raise ValueError(f"{expected}; got 1-D {a.shape}: for {row_name} = 1 use "
                         f"{name}.reshape(1, -1), a single row")
    if a.ndim != 2:
        raise ValueError(f"{expected}; got a {a.ndim}-D array of shape {a.shape}")
    raise ValueError(f"{expected}; got {a.shape}: {row_name} = {a.shape[0]} does not match the "
                     f"net's {row_name} = {rows}")


def as_inputs(I, D_I: int, dtype: np.dtype, name: str = "I") -> np.ndarray:
    """The input batch ``I`` as a finite ``(D_I, N)`` array of ``dtype``."""
    return as_batch(I, name, D_I, "D_I", dtype, "features")


def as_outputs(O, D_O: int, dtype: np.dtype, name: str = "O") -> np.ndarray:
    """Outputs ``O`` for the loss: a finite ``(D_O, N)`` array of ``dtype``."""
    return as_batch(O, name, D_O, "D_O", dtype, "outputs", OUTPUT_HINT)


def as_dense_targets(Y, D_O: int, N: int, dtype: np.dtype, batch_of: str, name: str = "Y") -> np.ndarray:
    """Targets like the output: a finite ``(D_O, N)`` array; ``batch_of`` says where N comes from."""
    a = as_real_array(Y, name, dtype)
    if a.shape == (D_O, N):
        check_finite(a, name)
        return a
    expected = f"{name} must have the output's shape (D_O, N) = ({D_O}, {N}), outputs × batch"
    if a.shape == (N, D_O):
        raise ValueError(f"{expected}; got {a.shape}: targets are outputs × batch; did you mean {name}.T?")
    if a.ndim == 2 and a.shape[0] == D_O:
        raise ValueError(f"{expected}; got {a.shape}: its batch of {a.shape[1]} does not match "
                         f"{batch_of}, N = {N}")
    if a.ndim == 1 and a.shape[0] == N:
        hint = (f"did you mean {name}.reshape(1, -1)?" if D_O == 1 else
                "class indices need loss='softmax_cross_entropy'")
        raise ValueError(f"{expected}; got 1-D {a.shape}: {hint}")
    raise ValueError(f"{expected}; got {a.ndim}-D {a.shape}")


def as_class_targets(Y, D_O: int, N: int, batch_of: str, name: str = "Y") -> np.ndarray:
    """Class indices: an ``(N,)`` array of whole numbers in [0, D_O), returned as ``np.intp``."""
    a = as_real_array(Y, name, None)  # range-checked in its own dtype, then cast to intp
    expected = (f"{name} must be class indices of shape (N,) = ({N},), whole numbers in "
                f"[0, D_O) = [0, {D_O})")
    if a.shape != (N,):
        if a.shape == (D_O, N):
            hint = f"softmax_cross_entropy takes class indices, not one-hot; did you mean {name}.argmax(axis=0)?"
        elif a.ndim == 2 and N in a.shape and a.size == N:
            hint = f"did you mean {name}.ravel()?"
        elif a.ndim == 1:
            hint = f"its batch of {a.shape[0]} does not match {batch_of}, N = {N}"
        else:
            hint = f"a {a.ndim}-D array"
        raise ValueError(f"{expected}; got shape {a.shape}: {hint}")
    if a.dtype.kind == "f":
        check_finite(a, name, "class indices are whole numbers")
        if (a != np.round(a)).any():
            raise ValueError(f"{expected}; got fractional values such as {a[a != np.round(a)][0].item()!r}")
    lo, hi = int(a.min()), int(a.max())  # finite and whole by now
    if lo < 0:
        raise ValueError(f"{expected}; got a negative label {lo!r}")
    if hi >= D_O:
        hint = f" (labels 1..{D_O}? use {name} - 1)" if hi == D_O and lo >= 1 else ""
        raise ValueError(f"{expected}; got label {hi!r} ≥ D_O = {D_O}{hint}")
    return a.astype(np.intp, copy=False)


def as_targets(Y, loss, D_O: int, N: int, dtype: np.dtype, batch_of: str, name: str = "Y") -> np.ndarray:
    """Targets for ``loss`` (a ``losses.Loss``): class indices (N,) or a finite (D_O, N) array of ``dtype``."""
    if loss.class_index:
        return as_class_targets(Y, D_O, N, batch_of, name)  # (N,) ints in [0, D_O)
    return as_dense_targets(Y, D_O, N, dtype, batch_of, name)  # finite (D_O, N)


def check_grad_keys(grads, params: Mapping, name: str = "grads") -> None:
    """``grads`` is a dict with exactly the keys of ``params``; names the missing and extra ones."""
    if type(grads) is dict and grads.keys() == params.keys():  # the common case
        return
    if not isinstance(grads, Mapping):
        raise TypeError(f"{name} must be a dict keyed like net.params ({', '.join(params)}); "
                        f"got {type(grads).__name__}")
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise ValueError(f"{name} must have exactly the keys of net.params {list(params)}; "
                         f"got {' and '.join(parts)}")


def check_grad_shape(g: np.ndarray, key: str, p: np.ndarray, name: str = "grads") -> None:
    """``g`` has its parameter's shape; hints at a transpose, a flat bias or a bias not summed over the batch."""
    if g.shape == p.shape:
        return
    label = f"{name}[{key!r}]"
    hint = ""
    if g.shape == p.shape[::-1]:
        hint = f": it is the transpose; did you mean {label}.T?"
    elif key.startswith("b_") and g.shape == (p.shape[0],):
        hint = f": biases are column vectors (fan_out, 1); did you mean {label}.reshape(-1, 1)?"
    elif key.startswith("b_") and g.ndim == 2 and g.shape[0] == p.shape[0]:
        hint = (": one column per sample? The bias gradient is summed over the batch, "
                f"{label}.sum(axis=1, keepdims=True)")
    raise ValueError(f"{label} must have the shape of net.params[{key!r}], {p.shape}; got {g.shape}{hint}")


GRAD_HINT = "did the forward or backward pass overflow? Try a smaller learning rate"


def as_grad(g, key: str, p: np.ndarray, name: str = "grads", finite: bool = True) -> np.ndarray:
    """One gradient: real, shaped like its parameter, cast to its dtype, and finite unless ``finite=False``."""
    if not (type(g) is np.ndarray and g.dtype == p.dtype):  # the message is built only when needed
        g = as_real_array(g, f"{name}[{key!r}]", p.dtype)
    check_grad_shape(g, key, p, name)
    if finite and not all_finite(g):
        check_finite(g, f"{name}[{key!r}]", GRAD_HINT)
    return g


def check_grads(grads, params: Mapping, name: str = "grads", finite: bool = True) -> dict[str, np.ndarray]:
    """A whole gradient dict checked against ``params``: keys, then each array; returned cast, in params order.

    ``finite=False`` leaves out the NaN/inf scan, for a caller (``SGDUpdate.apply``)
    that scans the updated values instead.
    """
    check_grad_keys(grads, params, name)
    return {key: as_grad(grads[key], key, p, name, finite) for key, p in params.items()}


def check_writable(a: np.ndarray, name: str) -> None:
    """ValueError if the array ``a``, about to be updated in place, is read-only."""
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only (flags.writeable is False) and the update writes it in "
                         f"place; make it writable, or give the net a writable copy")
