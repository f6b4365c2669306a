"""The class report as plain text for a terminal, and as a CSV for a gradebook. Standard library only.

CSV columns, one row per submission in input order: ``id``, ``status``
(passed, failed or error), ``score``, ``max_score``, ``percent``, then
``<part>_score`` and ``<part>_max`` for each part graded in the class (empty
where the submission has no score for that part), then ``codes`` (each
mistake as "part param code", ``; ``-separated) and ``error``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Sequence

from .tally import Tally, fix_text


def _num(x: float) -> str:
    """A score as short text that reads back to the same float: 1, 0.75, 2.333333333333333."""
    return repr(int(x)) if float(x).is_integer() else repr(float(x))


def csv_text(t: Tally) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = ["id", "status", "score", "max_score", "percent"]
    for part in t.parts:
        head += [f"{part}_score", f"{part}_max"]
    writer.writerow(head + ["codes", "error"])
    for r in t.rows:
        row = [r.id, r.status, _num(r.score), _num(r.max_score), f"{r.percent:.1f}"]
        for part in t.parts:
            s = r.part_scores.get(part)
            row += ["", ""] if s is None else [_num(s[0]), _num(s[1])]
        writer.writerow(row + [r.codes(), r.error])
    return out.getvalue()


def _table(rows: list, indent: str = "  ") -> list:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]


def text(t: Tally, meanings: dict, problems: Sequence[str] = ()) -> str:
    """The overview, the histogram, each part's codes, the top five mistakes and each case's pass rate."""
    n = t.submissions
    lines = [f"class report: {n} submissions, {t.passed} passed, {n - t.passed - t.errored} failed, "
             f"{t.errored} not graded; mean score {t.mean_percent:.1f} %"]
    if t.errors:
        lines.append("  not graded: " + ", ".join(f"{k} {v}" for k, v in t.errors.most_common()))
    for p in problems:
        lines.append(f"  input not read: {p}")
    if not n:
        return "\n".join(lines) + "\n"
    lines += ["", "score (% of the maximum)"]
    peak = max(t.histogram) or 1
    width = 100 // len(t.histogram)
    for i, count in enumerate(t.histogram):
        low, high = i * width, (i + 1) * width
        label = f"{low:3d}–{high}" + (" " if high < 100 else "")
        lines.append(f"  {label:>8} {'#' * round(30 * count / peak):<30} {count}")
    for part in t.parts + [p for p in t.by_cause if p not in t.parts]:
        causes = t.by_cause.get(part)
        if not causes:
            continue
        lines += ["", f"{part}: submissions with each cause (a compound code counted under each cause)"]
        rows: list = [("code", "submissions", "where")]
        for cause, count in causes.most_common():
            where = t.where.get(part, {}).get(cause, {})
            rows.append((cause, count, ", ".join(f"{k} {v}" for k, v in sorted(where.items()))))
        for code, count in t.whole.get(part, Counter()).most_common():
            rows.append((code + " (whole)", count, ""))
        lines += _table(rows)
    top = t.top_mistakes()
    if top:
        lines += ["", "the most common mistakes"]
        for i, (part, param, code, ids) in enumerate(top, 1):
            where = f"{part} {param}".strip()
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            lines += [f"  {i}. {where}: {code} — {len(ids)} submission{'s' if len(ids) != 1 else ''}",
                      f"     what it is: {fix_text(code, meanings)}", f"     by: {shown}"]
    if t.cases:
        lines += ["", "pass rate of each graded net"]
        rows = [("net", "graded", "passed", "rate", "passed it, failed another")]
        for c in t.cases:
            rate = f"{100 * c.passed / c.graded:.0f} %" if c.graded else "—"
            rows.append((c.label, c.graded, c.passed, rate, c.passed_yet_failed_elsewhere))
        lines += _table(rows)
    return "\n".join(lines) + "\n"
