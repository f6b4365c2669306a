"""``manual-backprop assignment check AUTOGRADER.zip SUBMISSION``: run the zip as Gradescope would, here.

The zip is unpacked into ``ROOT/source`` of a Gradescope-like root (a new
temporary folder, or ``--root``); ``setup.sh`` runs there and makes its
virtual environment (``ROOT/venv``; with ``--reuse``, one kept in the user's
cache folder between checks; or ``--venv DIR``); the submission (a file, or a
folder's files) is copied into ``ROOT/submission``; ``run_autograder`` runs
from ``ROOT``. Then the score, each test and the path of ``results.json``.

Nothing of the caller's environment reaches the autograder's Python
(``PYTHONPATH`` and ``VIRTUAL_ENV`` are dropped): it imports only what
``setup.sh`` installed from the zip's own wheel.
Exit status: 0 for full marks, 1 for less, 2 for a usage error, 3 when the
autograder's setup failed or it wrote no readable results.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .autograder import ROOT_VARIABLE
from .create import SCRIPTS

VENV_VARIABLE = "AUTOGRADER_VENV"


def default_venv() -> Path:
    """The venv ``--reuse`` keeps: in the user's cache folder, one per Python version."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "manual-backprop" / f"autograder-venv-py{sys.version_info[0]}.{sys.version_info[1]}"


class CheckError(Exception):
    """The dry run could not run or read the autograder: the message says what failed (exit status 3)."""


def check(archive: Path, submission: Path, root: Path | None = None, venv: Path | None = None,
          timeout: float = 900.0, out=sys.stdout) -> int:
    """The dry run; prints as it goes and returns the exit status (see the module doc)."""
    if not zipfile.is_zipfile(archive):
        raise ValueError(f"AUTOGRADER.zip: {archive} is not a zip file")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        missing = [s for s in SCRIPTS if s not in names]
        if missing:
            raise ValueError(f"AUTOGRADER.zip: {archive} has no {' or '.join(missing)} at its root, "
                             f"where Gradescope looks for them")
        if not submission.exists():
            raise ValueError(f"SUBMISSION: no such file or folder: {submission}")
        root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="autograder-check-"))
        for sub in ("source", "submission", "results"):
            shutil.rmtree(root / sub, ignore_errors=True)
        zf.extractall(root / "source")
    for script in SCRIPTS:
        (root / "source" / script).chmod(0o755)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    venv = Path(venv) if venv is not None else root / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update({ROOT_VARIABLE: str(root), VENV_VARIABLE: str(venv)})
    env.setdefault("AUTOGRADER_PYTHON", sys.executable)  # the venv is made from this Python

    took = _run(["bash", str(root / "source" / "setup.sh")], root / "source", env, timeout, "setup.sh")
    print(f"setup.sh: {took:.1f} s (virtual environment {venv})", file=out)
    place(submission, root / "submission")
    took = _run(["bash", str(root / "run_autograder")], root, env, timeout, "run_autograder")
    print(f"run_autograder: {took:.1f} s", file=out)
    results = root / "results" / "results.json"
    try:
        doc = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckError(f"run_autograder wrote no readable {results}: {err}") from None
    return report(doc, results, out)


def place(submission: Path, folder: Path) -> None:
    """Copy the submission (a file, or a folder's contents) into ``folder``, as Gradescope does."""
    folder.mkdir(parents=True, exist_ok=True)
    if submission.is_dir():
        shutil.copytree(submission, folder, dirs_exist_ok=True)
    else:
        shutil.copy2(submission, folder / submission.name)


def _run(command: list, cwd: Path, env: dict, timeout: float, what: str) -> float:
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CheckError(f"{what} did not finish in {timeout:g} s") from None
    if done.returncode != 0:
        raise CheckError(f"{what} failed with status {done.returncode}:\n{done.stdout}{done.stderr}")
    return time.monotonic() - started


def report(doc: dict, results: Path, out) -> int:
    """Print the score, the per-test table, the failing tests' outputs and where results.json is."""
    tests = doc.get("tests") or []
    score = float(doc.get("score", sum(t.get("score", 0) for t in tests)))
    max_score = float(sum(t.get("max_score", 0) for t in tests))
    print(f"\nscore: {score:g} / {max_score:g}", file=out)
    if doc.get("output"):
        print(doc["output"], file=out)
    if tests:
        width = max(len(t["name"]) for t in tests)
        print(f"\n  {'test':<{width}}  {'score':>11}  {'status':<6}  visibility", file=out)
        for t in tests:
            points = f"{t.get('score', 0):g}/{t.get('max_score', 0):g}"
            print(f"  {t['name']:<{width}}  {points:>11}  {t.get('status', ''):<6}  {t.get('visibility', '')}",
                  file=out)
    for t in tests:
        if t.get("status") == "failed" and t.get("output"):
            print(f"\n--- {t['name']}\n{t['output']}", file=out)
    print(f"\nresults.json: {results}", file=out)
    return 0 if tests and score >= max_score else 1
