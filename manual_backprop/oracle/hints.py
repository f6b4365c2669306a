"""One line per diagnosis: what was found, and the seed equation, with concrete shapes, that fixes it.

The equations come from ``manual_backprop.explain``, so the shapes quoted are
those of the net and batch actually checked (the seed's "use dimension
analysis" tip, made concrete).
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..explain import backward_equations, forward_equations, layer_symbols
from .diagnosis import Diagnosis

SWAPPED = "swapped_with_"  # + the name of the parameter whose gradient is under this key


def _fmt_shape(shape) -> str:
    return "(" + "×".join(str(d) for d in shape) + ")" if shape else "(scalar)"


def fix_line(key: str, diagnosis: Diagnosis, got_shape: Optional[tuple], sizes: Sequence[int], N: int,
             activation: str, output_activation: str, loss_name: str, dtype=None) -> str:
    """The one-line explanation of ``diagnosis`` for parameter ``key`` (e.g. "W_H").

    A compound code gets one clause per cause, in the code's order; the detail
    (which derivative, which forward mistake, which readings the nets could not
    tell apart) comes first. dtype: the candidate's dtype, for ``low_precision``.
    """
    eqs = {e.target: e.text for e in backward_equations(sizes, N, activation, output_activation, loss_name)}
    ctx = _Context(key, eqs, got_shape, sizes, N, activation, output_activation, loss_name, dtype)
    code, detail = diagnosis.code, diagnosis.detail
    causes = code.split("+")
    clauses = [_clause(causes[0], ctx)] if len(causes) == 1 else [_compound(causes, ctx)]
    text = "; ".join(([detail] if detail else []) + clauses)
    return f"{key}: {code}: {text}"


def _compound(causes: Sequence[str], c: "_Context") -> str:
    """Several causes: a short clause for each, then the right equations once."""
    clauses = [_short(cause, c) for cause in causes]
    eqs = []
    if any(cause in ("negated",) or cause.startswith("scaled_by") for cause in causes):
        eqs.append(c.seed)
    if "output_activation_derivative" in causes and c.output_dZ not in eqs:
        eqs.append(c.output_dZ)
    if "activation_derivative" in causes and c.s is not None:
        dZ = c.eqs.get(f"dL/d{c.s.Z}") or next((t for k, t in c.eqs.items() if k.startswith("dL/dH")), "")
        eqs += [dZ] if dZ else []
    if "forward_mistake" in causes:
        eqs.append("the forward " + c.forward)
    eqs.append(c.own)
    return ", ".join(clauses) + "; right: " + ", then ".join(eqs)


def _short(cause: str, c: "_Context") -> str:
    """One cause of a compound code in a few words."""
    N, D_O, half_sse = c.N, c.D_O, c.loss_name == "half_sse"
    return {
        "not_summed_over_batch": f"one gradient per sample {c.got} (sum over the batch, keepdims=True)",
        "transposed": f"(dL/d{c.key})ᵀ",
        "wrong_shape": f"shape {c.got}, not {c.key}'s own" + (
            " (keep the column: keepdims=True)" if c.key.startswith("b_") and c.got_shape
            and len(c.got_shape) == 1 else ""),
        "negated": "the sign flipped",
        "scaled_by_2": "twice the value" + (" (the ½ of L cancels the square's 2)" if half_sse else ""),
        "scaled_by_1/2": "half the value" + (" (the ½ belongs to L only)" if half_sse else ""),
        "scaled_by_N": f"N = {N} times the value (a sum/mean mix-up over the batch)",
        "scaled_by_1/N": f"1/N = 1/{N} of the value (a sum/mean mix-up over the batch)",
        "scaled_by_D_O": f"D_O = {D_O} times the value (a sum over the outputs)",
        "scaled_by_1/D_O": f"1/D_O = 1/{D_O} of the value (a mean over the outputs)",
        "activation_derivative": "the activation's derivative taken wrong",
        "forward_mistake": "a forward mistake inherited",
        "update_not_gradient": "the SGD step −lr·g returned for the gradient g",
        "weight_decay": f"a penalty's λ·{c.key} added",
        "output_activation_derivative": ("an activation's derivative at the linear output" if c.linear_output
                                         else "the output activation's derivative left out"),
        "pre_activation": "the pre-activation where the activation belongs",
        "one_sample": "one sample's gradient, not the batch's sum",
        "product_of_sums": "the batch summed before the outer product",
        "wrong_axis": "summed over the features (axis 0), not the batch",
        "returned_parameters": f"{c.key}'s own values",
    }.get(cause, f"dL/d{cause[len(SWAPPED):]} under the key {c.key!r}" if cause.startswith(SWAPPED) else cause)


class _Context:
    """What the clauses quote: the equations, the shapes, the net's configuration."""

    def __init__(self, key, eqs, got_shape, sizes, N, activation, output_activation, loss_name, dtype):
        self.key, self.eqs, self.N, self.D_O = key, eqs, N, sizes[-1]
        self.activation, self.loss_name, self.dtype = activation, loss_name, dtype
        self.got_shape = got_shape
        self.own = eqs.get("dL/d" + key, f"dL/d{key} has {key}'s shape")
        self.seed = eqs["dL/dO"]
        layer = key.split("_", 1)[1] if "_" in key else key
        symbols = layer_symbols(len(sizes) - 1, output_activation)
        self.s = next((s for s in symbols if s.name == layer), None)
        self.output_layer = self.s is not None and self.s.name == "O"
        self.got = _fmt_shape(got_shape) if got_shape is not None else "?"
        self.forward = "; ".join(forward_equations(sizes, N, activation, output_activation))
        self.linear_output = output_activation == "identity"
        out = symbols[-1]
        self.output_dZ = eqs.get(f"dL/d{out.Z}", self.seed)  # dL/dO itself for a linear output
        self.output_X = out.X


def _clause(cause: str, c: _Context) -> str:
    """The fix for one cause of a (possibly compound) code."""
    key, own, seed = c.key, c.own, c.seed
    if cause == "missing":
        return f"no gradient under the key {key!r}; compute {own}"
    if cause == "wrong_shape":
        extra = ""
        if key.startswith("b_") and c.got_shape is not None and len(c.got_shape) == 1:
            extra = "; keep the column: .sum(axis=1, keepdims=True)"
        return f"got shape {c.got}, not {key}'s own shape; {own}{extra}"
    if cause == "not_summed_over_batch":
        dZ: Optional[str] = f"dL/d{c.s.Z}" if c.s else "dL/dZ"
        return (f"one gradient per sample {c.got}; the seed's dL/db = {dZ} holds per sample, "
                f"over the batch {own}, i.e. {dZ}.sum(axis=1, keepdims=True)")
    if cause == "transposed":
        return f"got (dL/d{key})ᵀ; {own} is the one product with {key}'s shape"
    if cause == "negated":
        return f"sign flipped; start from {seed} (output minus target), then {own}"
    if cause in ("scaled_by_2", "scaled_by_1/2"):
        factor = "twice" if cause == "scaled_by_2" else "half"
        why = ""
        if c.loss_name == "half_sse":
            why = ("; the ½ in L = ½ Σ (O − Y)² cancels the square's 2" if cause == "scaled_by_2"
                   else "; the ½ belongs to L only, it is already used up in dL/dO")
        return f"{factor} the right value; the constant comes from {seed}{why}"
    if cause in ("scaled_by_N", "scaled_by_1/N"):
        factor = f"N = {c.N} times" if cause == "scaled_by_N" else f"1/N = 1/{c.N} of"
        return (f"{factor} the right value: a sum/mean mix-up over the batch; the loss's own "
                f"reduction is in {seed}, and then {own} sums over the batch")
    if cause in ("scaled_by_D_O", "scaled_by_1/D_O"):
        how = (f"D_O = {c.D_O} times the right value: a sum over the outputs where the loss averages them"
               if cause == "scaled_by_D_O" else
               f"1/D_O = 1/{c.D_O} of the right value: a mean over the outputs")
        sums = "; L sums over the outputs as well as the batch" if c.loss_name == "half_sse" else ""
        return f"{how}{sums}; {seed}"
    if cause == "zero":
        return f"all zeros; compute {own}"
    if cause == "activation_derivative":
        dZ = c.eqs.get(f"dL/d{c.s.Z}") if c.s else None
        fix = dZ or next((t for k, t in c.eqs.items() if k.startswith("dL/dH")), own)
        return f"the derivative is {fix}"
    if cause == "forward_mistake":
        return f"fix the forward first ({c.forward}), then {own}"
    if cause == "update_not_gradient":
        return (f"this is the SGD step −lr · dL/d{key}, not the gradient; return {own} "
                f"and let the update apply −lr")
    if cause == "weight_decay":
        return f"a penalty's gradient λ·{key} is added, but the loss has no penalty term; {own}"
    if cause == "output_activation_derivative":
        if c.linear_output:
            return (f"the output is linear (O = W_O·{c.output_X} + b_O): no activation derivative belongs in dL/dO; "
                    f"{seed}, then {own}")
        return f"the output activation's derivative is left out; {c.output_dZ}, then {own}"
    if cause == "pre_activation":
        return f"the pre-activation (H) is used where the activation (Ĥ), this layer's input, belongs; {own}"
    if cause == "one_sample":
        return (f"one sample's gradient where the batch's sum belongs (a loop over the samples that assigns "
                f"with = where it should add with +=, or one column taken); over the whole batch {own}")
    if cause == "product_of_sums":
        return f"the batch is summed before the product, (Σₙ dL/dZₙ)(Σₙ Xₙ)ᵀ; sum the products: {own}"
    if cause == "wrong_axis":
        dZ = f"dL/d{c.s.Z}" if c.s else "dL/dZ"
        return (f"summed over the features (axis 0) where the batch belongs; {own}, "
                f"i.e. {dZ}.sum(axis=1, keepdims=True)")
    if cause == "returned_parameters":
        return f"these are {key}'s own values, not its gradient; return {own}"
    if cause.startswith(SWAPPED):
        other = cause[len(SWAPPED):]
        return (f"this is dL/d{other}, the gradient of {other}, under the key {key!r} (keys swapped or "
                f"returned in the wrong order); put each gradient under its own key: {own}")
    if cause == "not_finite":
        if not c.output_layer and c.activation in ("sigmoid", "softplus"):
            return f"holds NaN or inf (overflow in exp? use a stable {c.activation}); {own}"
        return (f"holds NaN or inf: a division by zero or an overflow upstream reaches it "
                f"(check {seed} first); {own}")
    if cause == "low_precision":
        name = c.dtype.name if c.dtype is not None else "its dtype"
        return (f"right only to {name}'s precision, not to the net's; return float32 or float64 "
                f"(compute in the dtype of params, or .astype(np.float64))")
    return f"matches none of the known mistakes; re-derive by dimension analysis: {own}"
