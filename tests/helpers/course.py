"""The course kit's tests: its command in a fresh interpreter, one shared autograder venv, and the schemas.

The dry runs all use one virtual environment (made by the first ``setup.sh``, kept by
``assignment check --venv``) in a folder every xdist worker shares; a lock lets one
dry run at a time use it, so that two workers never pip-install into it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

from helpers.grading import ROOT

SCHEMAS = ROOT / "tests" / "course"
HIDDEN_SEED = 8675309  # a number the student's folder must never show
STUDENT = "mbp-student"  # the unprivileged user CI creates when it runs as root (.ci/run)


def assignment(*args, timeout: float = 600):
    """``manual-backprop assignment ARGS`` in a fresh interpreter running this tree's code."""
    code = "import sys; from torch_ref.cli import main; sys.exit(main(['assignment', *sys.argv[1:]]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def shared_folder(tmp_path_factory) -> Path:
    """A folder all xdist workers of this session share (the basetemp's parent under xdist)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "course-kit"
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def locked(folder: Path):
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def student_user_missing() -> str:
    """Why student code cannot run as the test user STUDENT here ("" when it can: this is root and
    the user exists)."""
    if os.geteuid() != 0:
        return f"running student code as {STUDENT} needs root (this runs as uid {os.geteuid()})"
    try:
        pwd.getpwnam(STUDENT)
    except KeyError:
        return f"no user {STUDENT} (create it: useradd --system --no-create-home {STUDENT}; .ci/run does)"
    return ""


def user_options() -> tuple:
    """The dry runs' ``--user``: as root, the test user (student code then runs as it, as on
    Gradescope), or none where it is missing, rather than have setup.sh create the default user
    on this machine; as another user, the default, which the dry run leaves out, saying so."""
    if os.geteuid() != 0:
        return ()
    return ("--user", "" if student_user_missing() else STUDENT)


def made(folder: Path, name: str, *options) -> Path:
    """The assignment ``folder/name`` made with ``options`` (once per session; call it under the
    lock), with ``user_options()`` unless ``options`` name a user."""
    target = folder / name
    if not (target / "autograder.zip").exists():
        users = () if "--user" in options else user_options()
        result = assignment("new", target, "--seed", HIDDEN_SEED, *users, *options)
        assert result.returncode == 0, result.stdout + result.stderr
    return target


def dry_run(folder: Path, archive: Path, submission: Path, root: Path | None = None):
    """``assignment check`` with the shared venv (under the lock), in ``root`` (default: one in
    ``folder`` named after the submission); (exit status, stdout, results.json's doc)."""
    with locked(folder):
        root = root or folder / f"root-{submission.parent.name}-{submission.name}"
        result = assignment("check", archive, submission, "--venv", folder / "venv", "--root", root)
    results = root / "results" / "results.json"
    assert results.name in result.stdout and result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, result.stdout, json.loads(results.read_text(encoding="utf-8"))


def validate(doc: dict) -> None:
    """results.json against Gradescope's format, and its extra_data against the course kit's."""
    import jsonschema

    for name, part in (("gradescope_results", doc), ("course_extra_data", doc.get("extra_data"))):
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(part)


def part_scores(doc: dict) -> dict:
    """{part: (score, max_score)} as the class report reads them from extra_data."""
    parts = doc["extra_data"]["manual_backprop"]["parts"]
    return {name: (p["score"], p["max_score"]) for name, p in parts.items()}
