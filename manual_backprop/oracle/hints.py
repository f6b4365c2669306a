"""One line per diagnosis: what was found, and the seed equation, with concrete shapes, that fixes it.

The equations come from ``manual_backprop.explain``, so the shapes quoted are
those of the net and batch actually checked (the seed's "use dimension
analysis" tip, made concrete).
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..explain import backward_equations, layer_symbols
from .diagnosis import Diagnosis


def _fmt_shape(shape) -> str:
    return "(" + "×".join(str(d) for d in shape) + ")" if shape else "(scalar)"


def fix_line(key: str, diagnosis: Diagnosis, got_shape: Optional[tuple], sizes: Sequence[int], N: int,
             activation: str, output_activation: str, loss_name: str) -> str:
    """The one-line explanation of ``diagnosis`` for parameter ``key`` (e.g. "W_H")."""
    eqs = {e.target: e.text for e in backward_equations(sizes, N, activation, output_activation, loss_name)}
    own = eqs.get("dL/d" + key, f"dL/d{key} has {key}'s shape")
    seed = eqs["dL/dO"]
    layer = key.split("_", 1)[1] if "_" in key else key
    symbols = {s.name: s for s in layer_symbols(len(sizes) - 1, output_activation)}
    s = symbols.get(layer)
    code, detail = diagnosis
    got = _fmt_shape(got_shape) if got_shape is not None else "?"

    if code == "missing":
        text = f"no gradient under the key {key!r}; compute {own}"
    elif code == "wrong_shape":
        extra = ""
        if key.startswith("b_") and got_shape is not None and len(got_shape) == 1:
            extra = "; keep the column: .sum(axis=1, keepdims=True)"
        found = f"{detail}; " if detail else ""
        text = f"got shape {got}, not {key}'s own shape; {found}{own}{extra}"
    elif code == "not_summed_over_batch":
        dZ: str | None = f"dL/d{s.Z}" if s else "dL/dZ"
        text = (f"one gradient per sample {got}; the seed's dL/db = {dZ} holds per sample, "
                f"over the batch {own}, i.e. {dZ}.sum(axis=1, keepdims=True)")
    elif code == "transposed":
        text = f"got (dL/d{key})ᵀ; {own} is the one product with {key}'s shape"
    elif code == "negated":
        text = f"sign flipped; start from {seed} (output minus target), then {own}"
    elif code in ("scaled_by_2", "scaled_by_1/2"):
        factor = "twice" if code == "scaled_by_2" else "half"
        why = ""
        if loss_name == "half_sse":
            why = ("; the ½ in L = ½ Σ (O − Y)² cancels the square's 2" if code == "scaled_by_2"
                   else "; the ½ belongs to L only, it is already used up in dL/dO")
        more = f" ({detail})" if detail else ""
        text = f"{factor} the right value{more}; the constant comes from {seed}{why}"
    elif code in ("scaled_by_N", "scaled_by_1/N"):
        factor = f"N = {N} times" if code == "scaled_by_N" else f"1/N = 1/{N} of"
        text = (f"{factor} the right value: a sum/mean mix-up over the batch; the loss's own "
                f"reduction is in {seed}, and then {own} sums over the batch")
    elif code == "zero":
        text = f"all zeros; compute {own}"
    elif code == "activation_derivative":
        dZ = eqs.get(f"dL/d{s.Z}") if s else None
        fix = dZ or next((t for k, t in eqs.items() if k.startswith("dL/dH")), own)
        text = f"{detail}; the derivative is {fix}"
    elif code == "not_finite":
        text = f"holds NaN or inf (overflow in exp? use a stable sigmoid); {own}"
    else:
        text = f"matches none of the known mistakes; re-derive by dimension analysis: {own}"
    return f"{key}: {code}: {text}"
