"""The class report as one self-contained HTML page: inline CSS, inline SVG charts, no network.

Standard library only. The page is ``page.html`` (shipped beside this module)
filled in with ``string.Template``. Everything that comes from the inputs
(paths, codes, errors) is escaped: a submission's name is student-chosen.
The per-submission table holds at most ``ROW_LIMIT`` rows (the lowest scores
first when there are more: those are the students who need a word) and the
page says so; the CSV has every row. The page stays under 5 MB for 10,000
submissions (``scripts/report_cost.py`` measures it).
"""

from __future__ import annotations

import datetime
import html
from collections import Counter
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Optional, Sequence

from .pictures import picture_links
from .tally import Tally, fix_text

ROW_LIMIT = 2000  # rows of the per-submission table
NAMES_LIMIT = 60  # submissions named under each of the top mistakes
CODES_CHARS = 240  # a row's codes beyond this are cut (the CSV has them whole)
BAR, MUTED, GOOD, BAD = "#3b6fb6", "#9aa5b4", "#1a7f37", "#b3261e"


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.0f} %" if b else "—"


def _plural(n: int) -> str:
    return "submission" if n == 1 else "submissions"


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


def histogram_svg(counts: list) -> str:
    """Vertical bars, one per tenth of the maximum score, each labelled with its count."""
    w, h, left, bottom, top = 590, 190, 30, 30, 18
    step = (w - left - 30) / len(counts)
    peak = max(counts) or 1
    parts = [f'<svg role="img" aria-label="histogram of scores" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - 30}" y2="{h - bottom}" stroke="{MUTED}"/>']
    for i, c in enumerate(counts):
        bh = (h - bottom - top) * c / peak
        x, y = left + i * step + 3, h - bottom - bh
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 6:.1f}" height="{bh:.1f}" fill="{BAR}">'
                     f'<title>{c} submissions</title></rect>')
        parts.append(f'<text x="{x + (step - 6) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                     f'class="bin-count">{c}</text>')
        parts.append(f'<text x="{left + i * step:.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                     f'{i * 100 // len(counts)}</text>')
    parts.append(f'<text x="{left + len(counts) * step:.1f}" y="{h - bottom + 16}" text-anchor="middle">100 %</text></svg>')
    return "".join(parts)


def bars_svg(items: list, total: int, label: str, color: str = BAR) -> str:
    """Horizontal bars: (name, count), a bar of ``total`` filling the width, the count after the bar."""
    if not items:
        return ""
    name_w = min(max(len(n) for n, _ in items) * 7 + 10, 320)
    w, row = name_w + 300, 20
    h = row * len(items) + 6
    out = [f'<svg role="img" aria-label="{esc(label)}" width="{w}" height="{h}" viewBox="0 0 {w} {h}">']
    for i, (name, count) in enumerate(items):
        y = 3 + i * row
        bw = 240 * count / total if total else 0
        out.append(f'<text x="{name_w - 6}" y="{y + 14}" text-anchor="end">{esc(name)}</text>'
                   f'<rect x="{name_w}" y="{y + 3}" width="{bw:.1f}" height="{row - 6}" fill="{color}"/>'
                   f'<text x="{name_w + bw + 5:.1f}" y="{y + 14}">{count}</text>')
    return "".join(out) + "</svg>"


def _overview(t: Tally) -> str:
    failed = t.submissions - t.passed - t.errored
    cards = [("submissions", t.submissions, ""), ("passed", t.passed, "passed"), ("failed", failed, "failed"),
             ("not graded", t.errored, "error"), ("mean score", f"{t.mean_percent:.1f} %", "")]
    out = ['<div class="cards">'] + [
        f'<div class="card" id="card-{esc(k.replace(" ", "-"))}"><div class="v {cls}">{esc(v)}</div>'
        f'<div class="k">{esc(k)}</div></div>' for k, v, cls in cards] + ["</div>"]
    if t.errors:
        out.append("<p>Not graded: " + ", ".join(f'{esc(k)} <b class="error">{v}</b>'
                                                 for k, v in t.errors.most_common()) + ".</p>")
    return "\n".join(out)


def _codes(t: Tally) -> str:
    blocks = []
    for part in t.parts + [p for p in t.by_cause if p not in t.parts]:
        causes = t.by_cause.get(part)
        if not causes:
            continue
        rows = []
        for cause, count in causes.most_common():
            where = t.where.get(part, {}).get(cause, {})
            rows.append(f'<tr><td><code>{esc(cause)}</code></td><td class="n count" data-part="{esc(part)}" '
                        f'data-code="{esc(cause)}">{count}</td><td>{esc(", ".join(f"{k} {v}" for k, v in sorted(where.items())))}'
                        f'</td></tr>')
        for code, count in t.whole.get(part, Counter()).most_common():
            rows.append(f'<tr><td><code>{esc(code)}</code> (whole)</td><td class="n whole" data-part="{esc(part)}" '
                        f'data-code="{esc(code)}">{count}</td><td></td></tr>')
        chart = bars_svg(causes.most_common(), max(causes.values()), f"causes in {part}", BAD)
        blocks.append(f'<div><h3>{esc(part)}</h3>{chart}<table><thead><tr><th>code</th><th class="n">submissions'
                      f'</th><th>where</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    return '<div class="parts">' + "".join(blocks) + "</div>" if blocks else "<p>No mistakes: every graded part passed.</p>"


def _top(t: Tally, meanings: dict) -> str:
    top = t.top_mistakes()
    if not top:
        return "<p>No mistakes to show.</p>"
    items = []
    for part, param, code, ids in top:
        names = ", ".join(esc(i) for i in ids[:NAMES_LIMIT])
        if len(ids) > NAMES_LIMIT:
            names += f" and {len(ids) - NAMES_LIMIT} more (the CSV lists every one)"
        where = esc(f"{part} {param}".strip())
        items.append(f'<li><b>{where}</b>: <code>{esc(code)}</code> — <span class="top-count">{len(ids)}</span> '
                     f'{_plural(len(ids))} ({_pct(len(ids), t.submissions)})<br><span class="fix">What it is: '
                     f'{esc(fix_text(code, meanings))}</span><details><summary>who</summary>{names}</details></li>')
    return '<ol class="top">' + "".join(items) + "</ol>"


def _cases(t: Tally) -> str:
    if not t.cases:
        return "<p>No case was graded.</p>"
    chart = bars_svg([(c.label, c.passed) for c in t.cases], max(c.graded for c in t.cases),
                     "submissions passing each net", GOOD)
    rows = "".join(f'<tr><td>{esc(c.label)}</td><td class="n">{c.graded}</td><td class="n case-passed">{c.passed}</td>'
                   f'<td class="n">{_pct(c.passed, c.graded)}</td><td class="n">{c.passed_yet_failed_elsewhere}</td></tr>'
                   for c in t.cases)
    return (f'{chart}<table><thead><tr><th>net</th><th class="n">graded</th><th class="n">passed</th>'
            f'<th class="n">rate</th><th class="n">passed it, failed another</th></tr></thead><tbody>{rows}</tbody></table>')


def _table(t: Tally, plots: Optional[Path], here: Path) -> tuple:
    """(the note saying what the table holds, the table)."""
    rows = t.rows
    note = ""
    if len(rows) > ROW_LIMIT:
        rows = sorted(rows, key=lambda r: r.percent)[:ROW_LIMIT]
        note = (f'<p class="note" id="summarised">The table shows the {ROW_LIMIT:,} lowest-scoring of '
                f'{t.submissions:,} submissions, to keep the page small; the counts above cover all of them, '
                f'and the CSV (<code>--csv</code>) has every row.</p>')
    head = ['<th data-key="id">submission</th>', '<th data-key="status">status</th>',
            '<th data-key="score" data-type="num" class="n">score %</th>']
    head += [f'<th data-key="{esc(p)}" data-type="num" class="n">{esc(p)}</th>' for p in t.parts]
    head += ['<th data-key="codes">codes</th>']
    if plots is not None:
        head.append('<th data-key="pictures">pictures</th>')
    body = []
    for r in rows:
        cells = [f'<td>{esc(r.id)}</td>', f'<td class="{r.status}">{r.status}</td>',
                 f'<td class="n" data-v="{r.percent:.4f}">{r.percent:.0f}</td>']
        for p in t.parts:
            s = r.part_scores.get(p)
            cells.append('<td class="n" data-v="-1">—</td>' if s is None else
                         f'<td class="n" data-v="{s[0] / s[1] if s[1] else 0:.4f}">{_num(s[0])}/{_num(s[1])}</td>')
        codes = r.error if r.status == "error" else r.codes()
        if len(codes) > CODES_CHARS:
            codes = codes[:CODES_CHARS] + "…"
        cells.append(f"<td>{esc(codes)}</td>")
        if plots is not None:
            cells.append(f"<td>{_pictures(picture_links(plots, r.id, here))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table class="sortable" id="submissions-table"><thead><tr>{"".join(head)}</tr></thead>'
             f'<tbody>\n' + "\n".join(body) + "\n</tbody></table>")
    return note, table


def _pictures(links: list) -> str:
    """A submission's pictures, folded under their count (a details element needs no script)."""
    if not links:
        return ""
    items = "<br>".join(f'<a href="{esc(href)}">{esc(name.removesuffix(".png"))}</a>' for name, href in links)
    return f"<details><summary>{len(links)} picture{'s' if len(links) != 1 else ''}</summary>{items}</details>"


def page(t: Tally, meanings: dict, problems: Sequence[str] = (), title: str = "Class report",
         plots: Optional[Path] = None, here: Path = Path(".")) -> str:
    """The whole page. problems: the inputs that could not be read (shown at the top);
    plots: the folder of ``grade --plot`` pictures, linked relative to ``here`` (the page's folder)."""
    template = Template(files(__package__).joinpath("page.html").read_text(encoding="utf-8"))
    notes = "".join(f'<p class="note problem">Input not read: {esc(p)}</p>' for p in problems)
    table_note, table = _table(t, plots, here)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return template.substitute(
        title=esc(title), meta=esc(f"{t.submissions} submissions; made {stamp} by manual-backprop report"),
        notes=notes, overview=_overview(t), histogram=histogram_svg(t.histogram), codes=_codes(t),
        top=_top(t, meanings), cases=_cases(t), table_note=table_note, table=table)

