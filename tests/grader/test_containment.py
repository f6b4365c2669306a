"""Containment: nothing a submission starts outlives its grading, the results are the grader's
alone, the reference is out of the submission's reach, and (as root) its code runs as another user.

Each case goes through the command (a fresh interpreter, as a course runs it) and, where it
applies, through the fixture (inner pytest sessions). The submissions are in
``tests/submissions/hostile/`` and ``tests/submissions/as_user/``; finite differences are the
reference, so no grader pays for torch.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.grading import PLUGIN, ROOT, SUBMISSIONS, grade, plugin_installed
from manual_backprop.oracle import containment
from manual_backprop.oracle.batch import UsageError, check_containment, grade_file
from manual_backprop.oracle.cases import grade as grade_cases
from manual_backprop.oracle.isolation import SERVING

pytest_plugins = ["pytester"]

HONEST, HOSTILE = SUBMISSIONS / "honest", SUBMISSIONS / "hostile"
FD = ("--reference", "finite_differences")
STUDENT = "mbp-student"  # the unprivileged user CI creates when it runs as root (.ci/run)


def processes_of(path) -> list:
    """The running processes (zombies left out) whose command line names ``path``: a submission's
    supervisor, worker and whatever they forked (which keep the supervisor's command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(path) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def copied(tmp_path, name: str, folder=HOSTILE) -> Path:
    """The submission ``name`` copied into ``tmp_path``, so that its processes can be told apart
    from those of any other test grading the same file at the same time."""
    target = tmp_path / name
    shutil.copyfile(folder / name, target)
    return target


# -- every descendant ends with its submission -----------------------------------------------------

@pytest.mark.parametrize("format", ["json", "gradescope"])
def test_a_daemon_that_left_the_session_cannot_rewrite_the_output(tmp_path, format):
    submission = copied(tmp_path, "daemon_rewrites_output.py")
    out = tmp_path / "results.json"
    result = grade(submission, "--format", format, "--output", out, *FD)
    assert result.returncode == 1, result.stdout + result.stderr
    assert not processes_of(submission), "a process of the submission outlived grade"
    pid = int((tmp_path / "daemon_rewrites_output.pid").read_text())  # it did start, and found the file
    assert not _running(pid), "the daemon outlived grade"
    written = out.read_text()
    time.sleep(0.3)  # a surviving daemon rewrites it every 20 ms
    assert out.read_text() == written
    doc = json.loads(written)
    if format == "json":
        [s] = doc["submissions"]
        assert not s["passed"] and s["error"] == "left 1 process running after grading; it was killed"
    else:
        assert doc["score"] == 0 and all(t["status"] == "failed" for t in doc["tests"])
        assert all("left 1 process running after grading" in t["output"] for t in doc["tests"])


@pytest.mark.parametrize("name, left", [("forks_sleepers.py", "left 3 processes running after grading; "
                                                             "they were killed"),
                                        ("ignores_sigterm.py", "left 1 process running after grading; "
                                                               "it was killed")])
def test_processes_left_running_are_killed_and_fail_the_submission(tmp_path, name, left):
    submission = copied(tmp_path, name)
    result = grade(submission, "--format", "json", *FD)
    assert result.returncode == 1, result.stderr
    assert not processes_of(submission), "a process of the submission outlived grade"
    [s] = json.loads(result.stdout)["submissions"]
    assert s["error"] == left and not s["passed"] and s["cases"] == []


def test_a_submission_that_kills_its_supervisor_leaves_nothing_behind(tmp_path):
    """The supervisor killed, its orphans go to the command's grader, which kills them."""
    (tmp_path / "kills_and_forks.py").write_text(
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
        "time.sleep(60)\n")
    result = grade(tmp_path / "kills_and_forks.py", "--format", "json", *FD)
    assert result.returncode == 1, result.stderr
    [s] = json.loads(result.stdout)["submissions"]
    assert "its parent process (the grader's supervisor) was killed by signal SIGKILL" in s["error"]
    assert not processes_of(tmp_path / "kills_and_forks.py"), "a process of the submission outlived grade"


def test_a_submission_that_kills_its_supervisor_cannot_go_on_to_kill_the_grader(tmp_path):
    """Killed, the supervisor's orphans are handed to the command's grader (a subreaper too): the
    worker must end with its supervisor, or its next os.getppid() names the grader."""
    (tmp_path / "kills_up.py").write_text(
        "import os, signal, time\n"
        "def backward(params, I, Y):\n"
        "    first = os.getppid()\n"
        "    os.kill(first, signal.SIGKILL)\n"
        "    deadline = time.monotonic() + 5\n"
        "    while os.getppid() == first and time.monotonic() < deadline:\n"
        "        time.sleep(0.001)\n"
        "    os.kill(os.getppid(), signal.SIGKILL)  # whoever it was handed to\n"
        "    return {k: v * 0 for k, v in params.items()}\n")
    result = grade(tmp_path / "kills_up.py", "--format", "json", *FD)
    assert result.returncode == 1, (result.returncode, result.stderr)
    [s] = json.loads(result.stdout)["submissions"]
    assert "its parent process (the grader's supervisor) was killed by signal SIGKILL" in s["error"]
    assert not processes_of(tmp_path / "kills_up.py"), "a process of the submission outlived grade"


# -- the results are the grader's alone ------------------------------------------------------------

def test_the_output_is_replaced_whole_by_a_rename_in_its_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("not the grader's")
    out = tmp_path / "results.json"
    out.symlink_to(elsewhere)  # written through, the link would carry the results elsewhere
    result = grade(HONEST / "correct.py", "--format", "json", "--output", out, *FD)
    assert result.returncode == 0, result.stderr
    assert not out.is_symlink() and json.loads(out.read_text())["submissions"][0]["passed"]
    assert elsewhere.read_text() == "not the grader's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.json", "results.json"], "a temporary left"


# -- the reference is out of reach -----------------------------------------------------------------

REFERENCE_IMPORTS = {
    "imports_reference.py": "raised ImportError: import of manual_backprop refused: manual_backprop is "
                            "the grader's reference; submissions may not use it (while loading",
    "from_imports_reference.py": "raised ImportError: import of manual_backprop refused",
    "import_module_reference.py": "raised ImportError: import of torch_ref refused: torch_ref is the "
                                  "grader's reference; submissions may not use it (in backward)",
    "dunder_imports_reference.py": "raised ImportError: import of manual_backprop refused",
    "looks_up_reference.py": "raised KeyError: 'manual_backprop' (while loading looks_up_reference.py)",
}


def test_every_spelling_of_importing_the_reference_fails_naming_it():
    files = [HOSTILE / name for name in REFERENCE_IMPORTS]
    result = grade(*files, "--format", "json", "--jobs", "2", *FD)
    assert result.returncode == 1, result.stderr
    got = {Path(s["path"]).name: s for s in json.loads(result.stdout)["submissions"]}
    wrong = [f"{name}: {got[name]['error']!r}" for name, reason in REFERENCE_IMPORTS.items()
             if got[name]["passed"] or reason not in (got[name]["error"] or "")]
    assert not wrong, "\n".join(wrong)


def test_forbid_adds_modules_and_a_caught_refusal_gets_nothing(tmp_path):
    (tmp_path / "uses_fractions.py").write_text(
        "from fractions import Fraction\n" + (HONEST / "correct.py").read_text())
    (tmp_path / "tries_torch.py").write_text(
        "try:\n    import torch\nexcept ImportError as err:\n    print('refused:', err)\n"
        + (HONEST / "correct.py").read_text())
    forbidden = grade(tmp_path, "--forbid", "torch,jax,fractions", "--format", "json", *FD)
    allowed = grade(tmp_path / "uses_fractions.py", "--format", "json", *FD)
    assert forbidden.returncode == 1 and allowed.returncode == 0, forbidden.stderr + allowed.stderr
    got = {Path(s["path"]).name: s for s in json.loads(forbidden.stdout)["submissions"]}
    assert got["uses_fractions.py"]["error"] == (
        "raised ImportError: import of fractions refused: fractions is forbidden by the course; "
        "submissions may not use it (while loading uses_fractions.py)")
    assert got["tries_torch.py"]["passed"], "a refusal it catches costs nothing; torch it does not get"
    assert "refused: import of torch refused" in got["tries_torch.py"]["output"]


def test_only_the_serving_modules_are_loaded_when_the_students_file_runs(tmp_path):
    (tmp_path / "looks_around.py").write_text(
        "import gc, sys, types\n"
        "ours = ('manual_backprop', 'torch_ref')\n"
        "loaded = sorted({m.__name__ for m in gc.get_objects() if isinstance(m, types.ModuleType)\n"
        "                 and m.__name__.split('.')[0] in ours})\n"
        "listed = sorted(m for m in sys.modules if m.split('.')[0] in ours)\n"
        "print('in memory:', ','.join(loaded))\n"
        "print('in sys.modules:', ','.join(listed))\n"
        + (HONEST / "correct.py").read_text())
    submission = grade_file(tmp_path / "looks_around.py", lambda proxies: grade_cases(proxies["backward"]))
    assert submission.passed, submission.error
    lines = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                 for line in submission.output.splitlines())
    assert lines["in sys.modules"] == ""
    in_memory = set(filter(None, lines["in memory"].split(",")))
    assert in_memory and in_memory <= set(SERVING), in_memory - set(SERVING)
    assert "manual_backprop.mlp" not in in_memory and "manual_backprop.oracle.comparison" not in in_memory


def test_bad_containment_options_are_usage_errors_before_any_student_code(monkeypatch):
    assert grade(HONEST / "correct.py", "--forbid", "torch,not a module", *FD).returncode == 2
    result = grade(HONEST / "correct.py", "--user", "no-such-user-here", *FD)
    assert result.returncode == 2 and "--user: no such user: 'no-such-user-here'" in result.stderr
    assert "useradd --system --no-create-home no-such-user-here" in result.stderr
    someone = pwd.getpwuid(os.getuid() or 65534).pw_name  # any user that exists
    monkeypatch.setattr(containment.os, "geteuid", lambda: 1000)
    with pytest.raises(UsageError, match=r"--user: running student code as .* needs the grader to run as root"):
        check_containment(user=someone)


# -- the fixture's fork ----------------------------------------------------------------------------

HONEST_RIGHT = (HONEST / "correct.py").read_text() + "\nright = backward\n"

FIXTURE_FUNCTIONS = '''
import os, signal, time
from honest import right

def forks(params, I, Y):
    middle = os.fork()
    if middle == 0:
        os.setsid()
        daemon = os.fork()
        if daemon == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(60)
            os._exit(0)
        open(os.environ["DAEMON_PID_FILE"], "a").write(f"{daemon}\\n")  # before the worker goes on
        os._exit(0)
    os.waitpid(middle, 0)
    return right(params, I, Y)

def imports(params, I, Y):
    import torch_ref.autograd
    return right(params, I, Y)

def looks(params, I, Y):
    import sys
    ours = [m for m in sys.modules if m.split(".")[0] in ("manual_backprop", "torch_ref")]
    assert not ours, ours
    return right(params, I, Y)

def imports_fractions(params, I, Y):
    import fractions
    return right(params, I, Y)
'''


def _run_fixture(pytester, body: str):
    pytester.makepyfile(holds_mlp="from manual_backprop import MLP  # noqa: F401\n" + HONEST_RIGHT,
                        honest=HONEST_RIGHT, students=FIXTURE_FUNCTIONS)
    pytester.makepyfile("from students import forks, imports, imports_fractions, looks\n"
                        "from holds_mlp import right as holds_mlp\n" + body)
    args = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if not plugin_installed():
        args += ["-p", PLUGIN]
    return pytester.runpytest_subprocess(*args)


def test_the_fixture_contains_what_a_student_starts_and_keeps_the_reference_out(pytester, tmp_path,
                                                                                  monkeypatch):
    pid_file = tmp_path / "daemon.pid"
    monkeypatch.setenv("DAEMON_PID_FILE", str(pid_file))
    fd = ', reference="finite_differences"'
    body = (f"def test_forks(backprop_oracle):\n    backprop_oracle(forks{fd})\n"
            f"def test_imports(backprop_oracle):\n    backprop_oracle(imports{fd})\n"
            f"def test_forbid(backprop_oracle):\n    backprop_oracle(imports_fractions{fd}, forbid='fractions')\n"
            f"def test_holds(backprop_oracle):\n    backprop_oracle(holds_mlp{fd})\n"
            f"def test_looks(backprop_oracle):\n    backprop_oracle(looks{fd})\n")
    result = _run_fixture(pytester, body)
    result.assert_outcomes(failed=4, passed=1)
    text = result.stdout.str()
    assert "backward could not be graded: left 4 processes running after grading; they were killed" in text
    assert "import of torch_ref refused: torch_ref is the grader's reference" in text
    assert "import of fractions refused: fractions is forbidden by the course" in text
    assert "backward could not be graded: uses what the grader forbids: holds_mlp.MLP (manual_backprop.mlp)" \
        in text
    pids = [int(line) for line in pid_file.read_text().split()]
    assert len(pids) == 4, "one daemon per graded case"
    assert not [pid for pid in pids if _running(pid)], "a daemon lives on"


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# -- another user ----------------------------------------------------------------------------------

def _student_user_missing() -> str:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "running student code as another user needs the tests to run as root (on Linux)"
    try:
        pwd.getpwnam(STUDENT)
    except KeyError:
        return f"no user {STUDENT} (create it: useradd --system --no-create-home {STUDENT}; .ci/run does)"
    return ""


as_root = pytest.mark.skipif(bool(_student_user_missing()), reason=_student_user_missing() or "-")


@pytest.fixture
def course_folder():
    """A course's folder as an autograder lays it out, readable by everyone but writable by root
    only: the submission, another one, a config only root may read; the results go here too."""
    folder = Path(tempfile.mkdtemp(prefix="course-"))
    try:
        folder.chmod(0o755)
        (folder / "other.py").write_text((HONEST / "correct.py").read_text())
        (folder / "config.json").write_text('{"seed": 1234}')
        (folder / "config.json").chmod(0o600)
        yield folder
    finally:
        shutil.rmtree(folder)


@as_root
@pytest.mark.parametrize("transpose", [False, True])
def test_as_another_user_it_writes_nothing_of_the_graders_and_is_judged_on_its_gradients(course_folder,
                                                                                          transpose):
    source = (SUBMISSIONS / "as_user" / "tries_to_write.py").read_text()
    submission = course_folder / "tries_to_write.py"
    submission.write_text(source.replace("TRANSPOSE = False", f"TRANSPOSE = {transpose}"))
    grader_source = ROOT / "manual_backprop" / "oracle" / "isolation.py"
    before = {p: p.read_bytes() for p in (grader_source, course_folder / "other.py", submission)}
    out = course_folder / "results.json"
    result = grade(submission, "--user", STUDENT, "--format", "json", "--output", out, *FD)
    assert result.returncode == int(transpose), result.stdout + result.stderr
    [s] = json.loads(out.read_text())["submissions"]
    assert s["passed"] is not transpose and s["error"] is None, s
    diagnoses = {name: {c["params"][name]["diagnosis"] for c in s["cases"]} for name in s["cases"][0]["params"]}
    assert diagnoses == {"W_H": {None}, "b_H": {None}, "b_O": {None}, "W_O": {"transposed"} if transpose else {None}}
    printed = s["output"]
    if not transpose:  # the output of a passing submission is kept too
        for what in ("output", "grader source", "other submission", "new file", "config"):
            assert f"{what}: PermissionError" in printed, printed
        assert f"as user {pwd.getpwnam(STUDENT).pw_uid} " in printed
    assert {p: p.read_bytes() for p in before} == before
    assert not (course_folder / "planted.py").exists()


@as_root
def test_the_fixture_runs_the_function_as_another_user(pytester, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root only")
    secret.chmod(0o600)
    body = (f"import os\nfrom honest import right\n"
            f"def probing(params, I, Y):\n"
            f"    try:\n        open({str(secret)!r}).read()\n        raise SystemExit('read it')\n"
            f"    except PermissionError:\n        pass\n"
            f"    assert os.getuid() != 0\n"
            f"    return right(params, I, Y)\n"
            f"def test_user(backprop_oracle):\n"
            f"    backprop_oracle(probing, reference='finite_differences', user={STUDENT!r})\n")
    result = _run_fixture(pytester, body)
    result.assert_outcomes(passed=1)
