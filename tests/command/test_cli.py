"""The ``manual-backprop`` command (torch_ref/cli.py) and what a core install without torch gets.

"Without torch" is simulated in a child process by ``sys.modules["torch"] = None``,
which makes every ``import torch`` fail as if torch were not installed; CI also
runs the NumPy-only tests in a venv that has no torch at all.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import manual_backprop
from torch_ref.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; "

SOLUTION = (ROOT / "tests" / "submissions" / "honest" / "correct.py").read_text()  # the seed's backward, right


def _python(code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def _cli_without_torch(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return _python(WITHOUT_TORCH + f"from torch_ref.cli import main; sys.exit(main({list(argv)!r}))", cwd)


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"manual-backprop {manual_backprop.__version__}"
    assert importlib.metadata.version("manual-backprop") == manual_backprop.__version__  # the one source


@pytest.mark.parametrize("argv", [[], ["frobnicate"]], ids=["no-command", "unknown-command"])
def test_usage_errors_exit_2_and_list_the_commands(capsys, argv):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own exit on a usage error
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert all(name in err for name in COMMANDS), err


def test_explain_runs_the_explain_module(capsys):
    assert main(["explain", "--sizes", "4", "16", "2", "--batch", "32"]) == 0
    assert "dL/dW_O (2×16) = dL/dO (2×32) · Ĥᵀ (32×16)" in capsys.readouterr().out


def test_a_reader_that_goes_away_ends_the_command_with_status_1_and_no_traceback():
    """``manual-backprop explain | head``: the pipe's reader is gone before the command writes (it
    waits for its stdin to close, which happens after the read end of its stdout is closed)."""
    code = ("import sys; sys.stdin.read(); from torch_ref.cli import main; "
            "sys.exit(main(['explain', '--sizes', '4', '16', '2']))")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=ROOT)
    assert child.stdout is not None and child.stdin is not None and child.stderr is not None
    child.stdout.close()
    child.stdin.close()
    try:
        status = child.wait(timeout=120)
    finally:
        child.kill()
    errors = child.stderr.read().decode()
    child.stderr.close()
    assert status == 1 and errors == "", errors


def test_grade_of_a_file_that_is_not_python_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "solution.txt").write_text(SOLUTION)  # no .py: not a submission, whatever it holds
    assert main(["grade", str(tmp_path / "solution.txt"), "--reference", "finite_differences"]) == 2
    err = capsys.readouterr().err
    assert "manual-backprop grade: error: " in err and "is not a Python file or notebook" in err


def test_grade_runs_the_grader_with_finite_differences(tmp_path, capsys):
    (tmp_path / "solution.py").write_text(SOLUTION)
    assert main(["grade", str(tmp_path / "solution.py"), "--reference", "finite_differences"]) == 0
    assert "all 4 nets passed" in capsys.readouterr().out


@pytest.mark.needs_torch
def test_compare_runs_the_main_job_and_its_help_names_the_subcommand(capsys):
    assert main(["compare", "--epochs", "1", "--sizes", "3", "4", "2"]) == 0
    assert "twins agree at every one of" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert capsys.readouterr().out.startswith("usage: manual-backprop compare")


@pytest.mark.parametrize("script", ["compare", pytest.param("bench", marks=pytest.mark.needs_torch)])
def test_the_scripts_are_wrappers_of_the_commands(script):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{script}.py"), "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_without_torch_the_package_imports_and_torch_names_say_which_extra(tmp_path):
    code = (WITHOUT_TORCH + "import torch_ref, torch_ref.pytest_plugin, torch_ref.cli\n"
            "try:\n    from torch_ref import TorchMLP\n"
            "except ImportError as err:\n    print(err)\nelse:\n    sys.exit('TorchMLP imported without torch')\n")
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'pip install "manual-backprop[torch]"' in result.stdout
    assert "download.pytorch.org/whl/cpu" in result.stdout  # how a CPU-only user gets torch


@pytest.mark.parametrize("module", ["torch_ref.model", "torch_ref.autograd", "torch_ref.state_dict",
                                    "torch_ref.compare.lockstep", "torch_ref.bench"])
def test_without_torch_each_torch_module_names_the_extra(tmp_path, module):
    code = (WITHOUT_TORCH + f"import importlib\ntry:\n    importlib.import_module({module!r})\n"
            "except ImportError as err:\n    print(type(err).__name__, err)\n")
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MissingExtraError") and 'pip install "manual-backprop[torch]"' in result.stdout


def test_without_torch_version_explain_and_finite_difference_grading_work(tmp_path):
    (tmp_path / "solution.py").write_text(SOLUTION)
    assert _cli_without_torch("--version", cwd=tmp_path).stdout.startswith("manual-backprop ")
    explain = _cli_without_torch("explain", cwd=tmp_path)
    assert explain.returncode == 0 and "dL/dW_H (16×4)" in explain.stdout, explain.stderr
    grade = _cli_without_torch("grade", "solution.py", "--reference", "finite_differences", cwd=tmp_path)
    assert grade.returncode == 0 and "all 4 nets passed" in grade.stdout, grade.stdout + grade.stderr


@pytest.mark.parametrize("argv", [["compare", "--epochs", "1"], ["bench", "--grid", "seed"],
                                  ["grade", "solution.py"]], ids=["compare", "bench", "grade-autograd"])
def test_without_torch_a_command_that_needs_it_exits_2_naming_the_extra(tmp_path, argv):
    (tmp_path / "solution.py").write_text(SOLUTION)
    result = _cli_without_torch(*argv, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"manual-backprop {argv[0]}: " in result.stderr
    assert 'pip install "manual-backprop[torch]"' in result.stderr
