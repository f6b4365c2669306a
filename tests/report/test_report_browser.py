"""The report's page in a real browser (headless Chromium): it draws, it holds the counts of a class
whose mistakes were planted by hand, and clicking a column (through the page's own "#sort=" address) sorts it."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from helpers.browser import CHROMIUM, NO_CHROMIUM, colours, dump_dom, screenshot
from helpers.planted_class import submission
from manual_backprop.class_report.command import main

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)

T_WO = ("backward", "W_O", "transposed", False)
SAMPLE_NEGATED = ("backward", "b_H", "one_sample+negated", False)
NEGATED = ("backward", "W_H", "negated", False)
LOSS_MEAN = ("loss", "", "scaled_by_1/N", True)  # passes the N = 1 net
NEWER = ("backward", "W_O", "from_a_newer_grader", False)

# 13 submissions, in an order no column is sorted in: 3 right, 1 timed out, 9 wrong.
CLASS = [
    ("mo.py", [T_WO]), ("al.py", []), ("zed.py", [SAMPLE_NEGATED]), ("ki.py", [T_WO, LOSS_MEAN]),
    ("bo.py", "timed out after 60 s"), ("ut.py", [NEGATED]), ("ca.py", [T_WO]), ("ra.py", []),
    ("fe.py", [SAMPLE_NEGATED, T_WO]), ("ny.py", [NEWER]), ("di.py", []), ("xi.py", [LOSS_MEAN]),
    ("ge.py", [NEGATED, LOSS_MEAN]),
]
# What a teacher must read there, counted by hand from CLASS (submissions, not cases).
EXPECTED = {
    "cards": {"submissions": "13", "passed": "3", "failed": "9", "not-graded": "1"},
    "counts": {("backward", "transposed"): 4, ("backward", "negated"): 4, ("backward", "one_sample"): 2,
               ("backward", "from_a_newer_grader"): 1, ("loss", "scaled_by_1/N"): 3},
    "whole": {("backward", "one_sample+negated"): 2},
    "top": 4,  # W_O transposed, the most common mistake
    # per net: the 3 right ones; on N = 1 also xi.py, whose one mistake (the loss's mean over the
    # batch) that net cannot see
    "case_passed": {"seed net 4-16-2, N=32": 3, "3-5-3, N=1": 4, "5-3-4, N=3": 3, "2-7-3, N=8": 3},
}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    entries = [submission(name, error=m) if isinstance(m, str) else submission(name, m) for name, m in CLASS]
    (folder / "class.json").write_text(json.dumps({"submissions": entries}))
    assert main([str(folder / "class.json"), "--html", str(folder / "class.html"), "--format", "none"]) == 0
    return folder / "class.html"


class Cells(HTMLParser):
    """The text of elements by id, of count cells by (part, code), and the submissions table's rows."""

    def __init__(self):
        super().__init__()
        self.stack, self.cards, self.counts, self.whole, self.rows = [], {}, {}, {}, []
        self.top, self.case_passed, self.sorted = [], [], {}
        self.target, self.text, self.in_table, self.in_body = None, "", False, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "submissions-table":
            self.in_table = True
        if self.in_table and tag == "tbody":
            self.in_body = True
        if self.in_table and tag == "th" and a.get("aria-sort"):
            self.sorted[a["data-key"]] = a["aria-sort"]
        if self.in_body and tag == "tr":
            self.rows.append([])
        cls = (a.get("class") or "").split()
        if tag == "div" and (a.get("id") or "").startswith("card-"):
            self.target = ("card", a["id"][5:])
        elif "count" in cls or "whole" in cls:
            self.target = ("whole" if "whole" in cls else "counts", (a["data-part"], a["data-code"]))
        elif "top-count" in cls:
            self.target = ("top", None)
        elif "case-passed" in cls:
            self.target = ("case", None)
        elif self.in_body and tag == "td":
            self.target = ("cell", None)
        if self.target:
            self.text = ""

    def handle_data(self, data):
        if self.target:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        if tag == "table":
            self.in_table = False
        if not self.target or tag not in ("div", "td", "span"):
            return
        kind, key = self.target
        text = self.text.strip()
        if kind == "card":
            self.cards.setdefault(key, text)
        elif kind in ("counts", "whole"):
            getattr(self, kind)[key] = int(text)
        elif kind == "top":
            self.top.append(int(text))
        elif kind == "case":
            self.case_passed.append(int(text))
        elif kind == "cell":
            self.rows[-1].append(text)
        self.target = None


def parse(dom: str) -> Cells:
    cells = Cells()
    cells.feed(dom)
    return cells


def test_the_screenshot_is_not_blank(page, tmp_path):
    shot = screenshot(page, tmp_path / "page.png", 1000, 1200)
    seen = colours(shot)
    total = sum(seen.values())
    white = seen.get((255, 255, 255), 0)
    assert 0.02 < 1 - white / total < 0.9, "nearly all one colour"
    assert len(seen) > 50  # text antialiasing, bars, cards: many colours
    assert seen.get((59, 111, 182), 0) > 100  # the histogram's bars (page.BAR) were drawn
    assert seen.get((179, 38, 30), 0) > 20  # the mistakes' bars (page.BAD)


@pytest.mark.parametrize("source", ["browser", "file"])
def test_the_page_holds_the_counts_of_the_planted_class(page, source):
    """In the browser's DOM, and in the file as written: no count is made by the script, so a
    browser without script shows them all (headless Chromium's --dump-dom needs script itself)."""
    cells = parse(dump_dom(page) if source == "browser" else page.read_text(encoding="utf-8"))
    assert {k: cells.cards[k] for k in EXPECTED["cards"]} == EXPECTED["cards"]
    assert cells.cards["mean-score"].endswith("%")
    assert {k: cells.counts.get(k) for k in EXPECTED["counts"]} == EXPECTED["counts"]
    assert cells.whole == EXPECTED["whole"]
    assert cells.top[0] == EXPECTED["top"] and len(cells.top) == 5
    assert cells.case_passed == list(EXPECTED["case_passed"].values())
    assert [r[0] for r in cells.rows] == [name for name, _ in CLASS]  # input order until sorted
    assert not cells.sorted


def test_clicking_a_column_sorts_the_table(page):
    by_score = parse(dump_dom(page, "#sort=score"))
    scores = [float(r[2]) for r in by_score.rows]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    assert by_score.sorted == {"score": "ascending"}
    by_name = parse(dump_dom(page, "#sort=-id"))
    names = [r[0] for r in by_name.rows]
    assert names == sorted((name for name, _ in CLASS), reverse=True)
    assert by_name.sorted == {"id": "descending"}
    assert sorted(map(tuple, by_name.rows)) == sorted(map(tuple, by_score.rows))  # rows moved, not changed


def test_the_page_needs_no_network(page):
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
