"""Where one steady ``MLP.train_step`` spends its time, operation by operation.

    python scripts/step_profile.py                          # the 1024-2048-1024 and 256-512-256 nets
    python scripts/step_profile.py --net 4-16-2 --batch 32  # any net

Every NumPy call the tuned step (``manual_backprop/fast_step.py``) makes, its
gemm calls and its element-wise kernels are wrapped in a timer (through
``fast_step.instrumented``) and summed by what they do; "Python and the rest" is the step's time less all of those.
The timers cost well under a microsecond a call, so the big nets' figures are
the step's own; for the seed's tiny net they inflate the total. The products
(gemm and matmul) set the floor; the rest is what a step spends beyond them.
``manual-backprop bench`` times the steps without timers, against torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

import numpy as np

from manual_backprop import MLP, fast_step

PRODUCTS = ("gemm: Z = W X + b", "gemm: W −= lr dZ Xᵀ", "matmul: dX = Wᵀ dZ and small layers")
LABELS = {"vdot": "checks: one dot per array (norms, and the loss's ‖O − Y‖²)",
          "copyto": "Z filled with b; new values copied in",
          "subtract": "O − Y; new values w − lr · dL/dw (all biases; weights without gemm)",
          "multiply": "lr · dL/db (layers with gemm)", "add": "Z += b (layers without gemm)"}
KERNELS = ("forward", "backward")  # a kernel's name ends with one of these: "sigmoid forward"


def _label(name, args) -> str | None:
    """What a call of ``name`` with ``args`` does, or None for calls that are not timed on their own."""
    if name == "gemm":
        return PRODUCTS[0] if args[0] == 1.0 else PRODUCTS[1]  # alpha: 1 forward, −lr update
    if name == "matmul":
        return "bias sums: dZ · ones" if np.ndim(args[1]) == 1 else PRODUCTS[2]
    if name.endswith(KERNELS):
        return name
    return LABELS.get(name)


def timer(seconds: dict):
    """A ``wrap`` for ``fast_step.instrumented``: adds each labelled call's time to ``seconds[label]``;
    calls made inside a kernel count as the kernel's."""
    inside: list = []  # the kernel running now, if any

    def wrap(name, fn):
        def timed(*args, **kwargs):
            label = None if inside else _label(name, args)
            if label is None:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            inside.append(name)
            try:
                return fn(*args, **kwargs)
            finally:
                inside.pop()
                seconds[label] += time.perf_counter() - start
        return timed
    return wrap


def profile(sizes, N, dtype, steps: int) -> tuple[float, float, dict]:
    """(untimed step seconds, timed step seconds, {phase: seconds}) per step, best of a few blocks."""
    rng = np.random.default_rng(0)
    I = rng.standard_normal((sizes[0], N)).astype(dtype)
    Y = rng.standard_normal((sizes[-1], N)).astype(dtype)
    net = MLP(sizes, dtype=dtype, seed=0)
    lr = 1e-6

    def block():
        start = time.perf_counter()
        for _ in range(steps):
            net.train_step(I, Y, lr)
        return (time.perf_counter() - start) / steps

    block()
    plain = min(block() for _ in range(3))

    seconds: dict = defaultdict(float)
    with fast_step.instrumented(timer(seconds)):  # every step is rebuilt with the timed calls
        block()
        best, phases = None, {}
        for _ in range(3):
            seconds.clear()
            took = block()
            if best is None or took < best:
                best, phases = took, {k: v / steps for k, v in seconds.items()}
    phases["Python and the rest"] = best - sum(phases.values())
    return plain, best, phases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", action="append", help="sizes as 1024-2048-1024 (repeatable)")
    parser.add_argument("--batch", type=int, action="append", help="N for each --net")
    parser.add_argument("--steps", type=int, default=0, help="steps per timed block (default: by size)")
    args = parser.parse_args(argv)
    nets = ([tuple(int(x) for x in s.split("-")) for s in args.net] if args.net
            else [(1024, 2048, 1024), (256, 512, 256)])
    batches = args.batch or ([512, 256] if not args.net else [32] * len(nets))
    if len(batches) != len(nets):
        parser.error("give one --batch per --net")
    try:
        from threadpoolctl import threadpool_info
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        kernel = f"{blas[0]['internal_api']} {blas[0].get('architecture')}, {blas[0]['num_threads']} threads"
    except (ImportError, IndexError):
        kernel = "unknown (threadpoolctl not installed)"
    print(f"numpy {np.__version__}, BLAS {kernel}; OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; load {os.getloadavg()[0]:.2f}")
    route = fast_step.gemm_route()
    print(f"gemm route: {'on' if route.taken else 'off'} ({route.reason})")
    for sizes, N in zip(nets, batches):
        for dtype in (np.float64, np.float32):
            flops = 2 * N * sum(fi * fo * (3 if i else 2) for i, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])))
            steps = args.steps or max(3, min(2000, int(2e9 / flops)))
            plain, timed, phases = profile(sizes, N, dtype, steps)
            products = sum(phases.get(k, 0.0) for k in PRODUCTS)
            print(f"\n{'-'.join(map(str, sizes))} N={N} {np.dtype(dtype).name}: step {plain * 1e3:.3f} ms "
                  f"untimed, {timed * 1e3:.3f} ms with timers; products {products * 1e3:.3f} ms; "
                  f"the rest {(timed - products) * 1e3:.3f} ms = {(timed - products) / products:.1%} "
                  f"of the products")
            for label, s in sorted(phases.items(), key=lambda kv: -kv[1]):
                print(f"  {s * 1e3:9.3f} ms  {s / products:6.1%}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
