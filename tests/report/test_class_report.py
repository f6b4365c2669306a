"""The class report counts what was planted: codes by part, compounds under each cause, unknown
codes, shards merged, results.json folders, and a damaged input named without losing the rest."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from helpers.planted_class import expected_counts, planted_class, submission, write_results_json
from manual_backprop.class_report import read_class, tally
from manual_backprop.class_report.command import main
from manual_backprop.class_report.page import ROW_LIMIT
from manual_backprop.class_report.pictures import folder_name

T_WO = ("backward", "W_O", "transposed", False)


def write_json(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")  # dumps, then write: json.dump to a file is slow
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def planted():
    return planted_class(300, seed=3)


def test_the_counts_are_those_planted(planted, tmp_path):
    doc, plan = planted
    graded, errors = read_class([str(write_json(tmp_path / "class.json", doc))])
    t = tally(graded)
    want = expected_counts(plan)
    assert not errors
    assert (t.submissions, t.passed, t.errored) == (want["submissions"], want["passed"], want["errors"])
    assert {key: len(ids) for key, ids in t.mistakes.items()} == dict(want["mistakes"])
    assert {(part, cause): n for part, c in t.by_cause.items() for cause, n in c.items()} == dict(want["causes"])
    assert {(part, code): n for part, c in t.whole.items() for code, n in c.items()} == dict(want["whole"])
    assert t.errors == {"timed out": want["errors"]}


def test_a_compound_code_counts_under_each_cause_and_whole(tmp_path):
    doc = {"submissions": [submission("a.py", [("backward", "b_H", "one_sample+negated", False)]),
                           submission("b.py", [("backward", "W_O", "negated", False)])]}
    t = tally(read_class([str(write_json(tmp_path / "c.json", doc))])[0])
    assert dict(t.by_cause["backward"]) == {"one_sample": 1, "negated": 2}
    assert dict(t.whole["backward"]) == {"one_sample+negated": 1}
    assert t.where["backward"]["negated"] == {"b_H": 1, "W_O": 1}


def test_shards_merged_give_the_report_of_the_whole(planted, tmp_path, capsys):
    doc, _ = planted
    whole = write_json(tmp_path / "whole.json", doc)
    entries = doc["submissions"]
    cuts = [0, 70, 71, 200, len(entries)]  # uneven, one shard of a single submission
    shards = [write_json(tmp_path / f"shard{k}.json", {"submissions": entries[a:b]})
              for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    code_whole, text_whole, _ = run(capsys, whole, "--csv", tmp_path / "whole.csv")
    code_shards, text_shards, _ = run(capsys, *shards, "--csv", tmp_path / "shards.csv")
    assert code_whole == code_shards == 0
    assert text_shards == text_whole
    assert (tmp_path / "shards.csv").read_text() == (tmp_path / "whole.csv").read_text()
    assert "300 submissions" in text_whole


def test_a_submission_in_two_shards_is_an_error_naming_it(tmp_path, capsys):
    first = write_json(tmp_path / "one.json", {"submissions": [submission("ann.py"), submission("bob.py")]})
    second = write_json(tmp_path / "two.json", {"submissions": [submission("bob.py"), submission("cy.py")]})
    code, out, err = run(capsys, first, second, "--csv", tmp_path / "c.csv")
    assert code == 1
    assert "'bob.py' appears twice" in err and str(second) in err and str(first) in err
    ids = [row["id"] for row in csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text()))]
    assert ids == ["ann.py", "bob.py", "cy.py"]


def test_the_csv_reads_back_to_the_same_numbers(planted, tmp_path, capsys):
    doc, plan = planted
    run(capsys, write_json(tmp_path / "class.json", doc), "--csv", tmp_path / "class.csv", "--format", "none")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "class.csv").read_text(encoding="utf-8"))))
    t = tally(read_class([str(tmp_path / "class.json")])[0])
    assert [r["id"] for r in rows] == list(plan)
    for row, want in zip(rows, t.rows):
        assert float(row["score"]) == want.score and float(row["max_score"]) == want.max_score
        for part in ("forward", "loss", "backward", "sgd_step"):
            assert (float(row[f"{part}_score"]), float(row[f"{part}_max"])) == want.part_scores[part]
    for row in rows:
        chosen = plan[row["id"]]
        if chosen is None:
            assert row["status"] == "error" and "timed out" in row["error"] and float(row["score"]) == 0
            continue
        codes = {c for c in row["codes"].split("; ") if c}
        assert codes == {" ".join(x for x in (part, param, code) if x) for part, param, code, _ in chosen}
        # a mistake the N = 1 net misses scores that part 1/4 instead of 0
        for part in ("forward", "loss", "backward", "sgd_step"):
            mine = [m for m in chosen if m[0] == part]
            want = 1.0 if not mine else 0.25 if all(m[3] for m in mine) else 0.0
            assert float(row[f"{part}_score"]) == want, (row, part)


def test_a_code_from_a_newer_grader_is_counted_under_its_own_name(tmp_path, capsys):
    doc = {"submissions": [submission(f"s{i}.py", [("backward", "W_O", "from_a_newer_grader", False)])
                           for i in range(3)] + [submission("t.py", [("backward", "W_H", "newer+transposed", False)])]}
    code, out, _ = run(capsys, write_json(tmp_path / "c.json", doc), "--csv", tmp_path / "c.csv",
                       "--html", tmp_path / "c.html")
    assert code == 0
    assert re.search(r"^ *from_a_newer_grader +3 +W_O 3$", out, re.M), out
    assert re.search(r"^ *newer +1 +W_H 1$", out, re.M) and "newer+transposed (whole)" in out
    page = (tmp_path / "c.html").read_text()
    assert 'data-code="from_a_newer_grader">3<' in page and 'data-code="newer">1<' in page
    assert "backward W_O from_a_newer_grader" in (tmp_path / "c.csv").read_text()


@pytest.mark.parametrize("content,what", [
    pytest.param('{"submissions": [{"path": "x.py", "pas', "not valid JSON", id="cut-short"),
    pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
    pytest.param('{"hello": 1}', "neither the grader's JSON", id="another-json"),
    pytest.param('{"submissions": [{"path": "x.py", "passed": true, "error": null, "cases": 3}]}',
                 "submissions[0].cases is int", id="damaged-entry"),
    pytest.param('{"extra_data": {"manual_backprop": {"submission": {}}}}', "extra_data.manual_backprop",
                 id="damaged-results-json"),
])
def test_a_damaged_input_is_named_and_the_rest_of_the_class_is_kept(tmp_path, capsys, content, what):
    good = write_json(tmp_path / "good.json", {"submissions": [submission("ann.py"), submission("bob.py")]})
    bad = tmp_path / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    later = write_json(tmp_path / "later.json", {"submissions": [submission("cy.py")]})
    code, out, err = run(capsys, good, bad, later, "--csv", tmp_path / "c.csv", "--html", tmp_path / "c.html")
    assert code == 1
    assert str(bad) in err and what in err
    assert "3 submissions" in out and str(bad) in out
    ids = [row["id"] for row in csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text()))]
    assert ids == ["ann.py", "bob.py", "cy.py"]
    assert str(bad) in (tmp_path / "c.html").read_text()


def test_a_damaged_entry_loses_only_itself(tmp_path):
    doc = {"submissions": [submission("ann.py"), {"path": 3}, submission("cy.py")]}
    graded, errors = read_class([str(write_json(tmp_path / "c.json", doc))])
    assert [g.id for g in graded] == ["ann.py", "cy.py"]
    assert len(errors) == 1 and "submissions[1]" in str(errors[0]) and "c.json" in str(errors[0])


def test_an_export_folder_is_read_one_submission_per_folder(tmp_path, capsys):
    export = tmp_path / "export"
    write_results_json(export / "ann" / "results.json", submission("x", [("loss", "", "scaled_by_1/N", True)]),
                       points={"loss": 2, "backward": 6})
    write_results_json(export / "bob" / "results.json", submission("x"), points={"loss": 2, "backward": 6})
    (export / "bob" / "notes.json").write_text("not json")  # only results.json files are read
    grader = write_json(tmp_path / "cli.json", {"submissions": [submission("cy.py")]})
    code, out, _ = run(capsys, export, grader, "--csv", tmp_path / "c.csv")
    assert code == 0, out
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text()))}
    assert set(rows) == {"ann", "bob", "cy.py"}
    assert float(rows["ann"]["loss_score"]) == 0.5 and float(rows["ann"]["loss_max"]) == 2
    assert float(rows["ann"]["max_score"]) == 10 and float(rows["bob"]["score"]) == 10  # 2 + 6 + 1 + 1
    assert rows["ann"]["codes"] == "loss scaled_by_1/N"


def test_a_missing_input_is_a_usage_error(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nothing.json", "--html", tmp_path / "p.html")
    assert code == 2 and "nothing.json" in err
    assert not (tmp_path / "p.html").exists()


def test_student_chosen_names_are_escaped_on_the_page(tmp_path, capsys):
    doc = {"submissions": [submission("<script>alert(1)</script>.py", [("backward", "W_O", "<b>x", False)])]}
    run(capsys, write_json(tmp_path / "c.json", doc), "--html", tmp_path / "c.html")
    page = (tmp_path / "c.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page and "<b>x" not in page


def test_a_class_of_ten_thousand_gives_a_page_under_5_MB_that_says_it_is_summarised(tmp_path, capsys):
    doc, _ = planted_class(10_000, seed=1)
    code, _, _ = run(capsys, write_json(tmp_path / "c.json", doc), "--html", tmp_path / "c.html", "--format", "none")
    page = (tmp_path / "c.html").read_text()
    assert code == 0 and (tmp_path / "c.html").stat().st_size < 5_000_000
    assert page.count("<tr><td>class/student_") == ROW_LIMIT
    assert "lowest-scoring of 10,000 submissions" in page


def test_the_page_links_each_submissions_pictures(tmp_path, capsys):
    plots = tmp_path / "plots"
    (plots / folder_name("sub/ann.py")).mkdir(parents=True)
    for name in ("b.png", "a.png"):
        (plots / folder_name("sub/ann.py") / name).write_bytes(b"")
    doc = {"submissions": [submission("sub/ann.py", [T_WO]), submission("sub/bob.py")]}
    out = tmp_path / "out"
    out.mkdir()
    code, _, _ = run(capsys, write_json(tmp_path / "c.json", doc), "--html", out / "c.html", "--plots", plots)
    page = (out / "c.html").read_text()
    assert code == 0
    assert re.findall(r'<a href="([^"]+)">', page) == ["../plots/sub_ann.py/a.png", "../plots/sub_ann.py/b.png"]
    code, _, err = run(capsys, tmp_path / "c.json", "--plots", tmp_path / "none")
    assert code == 2 and "--plots" in err
