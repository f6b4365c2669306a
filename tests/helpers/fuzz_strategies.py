"""Hypothesis strategies for the argument fuzz: one value in many forms, and the rule every call obeys.

An argument is drawn as a plain NumPy array (its dtype, shape and values),
then given in some layout (Fortran order, a transposed or strided view,
read-only, negative strides) and some wrapper (list, tuple, ``np.matrix``,
masked array, torch tensor, one that requires grad, bfloat16). Beside the
given form the strategy keeps its *plain* form: the C-contiguous ndarray the
net must treat it as (NumPy's reading of a list, the tensor's values), or
None where the form itself must be refused (a masked array, whose mask would
be lost).

The rule (``check_call``): the call on a net with the given form and the same
call on an identical twin with the plain form either both succeed with
bit-identical results and parameters, or both raise the same ValueError or
TypeError, whose message names the argument. Forms that are not real numbers
(complex, object, strings, masked) must raise a TypeError naming it. Whenever
a call raises, every parameter is bit-identical to before, and the net then
trains exactly like one that never saw the call.

``huge=True`` draws instead arrays of the right shape in float64, float32 or
int64, half of whose entries are finite values that pass the checks but may
overflow the arithmetic behind them (1e38 and 3e38 into float32, 1e308,
int64's extremes).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Optional

import numpy as np

try:
    import torch
except ImportError:  # a core install: the fuzz tests that draw tensors are marked needs_torch
    torch = None
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers.nothing_lost import assert_params_identical, assert_trains_normally, snapshot
from manual_backprop import MLP

# huge values that float32 holds exactly (hypothesis refuses an element the dtype would round)
F32_HUGE = [float(np.float32(v)) for v in (3e38, -3e38, 1e38)]
FUZZ_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALUE_DTYPES = ["float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool",
                "complex128", "complex64", "object", "str"]
LAYOUTS = ["C", "fortran", "transposed-view", "strided", "read-only", "negative-strides"]
WRAPPERS = ["ndarray", "list", "tuple", "masked", "matrix", "torch", "torch-requires-grad", "torch-bfloat16"]
TORCH_DTYPES = {"float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool", "complex128",
                "complex64"}


@dataclass
class Arg:
    """One drawn argument: the form given to the call, and the plain form it must equal (None: refused)."""

    given: Any
    plain: Any
    label: str

    def __repr__(self) -> str:
        return f"<{self.label}>"


def _finite_elements(dtype: str, huge: bool, labels: Optional[int]):
    """Element strategy for ``dtype``: small values, class labels near [0, labels), and the specials."""
    if dtype == "bool":
        return st.booleans()
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        small = st.integers(max(info.min, -3), min(info.max, (labels or 4) + 1))
        if huge and dtype == "int64":
            return st.one_of(small, st.sampled_from([int(info.min), int(info.max)]))
        return small
    width = {"float16": 16, "float32": 32}.get(dtype, 64)
    if labels is not None:
        small = st.one_of(st.integers(-1, labels).map(float), st.floats(-1, labels, width=width))
    else:
        small = st.floats(-3, 3, width=width)
    if huge:  # finite values that pass the checks, as often as small ones
        return st.one_of(small, st.sampled_from({"float64": [1e308, -1e308, 3e38, -1e200, 1e200],
                                                 "float32": F32_HUGE}[dtype]))
    specials = [math.nan, math.inf, -math.inf]
    if dtype == "float16":
        specials += [65504.0, -65504.0]  # float16's largest: harmless in float32 and float64
    if dtype == "float64":
        specials += [1e39, -1e39]  # beyond float32 (refused there); harmless in float64
    return st.one_of(small, small, small, st.sampled_from(specials))


@st.composite
def array_args(draw, shape: tuple, *, labels: Optional[int] = None, huge: bool = False):
    """An ``Arg`` near ``shape``: mostly that shape, else transposed, 1-D, 0-D, 3-D, empty or one row short."""
    shapes = [shape] * 4 + [shape[::-1], shape[:1], (), (1, *shape), (*shape[:-1], 0), (0, *shape[1:]),
                             (max(shape[0] - 1, 1), *shape[1:])]
    if huge:  # the right shape, in a dtype that holds huge values: only the values are in question
        shapes, dtypes = [shape], ["float64", "float32", "int64"]
    else:
        dtypes = VALUE_DTYPES
    shp = draw(st.sampled_from(shapes), label="shape")
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    base = "float64" if dtype in ("complex128", "object", "str") else "float32" if dtype == "complex64" else dtype
    values = draw(hnp.arrays(base, shp, elements=_finite_elements(base, huge, labels)), label="values")
    if dtype.startswith("complex"):
        values = values + 1j * draw(st.sampled_from([0.0, 1.0]), label="imag")
        values = values.astype(dtype)
    elif dtype == "object":
        values = values.astype(object)
    elif dtype == "str":
        values = values.astype(str)
    layout = draw(st.sampled_from(LAYOUTS), label="layout")
    wrapper = draw(st.sampled_from(WRAPPERS), label="wrapper")
    return make_arg(values, layout, wrapper)


def make_arg(values: np.ndarray, layout: str, wrapper: str) -> Arg:
    """``values`` in ``layout`` and ``wrapper`` (falling back to a plain ndarray where one does not apply)."""
    a = values = np.asarray(values)  # 0-D: an array, not the NumPy scalar that arithmetic returns
    if layout == "fortran":
        a = np.asfortranarray(a)
    elif layout == "transposed-view":
        a = np.ascontiguousarray(a.T).T
    elif layout == "strided" and a.ndim >= 1:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif layout == "read-only":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "negative-strides" and a.ndim >= 1:
        a = a[::-1].copy()[::-1]
    label = f"{values.dtype} {values.shape} {layout} {wrapper}"
    kind = values.dtype.kind
    if wrapper in ("list", "tuple"):
        given = a.tolist()
        if wrapper == "tuple" and isinstance(given, list):
            given = _as_tuples(given)
        return Arg(given, np.asarray(a.tolist()), label)
    if wrapper == "masked":
        return Arg(np.ma.masked_array(a, mask=np.zeros(a.shape, dtype=bool)), None, label)
    if wrapper == "matrix" and a.ndim == 2:
        return Arg(a.view(np.matrix), np.array(a, order="C"), label)
    if wrapper.startswith("torch") and str(values.dtype) in TORCH_DTYPES:
        t = torch.from_numpy(np.array(a))  # a copy: the tensor owns its memory
        if layout in ("transposed-view", "fortran") and t.ndim == 2:
            t = t.T.contiguous().T  # a non-contiguous tensor
        if kind == "f" and wrapper == "torch-requires-grad":
            t.requires_grad_()
        if kind == "f" and wrapper == "torch-bfloat16":
            t = t.bfloat16()
            return Arg(t, t.float().numpy(), label)
        return Arg(t, np.array(a, order="C"), label)
    return Arg(a, np.array(a, order="C"), f"{values.dtype} {values.shape} {layout} ndarray")


def _as_tuples(x):
    return tuple(_as_tuples(v) for v in x) if isinstance(x, list) else x


def is_real_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind in "biuf"


@st.composite
def lr_args(draw, *, huge: bool = False):
    """A learning rate in many forms; ``plain`` is its float (None when it is not a real number)."""
    good = [0.1, 0.0, 1, np.float32(0.05), np.int64(2), Fraction(1, 10), 1e-300, 1e3, -0.0]
    bad = [-0.1, math.nan, math.inf, -math.inf, 10**400, Fraction(10**400, 3), None, "0.1", True,
           0.1 + 0j, np.array(0.1), np.array([0.1]), torch.tensor(0.1), Decimal("0.1"), [0.1]]
    lr = draw(st.sampled_from(good + bad + ([1e308, 1e300, 1e38] if huge else [])), label="lr")
    plain = None
    if isinstance(lr, numbers.Real) and not isinstance(lr, (bool, np.bool_)):
        try:
            plain = float(lr)
        except OverflowError:
            plain = math.inf  # refused as not finite, with the same type of error
    return Arg(lr, plain, f"lr {type(lr).__name__} {lr!r}")


def names_argument(message: str, names) -> bool:
    """True when ``message`` names one of ``names`` as a word (``I``, ``grads['b_O']``, ``sizes[1]``)."""
    return any(re.search(rf"(?<![\w']){re.escape(name)}(?![\w'])", message) for name in names)


def outcome(call, net):
    """(result, None) or (None, the ValueError/TypeError raised); any other exception propagates."""
    try:
        return call(net), None
    except (ValueError, TypeError) as err:
        return None, err


def assert_same_result(a, b, what: str) -> None:
    """Bit-identical results: arrays (dtype, shape, bytes), dicts of them, floats (NaN equal), reports."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a!r} vs {b!r}"
        assert a.tobytes() == b.tobytes(), f"{what}: the arrays differ\n{a!r}\n{b!r}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{what}: keys {list(a)} vs {list(b)}"
        for key in a:
            assert_same_result(a[key], b[key], f"{what}[{key!r}]")
    elif isinstance(a, float):
        assert isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b))), f"{what}: {a!r} vs {b!r}"
    elif a is None:
        assert b is None, f"{what}: None vs {b!r}"
    else:  # a GradientReport: the same verdicts, errors and diagnoses (its text names the given type)
        def verdicts(report):
            return {k: (p.passed, p.diagnosis, p.got_shape, repr(p.max_abs_err), repr(p.max_rel_err))
                    for k, p in report.params.items()}
        assert verdicts(a) == verdicts(b) and a.passed == b.passed, f"{what}: the reports differ\n{a}\n{b}"


def check_call(make_net, call, given: dict, plain: dict, names, prepare=None) -> None:
    """The rule of the module docstring, for ``call(net, **args)``.

    ``given`` and ``plain`` hold the arguments (``Arg.plain`` None: this form
    must be refused). ``names`` are the ways an error may name the drawn
    argument. ``prepare(net)`` runs first on both nets (e.g. a good forward).
    """
    net, twin = make_net(), make_net()
    if prepare is not None:
        prepare(net)
        prepare(twin)
    before = snapshot(net)
    result, err = outcome(lambda n: call(n, **given), net)
    must_refuse = any(v is None for v in plain.values())
    if must_refuse:
        assert err is not None, f"accepted a form that must be refused; returned {result!r}"
        expected_result, expected_err = None, err
    else:
        expected_result, expected_err = outcome(lambda n: call(n, **plain), twin)
    if err is None and expected_err is None:
        assert_same_result(result, expected_result, "the result")
        assert_same_result(net.params, twin.params, "the parameters after the call")
        return
    assert err is not None, f"succeeded, but the plain form raised {expected_err!r}"
    assert expected_err is None or type(err) is type(expected_err), (
        f"raised {err!r}, the plain form {expected_err!r}")
    assert names_argument(str(err), names), f"the message does not name {names}: {err}"
    assert_params_identical(net, before, f"a call raising {type(err).__name__}")
    assert_trains_normally(net, before)


@st.composite
def sizes_args(draw):
    """``sizes`` in many forms, and the tuple of ints it stands for (None when it must be refused)."""
    widths = draw(st.lists(st.one_of(st.integers(-2, 5), st.integers(1, 5), st.integers(1, 5),
                                     st.sampled_from([10**30, 2**63, 2**28 + 1, 10**400])),
                           min_size=0, max_size=5), label="widths")
    form = draw(st.sampled_from(["list", "tuple", "int-array", "uint64-array", "float-array", "set", "dict",
                                 "str", "generator", "0-d", "2-d", "torch", "floats", "bools", "none"]),
                label="form")
    fits = [w for w in widths if 0 <= w < 2**63]
    given = {
        "list": lambda: list(widths), "tuple": lambda: tuple(widths),
        "int-array": lambda: np.array(fits, dtype=np.int64), "uint64-array": lambda: np.array(fits, dtype=np.uint64),
        "float-array": lambda: np.array(fits, dtype=float), "set": lambda: set(widths),
        "dict": lambda: dict.fromkeys(widths, 1), "str": lambda: ",".join(map(str, widths)),
        "generator": lambda: (w for w in widths), "0-d": lambda: np.array(fits[0] if fits else 3),
        "2-d": lambda: np.array([fits]), "torch": lambda: torch.tensor(fits, dtype=torch.int64),
        "floats": lambda: [float(w) for w in fits], "bools": lambda: [w > 2 for w in fits],
        "none": lambda: None,
    }[form]()
    ordered = {"list": widths, "tuple": widths, "int-array": fits, "uint64-array": fits, "torch": fits}
    ints = ordered.get(form)
    valid = ints is not None and len(ints) >= 2 and all(1 <= w <= 2**28 for w in ints) and (
        sum((a + 1) * b for a, b in zip(ints[:-1], ints[1:])) <= 2**28)
    return Arg(given, tuple(ints) if valid else None, f"sizes {form} {widths}")


def good_net(sizes, loss, dtype):
    return lambda: MLP(sizes, loss=loss, dtype=dtype, seed=0)
