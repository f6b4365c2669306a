"""The command lines: ``python -m torch_ref.grade`` (exit 0/1/2) and ``python -m manual_backprop.explain``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.students import student_backward
from manual_backprop.explain import backward_equations
from manual_backprop.network import layer_names
from manual_backprop.oracle.cases import grade

ROOT = Path(__file__).resolve().parents[2]

SOLUTION = '''
import numpy as np

def backward(params, I, Y):
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}

def transposed(params, I, Y):
    g = backward(params, I, Y)
    g["W_O"] = g["W_O"].T
    return g

def returns_list(params, I, Y):
    return list(backward(params, I, Y).values())
'''


def _run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


@pytest.fixture
def solution(tmp_path):
    path = tmp_path / "solution.py"
    path.write_text(SOLUTION)
    return path


@pytest.mark.needs_torch  # the autograd reference
def test_grade_right_solution_exits_0(solution):
    result = _run("-m", "torch_ref.grade", str(solution))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("all 4 nets passed")
    assert result.stdout.count("PASSED") == 4


@pytest.mark.needs_torch  # the autograd reference
def test_grade_wrong_solution_exits_1_with_the_table(solution):
    result = _run("-m", "torch_ref.grade", str(solution), "--function", "transposed")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "2×16 (got 16×2)" in out and "FAIL transposed" in out
    assert "W_O: transposed: got (dL/dW_O)ᵀ; dL/dW_O (2×16) = dL/dO (2×32) · Ĥᵀ (32×16)" in out
    assert out.rstrip().endswith("0 of 4 nets passed")


@pytest.mark.parametrize("args,message", [
    (["missing.py"], "no such file"),
    (["NOT_PYTHON"], "solution.txt is not a Python file or notebook"),
    (["EMPTY_FOLDER"], "no .py or .ipynb files in the folder"),
    (["SOLUTION", "--loss", "hinge"], "unknown loss 'hinge'"),
    (["SOLUTION", "--shard", "3/2"], "--shard must be K/N with 1 ≤ K ≤ N"),
    (["SOLUTION", "--timeout", "0"], "--timeout: must be > 0"),
    (["SOLUTION", "--format", "xml"], "invalid choice: 'xml'"),
    ([], "usage:"),
], ids=["missing-file", "not-python", "empty-folder", "unknown-loss", "bad-shard", "zero-timeout",
        "unknown-format", "no-arguments"])
def test_grade_usage_errors_exit_2_before_running_student_code(solution, tmp_path, args, message):
    (tmp_path / "solution.txt").write_text("import os; os._exit(0)\n")
    (tmp_path / "empty").mkdir()
    where = {"SOLUTION": str(solution), "NOT_PYTHON": str(tmp_path / "solution.txt"),
             "EMPTY_FOLDER": str(tmp_path / "empty")}
    result = _run("-m", "torch_ref.grade", *[where.get(a, a) for a in args])
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and result.stdout == ""


@pytest.mark.needs_torch  # the autograd reference
@pytest.mark.parametrize("function,message", [
    ("returns_list", "returns_list returned list; it must return a dict of gradients"),
    ("nope", "defines no function 'nope'; its functions: ['backward', 'returns_list', 'transposed']"),
], ids=["returns-list", "missing-function"])
def test_grade_solution_that_breaks_exits_1(solution, function, message):
    result = _run("-m", "torch_ref.grade", str(solution), "--function", function)
    assert result.returncode == 1 and message in result.stdout, result.stdout + result.stderr


@pytest.mark.needs_torch  # graded against autograd, the default reference
def test_grade_solution_that_fails_to_import_exits_1(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import numpy as np\nraise ImportError('half-written solution')\n")
    result = _run("-m", "torch_ref.grade", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "raised ImportError: half-written solution (while loading broken.py)" in result.stdout


def test_grading_without_torch_uses_finite_differences():
    results = grade(lambda p, I, Y: student_backward(p, I, Y, "b_in_not_summed"))
    assert [r.report.reference for r in results] == ["finite differences"] * 4
    assert [r.case.N for r in results if not r.report.passed] == [32, 3, 8]


def test_explain_prints_the_seed_backward_with_concrete_shapes():
    result = _run("-m", "manual_backprop.explain", "--sizes", "4", "16", "2", "--batch", "32")
    assert result.returncode == 0, result.stderr
    lines = [ln.strip() for ln in result.stdout.splitlines()]
    backward = lines[lines.index("backward (half_sse), in the order it is computed:") + 1:]
    assert backward == [
        "dL/dO (2×32) = O − Y (2×32)",
        "dL/dW_O (2×16) = dL/dO (2×32) · Ĥᵀ (32×16)",
        "dL/db_O (2×1) = Σ_batch dL/dO (2×32)",
        "dL/dĤ (16×32) = W_Oᵀ (16×2) · dL/dO (2×32)",
        "dL/dH (16×32) = dL/dĤ (16×32) ⊙ Ĥ ⊙ (1 − Ĥ) (16×32)",
        "dL/dW_H (16×4) = dL/dH (16×32) · Iᵀ (32×4)",
        "dL/db_H (16×1) = Σ_batch dL/dH (16×32)",
    ]
    assert "H (16×32) = W_H (16×4) · I (4×32) + b_H (16×1)" in lines


@pytest.mark.parametrize("sizes,N", [([3, 8, 5, 2], 1), ([5, 3], 6), ([2, 4, 4, 4, 3], 7)],
                         ids=["depth2-N1", "depth1", "depth3"])
def test_explain_deeper_nets_every_product_type_checks(sizes, N):
    """Every product's inner dimensions agree and its result has the left-hand side's shape."""
    eqs = backward_equations(sizes, N)
    names = layer_names(len(sizes) - 1)
    targets = [e.target for e in eqs]
    assert [t for t in targets if t.startswith(("dL/dW", "dL/db"))] == [
        f"dL/d{p}_{n}" for n in reversed(names) for p in ("W", "b")]
    products = [e.text for e in eqs if " · " in e.text]
    assert len(products) == 2 * len(names) - 1  # one dW per layer, one dX per layer above the first
    for text in products:
        (r0, c0), (r1, c1), (r2, c2) = [tuple(map(int, m)) for m in re.findall(r"\((\d+)×(\d+)\)", text)]
        assert c1 == r2 and (r0, c0) == (r1, c2), text
    for name, fan_in, fan_out in zip(names, sizes, sizes[1:]):
        assert f"dL/dW_{name} ({fan_out}×{fan_in}) = " in "\n".join(products)


def test_explain_rejects_bad_sizes():
    result = _run("-m", "manual_backprop.explain", "--sizes", "4", "--batch", "3")
    assert result.returncode == 2 and "--sizes needs at least two" in result.stderr
