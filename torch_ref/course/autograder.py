"""What ``run_autograder`` runs in the autograder's image: grade one submission, write ``results.json``.

    AUTOGRADER_ROOT=/autograder python -m torch_ref.course.autograder

Reads ``ROOT/source/config.json`` (``config.Config``), finds the submission in
``ROOT/submission/`` (``find_submission``), grades each configured part on the
public cases and on the cases drawn from the hidden seed, and writes
``ROOT/results/results.json`` in Gradescope's format:

- one test per part and case group (``"backward: public cases"``, ``"backward:
  hidden cases"``), its points the part's points shared equally among all the
  cases, scored per case passed (partial credit per part and per case); its
  output says, per case, what passed, and for what failed the table and the
  fix line; visibility from the config (public ``visible``, hidden
  ``after_published`` unless changed);
- ``extra_data.manual_backprop``: the version, the submission's entry as
  ``manual-backprop grade --format json`` writes one (the same function,
  ``formats.as_json``, makes it; its ``cases`` hold the public cases, then the
  hidden ones), each part's score and the total.

Each part is graded on its own in the submission's one child process: a part
that raises fails that part only, on every case, with the reason and the code
``not_implemented`` (the starter's ``NotImplementedError``) or ``raised``; a
part the file does not define is ``not_defined``. (``grade`` itself stops a
submission at the first part that raises: a course needs the credit of the
others.) A submission that cannot be loaded, times out or dies scores 0 with
the reason. The config's ``forbid`` and ``user`` go to the child as the grade
command's ``--forbid`` and ``--user`` do. Whatever happens, a results.json is written: an
internal error gives score 0 and says what failed. torch is imported only for
``reference: autograd``.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Optional

from manual_backprop import __version__
from manual_backprop.oracle.batch import CachedCheck, Submission, finite_difference_tolerance
from manual_backprop.oracle.cases import DEFAULT_CASES, CaseResult, grade
from manual_backprop.oracle.finite_differences import numerical_grads
from manual_backprop.oracle.formats import as_json
from manual_backprop.oracle.hidden import draw_cases
from manual_backprop.oracle.isolation import Child, Limits
from manual_backprop.oracle.parts import PartResult
from manual_backprop.oracle.proxies import StudentCodeError
from manual_backprop.oracle.tolerances import tolerance_for

from .config import Config

ROOT_VARIABLE = "AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
KEYWORDS = {"forward": "forward", "loss": "loss_fn", "backward": "backward", "sgd_step": "sgd_step"}
SUFFIXES = (".py", ".ipynb")


def root_folder() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT)


def find_submission(folder: Path, name: str) -> tuple[Optional[Path], str]:
    """(the file to grade, a note) or (None, why not): ``name``.py or ``name``.ipynb, else the only
    .py/.ipynb file in ``folder`` or below it (hidden files and Jupyter's checkpoints left out)."""
    expected = f"{name}.py (or {name}.ipynb)"
    if not folder.is_dir():
        return None, f"no submission folder {folder}; expected {expected}"
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                   and not any(part.startswith(".") or part == "__pycache__"
                               for part in p.relative_to(folder).parts))
    for suffix in SUFFIXES:
        named = [p for p in found if p.name == name + suffix]
        if named:
            return min(named, key=lambda p: len(p.parts)), ""
    if len(found) == 1:
        return found[0], f"graded {found[0].name}, the only Python file or notebook submitted (expected {expected})"
    listed = ", ".join(str(p.relative_to(folder)) for p in found)
    return None, f"expected a file named {expected}; " + (f"the submission holds {listed}" if found else
                                                           "the submission has no .py or .ipynb file")


def checker(reference: str) -> CachedCheck:
    if reference == "autograd":
        from torch_ref.autograd import autograd_grads  # imports torch

        return CachedCheck(autograd_grads, "autograd", lambda net: tolerance_for(net.dtype))
    return CachedCheck(numerical_grads, "finite differences", finite_difference_tolerance)


def containment(config: Config) -> tuple[dict, str]:
    """(the config's ``forbid`` and ``user`` as the grader's child takes them, only those that are set;
    a note). The reference's own packages are refused to every submission whatever the config says.
    The user applies where the autograder runs as root (Gradescope); elsewhere (a teacher's dry run)
    student code runs as this process's user, and the note says so."""
    given: dict = {"forbid": tuple(config.forbid)} if config.forbid else {}
    note = ""
    if config.user and os.geteuid() == 0:
        given["user"] = config.user
    elif config.user:
        note = (f"student code ran as this process's user: the config's user {config.user!r} applies "
                f"only where the autograder runs as root, as on Gradescope")
    missing = sorted(set(given) - set(inspect.signature(Child.spawn).parameters))
    if missing:
        raise RuntimeError(f"this version of the grader cannot apply the config's {missing}; "
                           f"leave them empty or use a version whose grade command has --forbid and --user")
    return given, note


def grade_submission(path: Path, config: Config, cases: tuple, contained: dict) -> Submission:
    """Every configured part of the file at ``path`` on ``cases``, in one child (``contained``: the
    child's ``forbid`` and ``user``, from ``containment``); see the module doc."""
    submission = Submission(str(path))
    limits = Limits(float(config.timeout), config.memory or None)
    child = Child.spawn(path, "backward", limits, **contained)
    try:
        defines = child.loaded()["defines"]
        check = checker(config.reference)
        graded = {}
        for part in config.parts:
            graded[part] = _grade_part(child, part, part in defines, cases, config, check)
        child.finish()
        submission.results = [CaseResult(case, graded["backward"][i].report if "backward" in graded else None,
                                         tuple(graded[p][i].parts[0] for p in config.parts))
                              for i, case in enumerate(cases)]
    except StudentCodeError as err:
        submission.error = str(err)
    finally:
        child.kill()
        submission.output = child.output()
        child.close()
    return submission


def _grade_part(child: Child, part: str, defined: bool, cases: tuple, config: Config, check) -> list:
    """The CaseResults of one part alone; a part that is missing or raises fails on every case, with why."""
    if not defined:
        return _failed_everywhere(part, cases, "not_defined", f"the file defines no function {part}")
    try:
        return grade(**{KEYWORDS[part]: child.proxy(part)}, cases=cases, activation=config.activation,
                     loss=config.loss, check=check)
    except StudentCodeError as err:
        if child.ended is not None or child.spent >= child.limits.timeout:
            raise  # the child is gone or out of time: nothing more can be graded
        code = "not_implemented" if "NotImplementedError" in str(err) else "raised"
        return _failed_everywhere(part, cases, code, str(err))


def _failed_everywhere(part: str, cases: tuple, code: str, reason: str) -> list:
    result = PartResult(part, False, code, reason, f"{part}: {reason}")
    return [CaseResult(case, None, (result,)) for case in cases]


def results_json(config: Config, submission: Submission, public: tuple, hidden: tuple, note: str = "") -> dict:
    """Gradescope's results.json for a graded (or ungradable) submission."""
    cases = public + hidden
    tests, part_scores = [], {}
    for part in config.parts:
        share = config.points[part] / len(cases)
        part_scores[part] = {"score": 0.0, "max_score": round(config.points[part], 6)}
        for group, group_cases in (("public", public), ("hidden", hidden)):
            if not group_cases:
                continue
            if submission.error is not None:
                passed, output = 0, f"not graded: {submission.error}"
            else:
                rows = [submission.results[cases.index(c)] for c in group_cases]
                passed = sum(_verdict(r, part).passed for r in rows)
                output = _group_output(part, rows)
            score = round(share * passed, 6)
            part_scores[part]["score"] = round(part_scores[part]["score"] + score, 6)
            tests.append({"name": f"{part}: {group} cases", "score": score,
                          "max_score": round(share * len(group_cases), 6),
                          "status": "passed" if passed == len(group_cases) else "failed",
                          "output": output, "visibility": config.visibility[group]})
    score = round(sum(p["score"] for p in part_scores.values()), 6)
    lines = [f"{score:g} of {config.max_score:g} points: "
             + ", ".join(f"{p} {s['score']:g}/{s['max_score']:g}" for p, s in part_scores.items())]
    if note:
        lines.append(note)
    if submission.error is not None:
        lines.append(f"not graded: {submission.error}")
        if submission.output:
            lines += ["what it printed (last lines):", submission.output]
    entry = as_json([submission])["submissions"][0]
    extra = {"version": __version__, "submission": entry, "parts": part_scores,
             "score": score, "max_score": round(config.max_score, 6)}
    return {"score": score, "output": "\n".join(lines), "tests": tests, "extra_data": {"manual_backprop": extra}}


def _group_output(part: str, rows: list) -> str:
    """Per case, ok or what failed; a failure that is the same on every case (a part that raised), once."""
    first = _verdict(rows[0], part)
    if first.diagnosis in ("not_implemented", "raised", "not_defined") \
            and all(_verdict(r, part) == first for r in rows):
        return f"FAIL  every case: {first.fix}"
    return "\n".join(_case_lines(part, r) for r in rows)


def _verdict(result: CaseResult, part: str) -> PartResult:
    p = result.part(part)
    assert p is not None  # every configured part is graded on every case
    return p


def _case_lines(part: str, result: CaseResult) -> str:
    p = _verdict(result, part)
    if p.passed:
        return f"ok    {result.case.label}"
    lines = [f"FAIL  {result.case.label}: {p.diagnosis}"]
    if p.fix:
        lines.append(f"      {p.fix}")
    if part == "backward" and result.report is not None:
        lines += ["      " + line for line in str(result.report).splitlines()]
    return "\n".join(lines)


def failure_json(reason: str, path: str = "") -> dict:
    """results.json for an autograder that failed itself: score 0, and why."""
    entry = {"path": path, "passed": False, "error": reason, "output": "", "cases": []}
    return {"score": 0.0, "output": f"The autograder could not grade this submission: {reason}",
            "tests": [], "extra_data": {"manual_backprop": {"version": __version__, "submission": entry,
                                                             "parts": {}, "score": 0.0, "max_score": 0.0}}}


def run(root: Path) -> dict:
    config = Config.load(root / "source" / "config.json")
    public = tuple(DEFAULT_CASES)
    hidden = tuple(draw_cases(config.seed)) if config.seed is not None else ()
    folder = root / "submission"
    contained, contained_note = containment(config)
    path, note = find_submission(folder, config.file)
    if path is None:
        submission = Submission(str(folder), error=note)
        return results_json(config, submission, public, hidden)
    submission = grade_submission(path, config, public + hidden, contained)
    return results_json(config, submission, public, hidden, "\n".join(n for n in (note, contained_note) if n))


def write(path: Path, doc: dict) -> None:
    """Write ``doc`` atomically: a temporary file beside it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


def main(argv=None) -> int:
    root = root_folder()
    started = time.monotonic()
    try:
        doc = run(root)
    except BaseException as err:  # the autograder's own failure: still a results.json, with the reason
        traceback.print_exc()
        doc = failure_json(f"{type(err).__name__}: {err}")
    doc["execution_time"] = round(time.monotonic() - started, 3)
    write(root / "results" / "results.json", doc)
    print(doc["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
