"""The grader against hostile submissions: each fails with its reason, the grader goes on, exit status 1.

The files are in ``tests/submissions`` (``hostile/`` and ``honest/``), each
with a docstring saying what it tries. One batch grades the whole gallery
(two jobs, JSON); the verdicts of a batch are compared with single runs; the
text and Gradescope formats, hidden cases, shards and grading without torch
are checked on small batches. Finite differences are the reference where
autograd is not the point, so the grader does not pay for importing torch.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.grading import ROOT, SUBMISSIONS, grade

HONEST, HOSTILE = SUBMISSIONS / "honest", SUBMISSIONS / "hostile"
FD = ("--reference", "finite_differences")

# file: the reason the grader must give (the words a course would expect to read)
REASONS = {
    "exits_at_import.py": "exited with status 0 while loading exits_at_import.py",
    "exits_in_backward.py": "exited with status 0 before returning gradients (in backward)",
    "sys_exit_in_backward.py": "called sys.exit(0)",
    "atexit_exits_0.py": "raised RuntimeError: not written yet (in backward)",
    "loops_forever.py": "timed out after 6 s",
    "allocates_without_bound.py": "out of memory (limit 400 MB)",
    "kills_parent.py": "its parent process (the grader's supervisor) was killed by signal SIGKILL",
    "returns_list.py": "backward returned list; it must return a dict of gradients",
    "no_backward.py": "defines no function 'backward'; its functions: ['back_prop', 'helper']",
    "prints_forever.py": "raised OSError: [Errno 27] File too large (in backward)",
    "daemon_rewrites_output.py": "left 1 process running after grading; it was killed",
    "forks_sleepers.py": "left 3 processes running after grading; they were killed",
    "ignores_sigterm.py": "left 1 process running after grading; it was killed",
    "imports_reference.py": "raised ImportError: import of manual_backprop refused",
    "from_imports_reference.py": "raised ImportError: import of manual_backprop refused",
    "import_module_reference.py": "raised ImportError: import of torch_ref refused",
    "dunder_imports_reference.py": "raised ImportError: import of manual_backprop refused",
    "looks_up_reference.py": "raised KeyError: 'manual_backprop'",
}
# file: the diagnosis every parameter of every case must get (None: any, as long as it fails)
WRONG = {"rebinds_grader.py": "zero", "patches_builtins.py": "zero", "lying_array.py": "zero",
         "fake_verdict.py": None}
CASE_KEYS = {"label", "sizes", "N", "passed", "params", "parts"}
PARAM_KEYS = {"passed", "diagnosis", "max_abs_err", "max_rel_err"}


def check_shape(doc) -> None:
    """Fail unless ``doc`` has exactly the documented JSON shape (README, "From the command line")."""
    assert set(doc) == {"submissions"} and isinstance(doc["submissions"], list)
    for s in doc["submissions"]:
        assert set(s) == {"path", "passed", "error", "output", "cases"}, s.keys()
        assert isinstance(s["path"], str) and isinstance(s["passed"], bool)
        assert s["error"] is None or isinstance(s["error"], str)
        assert isinstance(s["output"], str) and isinstance(s["cases"], list)
        assert not (s["error"] and s["cases"]) and not (s["error"] and s["passed"])
        for case in s["cases"]:
            assert set(case) == CASE_KEYS, case.keys()
            assert isinstance(case["label"], str) and isinstance(case["passed"], bool)
            assert all(isinstance(n, int) for n in case["sizes"]) and isinstance(case["N"], int)
            for p in case["params"].values():
                assert set(p) == PARAM_KEYS and isinstance(p["passed"], bool)
                assert p["diagnosis"] is None if p["passed"] else isinstance(p["diagnosis"], str)
                for err in (p["max_abs_err"], p["max_rel_err"]):
                    assert err is None or (isinstance(err, float) and math.isfinite(err))
            assert set(case["parts"]) <= {"forward", "loss", "backward", "sgd_step"} and case["parts"]
            for part in case["parts"].values():
                assert set(part) == {"passed", "diagnosis"} and isinstance(part["passed"], bool)
                assert part["diagnosis"] is None if part["passed"] else isinstance(part["diagnosis"], str)
            assert case["passed"] == all(part["passed"] for part in case["parts"].values())
        if s["cases"]:
            assert s["passed"] == all(c["passed"] for c in s["cases"])


def by_name(doc) -> dict:
    return {Path(s["path"]).name: s for s in doc["submissions"]}


def test_every_hostile_submission_fails_with_its_reason_and_honest_ones_pass(tmp_path):
    out = tmp_path / "results.json"
    honest = [HONEST / n for n in ("correct.py", "chatty.py", "notebook.ipynb", "transposed.py")]
    result = grade(HOSTILE, *honest, "--jobs", "2", "--timeout", "6", "--memory", "400",
                   "--format", "json", "--output", out, *FD)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == "", "with --output nothing goes to stdout"
    doc = json.loads(out.read_text())
    check_shape(doc)
    got = by_name(doc)
    expected = sorted(p.name for p in HOSTILE.glob("*.py")) + [p.name for p in honest]
    assert list(got) == expected, "one result per submission, in order, the grader alive to the end"
    wrong = []
    for name, reason in REASONS.items():
        if got[name]["passed"] or reason not in (got[name]["error"] or ""):
            wrong.append(f"{name}: expected {reason!r}, got {got[name]['error']!r}")
    for name, diagnosis in WRONG.items():
        s = got[name]
        diagnoses = {p["diagnosis"] for c in s["cases"] for p in c["params"].values()}
        if s["passed"] or s["error"] or not s["cases"] or (diagnosis and diagnoses != {diagnosis}):
            wrong.append(f"{name}: expected every gradient {diagnosis}, got {s['error']!r} {diagnoses}")
    assert not wrong, "\n".join(wrong)
    for name in ("correct.py", "chatty.py", "notebook.ipynb"):
        assert got[name]["passed"] and got[name]["error"] is None, got[name]
    transposed = [c["params"]["W_O"] for c in got["transposed.py"]["cases"]]
    assert [p["diagnosis"] for p in transposed] == ["transposed"] * 4
    assert all(p["max_abs_err"] is None and p["max_rel_err"] is None for p in transposed), "NaN → null"
    chatty = got["chatty.py"]["output"]
    assert chatty.startswith("[… earlier output cut]") and len(chatty) < 4100 and "to stderr too" in chatty
    notes = got["notebook.ipynb"]["output"]
    assert "cell 2: skipped the whole cell (cell magic %%time)" in notes
    assert "cell 1, line 2: skipped '!pip install numpy'" in notes


def test_a_batch_gives_the_verdicts_of_single_runs(tmp_path):
    files = [HONEST / "correct.py", HONEST / "transposed.py", HOSTILE / "exits_in_backward.py",
             HOSTILE / "lying_array.py"]

    def verdicts(doc):
        return [(Path(s["path"]).name, s["passed"], s["error"],
                 [{k: p["diagnosis"] for k, p in c["params"].items()} for c in s["cases"]])
                for s in doc["submissions"]]

    batch = grade(*files, "--jobs", "2", "--format", "json", *FD)
    singles = [grade(f, "--format", "json", *FD) for f in files]
    assert [r.returncode for r in singles] == [0, 1, 1, 1] and batch.returncode == 1, batch.stderr
    single = [v for r in singles for v in verdicts(json.loads(r.stdout))]
    assert verdicts(json.loads(batch.stdout)) == single


def test_text_shows_what_a_failing_submission_printed_before_the_real_verdict():
    result = grade(HOSTILE / "fake_verdict.py", *FD)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.rstrip().splitlines()
    assert lines[-1] == "0 of 4 nets passed"
    printed = [ln for ln in lines if "all 4 nets passed" in ln]
    assert printed and all(ln.startswith("  | ") for ln in printed), printed
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\\x1b[2K" in result.stdout


def test_gradescope_results_score_each_case(tmp_path):
    result = grade(HONEST / "correct.py", HONEST / "transposed.py", HOSTILE / "loops_forever.py",
                   "--format", "gradescope", "--timeout", "2", "--jobs", "2", *FD)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["tests"]) == 12 and doc["score"] == 4.0
    for test in doc["tests"]:
        assert {"name", "score", "max_score", "status", "output"} <= set(test)
        assert test["max_score"] == 1.0 and test["status"] == ("passed" if test["score"] else "failed")
    correct = [t for t in doc["tests"] if t["name"].startswith(str(HONEST / "correct.py"))]
    assert [t["score"] for t in correct] == [1.0] * 4 and all("PASSED" in t["output"] for t in correct)
    looping = [t for t in doc["tests"] if "loops_forever" in t["name"]]
    assert all(t["output"].startswith("not graded: timed out after 2 s") for t in looping)


def test_a_seed_grades_on_drawn_cases_the_same_for_everyone():
    first = json.loads(grade(HONEST / "correct.py", "--seed", "20260415", "--format", "json", *FD).stdout)
    again = json.loads(grade(HONEST / "transposed.py", "--seed", "20260415", "--format", "json", *FD).stdout)
    public = json.loads(grade(HONEST / "correct.py", "--format", "json", *FD).stdout)
    cases = [(c["sizes"], c["N"]) for c in first["submissions"][0]["cases"]]
    assert cases == [(c["sizes"], c["N"]) for c in again["submissions"][0]["cases"]]
    assert cases != [(c["sizes"], c["N"]) for c in public["submissions"][0]["cases"]]
    assert first["submissions"][0]["passed"] and not again["submissions"][0]["passed"]
    assert all(c["label"].startswith("drawn ") for c in first["submissions"][0]["cases"])


def test_shards_split_the_sorted_batch_and_their_json_merges(tmp_path):
    source = (HONEST / "correct.py").read_text()
    for name in ("e.py", "a.py", "d.py", "b.py", "c.py"):
        (tmp_path / name).write_text(source)
    shards = [grade(tmp_path, "--shard", f"{k}/3", "--format", "json", *FD) for k in (1, 2, 3)]
    assert [r.returncode for r in shards] == [0, 0, 0], [r.stderr for r in shards]
    merged = {"submissions": [s for r in shards for s in json.loads(r.stdout)["submissions"]]}
    check_shape(merged)
    assert [Path(s["path"]).name for s in merged["submissions"]] == ["a.py", "b.py", "c.py", "d.py", "e.py"]
    assert all(s["passed"] for s in merged["submissions"])
    assert [len(json.loads(r.stdout)["submissions"]) for r in shards] == [1, 2, 2]


def test_finite_differences_need_no_torch_and_autograd_says_torch_is_missing():
    hide = "import sys; sys.modules['torch'] = None; "  # `import torch` now raises ImportError
    result = grade(HONEST / "correct.py", *FD, prelude=hide)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("all 4 nets passed") and "finite differences" in result.stdout
    result = grade(HONEST / "correct.py", prelude=hide)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--reference autograd needs torch" in result.stderr and "--reference finite_differences" in result.stderr


def test_ctrl_c_stops_the_grader_and_every_running_submission():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    grader = subprocess.Popen([sys.executable, "-m", "torch_ref.grade", HOSTILE / "loops_forever.py",
                               HONEST / "correct.py", "--jobs", "2", "--timeout", "120", *FD],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with grader:
        try:
            deadline = time.monotonic() + 60
            while not _children(grader.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            children = _children(grader.pid)
            assert children, "the grader started no child"
            time.sleep(0.5)
            grader.send_signal(signal.SIGINT)
            _, err = grader.communicate(timeout=30)
        finally:
            grader.kill()
    assert grader.returncode == 130 and "interrupted" in err, err
    time.sleep(0.2)
    assert not [pid for pid in children if _running(pid)], "a child outlived the grader"


def _children(pid: int) -> list:
    """The process ids of the children of every thread of ``pid`` (Linux)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
