"""The bench (``manual-backprop bench``, torch_ref/bench.py) runs and reports what it says.

No speed is asserted here (that is the bench's own job)."""

from __future__ import annotations

import importlib
import json
import math
import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("torch_ref.bench")


@pytest.mark.parametrize("sizes,N,expected", [
    # one hidden layer: W_H I, dW_H; W_O Ĥ, dW_O, dĤ (the input needs no gradient): 5 products
    pytest.param((4, 16, 2), 32, 2 * 32 * (2 * 16 * 4 + 3 * 2 * 16), id="seed-4-16-2"),
    pytest.param((3, 5), 7, 2 * 7 * (2 * 5 * 3), id="depth1-3-5"),
    pytest.param((2, 3, 4, 5), 6, 2 * 6 * (2 * 3 * 2 + 3 * 4 * 3 + 3 * 5 * 4), id="depth3-2-3-4-5"),
])
def test_matmul_plan_counts_the_steps_products(bench, sizes, N, expected):
    plan, flops = bench.matmul_plan(sizes, N, np.float64, np.random.default_rng(0))
    assert flops == expected, f"{sizes} N={N}: {flops} FLOPs, expected {expected}"
    assert len(plan) == 3 * (len(sizes) - 1) - 1
    for A, B, out in plan:
        assert out.shape == (A.shape[0], B.shape[1])


def test_json_report_of_the_seed_grid(bench, capsys):
    assert bench.main(["--grid", "seed", "--no-compile", "--json", "--repeats", "2",
                       "--min-block", "0.001"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(r["sizes"], r["dtype"]) for r in report["results"]] == [
        ([4, 16, 2], "float64"), ([4, 16, 2], "float32")]
    for row in report["results"]:
        for impl in ("manual", "matmuls", "torch_eager"):
            fastest, median = row["seconds"][impl], row["median_seconds"][impl]
            assert math.isfinite(median) and 0 < fastest <= median, f"{impl}: fastest {fastest}, median {median}"
        assert row["seconds"]["torch_compile"] is None
        assert row["notes"]["torch_compile"] == "skipped (--no-compile)"
        memory = row["memory"]
        assert all(type(v) is int for v in memory.values()), memory  # bytes, counted by tracemalloc
        assert memory["step_peak_bytes"] < 1 << 20, memory  # the seed's net: a steady step allocates next to nothing
    measured = [t for t in report["targets"] if t["met"] is not None]
    assert {(t["target"], tuple(t["sizes"]), t["dtype"]) for t in measured} == {
        ("seed net: manual / torch eager", (4, 16, 2), "float64"),
        ("every net: manual / torch eager", (4, 16, 2), "float64"),
        ("every net: manual / torch eager", (4, 16, 2), "float32")}, "only the seed net was in this grid"
    seconds = {row["dtype"]: row["seconds"] for row in report["results"]}
    for t in measured:  # each target's ratio is the ratio of the two times reported for its row
        assert t["ratio"] == seconds[t["dtype"]]["manual"] / seconds[t["dtype"]]["torch_eager"], t
        assert t["met"] == (t["ratio"] <= t["at_most"]), t
    assert report["machine"]["torch_threads"] >= 1


def test_every_grid_row_has_a_target_against_torch_eager(bench):
    rows = {(sizes, dtype) for what, sizes, N, dtype, num, den, limit in bench.TARGETS
            if (num, den) == ("manual", "torch_eager")}
    for sizes, _N in bench.GRIDS["full"]:
        for dtype in ("float64", "float32"):
            assert (tuple(sizes), dtype) in rows


def test_step_memory_is_reported_and_small_for_the_seed_net(bench):
    memory = bench.step_memory((4, 16, 2), 32, np.float64)
    assert set(memory) == {"step_peak_bytes", "kept_beyond_cache_bytes"}
    assert 0 <= memory["step_peak_bytes"] < 1 << 20, memory


def test_the_matmul_route_is_timed_beside_the_gemm_route_when_asked(bench, capsys):
    assert bench.main(["--grid", "seed", "--no-compile", "--json", "--repeats", "2", "--min-block", "0.001",
                       "--matmul-route", "--cpu-time"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["machine"]["cpu_time"] is True
    assert report["machine"]["gemm_reason"], "the route's reason is reported"
    for row in report["results"]:
        assert row["seconds"]["manual_matmul_route"] > 0, "the np.matmul route not timed"
        assert row["seconds"]["manual"] > 0


def _table(lines: list[str], header: str) -> list[list[str]]:
    """The cells of the Markdown table whose header row starts with ``header`` (separator row left out)."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert all(set(c) <= set("-:") for c in rows[1]), f"no separator row under {header!r}"
    return [rows[0]] + rows[2:]


def test_markdown_page_of_a_tiny_grid(bench, tmp_path, capsys):
    page = tmp_path / "figures.md"
    argv = ["--grid", "seed", "--no-compile", "--repeats", "2", "--min-block", "0.001", "--markdown", str(page)]
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Performance figures"
    # it says which command made it, and when
    assert f"`manual-backprop bench {' '.join(argv)}`" in lines[2]
    assert re.search(r" on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", lines[2]), lines[2]

    machine = dict(row for row in _table(lines, "| machine |")[1:])
    assert set(machine) == {"CPU", "load average", "NumPy's BLAS", "versions", "manual step"}
    assert re.fullmatch(r".+, \d+ logical CPUs", machine["CPU"]), machine["CPU"]
    blas = re.search(r"kernel (\S+), (\S+) threads", machine["NumPy's BLAS"])  # None: no threadpoolctl
    assert blas and f"kernel {blas[1]}, {blas[2]} threads" in printed, "the page's BLAS is the one printed"
    for name, version in (("NumPy", np.__version__), ("torch", bench.torch.__version__),
                          ("manual-backprop", bench.__version__)):
        assert f"{name} {version}" in machine["versions"]

    header, *rows = _table(lines, "| net |")
    assert header == list(bench.MARKDOWN_COLUMNS)
    assert [(r[0], r[1], r[2]) for r in rows] == [("4-16-2", "32", "float64"), ("4-16-2", "32", "float32")]
    for row in rows:
        cell = dict(zip(header, row))
        assert cell["torch compile ms"] == "—" and cell["manual / compile"] == "—", "compile was not run"
        ms = {k: float(cell[f"{k} ms"]) for k in ("manual", "matmuls", "torch eager")}
        assert all(math.isfinite(v) and v > 0 for v in ms.values()), ms
        for other, column in (("matmuls", "manual / matmuls"), ("torch eager", "manual / eager")):
            # times to 4 significant digits (relative error ≤ 5e-4 each), ratios to 2 decimals
            expected = ms["manual"] / ms[other]
            assert abs(float(cell[column]) - expected) <= 0.005 + 1.1e-3 * expected, (column, cell, expected)
        assert 0 <= float(cell["peak MiB"]) < 1, cell

    targets = _table(lines, "| target |")
    assert {(r[0], r[1], r[3]) for r in targets[1:]} == {
        ("seed net: manual / torch eager", "4-16-2", "float64"),
        ("every net: manual / torch eager", "4-16-2", "float64"),
        ("every net: manual / torch eager", "4-16-2", "float32")}, "only the targets this grid measured"
    eager = {r[2]: float(dict(zip(header, r))["manual / eager"]) for r in rows}
    for r in targets[1:]:
        assert float(r[4]) == eager[r[3]], "a target's ratio is its row's"
        assert r[6] == ("met" if float(r[4]) <= float(r[5]) else "missed") or abs(float(r[4]) - float(r[5])) < 0.01


def test_markdown_into_a_missing_folder_is_a_usage_error_before_any_timing(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--grid", "seed", "--markdown", str(tmp_path / "no" / "figures.md")])
    assert exit_.value.code == 2
    assert "--markdown" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
