"""Classes of graded submissions made up by planting known mistakes, for the class report's tests.

Nothing here is graded: each submission's JSON entry is written as the grader
writes it (``grade --format json``), with the mistakes chosen, so a test knows
every count the report must show. ``planted_class(n)`` makes a class of any
size (the report's cost script uses it for 10,000); ``write_results_json``
writes one submission as the course kit's autograder ``results.json``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Optional

# The graded nets, as the grader labels them (manual_backprop.oracle.cases.DEFAULT_CASES).
CASES = (("seed net 4-16-2, N=32", [4, 16, 2], 32), ("3-5-3, N=1", [3, 5, 3], 1),
         ("5-3-4, N=3", [5, 3, 4], 3), ("2-7-3, N=8", [2, 7, 3], 8))
PARAMS = ("W_H", "b_H", "W_O", "b_O")
PARTS = ("forward", "loss", "backward", "sgd_step")

# (part, parameter or "" for a part graded as one value, code, passes the N = 1 net)
CATALOGUE = (
    ("backward", "W_O", "transposed", False),
    ("backward", "W_H", "transposed", False),
    ("backward", "b_H", "not_summed_over_batch", True),
    ("backward", "W_H", "activation_derivative", False),
    ("backward", "b_O", "scaled_by_1/N", True),
    ("backward", "W_O", "negated+scaled_by_1/N", False),
    ("backward", "b_H", "one_sample+negated", False),
    ("backward", "W_O", "from_a_newer_grader", False),
    ("loss", "", "scaled_by_1/N", True),
    ("sgd_step", "", "ascent", False),
    ("forward", "", "bias_missing", False),
)


def submission(path: str, mistakes=(), error: Optional[str] = None, parts=PARTS) -> dict:
    """One entry of the grader's ``submissions`` list with ``mistakes`` planted:
    (part, param, code, passes_N1) each; ``error``: not graded (no cases)."""
    if error is not None:
        return {"path": path, "passed": False, "error": error, "output": "", "cases": []}
    cases = []
    for label, sizes, N in CASES:
        here = [m for m in mistakes if not (N == 1 and m[3])]
        params = {name: {"passed": True, "diagnosis": None, "max_abs_err": 0.0, "max_rel_err": 0.0}
                  for name in PARAMS}
        verdicts = {part: {"passed": True, "diagnosis": None} for part in parts}
        for part, param, code, _ in here:
            if part == "backward":
                params[param] = {"passed": False, "diagnosis": code, "max_abs_err": 0.5, "max_rel_err": 1.0}
                verdicts["backward"] = {"passed": False, "diagnosis": "wrong_gradients"}
            else:
                verdicts[part] = {"passed": False, "diagnosis": code}
        cases.append({"label": label, "sizes": sizes, "N": N, "passed": all(v["passed"] for v in verdicts.values()),
                      "params": params, "parts": verdicts})
    return {"path": path, "passed": all(c["passed"] for c in cases), "error": None, "output": "", "cases": cases}


def planted_class(n: int, seed: int = 0, error_every: int = 25, catalogue=CATALOGUE) -> tuple:
    """(the grader's JSON for ``n`` submissions, the mistakes planted in each, by path).

    Each submission draws 0 to 2 mistakes from ``catalogue``, in different places (a
    quarter have none); every ``error_every``-th one timed out instead.
    """
    rng = random.Random(seed)
    entries, planted = [], {}
    for i in range(n):
        path = f"class/student_{i:05d}.py"
        if error_every and i % error_every == error_every - 1:
            entries.append(submission(path, error="timed out after 60 s"))
            planted[path] = None
            continue
        chosen = []
        for mistake in rng.sample(catalogue, rng.choice((0, 1, 1, 2))):
            if all(mistake[:2] != other[:2] for other in chosen):  # one code per parameter or part
                chosen.append(mistake)
        entries.append(submission(path, chosen))
        planted[path] = chosen
    return {"submissions": entries}, planted


def expected_counts(planted: dict) -> dict:
    """What the report must count, from the plan alone: submissions per (part, param, code), per
    (part, cause) with compounds split, per (part, whole compound), and the overview."""
    mistakes: Counter = Counter()
    causes: Counter = Counter()
    whole: Counter = Counter()
    for chosen in planted.values():
        for part, param, code, _ in chosen or ():
            mistakes[(part, param, code)] += 1
            if "+" in code:
                whole[(part, code)] += 1
        # a submission counts once per cause in a part, however many parameters show it
        causes.update({(part, cause) for part, _, code, _ in chosen or () for cause in code.split("+")})
    return {"mistakes": mistakes, "causes": causes, "whole": whole,
            "submissions": len(planted), "errors": sum(c is None for c in planted.values()),
            "passed": sum(c == [] for c in planted.values())}


def write_results_json(path: Path, entry: dict, points: Optional[dict] = None) -> dict:
    """Write ``entry`` (one grader submission) as the autograder's results.json at ``path``; the
    parts are scored ``points[part]`` (default 1) times the share of nets passed. Returns the document."""
    parts = sorted({p for c in entry["cases"] for p in c["parts"]}) or list(PARTS)
    points = points or {}
    scores = {}
    for part in parts:
        worth = float(points.get(part, 1.0))
        passed = [c["parts"][part]["passed"] for c in entry["cases"] if part in c["parts"]]
        scores[part] = {"score": worth * sum(passed) / len(passed) if passed else 0.0, "max_score": worth}
    total = sum(s["score"] for s in scores.values())
    top = sum(s["max_score"] for s in scores.values())
    inside = dict(entry, path="/autograder/submission/backprop.py")
    doc = {"score": total, "tests": [{"name": part, "score": s["score"], "max_score": s["max_score"]}
                                     for part, s in scores.items()],
           "extra_data": {"manual_backprop": {"version": "0.0-test", "submission": inside, "parts": scores,
                                              "score": total, "max_score": top}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return doc
