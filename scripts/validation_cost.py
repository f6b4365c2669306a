"""What the argument checks cost: one checked training step against the same step unchecked.

    python scripts/validation_cost.py                       # the seed's net 4-16-2, N = 32, float64
    python scripts/validation_cost.py --sizes 64 128 10 --N 128 --dtype float32

"checked" is ``MLP.train_step``: it checks I, Y and lr once (cast and
NaN/inf scan), guards the step against overflow, and updates all or nothing
(on small layers every new value computed aside and scanned before any is
written; on large ones every value bounded before the product writes it:
``manual_backprop.fast_step``). It is also the tuned step, so the figure is
what the checks cost on top of the plain functions less what the tuning saves. "unchecked" calls the same pure functions
(``network_forward``, the loss, ``network_backward``) and updates in place,
with no check at all. The two are timed interleaved, block by block, and the
fastest block of each counts (noise on a shared machine only ever adds time).
The difference is the cost of the checks; the script prints it with its share
of the checked step, and each check alone.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from manual_backprop import MLP
from manual_backprop.network import network_backward, network_forward
from manual_backprop.update import sgd_update
from manual_backprop.validation import as_dense_targets, as_inputs, as_outputs, check_grads, check_lr

LR = 1e-6  # small, so that repeated steps on one batch leave the weights in range


def unchecked_step(net, I, Y, lr):
    """train_step without a single check: the pure functions and an in-place update."""
    O, cache = network_forward(net.params, net.layer_names, net.layer_activations, I)
    L = net.loss_function.forward(O, Y)
    dO = net.loss_function.backward(O, Y)
    grads = network_backward(net.params, net.layer_names, net.layer_activations, cache, dO)
    for key, p in net.params.items():
        p -= lr * grads[key]
    return L


def best_seconds(fns: dict, block: int, repeats: int) -> dict:
    """Per call, the fastest of ``repeats`` blocks of ``block`` calls; the functions take turns."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(block):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / block)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 2])
    parser.add_argument("--N", type=int, default=32)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--block", type=int, default=2000, help="calls per timed block")
    parser.add_argument("--repeats", type=int, default=15, help="timed blocks per function")
    args = parser.parse_args(argv)

    dtype = np.dtype(args.dtype)
    net_checked = MLP(args.sizes, dtype=dtype, seed=0)
    net_unchecked = MLP(args.sizes, dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    I = rng.standard_normal((args.sizes[0], args.N)).astype(dtype)  # (D_I, N)
    Y = rng.standard_normal((args.sizes[-1], args.N)).astype(dtype)  # (D_O, N)
    O = net_checked.forward(I)
    grads = net_checked.backward(Y)
    D_I, D_O = args.sizes[0], args.sizes[-1]
    params = {k: p.copy() for k, p in net_checked.params.items()}

    steps = best_seconds({
        "checked": lambda: net_checked.train_step(I, Y, LR),
        "unchecked": lambda: unchecked_step(net_unchecked, I, Y, LR),
    }, args.block, args.repeats)
    parts = best_seconds({
        "inputs I": lambda: as_inputs(I, D_I, dtype),
        "outputs O (loss)": lambda: as_outputs(O, D_O, dtype),
        "targets Y": lambda: as_dense_targets(Y, D_O, args.N, dtype, "O's batch"),
        "grads dict": lambda: check_grads(grads, net_checked.params),
        "lr": lambda: check_lr(LR),
        "update, all or nothing": lambda: sgd_update(params, grads, LR),
        "plain in-place update": lambda: [p.__isub__(LR * grads[k]) for k, p in params.items()],
    }, args.block, args.repeats)

    checked, unchecked = steps["checked"], steps["unchecked"]
    cost = checked - unchecked
    print(f"net {args.sizes}, N = {args.N}, {dtype.name}; fastest of {args.repeats} blocks of {args.block}")
    print(f"{'step':<34}{'µs':>9}")
    print(f"{'checked (MLP.train_step)':<34}{checked * 1e6:9.2f}")
    print(f"{'unchecked (same functions)':<34}{unchecked * 1e6:9.2f}")
    print(f"{'cost of the checks':<34}{cost * 1e6:9.2f}   {cost / checked:6.1%} of the checked step"
          f"   (checked / unchecked = {checked / unchecked:.2f})")
    print(f"\n{'one check alone':<34}{'µs':>9}{'share of step':>15}")
    for name, sec in parts.items():
        print(f"{name:<34}{sec * 1e6:9.2f}{sec / checked:15.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
