"""``manual-backprop assignment new DIR``: the folder a teacher hands out, keeps and uploads.

    DIR/student/      backprop.py and/or backprop.ipynb (the starter), test_backprop.py (the public checks)
    DIR/solution/     backprop.py (the teacher's solution, in the starter's style)
    DIR/autograder/   setup.sh, run_autograder, config.json (with the hidden seed), this project's wheel
    DIR/autograder.zip   the autograder/ folder's files at the zip's root, for Gradescope
    DIR/README.md     for the teacher: what each folder is, how to upload and how to check

Nothing in ``student/`` depends on the hidden seed: it is written to
``autograder/config.json`` only.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import stat
import zipfile
from importlib import resources
from pathlib import Path

from . import templates
from .config import Config
from .wheel import build_wheel

SCRIPTS = ("setup.sh", "run_autograder")


def new_assignment(folder: Path, config: Config, formats=("py", "ipynb")) -> dict:
    """Write the assignment into ``folder`` (empty or missing); the paths written, by role."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"DIR must be a new or empty folder; {folder} already holds files")
    if config.seed is None:
        config = dataclasses.replace(config, seed=secrets.randbelow(2**31))
    student, solution, autograder = folder / "student", folder / "solution", folder / "autograder"
    for sub in (student, solution, autograder):
        sub.mkdir(parents=True)
    name = config.file
    if "py" in formats:
        (student / f"{name}.py").write_text(templates.starter_py(config), encoding="utf-8")
    if "ipynb" in formats:
        (student / f"{name}.ipynb").write_text(templates.starter_ipynb(config), encoding="utf-8")
    (student / f"test_{name}.py").write_text(templates.tests_py(config), encoding="utf-8")
    (solution / f"{name}.py").write_text(templates.solution_py(config), encoding="utf-8")
    if "ipynb" in formats:
        (solution / f"{name}.ipynb").write_text(templates.solution_ipynb(config), encoding="utf-8")
    for script in SCRIPTS:
        target = autograder / script
        target.write_bytes(resources.files("torch_ref.course").joinpath("files").joinpath(script).read_bytes())
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    config.save(autograder / "config.json")
    wheel = build_wheel(autograder)
    archive = folder / "autograder.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(autograder.iterdir()):
            info = zipfile.ZipInfo(path.name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if path.name in SCRIPTS else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    (folder / "README.md").write_text(teacher_readme(config, formats), encoding="utf-8")
    return {"student": student, "solution": solution, "autograder": autograder, "zip": archive,
            "wheel": wheel, "config": config}


def remove_partial(folder: Path, existed: bool) -> None:
    """Undo a failed ``new_assignment``: remove what it wrote (the folder too, unless it was there)."""
    if existed:
        for child in folder.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    else:
        shutil.rmtree(folder, ignore_errors=True)


def teacher_readme(config: Config, formats) -> str:
    name = config.file
    files = " and ".join(f"`{name}.{f}`" for f in formats)
    points = ", ".join(f"{p} {config.points[p]:g}" for p in config.parts)
    return f"""# Backprop assignment ({config.activation} hidden layer, {config.loss} loss)

Made by `manual-backprop assignment new`. Parts: {", ".join(config.parts)}; points: {points}
(total {config.max_score:g}).

## The folders

- `student/`: hand this out. {files} (the starter: each part's signature and equations,
  every body raising `NotImplementedError`) and `test_{name}.py`, the public checks
  (`python -m pytest test_{name}.py`; they need `pip install manual-backprop pytest`).
- `solution/`: your solution, in the starter's style. Keep it to yourself.
- `autograder/`: what Gradescope runs: `setup.sh`, `run_autograder`, `config.json` (parts,
  points, the hidden seed, limits, forbidden modules, the reference) and this project's wheel.
  The hidden seed is only here: never put this folder where students can read it.
- `autograder.zip`: the same files at the zip's root, ready to upload.

## Upload

On Gradescope, make a "Programming Assignment" worth {config.max_score:g} points, open its
"Configure Autograder" page, choose the Ubuntu 22.04 (or later) base image, and upload
`autograder.zip`. Students submit `{name}.py` or `{name}.ipynb` (if they submit another single
Python file or notebook, it is graded too; anything else gets a result naming the expected file).

## Check before uploading

    manual-backprop assignment check autograder.zip solution/{name}.py

runs the zip as Gradescope would, in a folder of its own (`setup.sh` in a fresh virtual
environment, then `run_autograder` on the file), and prints the score, each test and the
path of `results.json`. The solution must score {config.max_score:g}; the untouched
`student/{name}.py` scores 0. `--reuse` keeps the virtual environment between checks.

## Change the policy

Edit `autograder/config.json`, then zip the folder's files again:
`(cd autograder && zip -r ../autograder.zip .)`; or run `assignment new` again with other
options. The fields: `points`, `visibility` (of the public and the hidden cases'
tests: `visible`, `after_published`, `after_due_date` or `hidden`), `timeout`, `memory`,
`forbid`, `user` (the unprivileged user student code runs as, `student` by default,
created by `setup.sh`; empty, student code runs as root on Gradescope and can read the hidden seed).
"""
