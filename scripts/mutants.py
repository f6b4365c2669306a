"""Mutation check of the test suite: plant realistic backprop bugs in manual_backprop, one at a time.

    python scripts/mutants.py            # all mutants, 2 at a time
    python scripts/mutants.py --list     # the catalogue only

Each mutant is one small edit of code inside one named function: its original
text must occur exactly once in that function's code (its docstring does not
count), so comments and docstrings may change freely; when the code itself
changes and the text no longer occurs once, the script stops and says so. The
edit is applied to a copy of the repository in a temporary directory, and a
fast subset of the suite runs against that copy in a fresh Python process
whose environment the script sets: ``PYTHONPATH`` is the copy alone (a
``PYTHONPATH`` of the caller's never leaks in), and the process checks that it
imports ``manual_backprop`` from the copy. A mutant is *killed* when the tests
fail. The unmutated copy runs first and must pass. Prints one line per mutant
and, last, ``killed K of M``; exits 1 unless every mutant is killed.
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/oracle/test_check_gradients.py", "tests/twin/test_twins.py", "tests/reference/test_finite_differences.py"]
FAST = "tests/reference/test_fast_step.py"
BLAS = "tests/reference/test_blas.py"
TIMEOUT = 300  # seconds per mutant; a mutant that hangs counts as killed
# Runs in the copy: import the package from there (or exit 99), then the tests, with the
# installed plugin's entry point left out so that nothing is imported from elsewhere first.
RUNNER = ("import sys, pathlib, pytest, manual_backprop; "
          "sys.exit(99) if pathlib.Path(manual_backprop.__file__).resolve().parents[1] "
          "!= pathlib.Path.cwd().resolve() else "
          "sys.exit(pytest.main(['-x', '-q', '-p', 'no:cacheprovider', '-p', 'no:backprop_oracle', *sys.argv[1:]]))")


class Mutant(NamedTuple):
    name: str
    path: str  # relative to the repository root
    function: str  # the function (or Class.method) whose code holds the original text
    original: str
    mutated: str
    tests: tuple = ()  # test files run for this mutant besides TESTS


MB = "manual_backprop/"
CATALOGUE = [
    Mutant("dW transposed product (Xᵀ·dZ order)", MB + "layers.py", "linear_backward",
           "dW = dZ @ X.T", "dW = X @ dZ.T"),
    Mutant("bias gradient: mean instead of sum", MB + "layers.py", "linear_backward",
           "db = dZ.sum(axis=1, keepdims=True)", "db = dZ.mean(axis=1, keepdims=True)"),
    Mutant("bias gradient not summed over the batch (first sample)", MB + "layers.py", "linear_backward",
           "db = dZ.sum(axis=1, keepdims=True)", "db = dZ[:, :1]"),
    Mutant("dX with W instead of Wᵀ", MB + "layers.py", "linear_backward",
           "dX = W.T @ dZ if need_dX", "dX = W @ dZ.T.T if need_dX"),
    Mutant("dX from the layer's input instead of dZ (wrong cached tensor)", MB + "layers.py",
           "linear_backward", "dX = W.T @ dZ if need_dX", "dX = W.T @ (W @ X) if need_dX"),
    Mutant("half_sse gradient sign flipped (Y − O)", MB + "losses.py", "half_sse_backward",
           "return O - Y", "return Y - O"),
    Mutant("missing ½ in the gradient", MB + "losses.py", "half_sse_backward",
           "return O - Y", "return 2 * (O - Y)"),
    Mutant("missing ½ in the loss value", MB + "losses.py", "half_sse_forward",
           "return 0.5 * float(np.vdot(diff, diff))", "return float(np.vdot(diff, diff))"),
    Mutant("mse gradient averaged over the batch only", MB + "losses.py", "mse_backward",
           "return (O - Y) * (2.0 / O.size)", "return (O - Y) * (2.0 / O.shape[1])"),
    Mutant("cross-entropy gradient summed, not averaged", MB + "losses.py",
           "softmax_cross_entropy_backward", "dO /= N", "dO /= 1"),
    Mutant("sigmoid′ evaluated at Ĥ instead of H", MB + "activations.py", "sigmoid_backward",
           "return dA * A * (1 - A)", "return dA * sigmoid_forward(A) * (1 - sigmoid_forward(A))"),
    Mutant("sigmoid′ from H instead of Ĥ (wrong cached tensor)", MB + "activations.py",
           "sigmoid_backward", "return dA * A * (1 - A)", "return dA * Z * (1 - Z)"),
    Mutant("tanh′ from Z instead of A", MB + "activations.py", "tanh_backward",
           "return dA * (1 - A * A)", "return dA * (1 - Z * Z)"),
    Mutant("leaky_relu slope forgotten in the backward", MB + "activations.py", "leaky_relu_backward",
           "np.where(Z > 0, dA, dA * LEAKY_RELU_SLOPE)", "np.where(Z > 0, dA, dA)"),
    Mutant("off-by-one layer in the backward's cache", MB + "network.py", "network_backward",
           "X, Z, A = cache[i]", "X, Z, A = cache[i - 1]"),
    Mutant("output activation's derivative used in every layer", MB + "network.py", "network_backward",
           "dZ = activations[i].backward(dA, Z, A)", "dZ = activations[-1].backward(dA, Z, A)"),
    Mutant("layer output cached as its input", MB + "network.py", "network_forward",
           "cache.append((X, Z, A))", "cache.append((A, Z, A))"),
    Mutant("loss gradient seeded from the pre-activation", MB + "mlp.py", "MLP.backward",
           "O = self._cache[-1][2]", "O = self._cache[-1][1]"),
    Mutant("SGD ascends (w += α·dL/dw)", MB + "update.py", "sgd_update",
           "p - lr * grads[key]", "p + lr * grads[key]"),
    # the tuned step (fast_step.py): its arithmetic, and each check that keeps its all-or-nothing promise
    *[Mutant(name, MB + "fast_step.py", function, original, mutated, (FAST,))
      for name, function, original, mutated in [
          ("tuned step: the folded update ascends", "TrainStep._write", "gemm(-lr, dZ", "gemm(lr, dZ"),
          ("tuned step: the update aside ascends", "TrainStep._aside",
           "np.subtract(Ws[i], layer.new_W, out=layer.new_W)", "np.add(Ws[i], layer.new_W, out=layer.new_W)"),
          ("tuned step: sigmoid without its cap (exp overflows)", "_sigmoid_forward",
           "np.minimum(Z, _CAP[Z.dtype], out=A)", "np.copyto(A, Z)"),
          ("tuned step: the forward overwrites the cache in use", "TrainStep.__call__",
           "s = 1 - self.current", "s = self.current"),
          ("tuned step: read-only parameters written", "TrainStep._parameters",
           "if not flags.writeable:", "if False:"),
          ("tuned step: the forward's bound left out", "TrainStep._bounded",
           "nW * nX + nb <= limit and g", "g"),
          ("tuned step: the gradient's bound left out", "TrainStep._bounded",
           "and g <= limit and nW", "and nW"),
          ("tuned step: the new weights' bound left out", "TrainStep._bounded",
           "and nW + lr * g <= limit", ""),
          ("tuned step: the new biases' bounds left out", "TrainStep._bounded",
           "and sums <= limit and nb + lr * sums <= limit)", ")"),
          ("tuned step: the new values aside never scanned", "TrainStep._aside",
           "return math.isfinite(float(np.vdot(aside, aside)))", "return True"),
          ("tuned step: an overflow aside not caught", "TrainStep._aside",
           "except FloatingPointError:", "except ZeroDivisionError:"),
      ]],
    # NumPy's gemm (_blas.py): the lookup's fallback and a check at the call
    *[Mutant(name, MB + "_blas.py", function, original, mutated, (BLAS,))
      for name, function, original, mutated in [
          ("gemm: any BLAS taken for NumPy's OpenBLAS", "numpy_gemm",
           'if name != "scipy-openblas":', "if name is None:"),
          ("gemm: a read-only or unaligned output written", "Gemm.__call__",
           "and C.flags.carray", "and C.flags.c_contiguous"),
          ("gemm: an output overlapping an input written", "Gemm.__call__",
           "and not np.may_share_memory(C, A)", ""),
      ]],
]


def code_span(source: str, function: str) -> tuple[int, int]:
    """(start, end) character offsets of ``function``'s code in ``source``, its docstring left out."""
    tree = ast.parse(source)
    node: ast.AST = tree
    for part in function.split("."):
        node = next((n for n in ast.iter_child_nodes(node)
                     if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise SystemExit(f"no function {function!r}; update the catalogue")
    body = node.body
    first = body[1] if (len(body) > 1 and isinstance(body[0], ast.Expr)
                        and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)) else body[0]
    lines = source.splitlines(keepends=True)
    start = sum(len(line) for line in lines[:first.lineno - 1])
    end = sum(len(line) for line in lines[:node.end_lineno])
    return start, end


def blank_comments(source: str) -> str:
    """``source`` with every comment replaced by spaces of the same length (offsets unchanged)."""
    lines = source.splitlines(keepends=True)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            (row, col), (_, end_col) = tok.start, tok.end
            line = lines[row - 1]
            lines[row - 1] = line[:col] + " " * (end_col - col) + line[end_col:]
    return "".join(lines)


def mutate(source: str, mutant: Mutant) -> str:
    """``source`` with the mutant's edit made once inside its function's code; stops if it does not fit.

    Docstrings and comments are not looked in, so editing them never breaks the catalogue.
    """
    start, end = code_span(source, mutant.function)
    code = blank_comments(source)[start:end]
    count = code.count(mutant.original)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name!r}: the original text occurs {count} times in the code of "
                         f"{mutant.function} in {mutant.path} (expected exactly once); update the catalogue")
    at = start + code.index(mutant.original)
    return source[:at] + mutant.mutated + source[at + len(mutant.original):]


def make_copy(dest: Path, mutant: Mutant | None = None) -> None:
    """Copy the repository's code and tests to ``dest`` and apply ``mutant`` there."""
    for item in ("manual_backprop", "torch_ref", "tests"):
        shutil.copytree(ROOT / item, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    if mutant is not None:
        target = dest / mutant.path
        target.write_text(mutate(target.read_text(), mutant))


def run_copy(dest: Path, tests: list) -> tuple[int, str]:
    """Run ``tests`` in ``dest`` in a fresh process; (exit code, last line of its output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(dest)
    try:
        result = subprocess.run([sys.executable, "-c", RUNNER, *tests], cwd=dest, env=env,
                                capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT} s"
    if result.returncode == 99:
        return 99, "imported manual_backprop from outside the copy"
    lines = (result.stdout + result.stderr).strip().splitlines() or ["(no output)"]
    return result.returncode, lines[-1]


def run_all(mutants: list, jobs: int) -> list:
    """Run each mutant (None: the unmutated copy), ``jobs`` at a time; (mutant, exit code, last line)."""
    with tempfile.TemporaryDirectory() as tmp:
        def one(k_mutant):
            k, mutant = k_mutant
            dest = Path(tmp) / f"m{k}"
            dest.mkdir()
            make_copy(dest, mutant)
            extra = mutant.tests if mutant else sorted({t for m in mutants if m for t in m.tests})
            return (mutant, *run_copy(dest, [*TESTS, *extra]))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, enumerate(mutants)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    args = parser.parse_args()
    if args.list:
        for m in CATALOGUE:
            print(f"{m.path} {m.function}: {m.name}: {m.original!r} → {m.mutated!r}")
        return 0
    for m in CATALOGUE:  # a stale entry stops the run before anything starts
        mutate((ROOT / m.path).read_text(), m)
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
