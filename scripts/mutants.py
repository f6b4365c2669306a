"""Mutation check of the test suite: plant realistic backprop bugs in manual_backprop, one at a time.

    python scripts/mutants.py            # all mutants, 2 at a time
    python scripts/mutants.py --list     # the catalogue only

Each mutant is one small source edit (the original text must occur exactly
once, or the script stops: the catalogue is out of date). It is applied to a
copy of the repository in a temporary directory, and a fast subset of the
suite runs against that copy. A mutant is *killed* when the tests fail. The
unmutated copy runs first and must pass, and must import from the copy.
Prints one line per mutant and, last, ``killed K of M``; exits 1 unless every
mutant is killed. Children are forked from a parent that has imported torch and
pytest once, so this needs a POSIX system (Linux, macOS).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from multiprocessing.connection import wait
from pathlib import Path
from typing import NamedTuple

import numpy  # noqa: F401  imported once here, so that every forked child has it loaded
import pytest
import torch  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_oracle_library.py", "tests/test_twins.py", "tests/test_finite_differences.py"]
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:backprop_oracle", *TESTS]
TIMEOUT = 300  # seconds per mutant; a mutant that hangs counts as killed


class Mutant(NamedTuple):
    name: str
    path: str  # relative to the repository root
    original: str
    mutated: str


MB = "manual_backprop/"
CATALOGUE = [
    Mutant("dW transposed product (Xᵀ·dZ order)", MB + "layers.py",
           "dW = dZ @ X.T", "dW = X @ dZ.T"),
    Mutant("bias gradient: mean instead of sum", MB + "layers.py",
           "db = dZ.sum(axis=1, keepdims=True)", "db = dZ.mean(axis=1, keepdims=True)"),
    Mutant("bias gradient not summed over the batch (first sample)", MB + "layers.py",
           "db = dZ.sum(axis=1, keepdims=True)", "db = dZ[:, :1]"),
    Mutant("dX with W instead of Wᵀ", MB + "layers.py",
           "dX = W.T @ dZ if need_dX", "dX = W @ dZ.T.T if need_dX"),
    Mutant("dX from the layer's input instead of dZ (wrong cached tensor)", MB + "layers.py",
           "dX = W.T @ dZ if need_dX", "dX = W.T @ (W @ X) if need_dX"),
    Mutant("half_sse gradient sign flipped (Y − O)", MB + "losses.py",
           '"""Seed: dL/dO = O − Y, shape (D_O, N)."""\n    return O - Y',
           '"""Seed: dL/dO = O − Y, shape (D_O, N)."""\n    return Y - O'),
    Mutant("missing ½ in the gradient", MB + "losses.py",
           '"""Seed: dL/dO = O − Y, shape (D_O, N)."""\n    return O - Y',
           '"""Seed: dL/dO = O − Y, shape (D_O, N)."""\n    return 2 * (O - Y)'),
    Mutant("missing ½ in the loss value", MB + "losses.py",
           "return 0.5 * float(np.vdot(diff, diff))", "return float(np.vdot(diff, diff))"),
    Mutant("mse gradient averaged over the batch only", MB + "losses.py",
           "return (O - Y) * (2.0 / O.size)", "return (O - Y) * (2.0 / O.shape[1])"),
    Mutant("cross-entropy gradient summed, not averaged", MB + "losses.py",
           "    dO /= N\n", "    dO /= 1\n"),
    Mutant("sigmoid′ evaluated at Ĥ instead of H", MB + "activations.py",
           "dZ = np.subtract(1.0, A)  # (D, N)\n    dZ *= dA\n    dZ *= A\n",
           "S = sigmoid_forward(A)\n    dZ = np.subtract(1.0, S)\n    dZ *= dA\n    dZ *= S\n"),
    Mutant("sigmoid′ from H instead of Ĥ (wrong cached tensor)", MB + "activations.py",
           "dZ = np.subtract(1.0, A)  # (D, N)\n    dZ *= dA\n    dZ *= A\n",
           "dZ = np.subtract(1.0, Z)  # (D, N)\n    dZ *= dA\n    dZ *= Z\n"),
    Mutant("tanh′ from Z instead of A", MB + "activations.py",
           "dZ = np.multiply(A, A)", "dZ = np.multiply(Z, Z)"),
    Mutant("leaky_relu slope forgotten in the backward", MB + "activations.py",
           "np.where(Z > 0, dA, dA * LEAKY_RELU_SLOPE)", "np.where(Z > 0, dA, dA)"),
    Mutant("off-by-one layer in the backward's cache", MB + "network.py",
           "X, Z, A = cache[i]", "X, Z, A = cache[i - 1]"),
    Mutant("output activation's derivative used in every layer", MB + "network.py",
           "dZ = activations[i].backward(dA, Z, A)", "dZ = activations[-1].backward(dA, Z, A)"),
    Mutant("layer output cached as its input", MB + "network.py",
           "cache.append((X, Z, A))", "cache.append((A, Z, A))"),
    Mutant("loss gradient seeded from the pre-activation", MB + "mlp.py",
           "O = self._cache[-1][2]", "O = self._cache[-1][1]"),
    Mutant("SGD ascends (w += α·dL/dw)", MB + "update.py",
           "np.subtract(p, w, out=w)", "np.add(p, w, out=w)"),
]


def make_copy(dest: Path, mutant: Mutant | None = None) -> None:
    """Copy the repository's code and tests to ``dest`` and apply ``mutant``, checking it applies once."""
    for item in ("manual_backprop", "torch_ref", "tests"):
        shutil.copytree(ROOT / item, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    if mutant is None:
        return
    target = dest / mutant.path
    text = target.read_text()
    count = text.count(mutant.original)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name!r}: the original text occurs {count} times in "
                         f"{mutant.path} (expected exactly once); update the catalogue")
    target.write_text(text.replace(mutant.original, mutant.mutated))


def _child(dest: str) -> None:
    """In a forked child: import the project from the copy, then run the tests there."""
    out = os.open(os.path.join(dest, "pytest.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.chdir(dest)
    sys.path.insert(0, dest)
    import manual_backprop  # torch_ref is left to pytest: it may be an installed plugin's package
    if not Path(manual_backprop.__file__).resolve().is_relative_to(Path(dest).resolve()):
        print(f"imported manual_backprop from {manual_backprop.__file__}, not from the copy {dest}")
        os._exit(99)
    sys.stdout.flush()
    code = pytest.main(PYTEST_ARGS)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def run_all(mutants: list, jobs: int) -> list:
    """Run each mutant (None: the unmutated copy) in a forked child, ``jobs`` at a time.

    Forking from a parent that has already imported torch and pytest saves
    their start-up for every mutant; the parent never imports the project.
    Returns (mutant, exit code, last line of the tests' output) in order.
    """
    ctx = multiprocessing.get_context("fork")
    results, running, pending = {}, {}, list(enumerate(mutants))
    with tempfile.TemporaryDirectory() as tmp:
        while pending or running:
            while pending and len(running) < jobs:
                k, mutant = pending.pop(0)
                dest = Path(tmp) / f"m{k}"
                dest.mkdir()
                make_copy(dest, mutant)
                proc = ctx.Process(target=_child, args=(str(dest),))
                proc.start()
                running[proc.sentinel] = (k, mutant, proc, dest, time.monotonic())
            for sentinel in wait(list(running), timeout=1.0):
                k, mutant, proc, dest, _ = running.pop(sentinel)
                proc.join()
                log = (dest / "pytest.log").read_text().strip().splitlines() or ["(no output)"]
                results[k] = (mutant, proc.exitcode, log[-1])
            for sentinel, (k, mutant, proc, dest, started) in list(running.items()):
                if time.monotonic() - started > TIMEOUT:
                    proc.kill()
                    proc.join()
                    running.pop(sentinel)
                    results[k] = (mutant, -1, f"timed out after {TIMEOUT} s")
    return [results[k] for k in range(len(mutants))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    args = parser.parse_args()
    if args.list:
        for m in CATALOGUE:
            print(f"{m.path}: {m.name}: {m.original!r} → {m.mutated!r}")
        return 0
    start = time.perf_counter()
    (_, code, last), *results = run_all([None, *CATALOGUE], args.jobs)
    if code != 0:
        print(f"the unmutated copy fails ({last}); fix the tests first, see exit code {code}")
        return 2
    killed = 0
    for mutant, code, last in results:
        dead = code != 0
        killed += dead
        print(f"{'killed  ' if dead else 'SURVIVED'}  {mutant.path:<30} {mutant.name}  [{last}]")
    print(f"({time.perf_counter() - start:.0f} s)")
    print(f"killed {killed} of {len(CATALOGUE)}")
    return 0 if killed == len(CATALOGUE) else 1


if __name__ == "__main__":
    sys.exit(main())
