"""Time one SGD training step of the manual net against torch, and against its matrix products alone.

    python scripts/bench.py                    # the full grid, a table and the targets
    python scripts/bench.py --json             # the same figures as JSON, for machines
    python scripts/bench.py --grid seed --no-compile   # the seed's tiny net only, quickly
    python scripts/bench.py --grid targets --no-compile --matmul-route   # does the gemm route pay?
    python scripts/bench.py --markdown figures.md      # also a Markdown page: machine, date, versions

One step is forward, loss, backward and the SGD update on a fixed batch, for the
seed's configuration (sigmoid hidden, identity output, ``half_sse``): the
manual ``MLP.train_step``; torch eager and torch.compile on the twin; and only
the matrix products the step needs, into preallocated outputs, which no step
can beat. Beside the manual step's time it prints its memory: the peak
allocated during one steady step, and what the step keeps between steps
beyond the parameters and the forward cache (its work buffers).

The rule, for a fair figure on a shared machine: implementations are
interleaved in one process, each block of calls after one untimed call (so
each is timed in its own steady state: OpenBLAS's idle threads spin for a
while after a product, and torch returns freed memory to the system), torch
gets as many threads as numpy's BLAS, and the fastest block counts (noise only
adds time). Ratios are manual / other. ``--cold`` drops the untimed call.
The BLAS kernel and the load average are printed with the figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
import tracemalloc

import numpy as np

from manual_backprop import MLP, __version__, fast_step
from torch_ref import TorchMLP
from torch_ref._torch import torch  # without torch: an ImportError naming the extra

GRIDS = {
    "seed": [((4, 16, 2), 32)],
    "targets": [((4, 16, 2), 32), ((256, 512, 256), 256), ((1024, 2048, 1024), 512)],
    "full": [((4, 16, 2), 32), ((64, 128, 10), 128), ((256, 512, 256), 256),
             ((1024, 2048, 1024), 512)],
}
DTYPES = (np.float64, np.float32)
IMPLEMENTATIONS = ("manual", "matmuls", "torch_eager", "torch_compile", "manual_matmul_route")
LR = 1e-6  # small, so that repeated steps on one batch leave the weights in range

# (what, sizes, N, dtype, numerator, denominator, at most)
TARGETS = [
    ("seed net: manual / torch eager", (4, 16, 2), 32, "float64", "manual", "torch_eager", 0.20),
    *[(f"{what}: manual / its matmuls alone", sizes, N, dtype, "manual", "matmuls", limit)
      for what, sizes, N, limit in (("big net", (1024, 2048, 1024), 512, 1.05),
                                    ("mid net", (256, 512, 256), 256, 1.15))
      for dtype in ("float32", "float64")],
    *[("every net: manual / torch eager", sizes, N, np.dtype(dtype).name, "manual", "torch_eager", 1.00)
      for sizes, N in GRIDS["full"] for dtype in DTYPES],
]


def blas_info() -> dict:
    """numpy's BLAS library, kernel (CPU architecture it picked) and threads, via threadpoolctl if present."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"library": "unknown (threadpoolctl not installed)", "kernel": "unknown", "threads": None}
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    mine = [p for p in pools if "numpy" in p["filepath"]] or pools  # numpy's own, e.g. numpy.libs/
    if not mine:
        return {"library": "unknown", "kernel": "unknown", "threads": None}
    p = mine[0]
    return {"library": f"{p['internal_api']} {p.get('version') or ''}".strip(),
            "kernel": p.get("architecture", "unknown"), "threads": p["num_threads"]}


def cpu_model() -> str:
    """The CPU's model name as the system gives it (Linux's /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def matmul_plan(sizes, N, dtype, rng):
    """The step's matrix products as (A, B, out) with outputs preallocated, and their FLOP count."""
    plan, flops = [], 0
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = rng.standard_normal((fan_out, fan_in)).astype(dtype)
        X = rng.standard_normal((fan_in, N)).astype(dtype)
        dZ = rng.standard_normal((fan_out, N)).astype(dtype)
        plan.append((W, X, np.empty((fan_out, N), dtype)))  # forward: Z = W X
        plan.append((dZ, X.T, np.empty((fan_out, fan_in), dtype)))  # backward: dW = dZ Xᵀ
        products = 2
        if layer > 0:
            plan.append((W.T, dZ, np.empty((fan_in, N), dtype)))  # backward: dX = Wᵀ dZ
            products = 3
        flops += products * 2 * fan_out * fan_in * N
    return plan, flops


def step_functions(sizes, N, dtype, compile_torch: bool, matmul_route: bool = False):
    """One callable per implementation (None where unavailable) and the reason for any None.

    ``manual_matmul_route`` (only with ``matmul_route``) is the manual step of a twin net with
    ``fast_step.USE_GEMM`` off during its calls: np.matmul and a separate update pass everywhere.
    """
    rng = np.random.default_rng(0)
    I = rng.standard_normal((sizes[0], N)).astype(dtype)
    Y = rng.standard_normal((sizes[-1], N)).astype(dtype)
    net = MLP(sizes, dtype=dtype, seed=0)

    def manual():
        net.train_step(I, Y, LR)

    plan, flops = matmul_plan(sizes, N, dtype, rng)

    def matmuls():
        for A, B, out in plan:
            np.matmul(A, B, out=out)

    X = torch.from_numpy(np.ascontiguousarray(I.T))  # (N, D_I)
    T = torch.from_numpy(np.ascontiguousarray(Y.T))  # (N, D_O)

    def torch_step(model):
        opt = torch.optim.SGD(model.parameters(), lr=LR)

        def step():
            opt.zero_grad()
            model.loss_fn(model(X), T).backward()
            opt.step()
        return step

    twin = MLP(sizes, dtype=dtype, seed=0) if matmul_route else None

    def manual_matmul_route():
        use = fast_step.USE_GEMM
        fast_step.USE_GEMM = False
        try:
            twin.train_step(I, Y, LR)
        finally:
            fast_step.USE_GEMM = use

    fns = {"manual": manual, "matmuls": matmuls,
           "torch_eager": torch_step(TorchMLP.from_manual(net)), "torch_compile": None,
           "manual_matmul_route": manual_matmul_route if matmul_route else None}
    notes = {}
    if compile_torch:
        try:
            torch._dynamo.reset()
            eager = TorchMLP.from_manual(net)
            step = torch_step(torch.compile(eager, dynamic=False))  # keeps eager's loss_fn
            step()  # compiles here; failures surface now
            fns["torch_compile"] = step
        except Exception as exc:  # any failure of the compiler stack: report it, don't stop
            notes["torch_compile"] = f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    else:
        notes["torch_compile"] = "skipped (--no-compile)"
    return fns, flops, notes


def step_memory(sizes, N, dtype) -> dict:
    """Bytes the manual step allocates at its peak in one steady step, and keeps beyond params and cache.

    tracemalloc sees NumPy's array memory. "kept" is what the net holds after
    three steps beyond what it held before the first, less the forward cache
    (each layer's Z and A, one array for the identity output layer).
    """
    rng = np.random.default_rng(0)
    I = rng.standard_normal((sizes[0], N)).astype(dtype)
    Y = rng.standard_normal((sizes[-1], N)).astype(dtype)
    net = MLP(sizes, dtype=dtype, seed=0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            net.train_step(I, Y, LR)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        net.train_step(I, Y, LR)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cache = (2 * sum(sizes[1:-1]) + sizes[-1]) * N * np.dtype(dtype).itemsize
    return {"step_peak_bytes": peak - held, "kept_beyond_cache_bytes": held - before - cache}


def time_interleaved(fns: dict, repeats: int, min_block_s: float, settle: bool = True,
                     clock=time.perf_counter) -> dict:
    """(min, median) seconds per call of each function; every repetition runs each one, in turn, for a block."""
    live = {k: f for k, f in fns.items() if f is not None}
    for f in live.values():
        f()  # warm up: caches, allocator, lazy initialisation
    calls = {k: max(1, int(min_block_s / max(min(_block(f, 1, clock) for _ in range(3)), 1e-7)))
             for k, f in live.items()}  # each block lasts about min_block_s
    samples = {k: [] for k in live}
    order = list(live)
    for r in range(repeats):
        for k in order[r % len(order):] + order[:r % len(order)]:  # rotate who runs first
            if settle:
                live[k]()  # untimed: each implementation is timed in its own steady state
            samples[k].append(_block(live[k], calls[k], clock) / calls[k])
    return {k: (float(np.min(v)), float(np.median(v))) for k, v in samples.items()}


def _block(f, calls: int, clock=time.perf_counter) -> float:
    start = clock()
    for _ in range(calls):
        f()
    return clock() - start


def run(grid, repeats: int, min_block_s: float, compile_torch: bool, settle: bool,
        progress, matmul_route: bool = False, clock=time.perf_counter) -> list[dict]:
    rows = []
    for sizes, N in grid:
        for dtype in DTYPES:
            name = np.dtype(dtype).name
            progress(f"timing {'-'.join(map(str, sizes))} N={N} {name}")
            fns, flops, notes = step_functions(sizes, N, dtype, compile_torch, matmul_route)
            times = time_interleaved(fns, repeats, min_block_s, settle, clock)
            memory = step_memory(sizes, N, dtype)
            rows.append({"sizes": list(sizes), "N": N, "dtype": name, "flops": flops,
                         "seconds": {k: times[k][0] if k in times else None for k in IMPLEMENTATIONS},
                         "median_seconds": {k: times[k][1] if k in times else None
                                            for k in IMPLEMENTATIONS},
                         "memory": memory, "notes": notes})
    return rows


def ratio(row, num, den):
    a, b = row["seconds"].get(num), row["seconds"].get(den)
    return None if a is None or b is None else a / b


def check_targets(rows) -> list[dict]:
    out = []
    for what, sizes, N, dtype, num, den, limit in TARGETS:
        match = [r for r in rows if tuple(r["sizes"]) == sizes and r["N"] == N and r["dtype"] == dtype]
        value = ratio(match[0], num, den) if match else None
        # No manual step is faster than its matrix products: manual / other ≥ matmuls / other.
        bound = ratio(match[0], "matmuls", den) if match and den != "matmuls" else None
        out.append({"target": what, "sizes": list(sizes), "N": N, "dtype": dtype, "ratio": value,
                    "at_most": limit, "met": None if value is None else value <= limit,
                    "lowest_possible": bound})
    return out


def _ms(s):
    return "   n/a" if s is None else f"{s * 1e3:8.3f}"


def _x(r):
    return "  n/a" if r is None else f"{r:5.2f}"


def print_table(rows, machine, targets) -> None:
    print(f"numpy {np.__version__} BLAS: {machine['blas']['library']}, kernel {machine['blas']['kernel']}, "
          f"{machine['blas']['threads']} threads; torch {torch.__version__}: "
          f"{machine['torch_threads']} intra-op threads (set equal to numpy's BLAS threads)")
    print(f"CPU {machine['cpu']}  cpus={machine['cpus']}  OPENBLAS_CORETYPE={machine['openblas_coretype']}  "
          f"load average before={machine['load_before']}  after={machine['load_after']}")
    print("manual step: " + _route(machine))
    how = "each after an untimed step" if machine["settled"] else "cold: no untimed step (--cold)"
    clock = "the process's CPU time (--cpu-time)" if machine["cpu_time"] else "wall clock"
    print(f"time of one step (ms, {clock}, fastest of interleaved blocks, {how}); ratios are manual / other")
    print("memory of the manual step: peak = allocated during one steady step; kept = work buffers "
          "held between steps beyond the parameters and the forward cache")
    print(f"{'net':>16} {'N':>4} {'dtype':>7} {'manual':>8} {'matmuls':>8} {'eager':>8} {'compile':>8}"
          f" {'/matmul':>7} {'/eager':>6} {'/compil':>7} {'GF/s man':>8} {'GF/s mm':>8}"
          f" {'peak MiB':>8} {'kept MiB':>8}")
    for r in rows:
        s = r["seconds"]
        gf = {k: (r["flops"] / s[k] / 1e9 if s[k] else None) for k in ("manual", "matmuls")}
        print(f"{'-'.join(map(str, r['sizes'])):>16} {r['N']:>4} {r['dtype']:>7} {_ms(s['manual'])} "
              f"{_ms(s['matmuls'])} {_ms(s['torch_eager'])} {_ms(s['torch_compile'])}"
              f"   {_x(ratio(r, 'manual', 'matmuls'))}  {_x(ratio(r, 'manual', 'torch_eager'))}"
              f"   {_x(ratio(r, 'manual', 'torch_compile'))} {gf['manual']:8.1f} {gf['matmuls']:8.1f}"
              f" {r['memory']['step_peak_bytes'] / 2**20:8.2f} {r['memory']['kept_beyond_cache_bytes'] / 2**20:8.2f}")
        for k, note in r["notes"].items():
            if not note.startswith("skipped"):
                print(f"{'':>16} {k}: {note}")
    if any(r["notes"].get("torch_compile", "").startswith("skipped") for r in rows):
        print("torch.compile skipped (--no-compile)")
    if any(r["seconds"]["manual_matmul_route"] for r in rows):
        print("the manual step's two routes, interleaved (--matmul-route): gemm (the default on large "
              "layers) and np.matmul (fast_step.USE_GEMM off)")
        print(f"{'net':>16} {'N':>4} {'dtype':>7} {'gemm':>8} {'matmul':>8} {'gemm/matmul':>11} {'median':>7}")
        for r in rows:
            s, m = r["seconds"], r["median_seconds"]
            print(f"{'-'.join(map(str, r['sizes'])):>16} {r['N']:>4} {r['dtype']:>7} {_ms(s['manual'])} "
                  f"{_ms(s['manual_matmul_route'])} {_x(ratio(r, 'manual', 'manual_matmul_route')):>11} "
                  f"{_x(m['manual'] / m['manual_matmul_route']):>7}")
    print("targets")
    for t in targets:
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "MISSED")
        value = "n/a" if t["ratio"] is None else f"{t['ratio']:.3f}"
        floor = ("" if t["lowest_possible"] is None
                 else f"  (matmuls alone would give {t['lowest_possible']:.3f})")
        print(f"  {t['target']:<38} {'-'.join(map(str, t['sizes']))} N={t['N']} {t['dtype']}: "
              f"{value} ≤ {t['at_most']:.2f}  {verdict}{floor}")


def _route(machine) -> str:
    return ("the update folded into NumPy's own gemm on large layers" if machine["gemm_route"]
            else "np.matmul only") + f" ({machine['gemm_reason']})"


def _cell_ms(s) -> str:
    return "—" if s is None else f"{s * 1e3:.4g}"


def _cell_x(r) -> str:
    return "—" if r is None else f"{r:.2f}"


MARKDOWN_COLUMNS = ("net", "N", "dtype", "manual ms", "matmuls ms", "torch eager ms", "torch compile ms",
                    "manual / matmuls", "manual / eager", "manual / compile", "peak MiB", "kept MiB")


def markdown_report(rows, machine, targets, command: str) -> str:
    """A Markdown page of the figures: the command that made it, the date, the machine and versions, the
    table (ms to 4 significant digits, ratios manual / other to 2 decimals) and the targets."""
    blas = machine["blas"]
    settled = "each after an untimed step" if machine["settled"] else "cold: no untimed step (--cold)"
    clock = "the process's CPU time" if machine["cpu_time"] else "wall clock"
    lines = [
        "# Performance figures", "",
        f"Written by `{command}` on {machine['date']}. Run it again to replace this page with figures "
        "from your machine: they depend on the CPU, its BLAS kernel and what else the machine is doing.", "",
        "| machine | |", "| --- | --- |",
        f"| CPU | {machine['cpu']}, {machine['cpus']} logical CPUs |",
        f"| load average | {machine['load_before']} before, {machine['load_after']} after |",
        f"| NumPy's BLAS | {blas['library']}, kernel {blas['kernel']}, {blas['threads']} threads, "
        f"OPENBLAS_CORETYPE {machine['openblas_coretype'].strip('()')} |",
        f"| versions | Python {machine['python']}, NumPy {machine['numpy']}, torch {machine['torch']} "
        f"({machine['torch_threads']} threads), manual-backprop {machine['manual_backprop']} |",
        f"| manual step | {_route(machine)} |", "",
        f"Milliseconds per training step ({clock}), the fastest of interleaved blocks, {settled}; ratios are "
        "manual / other; memory of the manual step: peak allocated during one steady step, and kept "
        "between steps beyond the parameters and the forward cache. A dash marks what was not run.", "",
        "| " + " | ".join(MARKDOWN_COLUMNS) + " |",
        "| " + " | ".join("---" if c in ("net", "dtype") else "---:" for c in MARKDOWN_COLUMNS) + " |",
    ]
    for r in rows:
        s = r["seconds"]
        lines.append("| " + " | ".join([
            "-".join(map(str, r["sizes"])), str(r["N"]), r["dtype"],
            _cell_ms(s["manual"]), _cell_ms(s["matmuls"]), _cell_ms(s["torch_eager"]), _cell_ms(s["torch_compile"]),
            _cell_x(ratio(r, "manual", "matmuls")), _cell_x(ratio(r, "manual", "torch_eager")),
            _cell_x(ratio(r, "manual", "torch_compile")),
            f"{r['memory']['step_peak_bytes'] / 2**20:.2f}", f"{r['memory']['kept_beyond_cache_bytes'] / 2**20:.2f}",
        ]) + " |")
    if any(r["seconds"]["manual_matmul_route"] for r in rows):  # --matmul-route
        lines += ["", "The manual step with its gemm route off (np.matmul everywhere), timed beside the rest:", "",
                  "| net | N | dtype | manual ms | np.matmul route ms | manual / np.matmul route |",
                  "| --- | ---: | --- | ---: | ---: | ---: |"]
        lines += [f"| {'-'.join(map(str, r['sizes']))} | {r['N']} | {r['dtype']} | {_cell_ms(r['seconds']['manual'])} | "
                  f"{_cell_ms(r['seconds']['manual_matmul_route'])} | {_cell_x(ratio(r, 'manual', 'manual_matmul_route'))} |"
                  for r in rows]
    notes = sorted({f"{k}: {note}" for r in rows for k, note in r["notes"].items()})
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    lines += ["", "## Targets", "", "The targets this grid measured (`TARGETS` in `torch_ref/bench.py`).", "",
              "| target | net | N | dtype | manual / other | at most | verdict |",
              "| --- | --- | ---: | --- | ---: | ---: | --- |"]
    for t in (t for t in targets if t["met"] is not None):
        verdict = "met" if t["met"] else "missed"
        lines.append(f"| {t['target']} | {'-'.join(map(str, t['sizes']))} | {t['N']} | {t['dtype']} | "
                     f"{_cell_x(t['ratio'])} | {t['at_most']:.2f} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), default="full", help="sizes to time (default: full)")
    parser.add_argument("--repeats", type=int, default=21, help="interleaved repetitions (default: 21)")
    parser.add_argument("--min-block", type=float, default=0.02,
                        help="seconds each timed block lasts at least (default: 0.02)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile)")
    parser.add_argument("--cold", action="store_true",
                        help="no untimed step before each block: shows what switching costs (torch then "
                             "runs while OpenBLAS's idle threads still spin); not a property of either step")
    parser.add_argument("--matmul-route", action="store_true",
                        help="also time the manual step with its gemm route off (np.matmul everywhere), "
                             "interleaved with the rest")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU time, not the wall clock: steadier on a busy machine. "
                             "Run it with OPENBLAS_NUM_THREADS=1, as OpenBLAS's idle threads spin on the CPU")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a measured target is missed")
    parser.add_argument("--markdown", metavar="FILE",
                        help="also write the figures as a Markdown page, with the machine, date and versions")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.markdown and not os.path.isdir(os.path.dirname(os.path.abspath(args.markdown))):
        parser.error(f"--markdown: the folder of {args.markdown!r} does not exist")

    blas = blas_info()
    if blas["threads"]:
        torch.set_num_threads(blas["threads"])
    machine = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
               "blas": blas, "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
               "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
               "settled": not args.cold, "cpu_time": args.cpu_time, "load_before": _load(),
               "gemm_route": fast_step.gemm_route().taken, "gemm_reason": fast_step.gemm_route().reason,
               "cpu": cpu_model(), "manual_backprop": __version__,
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    progress = (lambda msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    rows = run(GRIDS[args.grid], args.repeats, args.min_block, not args.no_compile, not args.cold,
               progress, args.matmul_route, time.process_time if args.cpu_time else time.perf_counter)
    machine["load_after"] = _load()
    targets = check_targets(rows)
    if args.json:
        print(json.dumps({"machine": machine, "results": rows, "targets": targets}, indent=1))
    else:
        print_table(rows, machine, targets)
    if args.markdown:
        command = "manual-backprop bench " + " ".join(shlex.quote(a) for a in argv)
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown_report(rows, machine, targets, command.strip()))
    missed = any(t["met"] is False for t in targets)
    return 1 if args.strict and missed else 0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
