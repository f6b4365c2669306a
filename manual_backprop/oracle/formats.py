"""The grader's results as text, as JSON for machines, and as Gradescope's ``results.json``. NumPy only.

JSON (``as_json``), one object for the whole batch::

    {"submissions": [{"path", "passed", "error", "output",
                      "cases": [{"label", "sizes", "N", "passed",
                                 "params": {name: {"passed", "diagnosis", "max_abs_err", "max_rel_err"}},
                                 "parts": {part: {"passed", "diagnosis"}}}]}]}

``error`` is null unless the submission could not be graded (timed out, exited,
raised, ...); ``cases`` is then empty. ``diagnosis`` is null for a passing
parameter; an error is null where it does not apply (a wrong shape, a missing
gradient). A gradient key the net does not have is listed with diagnosis
``"unexpected_key"``. ``parts`` has one entry per graded part of the seed
(``forward``, ``loss``, ``backward``, ``sgd_step``: whichever the submission
defines); a case passes when every part does. Shards' results merge by concatenating their
``submissions`` lists.

Gradescope (``as_gradescope``): one test per submission and case, worth 1
point, the case's table as its output; a submission that could not be graded
scores 0 on each case, with the reason.
"""

from __future__ import annotations

import math

from .cases import summary


def _number(x):
    """A float for JSON: None for NaN or infinity (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


def case_json(result) -> dict:
    """One CaseResult as the JSON shape above, with ``parts``: each graded part's verdict and code."""
    case, report = result.case, result.report
    params = {}
    if report is not None:
        params = {name: {"passed": bool(p.passed), "diagnosis": p.diagnosis,
                         "max_abs_err": _number(p.max_abs_err), "max_rel_err": _number(p.max_rel_err)}
                  for name, p in report.params.items()}
        for key in report.unexpected:
            params[str(key)] = {"passed": False, "diagnosis": "unexpected_key",
                                "max_abs_err": None, "max_rel_err": None}
    parts = {p.name: {"passed": bool(p.passed), "diagnosis": p.diagnosis} for p in result.parts}
    return {"label": case.label, "sizes": [int(s) for s in case.sizes], "N": int(case.N),
            "passed": bool(result.passed), "params": params, "parts": parts}


def as_json(submissions) -> dict:
    """The whole batch as one JSON-ready object."""
    return {"submissions": [{"path": s.path, "passed": s.passed, "error": s.error, "output": s.output,
                             "cases": [case_json(r) for r in s.results]} for s in submissions]}


def as_text(submissions) -> str:
    """Each submission's tables (or why it could not be graded), then the batch's verdict.

    A failing submission's own output comes first, each line behind a bar, so
    that nothing it printed can pass for the grader's verdict, which is last.
    """
    if not submissions:
        return "no submissions to grade (an empty shard)\n"
    parts = [_submission_text(s, heading=len(submissions) > 1) for s in submissions]
    if len(submissions) > 1:
        failed = sum(not s.passed for s in submissions)
        parts.append(f"{len(submissions) - failed} of {len(submissions)} submissions passed" if failed
                     else f"all {len(submissions)} submissions passed")
    return "\n\n".join(parts) + "\n"


def _submission_text(s, heading: bool) -> str:
    lines = [f"#### {s.path}: {'PASSED' if s.passed else 'FAILED'}"] if heading else []
    if s.output and not s.passed:
        lines.append("what the submission printed (last lines):")
        lines += ["  | " + line for line in s.output.splitlines()]
        lines.append("")
    if s.error is not None:
        lines.append(f"FAILED: {s.path}: {s.error}")
    else:
        lines.append(summary(s.results))
    return "\n".join(lines)


def as_gradescope(submissions, cases) -> dict:
    """Gradescope's results.json: a test per submission and case (``cases``: the graded Cases)."""
    tests = []
    for s in submissions:
        prefix = f"{s.path}: " if len(submissions) > 1 else ""
        if s.error is not None:
            output = f"not graded: {s.error}" + (f"\n\nwhat it printed:\n{s.output}" if s.output else "")
            tests += [_test(prefix + case.label, False, output) for case in cases]
        else:
            tests += [_test(prefix + r.case.label, r.passed, summary([r])) for r in s.results]
    score = sum(t["score"] for t in tests)
    passed = sum(s.passed for s in submissions)
    return {"score": score, "output": f"{passed} of {len(submissions)} submissions passed every case",
            "tests": tests}


def _test(name: str, passed: bool, output: str) -> dict:
    return {"name": name, "score": 1.0 if passed else 0.0, "max_score": 1.0,
            "status": "passed" if passed else "failed", "output": output}
