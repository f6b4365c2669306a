"""``manual-backprop assignment new``: the folders, the starter's equations, the variants, the public tests,
the wheel, and the autograder's own failures (no virtual environment needed here)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

import manual_backprop
from helpers.course import HIDDEN_SEED, assignment, validate
from helpers.grading import ROOT
from manual_backprop.oracle.cases import grade
from torch_ref.course import autograder, templates
from torch_ref.course.config import Config

PARTS = ("forward", "loss", "backward", "sgd_step")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("new") / "course"
    result = assignment("new", folder, "--seed", HIDDEN_SEED)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def module_from(text: str):
    module = types.ModuleType("submitted")
    exec(compile(text, "submitted.py", "exec"), module.__dict__)
    return module


def test_it_writes_the_folders_and_a_zip_with_both_scripts_at_its_root(course):
    assert sorted(p.relative_to(course).as_posix() for p in course.rglob("*") if p.is_file()) == [
        "README.md", "autograder.zip", "autograder/config.json",
        f"autograder/manual_backprop-{manual_backprop.__version__}-py3-none-any.whl",
        "autograder/run_autograder", "autograder/setup.sh", "solution/backprop.ipynb", "solution/backprop.py",
        "student/backprop.ipynb", "student/backprop.py", "student/test_backprop.py"]
    with zipfile.ZipFile(course / "autograder.zip") as zf:
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
        assert sorted(modes) == sorted(p.name for p in (course / "autograder").iterdir())
        assert all(modes[s] & stat.S_IXUSR for s in ("setup.sh", "run_autograder"))
        assert zf.read("config.json") == (course / "autograder" / "config.json").read_bytes()
    for text in ("`autograder/`", "`student/`", "assignment check autograder.zip", "Gradescope"):
        assert text in (course / "README.md").read_text()


def test_the_hidden_seed_is_in_the_autograder_config_and_nowhere_a_student_looks(course):
    assert json.loads((course / "autograder" / "config.json").read_text())["seed"] == HIDDEN_SEED
    for path in (course / "student").iterdir():
        assert str(HIDDEN_SEED) not in path.read_text(), path


def test_a_random_hidden_seed_is_drawn_when_none_is_given(tmp_path):
    seeds = []
    for name in ("a", "b"):
        assert assignment("new", tmp_path / name, "--format", "py").returncode == 0
        seeds.append(json.loads((tmp_path / name / "autograder" / "config.json").read_text())["seed"])
    assert all(isinstance(s, int) for s in seeds) and seeds[0] != seeds[1]


# Hand-written: the lines a student must see for each variant (shapes in letters).
SIGMOID_HALF_SSE = [
    "H (D_H×N) = W_H (D_H×D_I) · I (D_I×N) + b_H (D_H×1)",
    "O (D_O×N) = W_O (D_O×D_H) · Ĥ (D_H×N) + b_O (D_O×1)",
    "L = ½ Σ (O − Y)²",
    "dL/dO (D_O×N) = O − Y (D_O×N)",
    "dL/dH (D_H×N) = dL/dĤ (D_H×N) ⊙ Ĥ ⊙ (1 − Ĥ) (D_H×N)",
    "dL/dW_H (D_H×D_I) = dL/dH (D_H×N) · Iᵀ (N×D_I)",
    "w := w − lr · dL/dw",
]
TANH_MSE = [
    "Ĥ (D_H×N) = tanh(H)",
    "L = Σ (O − Y)² / (D_O·N)",
    "dL/dO (D_O×N) = 2 (O − Y) / (D_O·N) (D_O×N)",
    "dL/dH (D_H×N) = dL/dĤ (D_H×N) ⊙ (1 − Ĥ²) (D_H×N)",
]


@pytest.mark.parametrize("options,lines,absent", [
    pytest.param((), SIGMOID_HALF_SSE, ["tanh", "mse"], id="seed"),
    pytest.param(("--activation", "tanh", "--loss", "mse"), TANH_MSE, ["½", "1 − Ĥ)"], id="tanh-mse"),
])
def test_the_starter_s_docstrings_show_the_variant_s_equations(tmp_path, options, lines, absent):
    assert assignment("new", tmp_path / "c", *options).returncode == 0
    starter = (tmp_path / "c" / "student" / "backprop.py").read_text()
    notebook = json.loads((tmp_path / "c" / "student" / "backprop.ipynb").read_text())
    markdown = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    for line in lines:
        assert line in starter and line in markdown, line
    for text in absent:
        assert text not in starter, text
    starter_module = module_from(starter)
    for part in PARTS:
        with pytest.raises(NotImplementedError, match="not implemented yet"):
            getattr(starter_module, part)(*([None] * (3 if part in ("backward", "sgd_step") else 2)))


def test_the_notebooks_are_valid_nbformat_4_with_a_markdown_cell_per_part(course):
    nbformat = pytest.importorskip("nbformat", reason="nbformat (the notebooks extra) validates notebooks")
    for path in (course / "student" / "backprop.ipynb", course / "solution" / "backprop.ipynb"):
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.validate(notebook)
        headings = ["".join(c.source).splitlines()[0] for c in notebook.cells if c.cell_type == "markdown"]
        assert [h for h in headings if h.startswith("## `")] == [
            "## `forward(params, I)`", "## `loss(O, Y)`", "## `backward(params, I, Y)`",
            "## `sgd_step(params, grads, lr)`"]
        assert "".join(notebook.cells[-1].source) == "!{sys.executable} test_backprop.py backprop.ipynb"


@pytest.mark.parametrize("activation", sorted(templates.ACTIVATION_CODE))
@pytest.mark.parametrize("loss", sorted(templates.LOSS_CODE))
def test_every_variant_s_solution_passes_every_part(activation, loss):
    config = Config(activation=activation, loss=loss)
    solution = module_from(templates.solution_py(config))
    results = grade(solution.backward, activation=activation, loss=loss, forward=solution.forward,
                    loss_fn=solution.loss, sgd_step=solution.sgd_step)
    failed = [(r.case.label, p.name, p.diagnosis) for r in results for p in r.parts if not p.passed]
    assert not failed


def run_public_tests(folder: Path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, env=env, timeout=300)


def test_the_public_tests_say_not_implemented_yet_for_each_part_of_the_starter(course, tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    for name in ("backprop.py", "test_backprop.py"):
        (student / name).write_bytes((course / "student" / name).read_bytes())
    result = run_public_tests(student, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_backprop.py")
    assert result.returncode == 1 and "4 failed" in result.stdout, result.stdout
    for part in PARTS:
        assert f"FAILED test_backprop.py::test_{part} - " in result.stdout, result.stdout
    assert result.stdout.count("not implemented yet") >= 4 and "Traceback" not in result.stdout


def test_the_public_tests_pass_the_solution_as_a_file_and_as_a_notebook(course, tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    (student / "test_backprop.py").write_bytes((course / "student" / "test_backprop.py").read_bytes())
    (student / "backprop.ipynb").write_bytes((course / "solution" / "backprop.ipynb").read_bytes())
    result = run_public_tests(student, "test_backprop.py", "backprop.ipynb")  # the notebook's last cell
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout + result.stderr
    (student / "backprop.py").write_bytes((course / "solution" / "backprop.py").read_bytes())
    result = run_public_tests(student, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_backprop.py")
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout + result.stderr


def test_parts_points_visibility_and_limits_go_to_the_config_and_the_starter(tmp_path):
    result = assignment("new", tmp_path / "c", "--parts", "backward,forward", "--points", "backward=7,forward=3",
                        "--visibility", "hidden=after_due_date", "--format", "py", "--timeout", "20",
                        "--memory", "512", "--forbid", "torch,jax", "--user", "student")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "c" / "autograder" / "config.json").read_text())
    assert config["parts"] == ["forward", "backward"] and config["points"] == {"forward": 3.0, "backward": 7.0}
    assert config["visibility"] == {"public": "visible", "hidden": "after_due_date"}
    assert (config["timeout"], config["memory"], config["forbid"], config["user"]) == (20.0, 512, ["torch", "jax"],
                                                                                       "student")
    starter = (tmp_path / "c" / "student" / "backprop.py").read_text()
    assert "def forward(" in starter and "def backward(" in starter and "def loss(" not in starter
    assert sorted(p.name for p in (tmp_path / "c" / "student").iterdir()) == ["backprop.py", "test_backprop.py"]


def test_student_code_runs_as_an_unprivileged_student_unless_the_teacher_opts_out(course, tmp_path):
    assert json.loads((course / "autograder" / "config.json").read_text())["user"] == "student"
    result = assignment("new", tmp_path / "c", "--user", "", "--format", "py")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "c" / "autograder" / "config.json").read_text())["user"] == ""


@pytest.mark.parametrize("options,words", [
    (("--parts", "forward,dropout"), "parts"),
    (("--points", "backward=-1"), "points"),
    (("--points", "softmax=2"), "softmax"),
    (("--activation", "swish"), "swish"),
    (("--loss", "hinge"), "hinge"),
    (("--visibility", "hidden=secret"), "visibility"),
    (("--user", "Root Admin"), "user"),
])
def test_a_bad_option_is_a_usage_error_that_names_it_and_writes_nothing(tmp_path, options, words):
    result = assignment("new", tmp_path / "c", *options)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert not (tmp_path / "c").exists()


def test_a_folder_that_holds_files_is_refused_and_left_as_it_was(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = assignment("new", tmp_path)
    assert result.returncode == 2 and "empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_wheel_is_a_valid_wheel_of_the_running_code(course):
    wheel = course / "autograder" / f"manual_backprop-{manual_backprop.__version__}-py3-none-any.whl"
    info = f"manual_backprop-{manual_backprop.__version__}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record = zf.read(f"{info}/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if name == f"{info}/RECORD":
                continue
            data = zf.read(name)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert int(size) == len(data)
        assert sorted(line.rsplit(",", 2)[0] for line in record) == sorted(names)
        assert f"Version: {manual_backprop.__version__}" in zf.read(f"{info}/METADATA").decode()
        assert "manual-backprop = torch_ref.cli:main" in zf.read(f"{info}/entry_points.txt").decode()
        for name in ("manual_backprop/oracle/child.py", "torch_ref/course/files/setup.sh", "torch_ref/py.typed"):
            assert name in names
        assert (zf.read("manual_backprop/oracle/cases.py")
                == (Path(manual_backprop.__file__).parent / "oracle" / "cases.py").read_bytes())
    assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/") for n in names)
    assert wheel.stat().st_size < 400_000


# -- the autograder's own failures, and which file it grades ------------------------------------------

def make_root(tmp_path, config: Config | None = None) -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    if config is not None:
        config.save(root / "source" / "config.json")
    return root


def run_module(root: Path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), AUTOGRADER_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "torch_ref.course.autograder"], capture_output=True, text=True,
                          env=env, timeout=300)


def test_an_internal_error_still_writes_results_json_with_score_0_and_the_reason(tmp_path):
    root = make_root(tmp_path)
    (root / "source" / "config.json").write_text('{"parts": ["forward"], "points": {"forward": "ten"}}')
    result = run_module(root)
    assert result.returncode == 0, result.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    validate(doc)
    assert doc["score"] == 0.0 and "points for forward must be a number" in doc["output"]


def test_run_autograder_writes_results_json_even_when_python_cannot_start(tmp_path):
    root = make_root(tmp_path, Config(seed=1))
    script = ROOT / "torch_ref" / "course" / "files" / "run_autograder"
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_VENV=str(tmp_path / "no-such-venv"))
    assert subprocess.run(["bash", str(script)], env=env, capture_output=True, timeout=60).returncode == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0.0 and "could not run" in doc["output"]
    import jsonschema

    schema = json.loads((ROOT / "tests" / "course" / "gradescope_results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)


@pytest.mark.parametrize("files,chosen,words", [
    (["backprop.py", "notes.py"], "backprop.py", ""),
    (["backprop.ipynb", "helpers.py"], "backprop.ipynb", ""),
    (["homework3.py", "README.txt"], "homework3.py", "the only Python file"),
    (["sub/backprop.py", ".ipynb_checkpoints/backprop-checkpoint.ipynb"], "sub/backprop.py", ""),
    (["a.py", "b.ipynb"], None, "a.py, b.ipynb"),
    (["README.txt"], None, "no .py or .ipynb"),
])
def test_the_file_it_grades_is_the_expected_name_or_the_only_one(tmp_path, files, chosen, words):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    path, note = autograder.find_submission(tmp_path, "backprop")
    assert (path and path.relative_to(tmp_path).as_posix()) == chosen and words in note
    if chosen is None:
        assert "backprop.py" in note


def test_setup_sh_creates_the_config_s_user_and_keeps_the_config_from_it(tmp_path):
    """setup.sh's own steps, with pip, python, id and useradd stood in for by scripts that log their calls;
    the config (with the hidden seed) and its folder end up readable by their owner (root) only."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.sh", "run_autograder"):
        (source / name).write_bytes((ROOT / "torch_ref" / "course" / "files" / name).read_bytes())
    Config(seed=1).save(source / "config.json")
    (source / "config.json").chmod(0o644)  # as a zip unpacks it
    source.chmod(0o755)
    (source / "manual_backprop-0.0-py3-none-any.whl").write_bytes(b"")
    log, bin_dir, venv = tmp_path / "log", tmp_path / "bin", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    stand_ins = {
        bin_dir / "id": 'if [ "$1" = -u ]; then echo 0; else exit 1; fi',  # root, and no such user yet
        bin_dir / "useradd": f'echo "useradd $*" >> {log}',
        venv / "bin" / "python": f'if [ "$1" = -m ]; then echo "$*" >> {log}; else exec {sys.executable} "$@"; fi',
        venv / "bin" / "manual-backprop": "echo manual-backprop 0.0",
    }
    for path, body in stand_ins.items():
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", AUTOGRADER_ROOT=str(tmp_path),
               AUTOGRADER_VENV=str(venv), AUTOGRADER_PYTHON=sys.executable)
    result = subprocess.run(["bash", str(source / "setup.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert any("pip install" in c and "--force-reinstall --no-deps" in c for c in calls), calls
    assert "useradd --system --no-create-home --shell /usr/sbin/nologin student" in calls  # the default user
    assert (source / "config.json").stat().st_mode & 0o777 == 0o600
    assert source.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("euid,kept", [(0, True), (1000, False)])
def test_the_config_s_user_applies_where_the_autograder_runs_as_root(monkeypatch, euid, kept):
    monkeypatch.setattr(autograder.os, "geteuid", lambda: euid)
    contained, note = autograder.containment(Config(seed=1, user="student"))
    assert ("user" in contained) == kept and bool(note) != kept
    assert kept or "'student' applies only where the autograder runs as root" in note
    assert autograder.containment(Config(seed=1, user="")) == ({}, "")

