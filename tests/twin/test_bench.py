"""The bench (``manual-backprop bench``, torch_ref/bench.py) runs and reports what it says.

No speed is asserted here (that is the bench's own job)."""

from __future__ import annotations

import importlib
import json

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
            assert row["seconds"][impl] > 0, f"{impl} not timed"
        assert row["seconds"]["torch_compile"] is None
        assert row["notes"]["torch_compile"] == "skipped (--no-compile)"
        assert row["memory"]["step_peak_bytes"] >= 0
    measured = [t for t in report["targets"] if t["met"] is not None]
    assert {(t["target"], tuple(t["sizes"]), t["dtype"]) for t in measured} == {
        ("seed net: manual / torch eager", (4, 16, 2), "float64"),
        ("every net: manual / torch eager", (4, 16, 2), "float64"),
        ("every net: manual / torch eager", (4, 16, 2), "float32")}, "only the seed net was in this grid"
    assert all(t["ratio"] > 0 for t in measured)
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
