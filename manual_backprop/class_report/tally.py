"""Count a class's mistakes: by part and code, by mistake, by graded case, and one row per submission.

Standard library only. Every count is of submissions, not of cases: a student
who transposed dL/dW_O on all four nets counts once. A mistake is where it
was made and its whole code: ``("backward", "W_O", "transposed")``, or
``("loss", "", "scaled_by_1/N")`` for a part graded as one value. A compound
code (``one_sample+negated``) is counted whole, and under each of its causes
(``one_sample``, ``negated``). A code this module has never heard of (from a
newer grader) is counted under its own name like any other.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Optional

from .inputs import Graded

PART_ORDER = ("forward", "loss", "backward", "sgd_step")  # the seed's order; unknown parts after
SUMMARY_CODES = ("wrong_gradients",)  # the backward's part verdict: its parameters hold the codes
HISTOGRAM_BINS = 10

# How an error reads, first match wins: (kind, pattern in the grader's one-line error).
ERROR_KINDS = (
    ("timed out", r"\btimed out\b"),
    ("out of memory", r"out of memory"),
    ("killed", r"\bkilled\b"),
    ("exited", r"\bexit"),
    ("no such function", r"defines no function"),
    ("returned the wrong type", r"\breturned\b"),
    ("grader failure", r"the grader failed"),
)


def meanings() -> dict:
    """code -> one line saying what it means, from the oracle's code table when
    this install has one (an empty table otherwise: the code then speaks for itself)."""
    try:
        table = getattr(importlib.import_module("manual_backprop.oracle.codes"), "CODES", {})
    except ImportError:
        return {}
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def fix_text(code: str, table: dict) -> str:
    """The meaning of a whole code: its own line, else each cause's, else the code itself."""
    if code in table:
        return table[code]
    causes = code.split("+")
    if len(causes) > 1 and any(c in table for c in causes):
        return " ".join(f"{c}: {table.get(c, c).rstrip('.')}." for c in causes)
    return code


def error_kind(error: str) -> str:
    for kind, pattern in ERROR_KINDS:
        if re.search(pattern, error):
            return kind
    return "raised"


@dataclass
class Row:
    """One submission in the report's table and the CSV."""

    id: str
    status: str  # "passed", "failed" or "error"
    score: float
    max_score: float
    part_scores: dict  # part -> (score, max_score)
    mistakes: list  # (part, param, code), sorted
    error: str = ""

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score > 0 else 0.0

    def codes(self) -> str:
        """"backward W_O transposed; loss scaled_by_1/N": every mistake, one clause each."""
        return "; ".join(" ".join(x for x in m if x) for m in self.mistakes)


@dataclass
class CaseCount:
    label: str
    sizes: list
    N: Optional[int]
    graded: int = 0
    passed: int = 0
    passed_yet_failed_elsewhere: int = 0


@dataclass
class Tally:
    rows: list  # Row, in input order
    parts: list  # the parts graded anywhere in the class, in the seed's order
    by_cause: dict  # part -> Counter(cause -> submissions), a compound counted under each cause
    whole: dict  # part -> Counter(whole compound code -> submissions)
    where: dict  # part -> {cause: Counter(param -> submissions)}
    mistakes: dict  # (part, param, code) -> [submission ids]
    cases: list  # CaseCount, in the order first met
    errors: Counter  # error kind -> submissions
    histogram: list  # HISTOGRAM_BINS counts of score percent, the last bin holding 100 %

    @property
    def submissions(self) -> int:
        return len(self.rows)

    @property
    def passed(self) -> int:
        return sum(r.status == "passed" for r in self.rows)

    @property
    def errored(self) -> int:
        return sum(r.status == "error" for r in self.rows)

    @property
    def mean_percent(self) -> float:
        return sum(r.percent for r in self.rows) / len(self.rows) if self.rows else 0.0

    def top_mistakes(self, k: int = 5) -> list:
        """The k most common mistakes, (part, param, code, ids), the most submissions first."""
        ranked = sorted(self.mistakes.items(), key=lambda item: (-len(item[1]), item[0]))
        return [(*key, ids) for key, ids in ranked[:k]]


def mistakes_of(g: Graded) -> list:
    """The sorted distinct (part, param, code) of one submission, over all its cases."""
    found: set = set()
    for case in g.cases:
        params = case.get("params", {})
        parts = case.get("parts") or {"backward": {"passed": case["passed"], "diagnosis": None}}
        for part, verdict in parts.items():
            if verdict["passed"]:
                continue
            code = verdict.get("diagnosis")
            if part == "backward" and (code is None or code in SUMMARY_CODES):
                wrong = [(name, p.get("diagnosis") or "unknown") for name, p in params.items() if not p["passed"]]
                found.update(("backward", name, c) for name, c in wrong)
                if wrong:
                    continue
            found.add((part, "", code or "unknown"))
    return sorted(found, key=lambda m: (_part_rank(m[0]), m))


def _part_rank(part: str) -> tuple:
    return (PART_ORDER.index(part), "") if part in PART_ORDER else (len(PART_ORDER), part)


def tally(graded: list) -> Tally:
    """Every count the report shows, in one pass over the class."""
    parts_seen: set = set()
    for g in graded:
        parts_seen.update(g.part_scores)
    parts = sorted(parts_seen, key=_part_rank)
    rows = []
    by_cause: dict = defaultdict(Counter)
    whole: dict = defaultdict(Counter)
    where: dict = defaultdict(lambda: defaultdict(Counter))
    mistakes: dict = defaultdict(list)
    cases: dict = {}
    errors: Counter = Counter()
    histogram = [0] * HISTOGRAM_BINS
    for g in graded:
        part_scores = dict(g.part_scores)
        score, max_score = g.score, g.max_score
        if not part_scores and not g.scored_by_autograder:  # not graded: nothing scored, out of every part
            part_scores = {p: (0.0, 1.0) for p in parts}
            score, max_score = 0.0, float(len(parts))
        status = "error" if g.error is not None else "passed" if g.passed else "failed"
        found = mistakes_of(g)
        row = Row(g.id, status, score, max_score, part_scores, found, g.error or "")
        rows.append(row)
        if g.error is not None:
            errors[error_kind(g.error)] += 1
        for key in found:
            mistakes[key].append(g.id)
        causes_here: dict = defaultdict(set)
        for part, param, code in found:
            for cause in code.split("+"):
                causes_here[(part, cause)].add(param)
        for (part, cause), params in causes_here.items():
            by_cause[part][cause] += 1
            for param in params:
                if param:
                    where[part][cause][param] += 1
        for part, code in {(part, code) for part, _, code in found if "+" in code}:
            whole[part][code] += 1
        failed_any = any(not c["passed"] for c in g.cases)
        for case in g.cases:
            count = cases.get(case["label"])
            if count is None:
                N = case.get("N")
                count = cases[case["label"]] = CaseCount(case["label"], list(case.get("sizes") or []),
                                                         N if isinstance(N, int) else None)
            count.graded += 1
            count.passed += case["passed"]
            count.passed_yet_failed_elsewhere += case["passed"] and failed_any
        histogram[min(int(row.percent // (100 / HISTOGRAM_BINS)), HISTOGRAM_BINS - 1)] += 1
    return Tally(rows, parts, dict(by_cause), dict(whole), {p: dict(v) for p, v in where.items()},
                 dict(mistakes), list(cases.values()), errors, histogram)
