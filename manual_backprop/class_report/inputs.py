"""Read a class's results: the grader's JSON (whole or in shards) and the autograder's ``results.json``.

Standard library only. Two kinds of input, told apart by their content:

- ``grade --format json`` output: ``{"submissions": [{"path", "passed", "error",
  "output", "cases": [...]}]}``. Each submission is known by its ``path``;
  shards are merged by concatenating their lists.
- an autograder ``results.json`` (Gradescope's format) whose ``extra_data``
  holds ``{"manual_backprop": {"version", "submission": <one entry as above>,
  "parts": {part: {"score", "max_score"}}, "score", "max_score"}}``. Inside
  ``extra_data`` every path is ``/autograder/submission/...``, so such a
  submission is known by the folder its ``results.json`` sits in, relative
  to the folder given (a Gradescope export keeps one folder per submission).

A folder is searched recursively for files named ``results.json``. A file
that cannot be read, is not JSON, or has neither shape is an ``InputError``
naming it; so is a submission entry that lacks a field the report needs
(naming its file and place), and a submission met twice (naming both files).
The reader collects these errors and keeps everything else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

RESULTS_NAME = "results.json"


class InputError(ValueError):
    """One input that could not be used; ``str`` names the file and what is wrong with it."""


@dataclass
class Graded:
    """One submission as the report sees it.

    ``cases``: the grader's case objects, as in its JSON. ``part_scores``: part
    → (score, max_score); from the autograder when it scored the submission,
    else the fraction of graded cases the part passed (one point per part).
    """

    id: str
    source: str
    passed: bool
    error: Optional[str]
    cases: list
    part_scores: dict = field(default_factory=dict)
    score: float = 0.0
    max_score: float = 0.0
    scored_by_autograder: bool = False


def read_class(arguments: Iterable[str]) -> tuple[list, list]:
    """(the Graded submissions of every input, in order, the InputErrors met); raises nothing for
    a damaged input. A name that does not exist is an InputError too (the command makes it a usage error)."""
    submissions: list[Graded] = []
    errors: list[InputError] = []
    seen: dict[str, str] = {}  # submission id -> the file it came from
    for argument in arguments:
        for path, base in _files(argument, errors):
            try:
                found = read_file(path, base)
            except InputError as err:
                errors.append(err)
                continue
            for item in found:
                if isinstance(item, InputError):
                    errors.append(item)
                elif item.id in seen:
                    errors.append(InputError(f"{path}: the submission {item.id!r} appears twice "
                                             f"(also in {seen[item.id]}); kept the first"))
                else:
                    seen[item.id] = str(path)
                    submissions.append(item)
    return submissions, errors


def _files(argument: str, errors: list) -> list:
    """(file, the folder it was found under or None) for one argument."""
    path = Path(argument)
    if path.is_dir():
        found = sorted(Path(folder) / RESULTS_NAME for folder, _, names in os.walk(path)
                       if RESULTS_NAME in names)
        if not found:
            errors.append(InputError(f"{argument}: a folder with no {RESULTS_NAME} inside"))
        return [(f, path) for f in found]
    if not path.is_file():
        errors.append(InputError(f"{argument}: no such file or folder"))
        return []
    return [(path, None)]


def read_file(path: Path, base: Optional[Path] = None) -> list:
    """The Graded submissions in one file, each damaged entry an InputError in their place;
    InputError when the file as a whole is unusable. ``base``: the folder it was found under."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except OSError as err:
        raise InputError(f"{path}: cannot be read: {err.strerror or err}") from None
    except ValueError as err:  # not UTF-8, or not JSON (cut short, say)
        raise InputError(f"{path}: not valid JSON: {err}") from None
    if isinstance(doc, dict) and isinstance(doc.get("submissions"), list):
        found: list = []
        for i, entry in enumerate(doc["submissions"]):
            try:
                found.append(_from_grader(entry, str(path), f"submissions[{i}]"))
            except InputError as err:
                found.append(InputError(f"{path}: {err}"))
        return found
    extra = doc.get("extra_data") if isinstance(doc, dict) else None
    if isinstance(extra, dict) and "manual_backprop" in extra:
        try:
            return [_from_autograder(extra["manual_backprop"], path, base)]
        except InputError as err:
            raise InputError(f"{path}: {err}") from None
    raise InputError(f"{path}: neither the grader's JSON (a 'submissions' list) nor an autograder "
                     f"{RESULTS_NAME} (an 'extra_data' with 'manual_backprop')")


def _from_grader(entry, source: str, where: str, id: Optional[str] = None) -> Graded:
    """One entry of the grader's ``submissions`` list; InputError naming ``where`` if it is damaged."""
    if not isinstance(entry, dict):
        raise InputError(f"{where} is {type(entry).__name__}, not an object")
    path, passed, error, cases = (entry.get(k) for k in ("path", "passed", "error", "cases"))
    if not isinstance(path, str) or not isinstance(passed, bool):
        raise InputError(f"{where} has no 'path' string or no 'passed' true/false")
    if error is not None and not isinstance(error, str):
        raise InputError(f"{where}.error is {type(error).__name__}, not a string or null")
    if not isinstance(cases, list):
        raise InputError(f"{where}.cases is {type(cases).__name__}, not a list")
    for j, case in enumerate(cases):
        _check_case(case, f"{where}.cases[{j}]")
    graded = Graded(id or path, source, passed, error, cases)
    parts: dict[str, list] = {}
    for case in cases:
        for part, verdict in _part_verdicts(case).items():
            parts.setdefault(part, []).append(verdict)
    graded.part_scores = {part: (sum(v) / len(v), 1.0) for part, v in parts.items()}
    graded.score = sum(s for s, _ in graded.part_scores.values())
    graded.max_score = float(len(graded.part_scores))
    return graded


def _check_case(case, where: str) -> None:
    if not isinstance(case, dict) or not isinstance(case.get("label"), str):
        raise InputError(f"{where} is not a case object with a 'label'")
    if not isinstance(case.get("passed"), bool):
        raise InputError(f"{where} has no 'passed' true/false")
    for key in ("params", "parts"):
        block = case.get(key, {})
        if not isinstance(block, dict) or not all(isinstance(v, dict) and isinstance(v.get("passed"), bool)
                                                   for v in block.values()):
            raise InputError(f"{where}.{key} is not an object of {{name: {{'passed': ..., 'diagnosis': ...}}}}")
        for name, verdict in block.items():
            code = verdict.get("diagnosis")
            if code is not None and not isinstance(code, str):
                raise InputError(f"{where}.{key}.{name}.diagnosis is {type(code).__name__}, not a string")


def _part_verdicts(case: dict) -> dict:
    """part -> passed, for one case; a case without ``parts`` graded the backward alone."""
    parts = case.get("parts")
    if parts:
        return {name: v["passed"] for name, v in parts.items()}
    return {"backward": all(p["passed"] for p in case.get("params", {}).values()) and case["passed"]}


def _from_autograder(block, path: Path, base: Optional[Path]) -> Graded:
    """The autograder's ``extra_data["manual_backprop"]``; the id is the submission's folder."""
    if not isinstance(block, dict):
        raise InputError("extra_data.manual_backprop is not an object")
    folder = path.parent
    if base is not None:
        folder = folder.relative_to(base)
    id = folder.as_posix()
    if id in ("", "."):
        id = str(block.get("submission", {}).get("path", id)) if isinstance(block.get("submission"), dict) else id
    graded = _from_grader(block.get("submission"), str(path), "extra_data.manual_backprop.submission", id)
    parts = block.get("parts")
    if not isinstance(parts, dict):
        raise InputError("extra_data.manual_backprop.parts is not an object")
    scores = {}
    for part, s in parts.items():
        if not isinstance(s, dict) or not all(_number(s.get(k)) for k in ("score", "max_score")):
            raise InputError(f"extra_data.manual_backprop.parts.{part} has no numeric 'score' and 'max_score'")
        scores[part] = (float(s["score"]), float(s["max_score"]))
    if not all(_number(block.get(k)) for k in ("score", "max_score")):
        raise InputError("extra_data.manual_backprop has no numeric 'score' and 'max_score'")
    graded.part_scores = scores
    graded.score, graded.max_score = float(block["score"]), float(block["max_score"])
    graded.scored_by_autograder = True
    return graded


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")
