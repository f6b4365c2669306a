"""Checks at the public surface: bad input stops here with a message a student can act on.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right
kind, wrong shape, range or value) *before* anything changes. Each message
names the argument, says what was expected and what came, and, where a common
mistake explains it, hints at the fix (``did you mean I.T?``).

Letters: ``D_I`` input width, ``D_O`` output width, ``N`` batch. Data is
features × batch: ``I`` is ``(D_I, N)``, ``O`` and dense targets ``Y`` are
``(D_O, N)``, class-index targets are ``(N,)``.

The array checks are cheap: O(1) checks on type and shape, at most one copy (a
cast, or a non-contiguous layout made contiguous) and one ``np.isfinite`` pass
per array. Integer and boolean arrays are accepted and
cast, as NumPy users expect; ``None``, strings, objects and complex numbers are
not. Torch tensors are accepted without importing torch here: they are
recognised by their class's module, detached, moved to the CPU and read as
NumPy (bfloat16 through float32, which holds it exactly). Masked arrays are
refused, since NumPy would drop the mask. Every array comes back
C-contiguous, so a transposed or strided view gives bit for bit the result of
its plain copy. The functions are NumPy only and usable on their own, e.g. by a
gradient checker that wants the same errors as ``MLP``.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping, Set

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
MAX_PARAMETERS = 2**28  # the most parameters an MLP may have: 2 GiB in float64, 1 GiB in float32
MAX_LAYERS = 10_000  # the most layers (len(sizes) - 1)
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
    """Layer widths [D_I, D_H1, …, D_O]: an ordered sequence of at least two positive ints, of a sane total.

    Lists, tuples, ranges and 1-D integer arrays pass; sets and dicts (no
    order of layers), strings, scalars and iterators do not. The net may have
    at most ``MAX_PARAMETERS`` weights and biases and ``MAX_LAYERS`` layers;
    both are checked from the widths alone, before anything is allocated.
    """
    expected = "sizes must be a list of layer widths [D_I, D_H, ..., D_O]"
    if isinstance(sizes, (Set, Mapping)):
        raise TypeError(f"{expected}, in order; got {type(sizes).__name__} {_short(sizes)}, which does not "
                        f"keep the layers in order: pass a list")
    if isinstance(sizes, (str, bytes, bytearray)):
        raise TypeError(f"{expected}; got {type(sizes).__name__} {sizes!r}")
    if isinstance(sizes, np.ndarray) and sizes.ndim != 1:
        hint = (f"; did you mean [{sizes.item()!r}, ...]?" if sizes.ndim == 0 else
                "; did you mean sizes.ravel()?")
        raise TypeError(f"{expected}, a 1-D sequence; got a {sizes.ndim}-D array of shape {sizes.shape}{hint}")
    try:
        n: float | None = len(sizes) if hasattr(sizes, "__getitem__") else None
    except OverflowError:  # len(range(10**20))
        n = math.inf
    except Exception:  # no len(): an int, a 0-d tensor, ...
        n = None
    if n is None:  # an int, a generator, an iterator, ...
        raise TypeError(f"{expected}; got {type(sizes).__name__} {_short(sizes)}")
    if n - 1 > MAX_LAYERS:  # before the widths are listed: range(10**9) is cheap, its list is not
        raise ValueError(f"sizes must list at most {MAX_LAYERS + 1} widths (a net of at most {MAX_LAYERS} "
                         f"layers); got {n if n < math.inf else 'more than 2**63'}")
    try:
        widths = list(sizes)
    except Exception as err:
        raise TypeError(f"{expected}; got {type(sizes).__name__} {_short(sizes)}, which cannot be listed "
                        f"({type(err).__name__}: {err})") from None
    if len(widths) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, [D_I, D_O]; "
                         f"got {widths!r}")
    out = []
    for i, s in enumerate(widths):
        if isinstance(s, (bool, np.bool_)):
            raise TypeError(f"sizes[{i}] must be a positive int (a layer width); got bool {s!r}")
        try:
            s = operator.index(s)  # int, np.integer, or anything else that is a whole number
        except Exception:
            hint = ("; a width is a whole number of units" if isinstance(s, (float, np.floating)) else "")
            raise TypeError(f"sizes[{i}] must be a positive int (a layer width); "
                            f"got {type(s).__name__} {_short(s)}{hint}") from None
        if s < 1:
            raise ValueError(f"sizes[{i}] must be a positive int (a layer width); got {_short(s)}")
        if s > MAX_PARAMETERS:
            raise ValueError(f"sizes[{i}] must be at most {MAX_PARAMETERS:,} (a layer that wide would need "
                             f"more parameters than an MLP may have); got {_short(s)}")
        out.append(s)
    total = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(out[:-1], out[1:]))
    if total > MAX_PARAMETERS:
        raise ValueError(f"sizes {_short(out)} make a net of {total:,} parameters ({total * 8 / 2**30:,.1f} "
                         f"GiB in float64); at most {MAX_PARAMETERS:,} are allowed (2 GiB in float64; "
                         f"manual_backprop.validation.MAX_PARAMETERS)")
    return tuple(out)


def _short(value, limit: int = 80) -> str:
    """``repr(value)`` for a message about a possibly huge argument: cut to ``limit`` characters,
    and a huge int by its number of digits (its repr may be refused, or run to thousands of digits)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) >= 10**20:
        return f"an int of {int(int(value).bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 4] + " ..."


def check_seed(seed) -> int | None:
    """The init seed: None (fresh entropy) or a non-negative int, so that it can be saved with the net."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None or a non-negative int; got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be None or a non-negative int; got {seed!r}")
    return int(seed)


def check_lr(lr, dtype: np.dtype | None = None) -> float:
    """The learning rate: a finite real number ≥ 0 (within ``dtype``'s range, when given), as a Python float.

    A rate beyond a float32 net's range would become inf when the update casts it
    to float32, which older NumPy reports as a warning rather than an overflow.
    """
    if type(lr) is float and 0.0 <= lr <= _LARGEST.get(dtype, _FLOAT64_MAX):  # the common case: finite, in range
        return lr
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real):
        hint = ""
        if getattr(lr, "ndim", None) is not None or getattr(lr, "shape", None) is not None:
            hint = ": an array or tensor; for a one-element one use float(lr)"
        raise TypeError(f"lr must be a real number ≥ 0 (the learning rate); got {type(lr).__name__} "
                        f"{_short(lr)}{hint}")
    try:
        lr = float(lr)
    except OverflowError:  # an int or Fraction beyond float64, e.g. 10**400
        raise ValueError(f"lr must be a finite number ≥ 0; got {_short(lr)}, beyond the range of "
                         f"float64 (±{np.finfo(np.float64).max:.3g})") from None
    if not math.isfinite(lr):
        raise ValueError(f"lr must be a finite number ≥ 0; got {lr!r}")
    if lr < 0:
        raise ValueError(f"lr must be ≥ 0; got {lr!r}: the update is w := w − lr · dL/dw, "
                         f"so a negative rate climbs the loss")
    if dtype is not None and lr > _LARGEST[np.dtype(dtype)]:  # compared as Python floats: no cast
        raise ValueError(f"lr must fit the net's dtype {np.dtype(dtype).name} (at most "
                         f"{_LARGEST[np.dtype(dtype)]:.3g}), or the update overflows it; got {lr!r}")
    return lr


_FLOAT64_MAX = float(np.finfo(np.float64).max)
_LARGEST: dict[np.dtype | None, float] = {d: float(np.finfo(d).max) for d in SUPPORTED_DTYPES}  # each dtype's largest lr


def _is_torch_tensor(x) -> bool:
    """True for a ``torch.Tensor`` (or a subclass), recognised without importing torch."""
    return any(cls.__name__ == "Tensor" and cls.__module__.split(".", 1)[0] == "torch"
               for cls in type(x).__mro__)


def _tensor_to_numpy(x, name: str) -> np.ndarray:
    """A torch tensor as a NumPy array: detached, on the CPU, dense, bfloat16 (and float8) widened to float32.

    The array may share memory with the tensor; ``as_real_array`` copies it
    when it casts or makes it contiguous. A tensor NumPy cannot hold (nested,
    quantized, on the meta device) is a TypeError naming ``name``.
    """
    try:
        t = x.detach()
        if str(t.layout) != "torch.strided":  # sparse layouts
            t = t.to_dense()
        t = t.cpu().resolve_conj().resolve_neg()
        if t.is_floating_point() and str(t.dtype) not in ("torch.float16", "torch.float32", "torch.float64"):
            t = t.float()  # bfloat16, float8: NumPy has no such dtype; float32 holds them exactly
        return t.numpy()
    except Exception as err:
        raise TypeError(f"{name} must be an array of real numbers; got a torch tensor "
                        f"({x.dtype}, {x.layout}, on {x.device}) that cannot be read as a NumPy array: "
                        f"{err}") from None


def unwrap_array(x, name: str):
    """A torch tensor as a NumPy array, a masked array refused (TypeError naming ``name``), anything else as is.

    The first step of ``as_real_array``; on its own, for code that takes
    arrays of any dtype and shape (a gradient checker's candidates).
    """
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} must be a plain array of numbers; got a masked array, whose mask NumPy "
                        f"would drop: fill the masked entries ({name}.filled(value)) or leave those "
                        f"samples out first")
    if _is_torch_tensor(x):
        return _tensor_to_numpy(x, name)
    return x


def as_real_array(x, name: str, dtype: np.dtype | None) -> np.ndarray:
    """``x`` as a C-contiguous array cast to ``dtype``: bools, ints and floats pass; None, str, object, complex don't.

    Lists, tuples, ndarray subclasses (``np.matrix``) and torch tensors
    (detached, any float dtype) are read as plain arrays; a masked array is a
    TypeError, since its mask would be lost. A value beyond ``dtype``'s range
    (1e39 into float32) is a ValueError, not a silent inf. ``dtype=None``
    keeps the array's own dtype. Finiteness is checked separately, by
    ``check_finite``. The returned array is C-contiguous (copied if needed),
    so the math that follows rounds the same way whatever the layout given.
    """
    if type(x) is np.ndarray and dtype is not None and x.dtype == dtype and x.flags.c_contiguous:  # common case
        return x
    if x is None:
        raise TypeError(f"{name} must be an array of numbers; got None")
    x = unwrap_array(x, name)
    try:
        a = np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers; got {type(x).__name__} "
                         f"that NumPy cannot make into one ({err})") from None
    except Exception as err:  # an object whose __array__ refuses (another library's device array, ...)
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__}, which NumPy "
                        f"cannot read ({type(err).__name__}: {err})") from None
    if a.dtype.kind == "c":
        raise TypeError(f"{name} must be real; got complex array of dtype {a.dtype}: "
                        f"take .real (or abs()) explicitly if that is what you mean")
    if a.dtype.kind not in REAL_KINDS:
        hint = {"O": ": an object array (None, mixed types, or ints beyond int64?); convert to float first",
                "U": ": strings; parse them first", "S": ": bytes; parse them first"}.get(a.dtype.kind, "")
        if a.dtype.kind == "O" and a.ndim == 0:
            hint = ": not an array, nor a number"
        raise TypeError(f"{name} must be an array of real numbers (bool, int or float); "
                        f"got {type(x).__name__} of dtype {a.dtype}{hint}")
    if dtype is None or a.dtype == dtype:
        return a if a.flags.c_contiguous else a.copy(order="C")  # (np.ascontiguousarray makes 0-d 1-d)
    with np.errstate(over="raise"):  # overflow in the cast is an error here, not a silent inf
        try:
            return a.astype(dtype, order="C")
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


def as_grad(g, key: str, p: np.ndarray, name: str = "grads") -> np.ndarray:
    """One gradient: real, shaped like its parameter, cast to its dtype, and finite."""
    if not (type(g) is np.ndarray and g.dtype == p.dtype):  # the message is built only when needed
        g = as_real_array(g, f"{name}[{key!r}]", p.dtype)
    check_grad_shape(g, key, p, name)
    check_finite(g, f"{name}[{key!r}]", GRAD_HINT)
    return g


def check_grads(grads, params: Mapping, name: str = "grads") -> dict[str, np.ndarray]:
    """A whole gradient dict checked against ``params``: keys, then each array; returned cast, in params order."""
    check_grad_keys(grads, params, name)
    return {key: as_grad(grads[key], key, p, name) for key, p in params.items()}


def check_writable(a: np.ndarray, name: str) -> None:
    """ValueError if the array ``a``, about to be updated in place, is read-only."""
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only (flags.writeable is False) and the update writes it in "
                         f"place; make it writable, or give the net a writable copy")
