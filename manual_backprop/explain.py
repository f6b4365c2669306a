"""The backward equations of a net, in order, with the concrete shape of every factor.

    python -m manual_backprop.explain --sizes 4 16 2 --batch 32

prints, for the seed's net, lines such as

    dL/dW_O (2×16) = dL/dO (2×32) · Ĥᵀ (32×16)

This is the seed's tip "use dimension analysis" made concrete: a gradient has
its parameter's shape, and there is exactly one product of the available
factors with that shape. The gradient checker quotes these lines when it names
a mistake.

Symbols follow the seed: the input ``I``, per hidden layer the pre-activation
``H`` and activation ``Ĥ`` (``H1, Ĥ1, …`` for deeper nets), the output ``O``.
When the output layer has an activation other than the identity, its
pre-activation is called ``Z_O`` and ``O = f_O(Z_O)``.
"""

from __future__ import annotations

import argparse
import sys
from typing import NamedTuple, Sequence

from .activations import get_activation
from .losses import get_loss
from .network import layer_activation_names, layer_names


class Equation(NamedTuple):
    """One line of the backward: ``target`` (e.g. "dL/dW_O") and its text with shapes."""

    target: str
    text: str


class LayerSymbols(NamedTuple):
    """The seed's names of one layer's tensors: input X, pre-activation Z, activation A."""

    name: str  # "H", "H2", "O"
    X: str
    Z: str
    A: str


def _shape(rows: int, cols: int) -> str:
    return f"({rows}×{cols})"


def layer_symbols(n_layers: int, output_activation: str = "identity") -> list[LayerSymbols]:
    """Symbols of each layer, first layer first."""
    out = []
    X = "I"
    for name in layer_names(n_layers):
        if name == "O":
            Z = "O" if output_activation == "identity" else "Z_O"
            A = "O"
        else:
            Z, A = name, "\u0124" + name[1:]  # Ĥ, Ĥ1, …
        out.append(LayerSymbols(name, X, Z, A))
        X = A
    return out


def backward_equations(sizes: Sequence[int], N: int, activation: str = "sigmoid",
                       output_activation: str = "identity", loss: str = "half_sse") -> list[Equation]:
    """The backward of ``sizes = [D_I, D_H…, D_O]`` at batch size N, output layer first."""
    sizes = [int(s) for s in sizes]
    symbols = layer_symbols(len(sizes) - 1, output_activation)
    acts = layer_activation_names(len(symbols), activation, output_activation)
    D_O = sizes[-1]
    eqs = [Equation("dL/dO", f"dL/dO {_shape(D_O, N)} = {get_loss(loss).gradient_text(D_O, N)} {_shape(D_O, N)}")]
    for i in reversed(range(len(symbols))):
        s, act = symbols[i], acts[i]
        D_in, D_out = sizes[i], sizes[i + 1]
        dZ = f"dL/d{s.Z} {_shape(D_out, N)}"
        if s.Z != s.A:
            dA = f"dL/d{s.A} {_shape(D_out, N)}"
            f_prime = get_activation(act).derivative_text(s.Z, s.A)
            rhs = dA if act == "identity" else f"{dA} ⊙ {f_prime} {_shape(D_out, N)}"
            eqs.append(Equation(f"dL/d{s.Z}", f"{dZ} = {rhs}"))
        eqs.append(Equation(f"dL/dW_{s.name}", f"dL/dW_{s.name} {_shape(D_out, D_in)} = "
                                                f"{dZ} · {s.X}ᵀ {_shape(N, D_in)}"))
        eqs.append(Equation(f"dL/db_{s.name}", f"dL/db_{s.name} {_shape(D_out, 1)} = "
                                                f"Σ_batch {dZ}"))
        if i > 0:
            eqs.append(Equation(f"dL/d{s.X}", f"dL/d{s.X} {_shape(D_in, N)} = "
                                              f"W_{s.name}ᵀ {_shape(D_in, D_out)} · {dZ}"))
    return eqs


def forward_equations(sizes: Sequence[int], N: int, activation: str = "sigmoid",
                      output_activation: str = "identity") -> list[str]:
    """The forward, first layer first, with shapes (for context above the backward)."""
    symbols = layer_symbols(len(sizes) - 1, output_activation)
    acts = layer_activation_names(len(symbols), activation, output_activation)
    lines = []
    for i, (s, act) in enumerate(zip(symbols, acts)):
        D_in, D_out = sizes[i], sizes[i + 1]
        lines.append(f"{s.Z} {_shape(D_out, N)} = W_{s.name} {_shape(D_out, D_in)} · "
                     f"{s.X} {_shape(D_in, N)} + b_{s.name} {_shape(D_out, 1)}")
        if s.Z != s.A:
            lines.append(f"{s.A} {_shape(D_out, N)} = {act}({s.Z}) = "
                         f"{get_activation(act).formula.format(Z=s.Z)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m manual_backprop.explain",
        description="Print a net's forward and backward equations with the shape of every factor.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 2],
                        help="layer widths D_I D_H… D_O (default: the seed's 4 16 2)")
    parser.add_argument("--batch", type=int, default=32, help="batch size N (default 32)")
    parser.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    parser.add_argument("--output-activation", default="identity")
    parser.add_argument("--loss", default="half_sse")
    args = parser.parse_args(argv)
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        parser.error(f"--sizes needs at least two positive widths D_I … D_O; got {args.sizes}")
    if args.batch < 1:
        parser.error(f"--batch must be a positive int; got {args.batch}")
    print(f"forward (sizes {args.sizes}, N = {args.batch}):")
    for line in forward_equations(args.sizes, args.batch, args.activation, args.output_activation):
        print("  " + line)
    print(f"loss: L = {get_loss(args.loss).formula.format(D_O=args.sizes[-1], N=args.batch)}")
    print(f"backward ({args.loss}), in the order it is computed:")
    for eq in backward_equations(args.sizes, args.batch, args.activation,
                                 args.output_activation, args.loss):
        print("  " + eq.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
