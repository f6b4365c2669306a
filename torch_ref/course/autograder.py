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

The submission's one child process grades the public cases first, every part,
then the hidden cases: two groups, each graded on its own. Whatever the
student's code does once a group's nets have reached it (what it prints, the
messages it raises, how it ends) is reported in that group's tests only, whose
visibility is the group's: the public group's printed output is read before
the hidden nets are sent, and the top-level output (which students always see)
holds nothing of the hidden group's but a fixed line. Within a group, each
part is graded on its own: a part that raises fails that part only, on every
case of the group, with the reason and the code ``not_implemented`` (the
starter's ``NotImplementedError``) or ``raised``; a part the file does not
define is ``not_defined``. (``grade`` itself stops a submission at the first
part that raises: a course needs the credit of the others.) A submission that
cannot be loaded, or times out or dies on the public cases, scores 0 with the
reason; one that times out, dies or leaves processes running once the hidden
cases have reached it keeps its public tests' points, and the hidden tests say
why they were not graded (code ``not_graded`` in ``extra_data``, whose
``output`` holds only what was printed before the hidden cases). The config's
``forbid`` and ``user`` go to the child as the grade command's ``--forbid``
and ``--user`` do. Whatever happens, a results.json is written: an internal
error gives score 0 and says what failed. torch is imported only for
``reference: autograd``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from manual_backprop import __version__
from manual_backprop.oracle.batch import Submission
from manual_backprop.oracle.cases import DEFAULT_CASES, CaseResult, grade
from manual_backprop.oracle.formats import as_json
from manual_backprop.oracle.graded import GRADED_PARTS
from manual_backprop.oracle.hidden import draw_cases
from manual_backprop.oracle.isolation import Child, Limits
from manual_backprop.oracle.parts import PartResult
from manual_backprop.oracle.proxies import StudentCodeError

from ..grade import reference_check
from .config import Config

ROOT_VARIABLE = "AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
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
    return given, note


@dataclass
class Group:
    """One group of cases (``public`` or ``hidden``) as graded: its CaseResults, or why it was not graded,
    and what the submission printed while it was graded (the public group: from its start)."""

    name: str
    cases: tuple
    results: list = field(default_factory=list)
    error: Optional[str] = None
    output: str = ""


def grade_submission(path: Path, config: Config, groups: list, contained: dict) -> Submission:
    """Every configured part of the file at ``path``, group after group, in one child (``contained``:
    the child's ``forbid`` and ``user``, from ``containment``); fills each Group; see the module doc.

    Whatever happens once a group's nets reach the child (what it prints, raises, or how it ends,
    down to processes left behind) is that group's alone: the public group's output is read before
    the hidden nets are sent, and a child that dies during the hidden cases costs only those."""
    submission = Submission(str(path))
    limits = Limits(float(config.timeout), config.memory or None)
    child = Child.spawn(path, "backward", limits, **contained)
    current, mark = groups[0], 0
    try:
        defines = child.loaded()["defines"]
        check = reference_check(config.reference)
        for group in groups:
            if group is not current:  # the first group's output includes what loading the file printed
                current, mark = group, child.printed()
            graded = {part: _grade_part(child, part, part in defines, group.cases, config, check)
                      for part in config.parts}
            group.results = [CaseResult(case, graded["backward"][i].report if "backward" in graded else None,
                                        tuple(graded[p][i].parts[0] for p in config.parts))
                             for i, case in enumerate(group.cases)]
            if group is not groups[-1]:
                group.output = child.output(since=mark)  # before the next group's nets reach the child
        child.finish()
    except StudentCodeError as err:
        current.error, current.results = str(err), []
    finally:
        child.kill()
        current.output = child.output(since=mark)
        child.close()
    first = groups[0]
    if first.error is not None:  # it never loaded, or died on the public cases: nothing is graded
        for group in groups[1:]:
            group.error, group.results, group.output = first.error, [], ""
        submission.error = first.error
    else:
        submission.results = [r for g in groups for r in (g.results or _not_graded(config.parts, g.cases))]
    submission.output = first.output
    return submission


def _not_graded(parts: tuple, cases: tuple) -> list:
    """A group the child did not finish: each case and part failed, code ``not_graded`` (the reason
    stays with the group, out of the JSON the class report reads)."""
    return [CaseResult(case, None, tuple(PartResult(p, False, "not_graded") for p in parts)) for case in cases]


def _grade_part(child: Child, part: str, defined: bool, cases: tuple, config: Config, check) -> list:
    """The CaseResults of one part alone; a part that is missing or raises fails on every case, with why."""
    if not defined:
        return _failed_everywhere(part, cases, "not_defined", f"the file defines no function {part}")
    try:
        return grade(**{GRADED_PARTS[part].keyword: child.proxy(part)}, cases=cases, activation=config.activation,
                     loss=config.loss, check=check)
    except StudentCodeError as err:
        if child.ended is not None or child.spent >= child.limits.timeout:
            raise  # the child is gone or out of time: nothing more can be graded
        code = "not_implemented" if "NotImplementedError" in str(err) else "raised"
        return _failed_everywhere(part, cases, code, str(err))


def _failed_everywhere(part: str, cases: tuple, code: str, reason: str) -> list:
    result = PartResult(part, False, code, reason, f"{part}: {reason}")
    return [CaseResult(case, None, (result,)) for case in cases]


def results_json(config: Config, submission: Submission, groups: list, note: str = "") -> dict:
    """Gradescope's results.json for a graded (or ungradable) submission: one test per part and group.
    The top-level output, which students always see, says nothing the submission did during any
    group but the public one; a group's printed output and failure show in its own tests only."""
    count = sum(len(g.cases) for g in groups)
    tests, part_scores = [], {}
    for part in config.parts:
        share = config.points[part] / count
        part_scores[part] = {"score": 0.0, "max_score": round(config.points[part], 6)}
        for group in groups:
            if group.error is not None:
                passed, output = 0, f"not graded: {group.error}"
                if group.output and group is not groups[0]:  # the first group's is in the top-level output
                    output += f"\n\nwhat it printed (last lines):\n{group.output}"
            else:
                passed = sum(_verdict(r, part).passed for r in group.results)
                output = _group_output(part, group.results)
            score = round(share * passed, 6)
            part_scores[part]["score"] = round(part_scores[part]["score"] + score, 6)
            tests.append({"name": f"{part}: {group.name} cases", "score": score,
                          "max_score": round(share * len(group.cases), 6),
                          "status": "passed" if passed == len(group.cases) else "failed",
                          "output": output, "visibility": config.visibility[group.name]})
    score = round(sum(p["score"] for p in part_scores.values()), 6)
    lines = [f"{score:g} of {config.max_score:g} points: "
             + ", ".join(f"{p} {s['score']:g}/{s['max_score']:g}" for p, s in part_scores.items())]
    if note:
        lines.append(note)
    if submission.error is not None:
        lines.append(f"not graded: {submission.error}")
        if submission.output:
            lines += ["what it printed (last lines):", submission.output]
    lines += [f"the {g.name} cases were not all graded: their tests say why" for g in groups[1:]
              if g.error is not None and submission.error is None]
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
    groups = [Group(name, cases) for name, cases in (("public", public), ("hidden", hidden)) if cases]
    path, note = find_submission(folder, config.file)
    if path is None:
        for group in groups:
            group.error = note
        return results_json(config, Submission(str(folder), error=note), groups)
    submission = grade_submission(path, config, groups, contained)
    return results_json(config, submission, groups, "\n".join(n for n in (note, contained_note) if n))


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
